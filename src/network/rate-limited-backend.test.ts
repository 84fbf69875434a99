import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { netBackendConformance } from '../../tests/network/conformance.js';
import { expectWithinRate } from '../../tests/helpers/rate-window.js';
import type { NetBackend, NetSink } from './net-backend.js';
import { createNetPair, newNetCounters } from './net-pair.js';
import { burstBytes, RateLimitedBackend, RX_HOLD_BYTES, RX_HOLD_FRAMES, type RateClock } from './rate-limited-backend.js';

/** A clock the test moves by hand; timers fire in order as it advances. */
class FakeClock implements RateClock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;
  now = () => this.t;
  setTimer = (fn: () => void, ms: number) => {
    const id = this.ids++;
    this.timers.push({ at: this.t + ms, fn, id });
    return () => void (this.timers = this.timers.filter((x) => x.id !== id));
  };
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
  }
}

/** A backend that records what it is given and lets the test inject received frames. */
class Recorder implements NetBackend {
  readonly stats = newNetCounters();
  sent: { t: number; n: number }[] = [];
  sink: NetSink | undefined;
  paused = false;
  constructor(private readonly clock: FakeClock) {}
  send(f: Uint8Array): void {
    this.sent.push({ t: this.clock.t, n: f.length });
  }
  attach(s: NetSink): void {
    this.sink = s;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  close(): void {}
}

netBackendConformance('a rate-limited pair (fast limit)', async () => {
  const [a, b] = createNetPair();
  return { a: new RateLimitedBackend(a, { bytesPerSecond: 1e9 }), b: new RateLimitedBackend(b, { bytesPerSecond: 1e9, packetsPerSecond: 1e6 }) };
});

describe('RateLimitedBackend', () => {
  it('defaults its burst to a tenth of a second, never below one maximal frame', () => {
    expect(burstBytes({ bytesPerSecond: 10 << 20 })).toBe(1 << 20);
    expect(burstBytes({ bytesPerSecond: 1000 })).toBe(65550);
    expect(burstBytes({ bytesPerSecond: 1000, burstBytes: 1 << 20 })).toBe(1 << 20);
  });

  it('tx: holds the frame the buckets cannot pay for, says canSend() false, and resumes the NIC when it went out', () => {
    const clock = new FakeClock();
    const inner = new Recorder(clock);
    const rl = new RateLimitedBackend(inner, { bytesPerSecond: 100_000, burstBytes: 70_000 }, clock);
    let resumed = 0;
    rl.attach({ receive: () => undefined, resumeTx: () => void resumed++ });
    for (let i = 0; i < 46; i++) rl.send(new Uint8Array(1500)); // 69 000 bytes: within the burst
    expect(inner.sent).toHaveLength(46);
    expect(rl.canSend()).toBe(true);
    rl.send(new Uint8Array(1500));
    expect(inner.sent).toHaveLength(46);
    expect(rl.canSend()).toBe(false);
    clock.advance(4);
    expect(inner.sent).toHaveLength(46);
    clock.advance(1); // 500 missing bytes at 100 kB/s: 5 ms
    expect(inner.sent).toHaveLength(47);
    expect(resumed).toBe(1);
    expect(rl.canSend()).toBe(true);
    expect(rl.stats).toMatchObject({ txDelayed: 1, txDropped: 0 });
  });

  it('packets per second limit small frames', () => {
    const clock = new FakeClock();
    const inner = new Recorder(clock);
    const rl = new RateLimitedBackend(inner, { bytesPerSecond: 1e9, packetsPerSecond: 100 }, clock);
    rl.attach({ receive: () => undefined, resumeTx: () => { while (rl.canSend() && n < 1000) (rl.send(new Uint8Array(60)), n++); } });
    let n = 0;
    while (rl.canSend() && n < 1000) (rl.send(new Uint8Array(60)), n++);
    clock.advance(10_000);
    // 10 s at 100/s, plus the 10-frame burst.
    expect(inner.sent.length).toBeGreaterThanOrEqual(1000);
    expect(inner.sent.filter((s) => s.t <= 5000).length).toBeLessThanOrEqual(100 * 5 + 10);
  });

  it('rx: holds then drops (counted) what the guest may not receive yet, pausing the inner backend meanwhile', () => {
    const clock = new FakeClock();
    const inner = new Recorder(clock);
    const rl = new RateLimitedBackend(inner, { bytesPerSecond: 1_000_000, burstBytes: 100_000 }, clock);
    const got: number[] = [];
    rl.attach({ receive: () => void got.push(clock.t) });
    for (let i = 0; i < 1000; i++) inner.sink!.receive(new Uint8Array(1000));
    expect(got.length).toBe(100); // the burst
    expect(inner.paused).toBe(true);
    expect(rl.stats.rateDropped).toBe(1000 - 100 - RX_HOLD_FRAMES);
    clock.advance(10_000);
    expect(got.length).toBe(100 + RX_HOLD_FRAMES);
    expect(inner.paused).toBe(false);
    // A NIC that pauses gets nothing until it resumes.
    rl.pause();
    clock.advance(1000);
    inner.sink!.receive(new Uint8Array(100));
    clock.advance(1000);
    expect(got.length).toBe(100 + RX_HOLD_FRAMES);
    rl.resume();
    clock.advance(1);
    expect(got.length).toBe(101 + RX_HOLD_FRAMES);
  });

  it('rx: holds at most RX_HOLD_BYTES of big frames', () => {
    const clock = new FakeClock();
    const inner = new Recorder(clock);
    const rl = new RateLimitedBackend(inner, { bytesPerSecond: 100_000 }, clock);
    let got = 0;
    rl.attach({ receive: () => void got++ });
    for (let i = 0; i < 100; i++) inner.sink!.receive(new Uint8Array(65550));
    expect(got).toBe(1); // the burst: one maximal frame
    const held = Math.floor(RX_HOLD_BYTES / 65550);
    expect(rl.stats.rateDropped).toBe(100 - 1 - held);
    clock.advance(60_000);
    expect(got).toBe(1 + held);
  });

  it('property: a NIC that honours canSend() never loses a frame, and over any window tx bytes ≤ rate × time + burst', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10_000, max: 10_000_000 }),
        fc.option(fc.integer({ min: 1, max: 2_000_000 }), { nil: undefined }),
        fc.array(fc.record({ n: fc.integer({ min: 14, max: 65550 }), dt: fc.integer({ min: 0, max: 50 }) }), { minLength: 1, maxLength: 120 }),
        (rate, burst, frames) => {
          const clock = new FakeClock();
          const inner = new Recorder(clock);
          const rl = new RateLimitedBackend(inner, { bytesPerSecond: rate, burstBytes: burst }, clock);
          let next = 0;
          const pump = () => {
            while (next < frames.length && rl.canSend()) rl.send(new Uint8Array(frames[next++]!.n));
          };
          rl.attach({ receive: () => undefined, resumeTx: pump });
          for (const f of frames) {
            pump();
            clock.advance(f.dt);
          }
          clock.advance(1e9);
          expect(inner.sent.map((s) => s.n)).toEqual(frames.map((f) => f.n));
          expectWithinRate(inner.sent, rate, burstBytes({ bytesPerSecond: rate, burstBytes: burst }));
        },
      ),
      { numRuns: 150 },
    );
  });
});
