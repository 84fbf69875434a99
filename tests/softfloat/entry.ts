// Test entry: runs batches of vectors (same record layout as oracle.c) through the
// soft-float library. Built with asc by softfloat.test.ts.
import * as sf from "../../src/cpu/as/softfloat/index";
import { fflags } from "../../src/cpu/as/softfloat/flags";

export function alloc(bytes: usize): usize {
  return heap.alloc(bytes);
}

@inline function run32(code: u32, rm: u32, a: u64, b: u64, c: u64): u64 {
  const x = <u32>a;
  const y = <u32>b;
  const z = <u32>c;
  switch (code) {
    case 0: return sf.f32_add(x, y, rm);
    case 1: return sf.f32_sub(x, y, rm);
    case 2: return sf.f32_mul(x, y, rm);
    case 3: return sf.f32_div(x, y, rm);
    case 4: return sf.f32_sqrt(x, rm);
    case 5: return sf.f32_fma(x, y, z, rm, false, false);
    case 6: return sf.f32_fma(x, y, z, rm, false, true);
    case 7: return sf.f32_fma(x, y, z, rm, true, false);
    case 8: return sf.f32_fma(x, y, z, rm, true, true);
    case 9: return sf.f32_min(x, y);
    case 10: return sf.f32_max(x, y);
    case 11: return sf.f32_eq(x, y);
    case 12: return sf.f32_lt(x, y);
    case 13: return sf.f32_le(x, y);
    case 14: return sf.f32_classify(x);
    case 15: return sf.f32_to_i32(x, rm);
    case 16: return sf.f32_to_u32(x, rm);
    case 17: return sf.f32_to_i64(x, rm);
    case 18: return sf.f32_to_u64(x, rm);
    case 19: return sf.f32_from_i32(<i32>a, rm);
    case 20: return sf.f32_from_u32(<u32>a, rm);
    case 21: return sf.f32_from_i64(<i64>a, rm);
    case 22: return sf.f32_from_u64(a, rm);
    case 23: return sf.f32_to_f64(x);
  }
  return 0xdeadbeef;
}

@inline function run64(code: u32, rm: u32, a: u64, b: u64, c: u64): u64 {
  switch (code) {
    case 0: return sf.f64_add(a, b, rm);
    case 1: return sf.f64_sub(a, b, rm);
    case 2: return sf.f64_mul(a, b, rm);
    case 3: return sf.f64_div(a, b, rm);
    case 4: return sf.f64_sqrt(a, rm);
    case 5: return sf.f64_fma(a, b, c, rm, false, false);
    case 6: return sf.f64_fma(a, b, c, rm, false, true);
    case 7: return sf.f64_fma(a, b, c, rm, true, false);
    case 8: return sf.f64_fma(a, b, c, rm, true, true);
    case 9: return sf.f64_min(a, b);
    case 10: return sf.f64_max(a, b);
    case 11: return sf.f64_eq(a, b);
    case 12: return sf.f64_lt(a, b);
    case 13: return sf.f64_le(a, b);
    case 14: return sf.f64_classify(a);
    case 15: return sf.f64_to_i32(a, rm);
    case 16: return sf.f64_to_u32(a, rm);
    case 17: return sf.f64_to_i64(a, rm);
    case 18: return sf.f64_to_u64(a, rm);
    case 19: return sf.f64_from_i32(<i32>a, rm);
    case 20: return sf.f64_from_u32(<u32>a, rm);
    case 21: return sf.f64_from_i64(<i64>a, rm);
    case 22: return sf.f64_from_u64(a, rm);
    case 23: return sf.f64_to_f32(a, rm);
  }
  return 0xdeadbeef;
}

/** Input records of 32 bytes at `inp`, output records of 16 bytes at `out`. */
export function runBatch(inp: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const p = inp + (<usize>i << 5);
    const op = load<u32>(p);
    const rm = load<u32>(p, 4);
    const a = load<u64>(p, 8);
    const b = load<u64>(p, 16);
    const c = load<u64>(p, 24);
    fflags = 0;
    const r = op < 32 ? run32(op, rm, a, b, c) : run64(op - 32, rm, a, b, c);
    const q = out + (<usize>i << 4);
    store<u64>(q, r);
    store<u64>(q, <u64>fflags, 8);
  }
}
