// Reproducible random writes for the image-format write tests: a seeded xorshift32 generator
// (no Math.random, so a failing case replays) and the shape of one planned write.

/** A generator of numbers in [0, 1) from `seed` (xorshift32). */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

/** One write of a test plan: `data` at byte `offset` of the disk. */
export interface Write {
  offset: number;
  data: Uint8Array;
}
