// The one rounding routine every arithmetic operation ends in.
import { fflags, NX, UF, OF, RNE, RTZ, RDN, RMM } from "./flags";
import { FRAC, EMAX, MAX_FINITE, INF, packSign } from "./format";

/** x >> n, OR-ing every bit shifted out into bit 0 ("sticky"/jamming). Any n >= 0. */
@inline export function shrJam64(x: u64, n: u32): u64 {
  if (n >= 64) return <u64>(x != 0);
  return (x >> <u64>n) | <u64>((x & ((<u64>1 << <u64>n) - 1)) != 0);
}

/**
 * Rounds and packs sign * sig * 2^(e - BIAS - 62) into format T with rounding mode rm,
 * raising NX/UF/OF. Precondition: sig has its leading one at bit 62 (sig in [2^62, 2^63));
 * the bits below the kept significand (10 for binary64, 39 for binary32) are round bits,
 * bit 0 possibly sticky. For a normal result e is the biased exponent field.
 * Underflow uses tininess AFTER rounding (ISA manual, "F" extension, "Subnormal
 * Arithmetic" / IEEE 754-2008 7.5): tiny if the result rounded with unbounded exponent
 * range would be below the smallest normal; UF is raised only if also inexact.
 * Returns the packed pattern (binary32 in the low 32 bits).
 */
export function roundPack<T>(sign: u32, e: i32, sig: u64, rm: u32): u64 {
  const RB: u64 = <u64>(62 - FRAC<T>()); // number of round bits
  const MASK: u64 = (<u64>1 << RB) - 1;
  const HALF: u64 = <u64>1 << (RB - 1);
  let inc: u64 = HALF;
  if (rm != RNE && rm != RMM) {
    // directed: round away from zero only if that is the direction of rm for this sign
    inc = rm == RTZ ? 0 : (rm == RDN) == (sign != 0) ? MASK : 0;
  }
  if (<u32>(e - 1) >= <u32>(EMAX<T>() - 2)) {
    if (e <= 0) {
      // Subnormal range (or underflow to zero).
      const tiny = e < 0 || sig + inc < 0x8000000000000000;
      sig = shrJam64(sig, <u32>(1 - e));
      e = 1;
      if ((sig & MASK) != 0) fflags |= tiny ? NX | UF : NX;
    } else if (e > EMAX<T>() - 1 || sig + inc >= 0x8000000000000000) {
      // Overflow: +-inf when rounding goes away from zero, else the largest finite.
      fflags |= OF | NX;
      return packSign<T>(sign) | (inc == 0 ? MAX_FINITE<T>() : INF<T>());
    }
  }
  const rbits = sig & MASK;
  if (rbits != 0) fflags |= NX;
  sig = (sig + inc) >> RB;
  if (rm == RNE && rbits == HALF) sig &= ~(<u64>1); // tie: to even
  // The leading one (bit FRAC) adds 1 to the exponent field; a rounding carry adds one more.
  return packSign<T>(sign) | ((<u64>(e - 1) << <u64>FRAC<T>()) + sig);
}

/** roundPack for any nonzero sig < 2^63 (normalises the leading one to bit 62 first). */
@inline export function normRoundPack<T>(sign: u32, e: i32, sig: u64, rm: u32): u64 {
  const s = <i32>clz(sig) - 1;
  return roundPack<T>(sign, e - s, sig << <u64>s, rm);
}
