// Rate limiting per NIC, the Firecracker way (token buckets for bytes and for packets, per
// direction, each with a burst): a NetBackend decorator, so every backend gets it.
//
// - Guest → network (tx): a frame the buckets cannot pay for now waits here, and `canSend()`
//   says false, so the NIC stops taking transmit descriptors (the guest's queue backs up and its
//   stack slows down, as on a slow link); a timer sends the frame once the tokens are there and
//   tells the NIC (`sink.resumeTx`) to go on. Guest frames are not dropped for the limit.
// - Network → guest (rx): frames the buckets cannot pay for are held (at most RX_HOLD_FRAMES)
//   and delivered as tokens come; past that they are dropped and counted (`rateDropped`). While
//   frames are held the inner backend is paused if it can be (a socket peer's TCP backs off).
import { MAX_FRAME_BYTES, type NetBackend, type NetBackendStats, type NetSink } from './net-backend.js';
import { TokenBucket } from './token-bucket.js';

export interface RateLimit {
  /** Bytes per second, each direction. */
  readonly bytesPerSecond: number;
  /** Bytes that may pass at once after a quiet spell; default a tenth of a second's worth. Never below one maximal frame. */
  readonly burstBytes?: number;
  /** Frames per second, each direction (optional); its burst is a tenth of a second's worth, at least 1. */
  readonly packetsPerSecond?: number;
}

/** Frames held on the receive side before new ones are dropped… */
export const RX_HOLD_FRAMES = 256;
/** … and bytes (256 maximal frames would be 16 MiB). */
export const RX_HOLD_BYTES = 1 << 20;
/** Transmit frames accepted beyond what the buckets allow, for callers that ignore canSend(). */
export const TX_HOLD_FRAMES = 256;

export interface RateClock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Calls `fn` after `ms`; returns a canceller. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: RateClock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** The byte bucket's capacity for `limit`. */
export function burstBytes(limit: RateLimit): number {
  return Math.max(MAX_FRAME_BYTES, limit.burstBytes ?? Math.ceil(limit.bytesPerSecond / 10));
}

/** One direction's buckets. */
class Shaper {
  private readonly bytes: TokenBucket;
  private readonly packets: TokenBucket | undefined;

  constructor(limit: RateLimit, now: () => number) {
    this.bytes = new TokenBucket(limit.bytesPerSecond, burstBytes(limit), now);
    const pps = limit.packetsPerSecond;
    this.packets = pps === undefined ? undefined : new TokenBucket(pps, Math.max(1, Math.ceil(pps / 10)), now);
  }

  /** Takes the tokens for one frame of `n` bytes from both buckets, or none. */
  tryPass(n: number): boolean {
    if (this.bytes.msUntil(n) > 0 || (this.packets && this.packets.msUntil(1) > 0)) return false;
    this.bytes.tryTake(n);
    this.packets?.tryTake(1);
    return true;
  }

  msUntil(n: number): number {
    return Math.max(1, this.bytes.msUntil(n), this.packets?.msUntil(1) ?? 0);
  }
}

export interface RateLimitedStats extends NetBackendStats {
  /** Received frames dropped because the hold queue was full. */
  readonly rateDropped: number;
  /** Transmit frames that had to wait for tokens. */
  readonly txDelayed: number;
}

export class RateLimitedBackend implements NetBackend {
  private readonly tx: Shaper;
  private readonly rx: Shaper;
  private readonly txQueue: Uint8Array[] = [];
  private readonly rxQueue: Uint8Array[] = [];
  private cancelTx: (() => void) | undefined;
  private cancelRx: (() => void) | undefined;
  private sink: NetSink | undefined;
  private closed = false;
  /** The NIC asked us to pause delivery. */
  private pausedByNic = false;
  /** Bytes in rxQueue. */
  private rxHeld = 0;
  private innerPaused = false;
  private own = { rateDropped: 0, txDelayed: 0, txDropped: 0, rxDropped: 0 };

  constructor(/** The backend being limited. */ readonly inner: NetBackend, readonly limit: RateLimit, private readonly clock: RateClock = systemClock) {
    this.tx = new Shaper(limit, () => clock.now());
    this.rx = new Shaper(limit, () => clock.now());
    inner.attach({ receive: (f) => this.fromNetwork(f) });
  }

  get stats(): RateLimitedStats {
    const s = this.inner.stats;
    return {
      txFrames: s?.txFrames ?? 0,
      rxFrames: s?.rxFrames ?? 0,
      txDropped: (s?.txDropped ?? 0) + this.own.txDropped,
      rxDropped: (s?.rxDropped ?? 0) + this.own.rxDropped + this.own.rateDropped,
      malformed: s?.malformed ?? 0,
      rateDropped: this.own.rateDropped,
      txDelayed: this.own.txDelayed,
    };
  }

  /** False while a transmit frame waits for tokens: the NIC should take no more for now. */
  canSend(): boolean {
    return !this.closed && this.txQueue.length === 0;
  }

  send(frame: Uint8Array): void {
    if (this.closed) {
      this.own.txDropped++;
      return;
    }
    if (this.txQueue.length === 0 && this.tx.tryPass(frame.length)) {
      this.inner.send(frame);
      return;
    }
    if (this.txQueue.length >= TX_HOLD_FRAMES) {
      this.own.txDropped++;
      return;
    }
    this.own.txDelayed++;
    this.txQueue.push(frame);
    this.scheduleTx();
  }

  private scheduleTx(): void {
    if (this.cancelTx || this.closed || this.txQueue.length === 0) return;
    this.cancelTx = this.clock.setTimer(() => {
      this.cancelTx = undefined;
      while (this.txQueue.length > 0 && this.tx.tryPass(this.txQueue[0]!.length)) this.inner.send(this.txQueue.shift()!);
      if (this.txQueue.length > 0) this.scheduleTx();
      else this.sink?.resumeTx?.();
    }, this.tx.msUntil(this.txQueue[0]!.length));
  }

  private fromNetwork(frame: Uint8Array): void {
    if (this.closed || !this.sink) {
      this.own.rxDropped++;
      return;
    }
    if (this.rxQueue.length === 0 && !this.pausedByNic && this.rx.tryPass(frame.length)) {
      this.sink.receive(frame);
      return;
    }
    if (this.rxQueue.length >= RX_HOLD_FRAMES || this.rxHeld + frame.length > RX_HOLD_BYTES) {
      this.own.rateDropped++;
      return;
    }
    this.rxQueue.push(frame);
    this.rxHeld += frame.length;
    this.updateInnerPause();
    this.scheduleRx();
  }

  private scheduleRx(): void {
    if (this.cancelRx || this.closed || this.pausedByNic || this.rxQueue.length === 0) return;
    this.cancelRx = this.clock.setTimer(() => {
      this.cancelRx = undefined;
      while (this.rxQueue.length > 0 && !this.pausedByNic && !this.closed && this.rx.tryPass(this.rxQueue[0]!.length)) {
        const f = this.rxQueue.shift()!;
        this.rxHeld -= f.length;
        if (this.sink) this.sink.receive(f);
        else this.own.rxDropped++;
      }
      this.updateInnerPause();
      this.scheduleRx();
    }, this.rx.msUntil(this.rxQueue[0]!.length));
  }

  /** Pauses the inner backend while frames are held or the NIC asked, resumes otherwise. */
  private updateInnerPause(): void {
    // Hysteresis: pause at half the hold queue, resume once it drained to an eighth.
    const want = this.pausedByNic || this.rxQueue.length >= (this.innerPaused ? RX_HOLD_FRAMES / 8 : RX_HOLD_FRAMES / 2);
    if (want === this.innerPaused || this.closed || !this.inner.pause || !this.inner.resume) return;
    this.innerPaused = want;
    if (want) this.inner.pause();
    else this.inner.resume();
  }

  attach(sink: NetSink): void {
    this.sink = sink;
  }

  pause(): void {
    this.pausedByNic = true;
    this.cancelRx?.();
    this.cancelRx = undefined;
    this.updateInnerPause();
  }

  resume(): void {
    this.pausedByNic = false;
    this.updateInnerPause();
    this.scheduleRx();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelTx?.();
    this.cancelRx?.();
    this.own.txDropped += this.txQueue.length;
    this.own.rxDropped += this.rxQueue.length;
    this.txQueue.length = 0;
    this.rxQueue.length = 0;
    this.rxHeld = 0;
    this.sink = undefined;
    this.inner.close();
  }
}
