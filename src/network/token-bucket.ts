// A token bucket (the shaper Firecracker's rate limiter uses per NIC, per direction): tokens
// accrue at `rate` per second up to `capacity`; passing n units takes n tokens. Over any window
// of length T, at most rate × T + capacity units pass. Pure: the clock is injected.

export class TokenBucket {
  private tokens: number;
  private last: number;

  /**
   * @param rate units per second, > 0
   * @param capacity the burst: the most that can pass at once after a quiet spell, > 0
   * @param now a monotonic clock in milliseconds
   */
  constructor(readonly rate: number, readonly capacity: number, private readonly now: () => number) {
    if (!(rate > 0) || !(capacity > 0)) throw new RangeError(`a token bucket needs a positive rate and capacity (got ${rate}, ${capacity})`);
    this.tokens = capacity;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    if (t > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) * this.rate) / 1000);
      this.last = t;
    }
  }

  /** Tokens available now. */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Takes `n` tokens if there are that many; `n` above the capacity never passes. */
  tryTake(n: number): boolean {
    this.refill();
    // Refilling by (Δt × rate) in floating point can land a hair below n at the very time
    // msUntil(n) promised: a relative tolerance of 1e-9 keeps that promise.
    if (this.tokens < n * (1 - 1e-9)) return false;
    this.tokens = Math.max(0, this.tokens - n);
    return true;
  }

  /** Milliseconds until `n` tokens are there (0 if now; Infinity if n exceeds the capacity). */
  msUntil(n: number): number {
    this.refill();
    if (this.tokens >= n) return 0;
    if (n > this.capacity) return Infinity;
    return Math.ceil(((n - this.tokens) * 1000) / this.rate);
  }
}
