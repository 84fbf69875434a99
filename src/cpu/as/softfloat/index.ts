// Soft-float IEEE 754 binary32 / binary64 arithmetic with RISC-V F/D semantics.
// Operands and results are raw bit patterns (binary32 in u32, binary64 in u64), rm is a
// static RISC-V rounding mode 0..4, and exceptions accumulate in `fflags`.
export { fflags, clearFlags, NX, UF, OF, DZ, NV, RNE, RTZ, RDN, RUP, RMM } from "./flags";
export { f32_add, f32_sub, f64_add, f64_sub } from "./add";
export { f32_mul, f64_mul } from "./mul";
export { f32_div, f64_div } from "./div";
export { f32_sqrt, f64_sqrt } from "./sqrt";
export { f32_fma, f64_fma } from "./fma";
export {
  f32_eq, f32_lt, f32_le, f32_min, f32_max, f32_classify,
  f64_eq, f64_lt, f64_le, f64_min, f64_max, f64_classify,
} from "./compare";
export {
  f32_to_i32, f32_to_u32, f32_to_i64, f32_to_u64,
  f64_to_i32, f64_to_u32, f64_to_i64, f64_to_u64,
  f32_from_i32, f32_from_u32, f32_from_i64, f32_from_u64,
  f64_from_i32, f64_from_u32, f64_from_i64, f64_from_u64,
  f32_to_f64, f64_to_f32,
} from "./convert";
