// Comparisons (feq / flt / fle), fmin / fmax and fclass.
import { fflags, NV } from "./flags";
import { EMAX, DEFAULT_NAN, QUIET_BIT, signOf, expOf, fracOf, isNaN, isSNaN, absOf } from "./format";

/** a < b in the order -inf < ... < -0 < +0 < ... < +inf (operands not NaN). */
@inline function totalLess<T>(a: u64, b: u64): bool {
  const sa = signOf<T>(a);
  if (sa != signOf<T>(b)) return sa != 0;
  return sa != 0 ? a > b : a < b;
}

// feq is a quiet comparison: NV only for signalling NaN inputs. flt / fle are signalling:
// NV for any NaN input (ISA manual, "F" extension, "Floating-Point Compare Instructions").
@inline function eqG<T>(a: u64, b: u64): u32 {
  if (isNaN<T>(a) || isNaN<T>(b)) {
    if (isSNaN<T>(a) || isSNaN<T>(b)) fflags |= NV;
    return 0;
  }
  return <u32>(a == b || absOf<T>(a | b) == 0);
}
@inline function ltG<T>(a: u64, b: u64): u32 {
  if (isNaN<T>(a) || isNaN<T>(b)) {
    fflags |= NV;
    return 0;
  }
  if (absOf<T>(a | b) == 0) return 0; // -0 == +0
  return <u32>totalLess<T>(a, b);
}
@inline function leG<T>(a: u64, b: u64): u32 {
  if (isNaN<T>(a) || isNaN<T>(b)) {
    fflags |= NV;
    return 0;
  }
  if (absOf<T>(a | b) == 0) return 1;
  return <u32>!totalLess<T>(b, a);
}

// fmin / fmax follow IEEE 754-2019 minimumNumber / maximumNumber (ISA manual, "F"
// extension, "Floating-Point Computational Instructions"): -0 < +0, a single NaN operand
// yields the other operand, two NaNs the canonical NaN, any signalling NaN raises NV.
@inline function minMaxG<T>(a: u64, b: u64, isMax: bool): u64 {
  const nanA = isNaN<T>(a);
  const nanB = isNaN<T>(b);
  if (nanA || nanB) {
    if (isSNaN<T>(a) || isSNaN<T>(b)) fflags |= NV;
    if (nanA && nanB) return DEFAULT_NAN<T>();
    return nanA ? b : a;
  }
  return totalLess<T>(a, b) != isMax ? a : b;
}

/** fclass: one-hot 10-bit mask (ISA manual, "F" extension, "Floating-Point Classify"). */
@inline function classifyG<T>(a: u64): u32 {
  const neg = signOf<T>(a) != 0;
  const e = expOf<T>(a);
  const f = fracOf<T>(a);
  if (e == EMAX<T>()) {
    if (f == 0) return neg ? 1 << 0 : 1 << 7; // -inf / +inf
    return (f & QUIET_BIT<T>()) != 0 ? 1 << 9 : 1 << 8; // quiet / signalling NaN
  }
  if (e == 0) {
    if (f == 0) return neg ? 1 << 3 : 1 << 4; // -0 / +0
    return neg ? 1 << 2 : 1 << 5; // subnormal
  }
  return neg ? 1 << 1 : 1 << 6; // normal
}

export function f32_eq(a: u32, b: u32): u32 {
  return eqG<u32>(a, b);
}
export function f32_lt(a: u32, b: u32): u32 {
  return ltG<u32>(a, b);
}
export function f32_le(a: u32, b: u32): u32 {
  return leG<u32>(a, b);
}
export function f32_min(a: u32, b: u32): u32 {
  return <u32>minMaxG<u32>(a, b, false);
}
export function f32_max(a: u32, b: u32): u32 {
  return <u32>minMaxG<u32>(a, b, true);
}
export function f32_classify(a: u32): u32 {
  return classifyG<u32>(a);
}

export function f64_eq(a: u64, b: u64): u32 {
  return eqG<u64>(a, b);
}
export function f64_lt(a: u64, b: u64): u32 {
  return ltG<u64>(a, b);
}
export function f64_le(a: u64, b: u64): u32 {
  return leG<u64>(a, b);
}
export function f64_min(a: u64, b: u64): u64 {
  return minMaxG<u64>(a, b, false);
}
export function f64_max(a: u64, b: u64): u64 {
  return minMaxG<u64>(a, b, true);
}
export function f64_classify(a: u64): u32 {
  return classifyG<u64>(a);
}
