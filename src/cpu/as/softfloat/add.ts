// Addition and subtraction (fadd / fsub).
import { fflags, NV, RDN } from "./flags";
import { FRAC, EMAX, DEFAULT_NAN, SIGN_BIT, signOf, expOf, fracOf, isNaN, isSNaN, absOf, packSign } from "./format";
import { shrJam64, normRoundPack } from "./round-pack";

/** a + (b with its sign flipped by negB), one rounding. */
@inline function addG<T>(a: u64, b: u64, rm: u32, negB: bool): u64 {
  if (negB) b ^= SIGN_BIT<T>();
  const ea = expOf<T>(a);
  const eb = expOf<T>(b);
  const sa = signOf<T>(a);
  const sb = signOf<T>(b);

  if (ea == EMAX<T>() || eb == EMAX<T>()) {
    if (isNaN<T>(a) || isNaN<T>(b)) {
      if (isSNaN<T>(a) || isSNaN<T>(b)) fflags |= NV;
      return DEFAULT_NAN<T>();
    }
    if (ea == eb && sa != sb) {
      fflags |= NV; // inf - inf
      return DEFAULT_NAN<T>();
    }
    return ea == EMAX<T>() ? a : b;
  }
  if (absOf<T>(b) == 0) {
    // x + 0 = x exactly; (+0) + (-0) is +0 except in RDN (IEEE 754 6.3)
    if (absOf<T>(a) == 0 && sa != sb) return rm == RDN ? packSign<T>(1) : 0;
    return a;
  }
  if (absOf<T>(a) == 0) return b;

  // Significands with the leading one at bit 61 (bit 62 left free for the carry).
  // Subnormals keep exponent 1 and no hidden bit; the sum is normalised at the end.
  const SH = <u64>(61 - FRAC<T>());
  let sigA = (fracOf<T>(a) | (ea != 0 ? <u64>1 << <u64>FRAC<T>() : 0)) << SH;
  let sigB = (fracOf<T>(b) | (eb != 0 ? <u64>1 << <u64>FRAC<T>() : 0)) << SH;
  let expA = ea != 0 ? ea : 1;
  let expB = eb != 0 ? eb : 1;
  let sign = sa;
  // order by magnitude: A is the larger
  if (expA < expB || (expA == expB && sigA < sigB)) {
    const ts = sigA; sigA = sigB; sigB = ts;
    const te = expA; expA = expB; expB = te;
    sign = sb;
  }
  sigB = shrJam64(sigB, <u32>(expA - expB));
  let sig: u64;
  if (sa == sb) {
    sig = sigA + sigB;
  } else {
    sig = sigA - sigB;
    if (sig == 0) return rm == RDN ? packSign<T>(1) : 0; // exact cancellation
  }
  // value = sig * 2^(expA - BIAS - 61), i.e. exponent expA + 1 relative to roundPack's bit 62
  return normRoundPack<T>(sign, expA + 1, sig, rm);
}

export function f32_add(a: u32, b: u32, rm: u32): u32 {
  return <u32>addG<u32>(a, b, rm, false);
}
export function f32_sub(a: u32, b: u32, rm: u32): u32 {
  return <u32>addG<u32>(a, b, rm, true);
}
export function f64_add(a: u64, b: u64, rm: u32): u64 {
  return addG<u64>(a, b, rm, false);
}
export function f64_sub(a: u64, b: u64, rm: u32): u64 {
  return addG<u64>(a, b, rm, true);
}
