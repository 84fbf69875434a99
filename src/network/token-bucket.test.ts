import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectWithinRate } from '../../tests/helpers/rate-window.js';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('starts full, refills at its rate, never above capacity', () => {
    let t = 0;
    const b = new TokenBucket(1000, 500, () => t);
    expect(b.tryTake(500)).toBe(true);
    expect(b.tryTake(1)).toBe(false);
    expect(b.msUntil(100)).toBe(100);
    t = 100;
    expect(b.tryTake(100)).toBe(true);
    t = 10_000;
    expect(b.available()).toBe(500);
    expect(b.msUntil(501)).toBe(Infinity);
    expect(() => new TokenBucket(0, 1, () => 0)).toThrow(RangeError);
  });

  it('property: over any window, what passes is at most rate × time + capacity', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 2000 }), n: fc.integer({ min: 1, max: 1_000_000 }), wait: fc.boolean() }), { maxLength: 150 }),
        (rate, capacity, steps) => {
          let t = 0;
          const b = new TokenBucket(rate, capacity, () => t);
          const passed: { t: number; n: number }[] = [];
          for (const s of steps) {
            t += s.dt;
            // Sometimes wait exactly as long as the bucket says, as the rate limiter does.
            if (s.wait) {
              const w = b.msUntil(s.n);
              if (w !== Infinity) t += w;
            }
            if (b.tryTake(s.n)) passed.push({ t, n: s.n });
            if (s.wait && s.n <= capacity) expect(passed.at(-1)?.t).toBe(t); // the promised wait was enough
          }
          expectWithinRate(passed, rate, capacity);
        },
      ),
      { numRuns: 300 },
    );
  });
});
