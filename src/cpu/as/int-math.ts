// Integer helpers wasm lacks as single instructions: 64×64→128 high halves (M extension
// mulh/mulhsu/mulhu) and carry-less products (Zbc).

export function mulhu(a: u64, b: u64): u64 {
  const aL = a & 0xffffffff, aH = a >> 32, bL = b & 0xffffffff, bH = b >> 32;
  const ll = aL * bL, lh = aL * bH, hl = aH * bL, hh = aH * bH;
  const mid = (ll >> 32) + (lh & 0xffffffff) + (hl & 0xffffffff);
  return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

export function mulh(a: u64, b: u64): u64 {
  let h = mulhu(a, b);
  if (<i64>a < 0) h -= b;
  if (<i64>b < 0) h -= a;
  return h;
}

export function mulhsu(a: u64, b: u64): u64 {
  let h = mulhu(a, b);
  if (<i64>a < 0) h -= b;
  return h;
}

/** Carry-less product of a and b: low 64 bits into the return value, high 64 into clmulHi. */
export let clmulHi: u64 = 0;
export function clmul(a: u64, b: u64): u64 {
  let lo: u64 = 0, hi: u64 = 0;
  for (let i: u64 = 0; i < 64; i++) {
    if ((b >> i) & 1) {
      lo ^= a << i;
      if (i != 0) hi ^= a >> (64 - i);
    }
  }
  clmulHi = hi;
  return lo;
}
