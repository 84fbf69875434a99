export {
  CONSOLE_INPUT_LIMIT,
  CONSOLE_MAX_TX_BYTES,
  CONSOLE_QUEUE_SIZE,
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_F_MULTIPORT,
  VIRTIO_CONSOLE_F_SIZE,
  VirtioConsole,
  type VirtioConsoleOptions,
  type VirtioConsoleState,
} from './virtio-console.js';
export { PIPE_PAUSE_BYTES, PIPE_RESUME_BYTES, VirtioPipe, type PipeSource, type VirtioPipeOptions } from './virtio-pipe.js';
