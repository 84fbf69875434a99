// Field layout of IEEE 754 binary32 / binary64, as compile-time functions of the
// container type: T = u32 selects binary32, T = u64 selects binary64. All internal
// arithmetic works on u64 bit patterns (a binary32 pattern sits in the low 32 bits).

/** Fraction (trailing significand) width: 23 or 52. */
@inline export function FRAC<T>(): i32 {
  return sizeof<T>() == 8 ? 52 : 23;
}
/** All-ones biased exponent (infinity / NaN): 0xff or 0x7ff. */
@inline export function EMAX<T>(): i32 {
  return sizeof<T>() == 8 ? 0x7ff : 0xff;
}
/** Exponent bias: 127 or 1023. */
@inline export function BIAS<T>(): i32 {
  return sizeof<T>() == 8 ? 1023 : 127;
}
/** Bit position of the sign: 31 or 63. */
@inline export function SIGN_POS<T>(): u64 {
  return sizeof<T>() == 8 ? 63 : 31;
}
@inline export function SIGN_BIT<T>(): u64 {
  return <u64>1 << SIGN_POS<T>();
}
/** Positive infinity. */
@inline export function INF<T>(): u64 {
  return <u64>EMAX<T>() << <u64>FRAC<T>();
}
/** Largest finite magnitude. */
@inline export function MAX_FINITE<T>(): u64 {
  return INF<T>() - 1;
}
/** The canonical NaN (ISA manual, "F" extension, "NaN Generation and Propagation"):
 *  RISC-V never propagates payloads, every NaN result is this one. */
@inline export function DEFAULT_NAN<T>(): u64 {
  return sizeof<T>() == 8 ? 0x7ff8000000000000 : 0x7fc00000;
}
/** The quiet bit (most significant fraction bit). */
@inline export function QUIET_BIT<T>(): u64 {
  return <u64>1 << <u64>(FRAC<T>() - 1);
}
@inline export function FRAC_MASK<T>(): u64 {
  return (<u64>1 << <u64>FRAC<T>()) - 1;
}

@inline export function signOf<T>(x: u64): u32 {
  return <u32>(x >> SIGN_POS<T>()) & 1;
}
@inline export function expOf<T>(x: u64): i32 {
  return <i32>(x >> <u64>FRAC<T>()) & EMAX<T>();
}
@inline export function fracOf<T>(x: u64): u64 {
  return x & FRAC_MASK<T>();
}
/** Magnitude bits (sign cleared). */
@inline export function absOf<T>(x: u64): u64 {
  return x & (SIGN_BIT<T>() - 1);
}
@inline export function isNaN<T>(x: u64): bool {
  return absOf<T>(x) > INF<T>();
}
@inline export function isSNaN<T>(x: u64): bool {
  return isNaN<T>(x) && (x & QUIET_BIT<T>()) == 0;
}
@inline export function isInf<T>(x: u64): bool {
  return absOf<T>(x) == INF<T>();
}
@inline export function isZero<T>(x: u64): bool {
  return absOf<T>(x) == 0;
}
@inline export function packSign<T>(sign: u32): u64 {
  return <u64>sign << SIGN_POS<T>();
}

// Unpacked finite nonzero operand: value = uSig * 2^(uExp - BIAS - FRAC), with the
// leading one of uSig at bit FRAC (subnormals normalised). Globals = multiple returns.
export let uExp: i32 = 0;
export let uSig: u64 = 0;

/** Unpacks a finite nonzero pattern into uExp/uSig (normalising subnormals with clz). */
@inline export function unpack<T>(x: u64): void {
  const e = expOf<T>(x);
  const f = fracOf<T>(x);
  if (e == 0) {
    const shift = <i32>clz(f) - (63 - FRAC<T>());
    uSig = f << <u64>shift;
    uExp = 1 - shift;
  } else {
    uSig = f | (<u64>1 << <u64>FRAC<T>());
    uExp = e;
  }
}
