// F and D extensions (unprivileged ISA manual chapters 11 and 12): operand NaN-boxing, rounding
// mode resolution, mstatus.FS, and fflags accrual around the soft-float library, which does the
// arithmetic exactly.
import * as O from "./ops";
import { S_MSTATUS, S_FCSR, DCACHE_BASE } from "../layout";
import { pc, getX, setX, getF, setF, CAUSE_ILLEGAL, MSTATUS_FS } from "./state";
import { E_OP, E_RD, E_RS1, E_RS2, E_RS3, E_LEN, E_RM, E_IMM } from "./decode";
import { read, write, rawBits, jitBegin, jitReport } from "./memory";
import { raiseException, trapped } from "./trap";
import * as SF from "./softfloat/index";

const BOX: u64 = 0xffffffff00000000;
const CANONICAL_NAN32: u32 = 0x7fc00000;

/** A single from an f register: a value not NaN-boxed reads as the canonical NaN (§12.2). */
// @ts-ignore: decorator
@inline function unbox(v: u64): u32 { return (v & BOX) == BOX ? <u32>v : CANONICAL_NAN32; }
// @ts-ignore: decorator
@inline function box(v: u32): u64 { return BOX | <u64>v; }
// @ts-ignore: decorator
@inline function sext32(v: u64): u64 { return <u64><i64><i32>v; }

function markDirty(): void { store<u64>(S_MSTATUS, load<u64>(S_MSTATUS) | MSTATUS_FS); }

export function execFp(op: i32, e: usize): void {
  if ((load<u64>(S_MSTATUS) & MSTATUS_FS) == 0) { raiseException(CAUSE_ILLEGAL, <u64>rawBits(e)); return; }
  const rd = <u32>load<u8>(e, E_RD);
  const rs1 = <u32>load<u8>(e, E_RS1);
  const rs2 = <u32>load<u8>(e, E_RS2);
  // Loads and stores: no rounding, no flags.
  switch (op) {
    case O.OP_FLW: {
      const v = read<u32>(getX(rs1) + <u64><i64>load<i32>(e, E_IMM), pc);
      if (trapped) return;
      setF(rd, box(<u32>v)); markDirty(); return;
    }
    case O.OP_FLD: {
      const v = read<u64>(getX(rs1) + <u64><i64>load<i32>(e, E_IMM), pc);
      if (trapped) return;
      setF(rd, v); markDirty(); return;
    }
    case O.OP_FSW: write<u32>(getX(rs1) + <u64><i64>load<i32>(e, E_IMM), getF(rs2), pc); return;
    case O.OP_FSD: write<u64>(getX(rs1) + <u64><i64>load<i32>(e, E_IMM), getF(rs2), pc); return;
  }
  let rm = <u32>load<u8>(e, E_RM);
  if (rm == 7) rm = <u32>((load<u64>(S_FCSR) >> 5) & 7);
  SF.clearFlags();
  const a = getF(rs1), b = getF(rs2);
  // fd: destination is an f register; xd: an x register.
  let fd: bool = true;
  let r: u64 = 0;
  switch (op) {
    case O.OP_FMADD_S: case O.OP_FMSUB_S: case O.OP_FNMSUB_S: case O.OP_FNMADD_S: {
      if (rm > 4) { raiseException(CAUSE_ILLEGAL, <u64>rawBits(e)); return; }
      const k = op - O.OP_FMADD_S;
      r = box(SF.f32_fma(unbox(a), unbox(b), unbox(getF(load<u8>(e, E_RS3))), rm, k >= 2, k == 1 || k == 3));
      break;
    }
    case O.OP_FMADD_D: case O.OP_FMSUB_D: case O.OP_FNMSUB_D: case O.OP_FNMADD_D: {
      if (rm > 4) { raiseException(CAUSE_ILLEGAL, <u64>rawBits(e)); return; }
      const k = op - O.OP_FMADD_D;
      r = SF.f64_fma(a, b, getF(load<u8>(e, E_RS3)), rm, k >= 2, k == 1 || k == 3);
      break;
    }
    default:
      if (usesRm(op) && rm > 4) { raiseException(CAUSE_ILLEGAL, <u64>rawBits(e)); return; }
      r = compute(op, a, b, rm, rs1);
      fd = writesF(op);
  }
  const flags = SF.fflags;
  if (flags != 0) store<u64>(S_FCSR, load<u64>(S_FCSR) | <u64>flags);
  if (fd) { setF(rd, r); markDirty(); } else setX(rd, r);
}

function compute(op: i32, a: u64, b: u64, rm: u32, rs1: u32): u64 {
  const as = unbox(a), bs = unbox(b);
  switch (op) {
    case O.OP_FADD_S: return box(SF.f32_add(as, bs, rm));
    case O.OP_FSUB_S: return box(SF.f32_sub(as, bs, rm));
    case O.OP_FMUL_S: return box(SF.f32_mul(as, bs, rm));
    case O.OP_FDIV_S: return box(SF.f32_div(as, bs, rm));
    case O.OP_FSQRT_S: return box(SF.f32_sqrt(as, rm));
    case O.OP_FSGNJ_S: return box((as & 0x7fffffff) | (bs & 0x80000000));
    case O.OP_FSGNJN_S: return box((as & 0x7fffffff) | (~bs & 0x80000000));
    case O.OP_FSGNJX_S: return box(as ^ (bs & 0x80000000));
    case O.OP_FMIN_S: return box(SF.f32_min(as, bs));
    case O.OP_FMAX_S: return box(SF.f32_max(as, bs));
    case O.OP_FCVT_W_S: return <u64>SF.f32_to_i32(as, rm);
    case O.OP_FCVT_WU_S: return <u64>SF.f32_to_u32(as, rm);
    case O.OP_FCVT_L_S: return <u64>SF.f32_to_i64(as, rm);
    case O.OP_FCVT_LU_S: return SF.f32_to_u64(as, rm);
    case O.OP_FMV_X_W: return sext32(a);
    case O.OP_FEQ_S: return SF.f32_eq(as, bs);
    case O.OP_FLT_S: return SF.f32_lt(as, bs);
    case O.OP_FLE_S: return SF.f32_le(as, bs);
    case O.OP_FCLASS_S: return SF.f32_classify(as);
    case O.OP_FCVT_S_W: return box(SF.f32_from_i32(<i32>getX(rs1), rm));
    case O.OP_FCVT_S_WU: return box(SF.f32_from_u32(<u32>getX(rs1), rm));
    case O.OP_FCVT_S_L: return box(SF.f32_from_i64(<i64>getX(rs1), rm));
    case O.OP_FCVT_S_LU: return box(SF.f32_from_u64(getX(rs1), rm));
    case O.OP_FMV_W_X: return box(<u32>getX(rs1));
    case O.OP_FADD_D: return SF.f64_add(a, b, rm);
    case O.OP_FSUB_D: return SF.f64_sub(a, b, rm);
    case O.OP_FMUL_D: return SF.f64_mul(a, b, rm);
    case O.OP_FDIV_D: return SF.f64_div(a, b, rm);
    case O.OP_FSQRT_D: return SF.f64_sqrt(a, rm);
    case O.OP_FSGNJ_D: return (a & 0x7fffffffffffffff) | (b & 0x8000000000000000);
    case O.OP_FSGNJN_D: return (a & 0x7fffffffffffffff) | (~b & 0x8000000000000000);
    case O.OP_FSGNJX_D: return a ^ (b & 0x8000000000000000);
    case O.OP_FMIN_D: return SF.f64_min(a, b);
    case O.OP_FMAX_D: return SF.f64_max(a, b);
    case O.OP_FCVT_W_D: return <u64>SF.f64_to_i32(a, rm);
    case O.OP_FCVT_WU_D: return <u64>SF.f64_to_u32(a, rm);
    case O.OP_FCVT_L_D: return <u64>SF.f64_to_i64(a, rm);
    case O.OP_FCVT_LU_D: return SF.f64_to_u64(a, rm);
    case O.OP_FMV_X_D: return a;
    case O.OP_FEQ_D: return SF.f64_eq(a, b);
    case O.OP_FLT_D: return SF.f64_lt(a, b);
    case O.OP_FLE_D: return SF.f64_le(a, b);
    case O.OP_FCLASS_D: return SF.f64_classify(a);
    case O.OP_FCVT_D_W: return SF.f64_from_i32(<i32>getX(rs1), rm);
    case O.OP_FCVT_D_WU: return SF.f64_from_u32(<u32>getX(rs1), rm);
    case O.OP_FCVT_D_L: return SF.f64_from_i64(<i64>getX(rs1), rm);
    case O.OP_FCVT_D_LU: return SF.f64_from_u64(getX(rs1), rm);
    case O.OP_FMV_D_X: return getX(rs1);
    case O.OP_FCVT_S_D: return box(SF.f64_to_f32(a, rm));
    case O.OP_FCVT_D_S: return SF.f32_to_f64(as);
  }
  return 0;
}

/** Ops that take a rounding mode (so a dynamic rm with an invalid frm is illegal, §11.2). */
function usesRm(op: i32): bool {
  switch (op) {
    case O.OP_FSGNJ_S: case O.OP_FSGNJN_S: case O.OP_FSGNJX_S: case O.OP_FMIN_S: case O.OP_FMAX_S:
    case O.OP_FMV_X_W: case O.OP_FEQ_S: case O.OP_FLT_S: case O.OP_FLE_S: case O.OP_FCLASS_S: case O.OP_FMV_W_X:
    case O.OP_FSGNJ_D: case O.OP_FSGNJN_D: case O.OP_FSGNJX_D: case O.OP_FMIN_D: case O.OP_FMAX_D:
    case O.OP_FMV_X_D: case O.OP_FEQ_D: case O.OP_FLT_D: case O.OP_FLE_D: case O.OP_FCLASS_D: case O.OP_FMV_D_X:
      return false;
  }
  return true;
}

function writesF(op: i32): bool {
  switch (op) {
    case O.OP_FCVT_W_S: case O.OP_FCVT_WU_S: case O.OP_FCVT_L_S: case O.OP_FCVT_LU_S: case O.OP_FMV_X_W:
    case O.OP_FEQ_S: case O.OP_FLT_S: case O.OP_FLE_S: case O.OP_FCLASS_S:
    case O.OP_FCVT_W_D: case O.OP_FCVT_WU_D: case O.OP_FCVT_L_D: case O.OP_FCVT_LU_D: case O.OP_FMV_X_D:
    case O.OP_FEQ_D: case O.OP_FLT_D: case O.OP_FLE_D: case O.OP_FCLASS_D:
      return false;
  }
  return true;
}

/** A decode entry for translated code's FP instructions (next to the interpreter's scratch). */
const JIT_FP_ENTRY: usize = DCACHE_BASE - 32;

/**
 * Runs one F/D instruction for translated code (src/cpu/jit), from its decoded fields. Integer
 * registers must be in memory; outcomes are reported as memory.ts's jitReport describes.
 */
export function jitFp(op: i32, rd: u32, rs1: u32, rs2: u32, rs3: u32, rm: u32, imm: i32, len: u32, pcNow: u64): void {
  jitBegin(pcNow);
  const e = JIT_FP_ENTRY;
  store<u16>(e, <u16>op, E_OP);
  store<u8>(e, <u8>rd, E_RD);
  store<u8>(e, <u8>rs1, E_RS1);
  store<u8>(e, <u8>rs2, E_RS2);
  store<u8>(e, <u8>rs3, E_RS3);
  store<u8>(e, <u8>len, E_LEN);
  store<u8>(e, <u8>rm, E_RM);
  store<i32>(e, imm, E_IMM);
  execFp(op, e);
  jitReport();
}
