import { TypervisorError } from '../../../core/errors.js';
import type { DescriptorChain } from '../queue/descriptor-chain.js';
import type { SplitVirtqueue } from '../queue/split-virtqueue.js';
import { VirtioDeviceId, type VirtioActivation, type VirtioDevice, readConfigField } from '../virtio-device.js';

// virtio-blk, the block device: virtio 1.2 §5.2. One request queue. A request is a chain
//   struct virtio_blk_req { le32 type; le32 reserved; le64 sector;   (device-readable, 16 bytes)
//                           u8 data[];                               (readable for OUT, writable for IN)
//                           u8 status; }                             (device-writable, the last byte)
// Requests go to an asynchronous BlkBackend; each completes on its own (the used ring is filled
// and the interrupt raised from the backend's completion, outside any MMIO access, so the board's
// `wake` runs to get an idle hart going again).

/** Feature bits, §5.2.3. */
export const VIRTIO_BLK_F_SIZE_MAX = 1n;
export const VIRTIO_BLK_F_SEG_MAX = 2n;
export const VIRTIO_BLK_F_RO = 5n;
export const VIRTIO_BLK_F_BLK_SIZE = 6n;
export const VIRTIO_BLK_F_FLUSH = 9n;
export const VIRTIO_BLK_F_DISCARD = 13n;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14n;

/** Request types, §5.2.6. */
export const BlkType = { IN: 0, OUT: 1, FLUSH: 4, GET_ID: 8, GET_LIFETIME: 10, DISCARD: 11, WRITE_ZEROES: 13, SECURE_ERASE: 14 } as const;
/** Request status, §5.2.6. */
export const BlkStatus = { OK: 0, IOERR: 1, UNSUPP: 2 } as const;

/** The unit of `capacity` and `sector`, whatever blk_size says (§5.2.4, §5.2.6). */
export const SECTOR = 512;
export const BLK_QUEUE_SIZE = 128;
/** seg_max: data segments per request (the queue size minus header and status, as QEMU). */
export const BLK_SEG_MAX = BLK_QUEUE_SIZE - 2;
/** size_max: bytes per data segment. */
export const BLK_SIZE_MAX = 1 << 20;
/** GET_ID: the id string's length (§5.2.6: VIRTIO_BLK_ID_BYTES). */
export const BLK_ID_BYTES = 20;
/** Largest data part of one read/write; beyond it IOERR (a guest honouring seg_max × size_max stays below). */
export const BLK_MAX_REQUEST_BYTES = BLK_SEG_MAX * BLK_SIZE_MAX;
/** max_discard_sectors / max_write_zeroes_sectors (32 MiB per segment). */
export const BLK_MAX_DISCARD_SECTORS = (32 << 20) / SECTOR;
/** max_discard_seg / max_write_zeroes_seg. */
export const BLK_MAX_DISCARD_SEG = 1;
/**
 * Bytes of data the device holds for requests in flight. Past it the device takes no more
 * requests from the ring until some complete, so a guest cannot make the host buffer the whole
 * queue's worth of its RAM.
 */
export const BLK_INFLIGHT_BYTES = 64 << 20;
/** Zeros written per backend call for WRITE_ZEROES. */
const ZERO_CHUNK = 1 << 20;
/** Configuration space through unused1 (§5.2.4; secure erase is not offered). */
const CONFIG_SIZE = 60;

/**
 * What the device needs of a disk: the storage layer's BlockBackend (src/storage/block-backend.ts,
 * whose contract applies) satisfies it; restated here because devices/ may not import storage/.
 */
export interface BlkBackend {
  readonly capacity: number;
  readonly readOnly: boolean;
  read(offset: number, dst: Uint8Array): Promise<void>;
  write(offset: number, src: Uint8Array): Promise<void>;
  flush(): Promise<void>;
  discard?(offset: number, length: number): Promise<void>;
}

export interface VirtioBlkOptions {
  /** Offer VIRTIO_BLK_F_RO and refuse writes even when the backend is writable. */
  readonly readOnly?: boolean;
  /** The GET_ID string (at most 20 bytes of UTF-8; default empty, as QEMU without serial=). */
  readonly serial?: string;
  /**
   * Called after a completion raised an interrupt outside any MMIO access: the board wakes an
   * idle (WFI) hart with it.
   */
  readonly wake?: () => void;
}

/** One request taken from the ring, parsed. */
interface Request {
  readonly chain: DescriptorChain;
  /** Data bytes the device holds for it (counted against BLK_INFLIGHT_BYTES). */
  readonly bytes: number;
  /** Settles (never rejects) with the status and the bytes written into the chain. */
  readonly done: Promise<void>;
}

/**
 * The virtio block device over a {@link BlkBackend}. Reads and writes run concurrently; a
 * FLUSH starts only after every request taken before it has completed (§5.2.6.2: a flush makes
 * the writes completed before it durable), and requests after a flush wait for it. The device
 * never closes its backend: its owner does (after {@link idle}).
 */
export class VirtioBlk implements VirtioDevice {
  readonly type = VirtioDeviceId.block;
  readonly features: bigint;
  readonly queueSizes = [BLK_QUEUE_SIZE];
  readonly configSize = CONFIG_SIZE;
  readonly readOnly: boolean;
  private readonly config = new Uint8Array(CONFIG_SIZE);
  private readonly id: Uint8Array;
  private active: VirtioActivation | undefined;
  /** Bumped by reset: completions of an older session are dropped. */
  private session = 0;
  private inflight = new Set<Request>();
  private inflightBytes = 0;
  /** The last flush taken, which later requests wait for. */
  private barrier: Promise<void> = Promise.resolve();
  /** No flush is outstanding: a request may go to the backend at once (see track()). */
  private barrierSettled = true;
  /** Every request ever started and not yet settled, across sessions (for idle()). */
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly backend: BlkBackend, private readonly options: VirtioBlkOptions = {}) {
    this.readOnly = backend.readOnly || (options.readOnly ?? false);
    const discard = !this.readOnly && typeof backend.discard === 'function';
    this.features =
      (1n << VIRTIO_BLK_F_SIZE_MAX) | (1n << VIRTIO_BLK_F_SEG_MAX) | (1n << VIRTIO_BLK_F_BLK_SIZE) | (1n << VIRTIO_BLK_F_FLUSH) |
      (this.readOnly ? 1n << VIRTIO_BLK_F_RO : (1n << VIRTIO_BLK_F_WRITE_ZEROES) | (discard ? 1n << VIRTIO_BLK_F_DISCARD : 0n));
    const id = new TextEncoder().encode(options.serial ?? '');
    if (id.length > BLK_ID_BYTES) throw new TypervisorError(`disk serial '${options.serial}' is longer than ${BLK_ID_BYTES} bytes`);
    this.id = id;
    const v = new DataView(this.config.buffer);
    v.setBigUint64(0, BigInt(Math.floor(backend.capacity / SECTOR)), true); // capacity
    v.setUint32(8, BLK_SIZE_MAX, true); // size_max
    v.setUint32(12, BLK_SEG_MAX, true); // seg_max
    v.setUint32(20, SECTOR, true); // blk_size
    if (discard) {
      v.setUint32(36, BLK_MAX_DISCARD_SECTORS, true);
      v.setUint32(40, BLK_MAX_DISCARD_SEG, true);
      v.setUint32(44, 1, true); // discard_sector_alignment
    }
    if (!this.readOnly) {
      v.setUint32(48, BLK_MAX_DISCARD_SECTORS, true);
      v.setUint32(52, BLK_MAX_DISCARD_SEG, true);
      // write_zeroes_may_unmap stays 0: discarded bytes need not read as zeros on every backend.
    }
  }

  /** The disk's size in 512-byte sectors (the config's capacity). */
  get capacitySectors(): number {
    return Math.floor(this.backend.capacity / SECTOR);
  }

  readConfig(offset: number, width: 1 | 2 | 4): number {
    return readConfigField(this.config, offset, width);
  }

  /** The fields the driver may write (writeback, with CONFIG_WCE) are not offered: writes are ignored. */
  writeConfig(): void {}

  activate(activation: VirtioActivation): void {
    this.active = activation;
  }

  /** §2.4: drops the session; requests still in the backend complete into nothing. */
  reset(): void {
    this.active = undefined;
    this.session++;
    this.inflight = new Set();
    this.inflightBytes = 0;
    this.barrier = Promise.resolve();
    this.barrierSettled = true;
  }

  /** Resolves when no request is in the backend any more (before the owner flushes and closes it). */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  notify(queue: number): void {
    if (queue !== 0) return;
    this.pump();
  }

  /** Takes requests from the ring while the in-flight budget allows. */
  private pump(): void {
    const a = this.active;
    const q = a?.queues[0];
    if (!a || !q) return;
    let completedNow = false;
    while (this.inflightBytes < BLK_INFLIGHT_BYTES) {
      const chain = q.pop();
      if (!chain) break;
      if (chain.writableBytes === 0) {
        // No status byte to report anything in: only a reset helps (§5.2.6.1 says the driver MUST
        // give one). QEMU likewise marks the device broken.
        a.interrupt.needsReset('virtio-blk: a request has no device-writable status byte');
        return;
      }
      const parsed = this.start(chain, q);
      if (parsed === undefined) completedNow = true;
    }
    if (completedNow) a.interrupt.usedBuffer(q);
  }

  /**
   * Parses a request and starts it. Requests refused on parsing complete at once (returns
   * undefined, the caller raises the interrupt); others are handed to the backend.
   */
  private start(chain: DescriptorChain, q: SplitVirtqueue): Request | undefined {
    const a = this.active!;
    const header = new Uint8Array(16);
    const finishNow = (status: number, written = 0): undefined => {
      this.writeStatus(chain, status);
      q.push(chain.head, written + 1);
      return undefined;
    };
    if (chain.read(a.mem, 0, header) < 16) return finishNow(BlkStatus.IOERR); // short header
    const h = new DataView(header.buffer);
    const type = h.getUint32(0, true);
    const sectorHigh = h.getUint32(12, true);
    const sector = sectorHigh >= 2 ** 21 ? Number.MAX_SAFE_INTEGER : sectorHigh * 2 ** 32 + h.getUint32(8, true);
    const inBytes = chain.readableBytes - 16; // data the driver gave the device
    const outBytes = chain.writableBytes - 1; // room for data before the status byte
    const capacity = this.capacitySectors;
    const inRange = (first: number, bytes: number) => bytes % SECTOR === 0 && first <= capacity && bytes / SECTOR <= capacity - first;

    let bytes = 0;
    let op: () => Promise<Uint8Array | null>; // resolves with the data for the chain (IN) or null
    switch (type) {
      case BlkType.IN: {
        if (inBytes !== 0 || outBytes > BLK_MAX_REQUEST_BYTES || !inRange(sector, outBytes)) return finishNow(BlkStatus.IOERR);
        bytes = outBytes;
        op = async () => {
          const buf = new Uint8Array(outBytes);
          await this.backend.read(sector * SECTOR, buf);
          return buf; // copied into the chain at completion, if the session is still live
        };
        break;
      }
      case BlkType.OUT: {
        if (outBytes !== 0 || inBytes > BLK_MAX_REQUEST_BYTES || !inRange(sector, inBytes)) return finishNow(BlkStatus.IOERR);
        if (this.readOnly) return finishNow(BlkStatus.IOERR); // §5.2.6.2: never reaches the backend
        const buf = new Uint8Array(inBytes);
        chain.read(a.mem, 16, buf); // copied now: the driver owns the buffer again once it is used
        bytes = inBytes;
        op = async () => {
          await this.backend.write(sector * SECTOR, buf);
          return null;
        };
        break;
      }
      case BlkType.FLUSH: {
        if (inBytes !== 0 || outBytes !== 0) return finishNow(BlkStatus.IOERR);
        op = async () => {
          await this.backend.flush();
          return null;
        };
        return this.track(chain, q, 0, op, true);
      }
      case BlkType.GET_ID: {
        if (inBytes !== 0) return finishNow(BlkStatus.IOERR);
        // §5.2.6.1: the id is 20 bytes, NUL-padded (no terminator when it fills all 20).
        const id = new Uint8Array(Math.min(BLK_ID_BYTES, outBytes));
        id.set(this.id.subarray(0, id.length));
        return finishNow(BlkStatus.OK, chain.write(a.mem, 0, id));
      }
      case BlkType.DISCARD:
      case BlkType.WRITE_ZEROES: {
        const discard = type === BlkType.DISCARD;
        const offered = discard ? (this.features >> VIRTIO_BLK_F_DISCARD) & 1n : (this.features >> VIRTIO_BLK_F_WRITE_ZEROES) & 1n;
        if (!offered) return finishNow(this.readOnly ? BlkStatus.IOERR : BlkStatus.UNSUPP);
        if (outBytes !== 0 || inBytes === 0 || inBytes % 16 !== 0) return finishNow(BlkStatus.IOERR);
        if (inBytes / 16 > BLK_MAX_DISCARD_SEG) return finishNow(BlkStatus.IOERR); // §5.2.6.2: more than max_*_seg
        const segs = new Uint8Array(inBytes);
        chain.read(a.mem, 16, segs);
        const s = new DataView(segs.buffer);
        const ranges: [number, number][] = [];
        for (let at = 0; at < inBytes; at += 16) {
          const high = s.getUint32(at + 4, true);
          const first = high >= 2 ** 21 ? Number.MAX_SAFE_INTEGER : high * 2 ** 32 + s.getUint32(at, true);
          const count = s.getUint32(at + 8, true);
          const flags = s.getUint32(at + 12, true);
          // §5.2.6.2: unmap is the only flag, and only for WRITE_ZEROES; anything else is UNSUPP.
          if (flags & ~(discard ? 0 : 1)) return finishNow(BlkStatus.UNSUPP);
          if (count > BLK_MAX_DISCARD_SECTORS || !inRange(first, count * SECTOR)) return finishNow(BlkStatus.IOERR);
          ranges.push([first * SECTOR, count * SECTOR]);
        }
        op = async () => {
          for (const [offset, length] of ranges) {
            if (discard) await this.backend.discard!(offset, length);
            else {
              const zeros = new Uint8Array(Math.min(length, ZERO_CHUNK));
              for (let done = 0; done < length; done += zeros.length) {
                await this.backend.write(offset + done, zeros.subarray(0, Math.min(zeros.length, length - done)));
              }
            }
          }
          return null;
        };
        break;
      }
      default:
        // GET_LIFETIME, SECURE_ERASE (not offered) and unknown types: §5.2.6.2.
        return finishNow(BlkStatus.UNSUPP);
    }
    return this.track(chain, q, bytes, op, false);
  }

  /**
   * Runs `op` in order with flushes (after the last flush; a flush after everything in flight),
   * then completes the request if its session is still live.
   */
  private track(chain: DescriptorChain, q: SplitVirtqueue, bytes: number, op: () => Promise<Uint8Array | null>, isFlush: boolean): Request {
    const session = this.session;
    let status: number = BlkStatus.OK;
    let data: Uint8Array | null = null;
    const run = async () => {
      if (session !== this.session) return; // reset while waiting: do not touch the disk
      data = await op();
    };
    // With no flush outstanding the backend call starts now, inside the driver's notify, so the
    // host's I/O overlaps the guest's own work until it waits: started from a promise reaction it
    // would only begin when the run loop next yields (after the guest reached WFI or 4 ms).
    let started: Promise<void>;
    if (isFlush) started = Promise.all([this.barrier, ...[...this.inflight].map((r) => r.done)]).then(run);
    else started = this.barrierSettled ? run() : this.barrier.then(run);
    const done = started
      .catch(() => {
        // A backend error (I/O error, a range the backend refused) is the request's IOERR; the
        // guest's disk stays usable (§5.2.6.2).
        status = BlkStatus.IOERR;
        data = null;
      });
    const request: Request = { chain, bytes, done };
    if (isFlush) {
      this.barrier = done;
      this.barrierSettled = false;
      void done.then(() => {
        if (this.barrier === done) this.barrierSettled = true;
      });
    }
    this.inflight.add(request);
    this.inflightBytes += bytes;
    const settled = done.then(() => this.complete(request, session, q, status, data));
    this.pending.add(settled);
    void settled.finally(() => this.pending.delete(settled));
    return request;
  }

  private complete(request: Request, session: number, q: SplitVirtqueue, status: number, data: Uint8Array | null): void {
    if (session !== this.session || !this.active) return; // §2.4: a reset dropped it
    this.inflight.delete(request);
    this.inflightBytes -= request.bytes;
    const a = this.active;
    try {
      const written = data ? request.chain.write(a.mem, 0, data) : 0;
      this.writeStatus(request.chain, status);
      q.push(request.chain.head, written + 1);
      a.interrupt.usedBuffer(q);
      this.pump(); // requests held back by the in-flight budget
    } catch (e) {
      if (!(e instanceof TypervisorError)) throw e;
      a.interrupt.needsReset(e.message);
    }
    this.options.wake?.();
  }

  /** The status byte is the chain's last writable byte (§5.2.6). */
  private writeStatus(chain: DescriptorChain, status: number): void {
    chain.write(this.active!.mem, chain.writableBytes - 1, Uint8Array.of(status));
  }
}
