// Multiplication (fmul).
import { fflags, NV } from "./flags";
import { BIAS, EMAX, DEFAULT_NAN, INF, signOf, expOf, isNaN, isSNaN, absOf, packSign, unpack, uExp, uSig } from "./format";
import { normRoundPack } from "./round-pack";
import { mul64To128, r128Hi, r128Lo } from "./int128";

@inline function mulG<T>(a: u64, b: u64, rm: u32): u64 {
  const sign = signOf<T>(a) ^ signOf<T>(b);
  const ea = expOf<T>(a);
  const eb = expOf<T>(b);
  if (ea == EMAX<T>() || eb == EMAX<T>()) {
    if (isNaN<T>(a) || isNaN<T>(b)) {
      if (isSNaN<T>(a) || isSNaN<T>(b)) fflags |= NV;
      return DEFAULT_NAN<T>();
    }
    if (absOf<T>(a) == 0 || absOf<T>(b) == 0) {
      fflags |= NV; // inf * 0
      return DEFAULT_NAN<T>();
    }
    return packSign<T>(sign) | INF<T>();
  }
  if (absOf<T>(a) == 0 || absOf<T>(b) == 0) return packSign<T>(sign);

  unpack<T>(a);
  const expA = uExp;
  const sigA = uSig;
  unpack<T>(b);
  const e = expA + uExp - BIAS<T>();
  if (sizeof<T>() == 8) {
    // [2^62, 2^63) x [2^63, 2^64): the high half is in [2^61, 2^63)
    mul64To128(sigA << 10, uSig << 11);
    return normRoundPack<T>(sign, e + 1, r128Hi | <u64>(r128Lo != 0), rm);
  } else {
    // 24 x 24 bits: the exact product fits in 48 bits
    return normRoundPack<T>(sign, e + 16, sigA * uSig, rm);
  }
}

export function f32_mul(a: u32, b: u32, rm: u32): u32 {
  return <u32>mulG<u32>(a, b, rm);
}
export function f64_mul(a: u64, b: u64, rm: u32): u64 {
  return mulG<u64>(a, b, rm);
}
