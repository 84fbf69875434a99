// Fused multiply-add: (+-a*b) +- c with a single rounding (fmadd / fmsub / fnmsub / fnmadd).
import { fflags, NV, RDN } from "./flags";
import { BIAS, INF, DEFAULT_NAN, signOf, isNaN, isSNaN, isInf, isZero, absOf, packSign, unpack, uExp, uSig } from "./format";
import { roundPack, normRoundPack } from "./round-pack";
import { mul64To128, shrJam128, shl128, r128Hi, r128Lo } from "./int128";

/**
 * Both formats share one core: significands are widened to 53 bits (leading one at bit
 * 52) and the exact product (up to 106 bits) is held in 128 bits with its unit at bit
 * 124; the addend is aligned to it, with bits shifted out past bit 0 kept as sticky.
 */
@inline function fmaG<T>(a: u64, b: u64, c: u64, rm: u32, negProduct: bool, negAddend: bool): u64 {
  const sp = signOf<T>(a) ^ signOf<T>(b) ^ <u32>negProduct;
  const sc = signOf<T>(c) ^ <u32>negAddend;
  const zeroA = isZero<T>(a);
  const zeroB = isZero<T>(b);
  const infA = isInf<T>(a);
  const infB = isInf<T>(b);
  if (isNaN<T>(a) || isNaN<T>(b) || isNaN<T>(c)) {
    // ISA manual, "F" extension, FMA instructions: inf * 0 raises NV even when the
    // addend is a quiet NaN.
    if (isSNaN<T>(a) || isSNaN<T>(b) || isSNaN<T>(c) || (infA && zeroB) || (zeroA && infB)) fflags |= NV;
    return DEFAULT_NAN<T>();
  }
  if (infA || infB) {
    if (zeroA || zeroB || (isInf<T>(c) && sc != sp)) {
      fflags |= NV; // inf * 0, or inf - inf
      return DEFAULT_NAN<T>();
    }
    return packSign<T>(sp) | INF<T>();
  }
  if (isInf<T>(c)) return packSign<T>(sc) | INF<T>();
  const zeroC = isZero<T>(c);
  if (zeroA || zeroB) {
    // exact zero product: the result is c, or a signed zero (IEEE 754 6.3)
    if (!zeroC) return packSign<T>(sc) | absOf<T>(c);
    return sp == sc ? packSign<T>(sp) : rm == RDN ? packSign<T>(1) : 0;
  }

  const W: u64 = sizeof<T>() == 8 ? 0 : 29; // widen binary32 significands to 53 bits
  unpack<T>(a);
  const expA = uExp;
  const sigA = uSig << W;
  unpack<T>(b);
  const expP = expA + uExp - BIAS<T>();
  mul64To128(sigA << 10, (uSig << W) << 10); // product in [2^124, 2^126)
  let pHi = r128Hi;
  let pLo = r128Lo;
  if (zeroC) {
    // value = pHi * 2^(expP - BIAS - 60)
    return normRoundPack<T>(sp, expP + 2, pHi | <u64>(pLo != 0), rm);
  }

  unpack<T>(c);
  const expC = uExp;
  let cHi = (uSig << W) << 8; // addend's leading one at bit 124
  let cLo: u64 = 0;
  const d = expP - expC;
  let x: i32; // exponent whose unit is bit 124
  if (d >= 0) {
    shrJam128(cHi, cLo, <u32>d);
    cHi = r128Hi;
    cLo = r128Lo;
    x = expP;
  } else {
    shrJam128(pHi, pLo, <u32>-d);
    pHi = r128Hi;
    pLo = r128Lo;
    x = expC;
  }
  let sign = sp;
  let hi: u64, lo: u64;
  if (sp == sc) {
    lo = pLo + cLo;
    hi = pHi + cHi + <u64>(lo < pLo); // < 2^127
  } else {
    if (pHi < cHi || (pHi == cHi && pLo < cLo)) {
      // |c| > |product|: swap so the difference is nonnegative
      let t = pHi; pHi = cHi; cHi = t;
      t = pLo; pLo = cLo; cLo = t;
      sign = sc;
    }
    lo = pLo - cLo;
    hi = pHi - cHi - <u64>(pLo < cLo);
    if ((hi | lo) == 0) return rm == RDN ? packSign<T>(1) : 0; // exact cancellation
  }
  // normalise the leading one to bit 126, keep the high word with a sticky bit
  const n = hi != 0 ? <i32>clz(hi) : 64 + <i32>clz(lo);
  shl128(hi, lo, <u32>(n - 1));
  return roundPack<T>(sign, x + 3 - n, r128Hi | <u64>(r128Lo != 0), rm);
}

export function f32_fma(a: u32, b: u32, c: u32, rm: u32, negProduct: bool, negAddend: bool): u32 {
  return <u32>fmaG<u32>(a, b, c, rm, negProduct, negAddend);
}
export function f64_fma(a: u64, b: u64, c: u64, rm: u32, negProduct: bool, negAddend: bool): u64 {
  return fmaG<u64>(a, b, c, rm, negProduct, negAddend);
}
