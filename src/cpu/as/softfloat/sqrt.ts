// Square root (fsqrt). Exact integer square roots by Zimmermann's "Karatsuba square
// root" recursion (one divide per level): with N = a3*B^3 + a2*B^2 + a1*B + a0 and
// a3 >= B/4, (s', r') = sqrtrem(a3*B + a2); (q, u) = divrem(r'*B + a1, 2s');
// s = s'*B + q; r = u*B + a0 - q^2; if r < 0 then r += 2s - 1, s -= 1.
import { fflags, NV } from "./flags";
import { BIAS, EMAX, DEFAULT_NAN, signOf, expOf, isNaN, isSNaN, absOf, unpack, uExp, uSig } from "./format";
import { roundPack } from "./round-pack";

let sqRem: i64 = 0; // remainder of the last isqrt

/** floor(sqrt(n)) for n in [2^12, 2^14); remainder in sqRem. */
@inline function isqrt14(n: u32): u32 {
  let s: u32 = 64;
  let t: u32 = s + 32; if (t * t <= n) s = t;
  t = s + 16; if (t * t <= n) s = t;
  t = s + 8; if (t * t <= n) s = t;
  t = s + 4; if (t * t <= n) s = t;
  t = s + 2; if (t * t <= n) s = t;
  t = s + 1; if (t * t <= n) s = t;
  sqRem = <i64>(n - s * s);
  return s;
}

/** floor(sqrt(n)) for n in [2^26, 2^28) (digits of 7 bits); remainder in sqRem. */
@inline function isqrt28(n: u32): u32 {
  const s1 = isqrt14(n >> 14);
  const num = (<u32>sqRem << 7) | ((n >> 7) & 0x7f);
  const d = s1 << 1;
  const q = num / d;
  let s = (s1 << 7) + q;
  let r = (<i32>(num - q * d) << 7) + <i32>(n & 0x7f) - <i32>(q * q);
  if (r < 0) {
    r += <i32>(2 * s - 1);
    s -= 1;
  }
  sqRem = r;
  return s;
}

/** floor(sqrt(n)) for n in [2^54, 2^56) (digits of 14 bits); remainder in sqRem. */
@inline function isqrt56(n: u64): u64 {
  const s1 = <u64>isqrt28(<u32>(n >> 28));
  const num = (<u64>sqRem << 14) | ((n >> 14) & 0x3fff);
  const d = s1 << 1;
  const q = num / d;
  let s = (s1 << 14) + q;
  let r = <i64>((num - q * d) << 14) + <i64>(n & 0x3fff) - <i64>(q * q);
  if (r < 0) {
    r += <i64>(2 * s - 1);
    s -= 1;
  }
  sqRem = r;
  return s;
}

@inline function sqrtG<T>(a: u64, rm: u32): u64 {
  const e = expOf<T>(a);
  if (isNaN<T>(a)) {
    if (isSNaN<T>(a)) fflags |= NV;
    return DEFAULT_NAN<T>();
  }
  if (absOf<T>(a) == 0) return a; // sqrt(+-0) = +-0
  if (signOf<T>(a) != 0) {
    fflags |= NV; // negative (including -inf)
    return DEFAULT_NAN<T>();
  }
  if (e == EMAX<T>()) return a; // +inf

  unpack<T>(a);
  const k = uExp - BIAS<T>(); // unbiased exponent; value = sig * 2^(k - FRAC)
  const odd = <u64>(k & 1);
  // Scale the radicand so its square root has 56 (binary64) or 28 (binary32) bits and
  // the scale exponent has the parity that makes the result exponent exactly k >> 1.
  let s: u64;
  let rem: i64;
  if (sizeof<T>() == 8) {
    // R = sig << (58 + odd), in [2^110, 2^112); digits of 28 bits
    const hi = uSig >> (6 - odd);
    const lo = uSig << (58 + odd);
    const s1 = isqrt56((hi << 8) | (lo >> 56));
    const num = (<u64>sqRem << 28) | ((lo >> 28) & 0xfffffff);
    const d = s1 << 1;
    const q = num / d;
    s = (s1 << 28) + q;
    rem = <i64>((num - q * d) << 28) + <i64>(lo & 0xfffffff) - <i64>(q * q);
    if (rem < 0) {
      rem += <i64>(2 * s - 1);
      s -= 1;
    }
    s <<= 7; // leading one from bit 55 to bit 62
  } else {
    // R = sig << (31 + odd), in [2^54, 2^56)
    s = isqrt56(uSig << (31 + odd)) << 35; // leading one from bit 27 to bit 62
    rem = sqRem;
  }
  return roundPack<T>(0, BIAS<T>() + (k >> 1), s | <u64>(rem != 0), rm);
}

export function f32_sqrt(a: u32, rm: u32): u32 {
  return <u32>sqrtG<u32>(a, rm);
}
export function f64_sqrt(a: u64, rm: u32): u64 {
  return sqrtG<u64>(a, rm);
}
