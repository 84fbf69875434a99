// The Node-only part of the typervisor package (`import … from 'typervisor/node'`): the default
// Debian guest (fetched with apt into the user's cache), reading guest files, host folders to share
// over virtio-9p, and the terminal console adapters the CLI uses. The platform-neutral engine is the main entry ('typervisor').
export {
  defaultGuestConfig,
  DEFAULT_GUEST_MEM_BYTES,
  DEFAULT_GUEST_APPEND,
  COMMAND_GUEST_APPEND,
  type DefaultGuestOptions,
} from './default-guest-config.js';
export { ensureDefaultGuest, defaultCacheDir, commandInitramfs, type DefaultGuest, type GuestProgress } from './guest-image/index.js';
export { readGuestFile, type GuestFileRole } from './guest-file.js';
export { openNetworks, type OpenedNetworks } from './open-networks.js';
export { streamPipeSource, type PipeInputStream } from './stream-pipe-source.js';
export { ConsoleOutput, type ConsoleOutputStream } from './console-output.js';
export { attachConsoleInput, type ConsoleInputStream, type ConsoleInputHandlers, type ConsoleInputClose } from './console-input.js';
export { ConsoleEscape, ESCAPE, ESCAPE_HELP, type EscapeCommand } from './console-escape.js';
export { openSharedDirectory, SharedDirectory, type SharedDirectoryOptions } from './shared-directory.js';
