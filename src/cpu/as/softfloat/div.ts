// Division (fdiv).
import { fflags, NV, DZ } from "./flags";
import { BIAS, EMAX, DEFAULT_NAN, INF, signOf, expOf, isNaN, isSNaN, absOf, packSign, unpack, uExp, uSig } from "./format";
import { roundPack, normRoundPack } from "./round-pack";
import { div128By64, divRem } from "./int128";

@inline function divG<T>(a: u64, b: u64, rm: u32): u64 {
  const sign = signOf<T>(a) ^ signOf<T>(b);
  const ea = expOf<T>(a);
  const eb = expOf<T>(b);
  if (ea == EMAX<T>() || eb == EMAX<T>()) {
    if (isNaN<T>(a) || isNaN<T>(b)) {
      if (isSNaN<T>(a) || isSNaN<T>(b)) fflags |= NV;
      return DEFAULT_NAN<T>();
    }
    if (ea == eb) {
      fflags |= NV; // inf / inf
      return DEFAULT_NAN<T>();
    }
    return packSign<T>(sign) | (ea == EMAX<T>() ? INF<T>() : 0);
  }
  if (absOf<T>(b) == 0) {
    if (absOf<T>(a) == 0) {
      fflags |= NV; // 0 / 0
      return DEFAULT_NAN<T>();
    }
    fflags |= DZ; // finite nonzero / 0
    return packSign<T>(sign) | INF<T>();
  }
  if (absOf<T>(a) == 0) return packSign<T>(sign);

  unpack<T>(a);
  const expA = uExp;
  const sigA = uSig;
  unpack<T>(b);
  const e = expA - uExp + BIAS<T>();
  const sigB = uSig;
  if (sizeof<T>() == 8) {
    // 53-bit significands; quotient scaled to [2^62, 2^63), remainder gives the sticky bit
    const lt = sigA < sigB;
    const q = div128By64(sigA << (lt ? 10 : 9), 0, sigB << 11);
    return roundPack<T>(sign, lt ? e - 1 : e, q | <u64>(divRem != 0), rm);
  } else {
    // 24-bit significands: a native 64-bit divide gives a quotient in (2^38, 2^40)
    const n = sigA << 39;
    const q = n / sigB;
    return normRoundPack<T>(sign, e + 23, q | <u64>(n - q * sigB != 0), rm);
  }
}

export function f32_div(a: u32, b: u32, rm: u32): u32 {
  return <u32>divG<u32>(a, b, rm);
}
export function f64_div(a: u64, b: u64, rm: u32): u64 {
  return divG<u64>(a, b, rm);
}
