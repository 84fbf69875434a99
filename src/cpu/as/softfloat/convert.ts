// Conversions: float <-> integer (fcvt.w/wu/l/lu.{s,d}, fcvt.{s,d}.w/wu/l/lu) and
// binary32 <-> binary64 (fcvt.d.s, fcvt.s.d).
import { fflags, NV, NX, RNE, RDN, RUP, RMM } from "./flags";
import { FRAC, BIAS, EMAX, DEFAULT_NAN, QUIET_BIT, signOf, expOf, fracOf, isNaN, packSign, unpack, uExp, uSig } from "./format";
import { roundPack } from "./round-pack";

// ---- float -> integer ----------------------------------------------------------------
// ISA manual, "F" extension, "Floating-Point Conversion and Move Instructions": results
// out of range (after rounding) saturate to the nearest representable value, NaN gives
// the largest positive value; both raise NV only (no NX). In-range inexact raises NX.

let cvtBig: bool = false; // magnitude >= 2^64 (or infinite)
let cvtInexact: bool = false;

/** Rounded |a| as an integer for a finite or infinite, non-NaN a. */
@inline function roundMag<T>(a: u64, rm: u32): u64 {
  const e = expOf<T>(a);
  const k = e - BIAS<T>(); // unbiased exponent: |a| = sig * 2^(k - FRAC)
  const sig = fracOf<T>(a) | (e != 0 ? <u64>1 << <u64>FRAC<T>() : 0);
  cvtInexact = false;
  cvtBig = k >= 64;
  if (cvtBig) return 0;
  if (k >= FRAC<T>()) return sig << <u64>(k - FRAC<T>()); // an integer already
  let sh = FRAC<T>() - k; // fraction bits, >= 1
  if (sh > FRAC<T>() + 2) sh = FRAC<T>() + 2; // |a| < 1/2: any shift this large is the same
  const ip = sig >> <u64>sh;
  const rem = sig & ((<u64>1 << <u64>sh) - 1);
  if (rem == 0) return ip;
  cvtInexact = true;
  const half = <u64>1 << <u64>(sh - 1);
  const neg = signOf<T>(a) != 0;
  let up: bool;
  if (rm == RNE) up = rem > half || (rem == half && (ip & 1) != 0);
  else if (rm == RMM) up = rem >= half;
  else if (rm == RDN) up = neg;
  else if (rm == RUP) up = !neg;
  else up = false; // RTZ
  return ip + <u64>up;
}

@inline function toI32G<T>(a: u64, rm: u32): i64 {
  if (isNaN<T>(a)) {
    fflags |= NV;
    return 0x7fffffff;
  }
  const mag = roundMag<T>(a, rm);
  if (signOf<T>(a) != 0) {
    if (cvtBig || mag > 0x80000000) {
      fflags |= NV;
      return -0x80000000;
    }
    if (cvtInexact) fflags |= NX;
    return -<i64>mag;
  }
  if (cvtBig || mag > 0x7fffffff) {
    fflags |= NV;
    return 0x7fffffff;
  }
  if (cvtInexact) fflags |= NX;
  return <i64>mag;
}

/** fcvt.wu: the 32-bit result is sign-extended into the 64-bit register. */
@inline function toU32G<T>(a: u64, rm: u32): i64 {
  if (isNaN<T>(a)) {
    fflags |= NV;
    return -1;
  }
  const mag = roundMag<T>(a, rm);
  if (signOf<T>(a) != 0) {
    if (cvtBig || mag != 0) {
      fflags |= NV;
      return 0;
    }
    if (cvtInexact) fflags |= NX;
    return 0;
  }
  if (cvtBig || mag > 0xffffffff) {
    fflags |= NV;
    return -1;
  }
  if (cvtInexact) fflags |= NX;
  return <i64><i32>mag;
}

@inline function toI64G<T>(a: u64, rm: u32): i64 {
  if (isNaN<T>(a)) {
    fflags |= NV;
    return i64.MAX_VALUE;
  }
  const mag = roundMag<T>(a, rm);
  if (signOf<T>(a) != 0) {
    if (cvtBig || mag > 0x8000000000000000) {
      fflags |= NV;
      return i64.MIN_VALUE;
    }
    if (cvtInexact) fflags |= NX;
    return <i64>(0 - mag);
  }
  if (cvtBig || mag > 0x7fffffffffffffff) {
    fflags |= NV;
    return i64.MAX_VALUE;
  }
  if (cvtInexact) fflags |= NX;
  return <i64>mag;
}

@inline function toU64G<T>(a: u64, rm: u32): u64 {
  if (isNaN<T>(a)) {
    fflags |= NV;
    return u64.MAX_VALUE;
  }
  const mag = roundMag<T>(a, rm);
  if (signOf<T>(a) != 0) {
    if (cvtBig || mag != 0) {
      fflags |= NV;
      return 0;
    }
    if (cvtInexact) fflags |= NX;
    return 0;
  }
  if (cvtBig) {
    fflags |= NV;
    return u64.MAX_VALUE;
  }
  if (cvtInexact) fflags |= NX;
  return mag;
}

export function f32_to_i32(a: u32, rm: u32): i64 {
  return toI32G<u32>(a, rm);
}
export function f32_to_u32(a: u32, rm: u32): i64 {
  return toU32G<u32>(a, rm);
}
export function f32_to_i64(a: u32, rm: u32): i64 {
  return toI64G<u32>(a, rm);
}
export function f32_to_u64(a: u32, rm: u32): u64 {
  return toU64G<u32>(a, rm);
}
export function f64_to_i32(a: u64, rm: u32): i64 {
  return toI32G<u64>(a, rm);
}
export function f64_to_u32(a: u64, rm: u32): i64 {
  return toU32G<u64>(a, rm);
}
export function f64_to_i64(a: u64, rm: u32): i64 {
  return toI64G<u64>(a, rm);
}
export function f64_to_u64(a: u64, rm: u32): u64 {
  return toU64G<u64>(a, rm);
}

// ---- integer -> float ----------------------------------------------------------------

/** sign * mag rounded to format T. */
@inline function fromMag<T>(sign: u32, mag: u64, rm: u32): u64 {
  if (mag == 0) return 0;
  const s = clz(mag);
  const n = mag << s; // leading one at bit 63; move it to bit 62 keeping a sticky bit
  return roundPack<T>(sign, BIAS<T>() + 63 - <i32>s, (n >> 1) | (n & 1), rm);
}

export function f32_from_i32(x: i32, rm: u32): u32 {
  return <u32>fromMag<u32>(<u32>(x < 0), <u64>(x < 0 ? -<i64>x : <i64>x), rm);
}
export function f32_from_u32(x: u32, rm: u32): u32 {
  return <u32>fromMag<u32>(0, <u64>x, rm);
}
export function f32_from_i64(x: i64, rm: u32): u32 {
  return <u32>fromMag<u32>(<u32>(x < 0), x < 0 ? 0 - <u64>x : <u64>x, rm);
}
export function f32_from_u64(x: u64, rm: u32): u32 {
  return <u32>fromMag<u32>(0, x, rm);
}
export function f64_from_i32(x: i32, rm: u32): u64 {
  return fromMag<u64>(<u32>(x < 0), <u64>(x < 0 ? -<i64>x : <i64>x), rm);
}
export function f64_from_u32(x: u32, rm: u32): u64 {
  return fromMag<u64>(0, <u64>x, rm);
}
export function f64_from_i64(x: i64, rm: u32): u64 {
  return fromMag<u64>(<u32>(x < 0), x < 0 ? 0 - <u64>x : <u64>x, rm);
}
export function f64_from_u64(x: u64, rm: u32): u64 {
  return fromMag<u64>(0, x, rm);
}

// ---- binary32 <-> binary64 -----------------------------------------------------------

/** fcvt.d.s: exact. NaN results are canonical (signalling input raises NV). */
export function f32_to_f64(a: u32): u64 {
  const x = <u64>a;
  const sign = packSign<u64>(signOf<u32>(x));
  const e = expOf<u32>(x);
  const f = fracOf<u32>(x);
  if (e == EMAX<u32>()) {
    if (f == 0) return sign | 0x7ff0000000000000;
    if ((f & QUIET_BIT<u32>()) == 0) fflags |= NV;
    return DEFAULT_NAN<u64>();
  }
  if (e == 0) {
    if (f == 0) return sign;
    unpack<u32>(x); // subnormal binary32 is a normal binary64
    return sign | (<u64>(uExp + (1023 - 127)) << 52) | ((uSig & 0x7fffff) << 29);
  }
  return sign | (<u64>(e + (1023 - 127)) << 52) | (f << 29);
}

/** fcvt.s.d: rounds according to rm. */
export function f64_to_f32(a: u64, rm: u32): u32 {
  const sign = signOf<u64>(a);
  const e = expOf<u64>(a);
  if (e == EMAX<u64>()) {
    if (fracOf<u64>(a) == 0) return <u32>(packSign<u32>(sign) | 0x7f800000);
    if ((a & QUIET_BIT<u64>()) == 0) fflags |= NV;
    return <u32>DEFAULT_NAN<u32>();
  }
  if (e == 0 && fracOf<u64>(a) == 0) return <u32>packSign<u32>(sign);
  unpack<u64>(a);
  return <u32>roundPack<u32>(sign, uExp - (1023 - 127), uSig << 10, rm);
}
