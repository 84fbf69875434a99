import { TypervisorError } from '../../../core/errors.js';
import type { DescriptorChain } from '../queue/descriptor-chain.js';
import type { SplitVirtqueue } from '../queue/split-virtqueue.js';
import { VirtioDeviceId, type VirtioActivation, type VirtioDevice, readConfigField } from '../virtio-device.js';
import { P9_HEADER_BYTES, P9_IOHDR_BYTES } from './p9-protocol.js';
import { P9_MAX_MSIZE, P9Server } from './p9-server.js';
import type { SharedFileSystem } from './shared-file-system.js';

// virtio-9p, the 9P transport: virtio 1.2 §5 lists device id 9 ("9P Transport") without a
// section of its own; the layout here is the one Linux (include/uapi/linux/virtio_9p.h,
// net/9p/trans_virtio.c) and QEMU agree on. One request queue. A request is one
// descriptor chain: the T-message in the device-readable buffers, room for the R-message in the
// device-writable ones. The configuration space is `le16 tag_len; u8 tag[tag_len]` (no NUL),
// present with VIRTIO_9P_MOUNT_TAG: the name the guest mounts (`mount -t 9p TAG /mnt`).
// Requests are answered one at a time, in order, each asynchronously (the file system is the
// host's); the used ring is filled and the interrupt raised from the completion, and the board's
// `wake` gets an idle hart going, as with virtio-blk.

/** Feature bit 0: the configuration space holds the mount tag. */
export const VIRTIO_9P_MOUNT_TAG = 0n;
export const P9_QUEUE_SIZE = 128;
/** Longest tag accepted (QEMU and the Linux mount code take short names; 31 keeps it portable). */
export const P9_MAX_TAG_BYTES = 31;

export interface Virtio9pOptions {
  /** The mount tag: 1 to 31 bytes of letters, digits, '_', '-' and '.'. */
  readonly tag: string;
  /** Called after a completion raised an interrupt outside any MMIO access. */
  readonly wake?: () => void;
  /** Largest msize offered in Rversion (default 1 MiB). */
  readonly maxMsize?: number;
}

/** Checks a mount tag; returns it, or throws a TypervisorError saying what is wrong. */
export function validateMountTag(tag: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(tag) || tag.length > P9_MAX_TAG_BYTES) {
    throw new TypervisorError(`mount tag '${tag}' is not 1 to ${P9_MAX_TAG_BYTES} letters, digits, '_', '-' or '.'`, {
      hint: 'choose a short tag such as share0 or data',
    });
  }
  return tag;
}

export class Virtio9p implements VirtioDevice {
  readonly type = VirtioDeviceId['9p'];
  readonly features = 1n << VIRTIO_9P_MOUNT_TAG;
  readonly queueSizes = [P9_QUEUE_SIZE];
  readonly configSize: number;
  readonly tag: string;
  private readonly config: Uint8Array;
  private readonly maxMsize: number;
  private active: VirtioActivation | undefined;
  private server: P9Server | undefined;
  /** Bumped by reset: completions of an older session are dropped. */
  private session = 0;
  /** A request is being answered (requests are answered one at a time). */
  private busy = false;
  /** The last piece of work started, across sessions: the next one runs after it. */
  private tail: Promise<void> = Promise.resolve();
  /** Resets whose session's files are still being closed: requests wait behind them on `tail`. */
  private closing = 0;

  constructor(private readonly fs: SharedFileSystem, private readonly options: Virtio9pOptions) {
    this.tag = validateMountTag(options.tag);
    this.maxMsize = Math.max(8192, Math.min(options.maxMsize ?? P9_MAX_MSIZE, P9_MAX_MSIZE));
    const tag = new TextEncoder().encode(this.tag);
    this.config = new Uint8Array(2 + tag.length);
    new DataView(this.config.buffer).setUint16(0, tag.length, true);
    this.config.set(tag, 2);
    this.configSize = this.config.length;
  }

  readConfig(offset: number, width: 1 | 2 | 4): number {
    return readConfigField(this.config, offset, width);
  }

  /** The configuration space is read-only. */
  writeConfig(): void {}

  activate(activation: VirtioActivation): void {
    this.active = activation;
    this.server = new P9Server(this.fs, this.maxMsize);
    this.busy = false;
  }

  /** §2.4: drops the session; its open files are closed once its request in flight is done. */
  reset(): void {
    const old = this.server;
    this.active = undefined;
    this.server = undefined;
    this.session++;
    this.busy = false;
    if (old) {
      this.closing++;
      const closed = this.tail.then(() => old.close());
      const settled = () => void this.closing--;
      void closed.then(settled, settled);
      this.tail = closed;
    }
  }

  /** Resolves when no request is being answered and every file a reset session opened is closed. */
  async idle(): Promise<void> {
    for (let t = this.tail; ; t = this.tail) {
      await t;
      if (t === this.tail) return;
    }
  }

  /** Closes what the current session has open (the machine is gone). */
  async close(): Promise<void> {
    this.reset();
    await this.idle();
  }

  notify(queue: number): void {
    if (queue === 0) this.pump();
  }

  /** Takes the next request from the ring unless one is being answered. */
  private pump(): void {
    const a = this.active;
    const q = a?.queues[0];
    const server = this.server;
    if (!a || !q || !server || this.busy) return;
    const chain = q.pop();
    if (!chain) return;
    if (chain.readableBytes < P9_HEADER_BYTES || chain.writableBytes < P9_IOHDR_BYTES) {
      // No T-message header to read, or no room even for Rlerror: nothing can be answered.
      a.interrupt.needsReset('virtio-9p: a request without a 9P header or without room for the reply');
      return;
    }
    const header = new Uint8Array(P9_HEADER_BYTES);
    chain.read(a.mem, 0, header);
    const size = new DataView(header.buffer).getUint32(0, true);
    const limit = Math.min(chain.readableBytes, server.negotiatedMsize || this.maxMsize);
    // A size the chain cannot hold goes to the server as the bare header, which it refuses.
    let message = header;
    if (size >= P9_HEADER_BYTES && size <= limit) {
      message = new Uint8Array(size);
      chain.read(a.mem, 0, message); // copied now: the driver owns the buffers again once used
    }
    const room = Math.min(chain.writableBytes, server.negotiatedMsize || this.maxMsize);
    const session = this.session;
    this.busy = true;
    const answer = async () => {
      const reply = await server.handle(message, room);
      this.complete(session, chain, q, reply);
    };
    // Unless an old session's files are being closed, nothing is ahead of this request (the one
    // before it has completed: busy was false), so it is handled now, inside the driver's notify,
    // and the host's file system call overlaps the guest's own work until it waits. Started from
    // a promise reaction it would only begin when the run loop next yields (WFI or 4 ms later).
    const started = this.closing === 0 ? answer() : this.tail.then(answer);
    this.tail = started
      .catch((e: unknown) => {
        // handle() never throws and complete() only on a bug; the device must not hang either way.
        if (session === this.session) this.active?.interrupt.needsReset(`virtio-9p: ${e instanceof Error ? e.message : String(e)}`);
      });
  }

  private complete(session: number, chain: DescriptorChain, q: SplitVirtqueue, reply: Uint8Array): void {
    const a = this.active;
    if (session !== this.session || !a) return; // §2.4: a reset dropped it
    this.busy = false;
    try {
      q.push(chain.head, chain.write(a.mem, 0, reply));
      a.interrupt.usedBuffer(q);
    } catch (e) {
      if (!(e instanceof TypervisorError)) throw e;
      a.interrupt.needsReset(e.message);
      return;
    }
    this.options.wake?.();
    this.pump();
  }
}
