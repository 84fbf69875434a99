// Minimal unsigned 128-bit helpers on (hi, lo) pairs. Results come back in the
// globals r128Hi / r128Lo (and divRem for the division remainder): no allocation.

export let r128Hi: u64 = 0;
export let r128Lo: u64 = 0;
export let divRem: u64 = 0;

/** Full 64 x 64 -> 128-bit product into r128Hi:r128Lo. */
@inline export function mul64To128(a: u64, b: u64): void {
  const aL = a & 0xffffffff;
  const aH = a >> 32;
  const bL = b & 0xffffffff;
  const bH = b >> 32;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const hh = aH * bH;
  // middle column: at most 3 * (2^32 - 1), no overflow
  const mid = (ll >> 32) + (lh & 0xffffffff) + (hl & 0xffffffff);
  r128Lo = (mid << 32) | (ll & 0xffffffff);
  r128Hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

/** (hi:lo) >> n with every shifted-out bit OR-ed into bit 0. Any n >= 0. */
@inline export function shrJam128(hi: u64, lo: u64, n: u32): void {
  if (n == 0) {
    r128Hi = hi;
    r128Lo = lo;
  } else if (n < 64) {
    const lost = lo << <u64>(64 - n);
    r128Lo = (hi << <u64>(64 - n)) | (lo >> <u64>n) | <u64>(lost != 0);
    r128Hi = hi >> <u64>n;
  } else if (n < 128) {
    const m = n - 64; // 0..63
    const lost = lo | (m == 0 ? 0 : hi << <u64>(64 - m));
    r128Lo = (hi >> <u64>m) | <u64>(lost != 0);
    r128Hi = 0;
  } else {
    r128Lo = <u64>((hi | lo) != 0);
    r128Hi = 0;
  }
}

/** (hi:lo) << n for 0 <= n < 128. */
@inline export function shl128(hi: u64, lo: u64, n: u32): void {
  if (n == 0) {
    r128Hi = hi;
    r128Lo = lo;
  } else if (n < 64) {
    r128Hi = (hi << <u64>n) | (lo >> <u64>(64 - n));
    r128Lo = lo << <u64>n;
  } else {
    r128Hi = lo << <u64>(n - 64);
    r128Lo = 0;
  }
}

/**
 * floor((u1:u0) / v) for a normalised divisor (bit 63 of v set) and u1 < v, so the
 * quotient fits in 64 bits. Schoolbook division in two 32-bit digits (Knuth, TAOCP
 * vol. 2, 4.3.1, algorithm D) using the native 64/64 divide; remainder in divRem.
 */
export function div128By64(u1: u64, u0: u64, v: u64): u64 {
  const B: u64 = 0x100000000;
  const vH = v >> 32;
  const vL = v & 0xffffffff;
  const u0H = u0 >> 32;
  const u0L = u0 & 0xffffffff;

  // high quotient digit: (u1 : u0H) / v
  let q1 = u1 / vH;
  let rhat = u1 - q1 * vH;
  while (q1 >= B || q1 * vL > ((rhat << 32) | u0H)) {
    q1 -= 1;
    rhat += vH;
    if (rhat >= B) break;
  }
  const rem1 = ((u1 << 32) | u0H) - q1 * v; // true remainder < v (mod 2^64 arithmetic)

  // low quotient digit: (rem1 : u0L) / v
  let q0 = rem1 / vH;
  rhat = rem1 - q0 * vH;
  while (q0 >= B || q0 * vL > ((rhat << 32) | u0L)) {
    q0 -= 1;
    rhat += vH;
    if (rhat >= B) break;
  }
  divRem = ((rem1 << 32) | u0L) - q0 * v;
  return (q1 << 32) | q0;
}
