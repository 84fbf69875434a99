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

/** clmulh: high half of the carry-less product. */
export function clmulh(a: u64, b: u64): u64 { clmul(a, b); return clmulHi; }
/** clmulr: bits 126..63 of the carry-less product. */
export function clmulr(a: u64, b: u64): u64 { const lo = clmul(a, b); return (clmulHi << 1) | (lo >> 63); }
/** rev8 (byte swap), for translated code: wasm has no i64 byte swap. */
export function rev8(x: u64, unused: u64): u64 { return bswap<u64>(x); }
/** orc.b: each byte becomes 0xff if it was nonzero. */
export function orcb(x: u64, unused: u64): u64 {
  let r: u64 = 0;
  for (let i: u64 = 0; i < 64; i += 8) if ((x >> i) & 0xff) r |= (<u64>0xff) << i;
  return r;
}
