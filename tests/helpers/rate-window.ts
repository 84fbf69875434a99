import { expect } from 'vitest';

/**
 * The token-bucket guarantee, checked over every window of a record of what passed (time in ms,
 * size in units): between passes i and j at most rate × (t_j − t_i) + capacity units went
 * through (a relative 1e-6 for floating-point refill). Used for the bucket itself and for the
 * rate-limited NIC built on it.
 */
export function expectWithinRate(passed: readonly { t: number; n: number }[], rate: number, capacity: number): void {
  for (let i = 0; i < passed.length; i++) {
    let sum = 0;
    for (let j = i; j < passed.length; j++) {
      sum += passed[j]!.n;
      expect(sum).toBeLessThanOrEqual((rate * (passed[j]!.t - passed[i]!.t)) / 1000 + capacity + 1e-6 * sum);
    }
  }
}
