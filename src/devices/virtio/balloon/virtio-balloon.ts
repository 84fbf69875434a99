import { TypervisorError } from '../../../core/errors.js';
import type { Snapshotable } from '../../../core/snapshotable.js';
import { StateReader } from '../../../core/state-reader.js';
import type { DescriptorChain } from '../queue/descriptor-chain.js';
import { VirtioDeviceId, type VirtioActivation, type VirtioDevice, readConfigField } from '../virtio-device.js';

// virtio-balloon, the traditional memory balloon of virtio 1.2 §5.5. The host sets a target
// (num_pages, in 4 KiB pages, §5.5.4) and raises a configuration-change notification; the
// driver gives pages up through inflateq (queue 0) or takes them back through deflateq (queue 1),
// as arrays of le32 page frame numbers (PFN = guest-physical address >> 12, §5.5.6), and writes
// how many it holds to `actual`. With VIRTIO_BALLOON_F_STATS_VQ the driver reports memory
// statistics through statsq (queue 2, §5.5.6.3).
//
// What "giving a page back" means here: guest RAM is one WebAssembly.Memory, and a wasm memory
// cannot shrink or hand pages back to the operating system from inside. So a released page is
// zero-filled and counted; the host process's resident size does not drop, but a later snapshot
// or compression can skip the pages (they are zero), and the counter tells the host how much
// the guest is not using.

/** §5.5.3 feature bits. */
export const VIRTIO_BALLOON_F_MUST_TELL_HOST = 0n;
export const VIRTIO_BALLOON_F_STATS_VQ = 1n;
export const VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 2n;

/** The unit of num_pages, actual and PFNs (§5.5.6: always 4 KiB, whatever the guest's page size). */
export const BALLOON_PAGE = 4096;
/** QueueNumMax of the three queues. */
export const BALLOON_QUEUE_SIZE = 128;
/**
 * Most PFNs taken from one inflate/deflate buffer (Linux sends at most 256, VIRTIO_BALLOON_ARRAY_PFNS_MAX):
 * a guest cannot make one notification walk gigabytes of descriptors; the rest is ignored.
 */
export const BALLOON_MAX_PFNS_PER_BUFFER = 65536;
/** Most statistics read from one stats buffer (§5.5.6.3 defines 10, Linux 6.12 sends 16). */
export const BALLOON_MAX_STATS = 64;

const INFLATEQ = 0;
const DEFLATEQ = 1;
const STATSQ = 2;
/** §5.5.4: le32 num_pages, le32 actual (free_page_hint_cmd_id and poison_val only with features we do not offer). */
const CONFIG_SIZE = 8;
const CFG_NUM_PAGES = 0;
const CFG_ACTUAL = 4;
/** §5.5.6.3: struct virtio_balloon_stat { le16 tag; le64 val; } packed: 10 bytes. */
const STAT_BYTES = 10;

/** §5.5.6.3 statistic tags and the names the host API uses for them. */
const STAT_TAGS: Record<number, keyof BalloonStats> = {
  0: 'swapIn',
  1: 'swapOut',
  2: 'majorFaults',
  3: 'minorFaults',
  4: 'freeMemory',
  5: 'totalMemory',
  6: 'availableMemory',
  7: 'diskCaches',
  8: 'hugetlbAllocations',
  9: 'hugetlbFailures',
  // Added after virtio 1.2 (virtio 1.3 §5.5.6.3; Linux ≥ 6.10 sends them).
  10: 'oomKills',
  11: 'allocStalls',
  12: 'asyncScans',
  13: 'directScans',
  14: 'asyncReclaims',
  15: 'directReclaims',
};

/**
 * Memory statistics as the guest last reported them (§5.5.6.3). Only what the guest sent is
 * present. Memory amounts and swap traffic are bytes; faults and the rest are counts. Values are
 * le64 on the wire, converted to numbers (exact below 2^53).
 */
export interface BalloonStats {
  swapIn?: number;
  swapOut?: number;
  majorFaults?: number;
  minorFaults?: number;
  freeMemory?: number;
  totalMemory?: number;
  availableMemory?: number;
  diskCaches?: number;
  hugetlbAllocations?: number;
  hugetlbFailures?: number;
  oomKills?: number;
  allocStalls?: number;
  asyncScans?: number;
  directScans?: number;
  asyncReclaims?: number;
  directReclaims?: number;
}

export interface VirtioBalloonOptions {
  /** The balloon's initial target in bytes (what the guest should give back), rounded down to 4 KiB. */
  readonly targetBytes?: number;
  /**
   * Offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM (§5.5.6.1: the driver may deflate when the guest runs
   * out of memory). Off by default: Linux then keeps ballooned pages in MemTotal.
   */
  readonly deflateOnOom?: boolean;
  /** Called after the device raised an interrupt outside any MMIO access (host-side calls): wakes an idle hart. */
  readonly wake?: () => void;
  /** Key in a snapshot (default `virtio-balloon`). */
  readonly id?: string;
}

/** The device's own state (the queues' state belongs to the transport). */
export interface VirtioBalloonState {
  version: 1;
  numPages: number;
  actual: number;
  /** PFNs given up and not taken back, ascending. */
  released: number[];
  /** Descriptor head of the held stats buffer, or -1. */
  statsHead: number;
  ignored: number;
}

/** Most PFNs a snapshot may list: every 4 KiB page of the largest wasm32 memory. */
const MAX_RELEASED = 2 ** 20;

/**
 * The virtio memory balloon. Host side: {@link setTarget}, {@link actualBytes},
 * {@link releasedBytes}, {@link stats}, {@link refreshStats}. Guest input (PFN lists, stats
 * buffers) never throws to the host: a PFN outside RAM is ignored (and counted), a buffer of the
 * wrong direction sets DEVICE_NEEDS_RESET.
 */
export class VirtioBalloon implements VirtioDevice, Snapshotable<VirtioBalloonState> {
  readonly type = VirtioDeviceId.balloon;
  readonly id: string;
  readonly features: bigint;
  readonly queueSizes = [BALLOON_QUEUE_SIZE, BALLOON_QUEUE_SIZE, BALLOON_QUEUE_SIZE];
  readonly configSize = CONFIG_SIZE;
  private active: VirtioActivation | undefined;
  private numPages: number;
  private actual = 0;
  /** PFNs the guest gave up and has not taken back. */
  private readonly released = new Set<number>();
  private ignored = 0;
  private latest: BalloonStats | undefined;
  /** The stats buffer the device holds until it wants new statistics (§5.5.6.3). */
  private statsHead: number | undefined;
  private statsWaiters: ((stats: BalloonStats) => void)[] = [];

  constructor(private readonly options: VirtioBalloonOptions = {}) {
    this.id = options.id ?? 'virtio-balloon';
    this.features = (1n << VIRTIO_BALLOON_F_STATS_VQ) | (options.deflateOnOom ? 1n << VIRTIO_BALLOON_F_DEFLATE_ON_OOM : 0n);
    this.numPages = pagesOf(options.targetBytes ?? 0);
  }

  /** The host's target: bytes the guest should give back (num_pages × 4 KiB). */
  get targetBytes(): number {
    return this.numPages * BALLOON_PAGE;
  }

  /** What the driver says it holds (§5.5.4 `actual` × 4 KiB). */
  get actualBytes(): number {
    return this.actual * BALLOON_PAGE;
  }

  /** Bytes of the pages the device saw inflated and not deflated (zero-filled, see the file comment). */
  get releasedBytes(): number {
    return this.released.size * BALLOON_PAGE;
  }

  /** PFNs the guest named that were outside RAM (ignored), for tests and monitoring. */
  get ignoredPfns(): number {
    return this.ignored;
  }

  /**
   * Asks the guest to hold `bytes` in its balloon (rounded down to 4 KiB; 0 deflates it fully):
   * sets num_pages and sends a configuration-change notification (§5.5.6: the driver SHOULD
   * then inflate or deflate toward it).
   */
  setTarget(bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new TypervisorError(`balloon target ${bytes} is not a byte count`, { hint: 'give a whole number of bytes, 0 or more' });
    }
    const pages = pagesOf(bytes);
    if (pages > 0xffff_ffff) throw new TypervisorError(`balloon target ${bytes} bytes is larger than num_pages can say (2^32 − 1 pages)`);
    if (pages === this.numPages) return;
    this.numPages = pages;
    if (this.active) {
      this.active.interrupt.configChanged();
      this.options.wake?.();
    }
  }

  /** The statistics the guest last reported, or undefined before its first report. */
  stats(): BalloonStats | undefined {
    return this.latest && { ...this.latest };
  }

  /**
   * Asks the guest for fresh statistics by returning the stats buffer it posted (§5.5.6.3) and
   * resolves with its next report. Without a driver that negotiated STATS_VQ the promise waits
   * until one reports.
   */
  refreshStats(): Promise<BalloonStats> {
    const next = new Promise<BalloonStats>((resolve) => this.statsWaiters.push(resolve));
    this.returnStatsBuffer();
    return next;
  }

  save(): VirtioBalloonState {
    return {
      version: 1,
      numPages: this.numPages,
      actual: this.actual,
      released: [...this.released].sort((a, b) => a - b),
      statsHead: this.statsHead ?? -1,
      ignored: this.ignored,
    };
  }

  /**
   * Restores the target, `actual`, the released pages and the held stats buffer (checked like
   * guest input: PFNs are 32-bit and listed once). Call it after the transport's restore, which
   * resets and re-activates the device.
   */
  restore(state: VirtioBalloonState): void {
    const r = new StateReader(this.id, state, 1);
    const numPages = r.int('numPages', 0, 0xffff_ffff);
    const actual = r.int('actual', 0, 0xffff_ffff);
    const released = r.ints('released', 0, 0xffff_ffff, MAX_RELEASED);
    const statsHead = r.int('statsHead', -1, 32767);
    const ignored = r.int('ignored', 0, Number.MAX_SAFE_INTEGER);
    r.done();
    r.check(new Set(released).size === released.length, "field 'released' lists a page twice");
    this.numPages = numPages;
    this.actual = actual;
    this.released.clear();
    for (const p of released) this.released.add(p);
    this.statsHead = statsHead < 0 ? undefined : statsHead;
    this.ignored = ignored;
  }

  readConfig(offset: number, width: 1 | 2 | 4): number {
    const bytes = new Uint8Array(CONFIG_SIZE);
    const view = new DataView(bytes.buffer);
    view.setUint32(CFG_NUM_PAGES, this.numPages, true);
    view.setUint32(CFG_ACTUAL, this.actual, true);
    return readConfigField(bytes, offset, width);
  }

  /** §5.5.4: only `actual` is writable by the driver (any width, little-endian); num_pages writes are ignored. */
  writeConfig(offset: number, width: 1 | 2 | 4, value: number): void {
    if (offset + width <= CFG_ACTUAL) return;
    const view = new DataView(new ArrayBuffer(CONFIG_SIZE));
    view.setUint32(CFG_ACTUAL, this.actual, true);
    if (width === 1) view.setUint8(offset, value);
    else if (width === 2) view.setUint16(offset, value, true);
    else view.setUint32(offset, value, true);
    this.actual = view.getUint32(CFG_ACTUAL, true);
  }

  /**
   * Linux posts its first stats buffer before DRIVER_OK (virtballoon_probe → init_vqs), so its
   * notification reached no device: buffers already available are taken now. A malformed ring
   * found here sets DEVICE_NEEDS_RESET (activate is called from the status write, which does not
   * catch device errors).
   */
  activate(activation: VirtioActivation): void {
    this.active = activation;
    try {
      for (const q of [INFLATEQ, DEFLATEQ, STATSQ]) if (this.active === activation) this.notify(q);
    } catch (e) {
      if (!(e instanceof TypervisorError)) throw e;
      activation.interrupt.needsReset(e.message);
    }
  }

  /**
   * §2.4 reset, e.g. the driver unloaded or the guest rebooted in place: the queues and the held
   * stats buffer are gone; a new driver starts with an empty balloon (Linux reuses all pages
   * after a reset), so the released pages are forgotten and `actual` is 0 again.
   */
  reset(): void {
    this.active = undefined;
    this.statsHead = undefined;
    this.released.clear();
    this.actual = 0;
  }

  notify(queue: number): void {
    const a = this.active;
    const q = a?.queues[queue];
    if (!a || !q) return;
    if (queue === STATSQ) return this.takeStats(a);
    if (queue !== INFLATEQ && queue !== DEFLATEQ) return;
    let returned = false;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      if (chain.writable.length > 0) return a.interrupt.needsReset(`virtio-balloon: a ${queue === INFLATEQ ? 'inflate' : 'deflate'} buffer is device-writable`);
      this.pages(a, chain, queue === INFLATEQ);
      q.push(chain.head, 0);
      returned = true;
    }
    if (returned) a.interrupt.usedBuffer(q);
  }

  /** §5.5.6.2: each le32 of the buffer is a PFN given up (inflate) or taken back (deflate). */
  private pages(a: VirtioActivation, chain: DescriptorChain, inflate: boolean): void {
    const count = Math.min(Math.floor(chain.readableBytes / 4), BALLOON_MAX_PFNS_PER_BUFFER);
    const chunk = new Uint8Array(Math.min(count * 4, 4096));
    for (let done = 0; done < count; ) {
      const n = Math.min(count - done, chunk.length / 4);
      chain.read(a.mem, done * 4, chunk.subarray(0, n * 4));
      const view = new DataView(chunk.buffer, 0, n * 4);
      for (let i = 0; i < n; i++) {
        const pfn = view.getUint32(i * 4, true);
        const gpa = pfn * BALLOON_PAGE;
        // §5.5.6.2.1 leaves bad PFNs to the device; one outside RAM cannot be a guest page: ignored.
        if (!a.mem.contains(gpa, BALLOON_PAGE)) {
          this.ignored++;
          continue;
        }
        if (inflate) {
          if (!this.released.has(pfn)) {
            a.mem.fill(gpa, BALLOON_PAGE, 0);
            this.released.add(pfn);
          }
        } else {
          this.released.delete(pfn);
        }
      }
      done += n;
    }
  }

  /** §5.5.6.3: a stats buffer arrived. Reads it, keeps it until new stats are wanted. */
  private takeStats(a: VirtioActivation): void {
    const q = a.queues[STATSQ]!;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      if (chain.writable.length > 0) return a.interrupt.needsReset('virtio-balloon: a stats buffer is device-writable');
      // §5.5.6.3.1: the driver keeps one buffer in flight; should it post another, the older
      // one goes back used at once.
      if (this.statsHead !== undefined) {
        q.push(this.statsHead, 0);
        a.interrupt.usedBuffer(q);
      }
      this.statsHead = chain.head;
      const count = Math.min(Math.floor(chain.readableBytes / STAT_BYTES), BALLOON_MAX_STATS);
      const bytes = new Uint8Array(count * STAT_BYTES);
      chain.read(a.mem, 0, bytes);
      const view = new DataView(bytes.buffer);
      const stats: BalloonStats = {};
      for (let i = 0; i < count; i++) {
        const name = STAT_TAGS[view.getUint16(i * STAT_BYTES, true)];
        if (name) stats[name] = Number(view.getBigUint64(i * STAT_BYTES + 2, true)); // unknown tags ignored
      }
      this.latest = stats;
      const waiters = this.statsWaiters;
      this.statsWaiters = [];
      for (const w of waiters) w({ ...stats });
    }
  }

  /** Gives the held stats buffer back so the driver refills it (§5.5.6.3: "the device… uses the buffer"). */
  private returnStatsBuffer(): void {
    const a = this.active;
    const q = a?.queues[STATSQ];
    if (!a || !q || this.statsHead === undefined) return;
    const head = this.statsHead;
    this.statsHead = undefined;
    try {
      q.push(head, 0);
    } catch (e) {
      if (!(e instanceof TypervisorError)) throw e;
      return a.interrupt.needsReset(e.message);
    }
    a.interrupt.usedBuffer(q);
    this.options.wake?.();
  }
}

function pagesOf(bytes: number): number {
  return Math.floor(bytes / BALLOON_PAGE);
}
