/**
 * Collects guest console output between CPU slices so the host gets one write per slice rather
 * than one per byte.
 */
export class ConsoleBuffer {
  private buf = new Uint8Array(4096);
  private length = 0;

  /** @param sink receives each batch; it owns the array it is given. */
  constructor(private readonly sink: (bytes: Uint8Array) => void) {}

  /** Appends a copy of `bytes` (the caller may reuse its array). */
  push(bytes: Uint8Array): void {
    const needed = this.length + bytes.length;
    if (needed > this.buf.length) {
      const bigger = new Uint8Array(Math.max(needed, this.buf.length * 2));
      bigger.set(this.buf.subarray(0, this.length));
      this.buf = bigger;
    }
    this.buf.set(bytes, this.length);
    this.length = needed;
  }

  /** Hands everything collected so far to the sink. */
  flush(): void {
    if (this.length === 0) return;
    const out = this.buf.slice(0, this.length);
    this.length = 0;
    this.sink(out);
  }
}
