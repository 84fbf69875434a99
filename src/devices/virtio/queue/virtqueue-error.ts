import { TypervisorError } from '../../../core/errors.js';

/**
 * The driver broke a rule of the virtqueue format (virtio 1.2 §2.7): a descriptor index out of
 * range, a loop, a buffer outside RAM, an indirect table where none may be. The transport turns
 * it into DEVICE_NEEDS_RESET (§2.1, §2.1.2); it never escapes to the host.
 */
export class VirtqueueError extends TypervisorError {
  constructor(message: string) {
    super(`virtqueue: ${message}`);
    this.name = 'VirtqueueError';
  }
}
