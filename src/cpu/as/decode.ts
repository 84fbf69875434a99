// Decoder: one 32-bit instruction word → one decoded-cache entry (layout in ../layout.ts).
// Compressed instructions are first expanded to their 32-bit equivalents (decode-compressed.ts)
// and decoded here with len = 2. Encodings: unprivileged ISA manual, chapter 34 (opcode map)
// and the per-extension chapters; privileged ISA manual §2.2 (SYSTEM).
import * as O from "./ops";
import { X_SINK } from "../layout";

// Entry field offsets.
export const E_TAG = 0;
export const E_OP = 4;
export const E_RD = 6;
export const E_RS1 = 7;
export const E_RS2 = 8;
export const E_RS3 = 9;
export const E_LEN = 10;
export const E_RM = 11;
export const E_IMM = 12;

// @ts-ignore: decorator
@inline function immI(w: u32): i32 { return (<i32>w) >> 20; }
// @ts-ignore: decorator
@inline function immS(w: u32): i32 { return (((<i32>w) >> 25) << 5) | ((w >> 7) & 0x1f); }
// @ts-ignore: decorator
@inline function immB(w: u32): i32 {
  return (((<i32>w) >> 31) << 12) | (((w >> 7) & 1) << 11) | (((w >> 25) & 0x3f) << 5) | (((w >> 8) & 0xf) << 1);
}
// @ts-ignore: decorator
@inline function immU(w: u32): i32 { return <i32>(w & 0xfffff000); }
// @ts-ignore: decorator
@inline function immJ(w: u32): i32 {
  return (((<i32>w) >> 31) << 20) | (w & 0xff000) | (((w >> 20) & 1) << 11) | (((w >> 21) & 0x3ff) << 1);
}

let dOp: i32 = 0;
let dRd: u32 = 0;
let dImm: i32 = 0;
/** True when the decoded op writes an integer rd (so rd = x0 is redirected to the sink). */
let dIntRd: bool = false;

// @ts-ignore: decorator
@inline function set(op: i32, imm: i32, intRd: bool): void { dOp = op; dImm = imm; dIntRd = intRd; }

/** Decodes `w` into the entry at `e`. `len` is 4, or 2 for an expanded compressed instruction.
 *  `raw` is the original instruction bits, kept in imm for illegal instructions (for xtval). */
export function decodeInto(e: usize, w: u32, len: u32, raw: u32): void {
  dOp = O.OP_ILLEGAL; dImm = 0; dIntRd = false;
  const rd = (w >> 7) & 31;
  const rs1 = (w >> 15) & 31;
  const rs2 = (w >> 20) & 31;
  const f3 = (w >> 12) & 7;
  const f7 = w >> 25;
  switch (w & 0x7f) {
    case 0x37: set(O.OP_LUI, immU(w), true); break;
    case 0x17: set(O.OP_AUIPC, immU(w), true); break;
    case 0x6f: set(O.OP_JAL, immJ(w), true); break;
    case 0x67: if (f3 == 0) set(O.OP_JALR, immI(w), true); break;
    case 0x63: {
      const b = immB(w);
      switch (f3) {
        case 0: set(O.OP_BEQ, b, false); break;
        case 1: set(O.OP_BNE, b, false); break;
        case 4: set(O.OP_BLT, b, false); break;
        case 5: set(O.OP_BGE, b, false); break;
        case 6: set(O.OP_BLTU, b, false); break;
        case 7: set(O.OP_BGEU, b, false); break;
      }
      break;
    }
    case 0x03: {
      const i = immI(w);
      switch (f3) {
        case 0: set(O.OP_LB, i, true); break;
        case 1: set(O.OP_LH, i, true); break;
        case 2: set(O.OP_LW, i, true); break;
        case 3: set(O.OP_LD, i, true); break;
        case 4: set(O.OP_LBU, i, true); break;
        case 5: set(O.OP_LHU, i, true); break;
        case 6: set(O.OP_LWU, i, true); break;
      }
      break;
    }
    case 0x23: {
      const s = immS(w);
      switch (f3) {
        case 0: set(O.OP_SB, s, false); break;
        case 1: set(O.OP_SH, s, false); break;
        case 2: set(O.OP_SW, s, false); break;
        case 3: set(O.OP_SD, s, false); break;
      }
      break;
    }
    case 0x13: decodeOpImm(w, f3, rs2, f7); break;
    case 0x1b: decodeOpImm32(w, f3, rs2, f7); break;
    case 0x33: decodeOp(f3, f7, rs2); break;
    case 0x3b: decodeOp32(f3, f7, rs2); break;
    case 0x0f:
      if (f3 == 0) set(O.OP_FENCE, 0, false); // fence, fence.tso, pause: no-ops on one in-order hart
      else if (f3 == 1) set(O.OP_FENCE_I, 0, false);
      else if (f3 == 2 && rd == 0) { // Zicbom/Zicboz, cbo.* (CMO spec §2.5)
        const fn = w >> 20;
        if (fn == 0) set(O.OP_CBO_INVAL, 0, false);
        else if (fn == 1) set(O.OP_CBO_CLEAN, 0, false);
        else if (fn == 2) set(O.OP_CBO_FLUSH, 0, false);
        else if (fn == 4) set(O.OP_CBO_ZERO, 0, false);
      }
      break;
    case 0x73: decodeSystem(w, rd, rs1, f3, f7); break;
    case 0x2f: decodeAmo(f3, w >> 27, rs2); break;
    case 0x07:
      if (f3 == 2) set(O.OP_FLW, immI(w), false);
      else if (f3 == 3) set(O.OP_FLD, immI(w), false);
      break;
    case 0x27:
      if (f3 == 2) set(O.OP_FSW, immS(w), false);
      else if (f3 == 3) set(O.OP_FSD, immS(w), false);
      break;
    case 0x43: case 0x47: case 0x4b: case 0x4f: {
      const fmt = (w >> 25) & 3;
      const k = ((w >> 2) & 3); // 0 fmadd, 1 fmsub, 2 fnmsub, 3 fnmadd
      if (fmt == 0) set(O.OP_FMADD_S + k, 0, false);
      else if (fmt == 1) set(O.OP_FMADD_D + k, 0, false);
      break;
    }
    case 0x53: decodeOpFp(f3, f7, rs2); break;
  }
  if (dOp != O.OP_ILLEGAL && isFpRmOp(dOp)) {
    // Static rounding modes 5 and 6 are reserved (unpriv §11.2): illegal at decode.
    if (f3 == 5 || f3 == 6) dOp = O.OP_ILLEGAL;
  }
  if (dOp == O.OP_ILLEGAL) dImm = <i32>raw;
  store<u16>(e, <u16>dOp, E_OP);
  store<u8>(e, <u8>(dIntRd && rd == 0 ? X_SINK : rd), E_RD);
  store<u8>(e, <u8>rs1, E_RS1);
  store<u8>(e, <u8>rs2, E_RS2);
  store<u8>(e, <u8>(w >> 27), E_RS3);
  store<u8>(e, <u8>len, E_LEN);
  store<u8>(e, <u8>f3, E_RM);
  store<i32>(e, dImm, E_IMM);
}

/** Ops whose funct3 is a rounding mode. */
function isFpRmOp(op: i32): bool {
  if (op >= O.OP_FMADD_S && op <= O.OP_FNMADD_D) return true;
  switch (op) {
    case O.OP_FADD_S: case O.OP_FSUB_S: case O.OP_FMUL_S: case O.OP_FDIV_S: case O.OP_FSQRT_S:
    case O.OP_FCVT_W_S: case O.OP_FCVT_WU_S: case O.OP_FCVT_L_S: case O.OP_FCVT_LU_S:
    case O.OP_FCVT_S_W: case O.OP_FCVT_S_WU: case O.OP_FCVT_S_L: case O.OP_FCVT_S_LU:
    case O.OP_FADD_D: case O.OP_FSUB_D: case O.OP_FMUL_D: case O.OP_FDIV_D: case O.OP_FSQRT_D:
    case O.OP_FCVT_W_D: case O.OP_FCVT_WU_D: case O.OP_FCVT_L_D: case O.OP_FCVT_LU_D:
    case O.OP_FCVT_D_W: case O.OP_FCVT_D_WU: case O.OP_FCVT_D_L: case O.OP_FCVT_D_LU:
    case O.OP_FCVT_S_D: case O.OP_FCVT_D_S:
      return true;
  }
  return false;
}

function decodeOpImm(w: u32, f3: u32, rs2: u32, f7: u32): void {
  const i = immI(w);
  const sh = (w >> 20) & 63;
  const f6 = w >> 26;
  switch (f3) {
    case 0: set(O.OP_ADDI, i, true); break;
    case 2: set(O.OP_SLTI, i, true); break;
    case 3: set(O.OP_SLTIU, i, true); break;
    case 4: set(O.OP_XORI, i, true); break;
    case 6: set(O.OP_ORI, i, true); break;
    case 7: set(O.OP_ANDI, i, true); break;
    case 1:
      if (f6 == 0) set(O.OP_SLLI, sh, true);
      else if (f6 == 0x0a) set(O.OP_BSETI, sh, true);
      else if (f6 == 0x12) set(O.OP_BCLRI, sh, true);
      else if (f6 == 0x1a) set(O.OP_BINVI, sh, true);
      else if (f7 == 0x30) {
        if (rs2 == 0) set(O.OP_CLZ, 0, true);
        else if (rs2 == 1) set(O.OP_CTZ, 0, true);
        else if (rs2 == 2) set(O.OP_CPOP, 0, true);
        else if (rs2 == 4) set(O.OP_SEXT_B, 0, true);
        else if (rs2 == 5) set(O.OP_SEXT_H, 0, true);
      }
      break;
    case 5:
      if (f6 == 0) set(O.OP_SRLI, sh, true);
      else if (f6 == 0x10) set(O.OP_SRAI, sh, true);
      else if (f6 == 0x18) set(O.OP_RORI, sh, true);
      else if (f6 == 0x12) set(O.OP_BEXTI, sh, true);
      else if ((w >> 20) == 0x287) set(O.OP_ORC_B, 0, true);
      else if ((w >> 20) == 0x6b8) set(O.OP_REV8, 0, true);
      break;
  }
}

function decodeOpImm32(w: u32, f3: u32, rs2: u32, f7: u32): void {
  const sh = (w >> 20) & 31;
  switch (f3) {
    case 0: set(O.OP_ADDIW, immI(w), true); break;
    case 1:
      if (f7 == 0) set(O.OP_SLLIW, sh, true);
      else if ((w >> 26) == 0x02) set(O.OP_SLLI_UW, (w >> 20) & 63, true);
      else if (f7 == 0x30) {
        if (rs2 == 0) set(O.OP_CLZW, 0, true);
        else if (rs2 == 1) set(O.OP_CTZW, 0, true);
        else if (rs2 == 2) set(O.OP_CPOPW, 0, true);
      }
      break;
    case 5:
      if (f7 == 0) set(O.OP_SRLIW, sh, true);
      else if (f7 == 0x20) set(O.OP_SRAIW, sh, true);
      else if (f7 == 0x30) set(O.OP_RORIW, sh, true);
      break;
  }
}

function decodeOp(f3: u32, f7: u32, rs2: u32): void {
  let op = O.OP_ILLEGAL;
  const k = (f7 << 3) | f3; // funct7·8 + funct3
  switch (k) {
    case 0x000: op = O.OP_ADD; break;
    case 0x100: op = O.OP_SUB; break;
    case 0x001: op = O.OP_SLL; break;
    case 0x002: op = O.OP_SLT; break;
    case 0x003: op = O.OP_SLTU; break;
    case 0x004: op = O.OP_XOR; break;
    case 0x005: op = O.OP_SRL; break;
    case 0x105: op = O.OP_SRA; break;
    case 0x006: op = O.OP_OR; break;
    case 0x007: op = O.OP_AND; break;
    case 0x008: op = O.OP_MUL; break;
    case 0x009: op = O.OP_MULH; break;
    case 0x00a: op = O.OP_MULHSU; break;
    case 0x00b: op = O.OP_MULHU; break;
    case 0x00c: op = O.OP_DIV; break;
    case 0x00d: op = O.OP_DIVU; break;
    case 0x00e: op = O.OP_REM; break;
    case 0x00f: op = O.OP_REMU; break;
    case 0x082: op = O.OP_SH1ADD; break; // f7=0x10
    case 0x084: op = O.OP_SH2ADD; break;
    case 0x086: op = O.OP_SH3ADD; break;
    case 0x107: op = O.OP_ANDN; break; // f7=0x20
    case 0x106: op = O.OP_ORN; break;
    case 0x104: op = O.OP_XNOR; break;
    case 0x02e: op = O.OP_MAX; break; // f7=0x05
    case 0x02f: op = O.OP_MAXU; break;
    case 0x02c: op = O.OP_MIN; break;
    case 0x02d: op = O.OP_MINU; break;
    case 0x029: op = O.OP_CLMUL; break;
    case 0x02b: op = O.OP_CLMULH; break;
    case 0x02a: op = O.OP_CLMULR; break;
    case 0x181: op = O.OP_ROL; break; // f7=0x30
    case 0x185: op = O.OP_ROR; break;
    case 0x121: op = O.OP_BCLR; break; // f7=0x24
    case 0x125: op = O.OP_BEXT; break;
    case 0x1a1: op = O.OP_BINV; break; // f7=0x34
    case 0x0a1: op = O.OP_BSET; break; // f7=0x14
    case 0x03d: op = O.OP_CZERO_EQZ; break; // f7=0x07 (Zicond)
    case 0x03f: op = O.OP_CZERO_NEZ; break;
  }
  set(op, 0, true);
}

function decodeOp32(f3: u32, f7: u32, rs2: u32): void {
  let op = O.OP_ILLEGAL;
  const k = (f7 << 3) | f3; // funct7·8 + funct3
  switch (k) {
    case 0x000: op = O.OP_ADDW; break;
    case 0x100: op = O.OP_SUBW; break;
    case 0x001: op = O.OP_SLLW; break;
    case 0x005: op = O.OP_SRLW; break;
    case 0x105: op = O.OP_SRAW; break;
    case 0x008: op = O.OP_MULW; break;
    case 0x00c: op = O.OP_DIVW; break;
    case 0x00d: op = O.OP_DIVUW; break;
    case 0x00e: op = O.OP_REMW; break;
    case 0x00f: op = O.OP_REMUW; break;
    case 0x020: op = O.OP_ADD_UW; break; // f7=0x04
    case 0x082: op = O.OP_SH1ADD_UW; break;
    case 0x084: op = O.OP_SH2ADD_UW; break;
    case 0x086: op = O.OP_SH3ADD_UW; break;
    case 0x181: op = O.OP_ROLW; break;
    case 0x185: op = O.OP_RORW; break;
    case 0x024: if (rs2 == 0) op = O.OP_ZEXT_H; break; // zext.h = packw rd, rs, x0
  }
  set(op, 0, true);
}

function decodeSystem(w: u32, rd: u32, rs1: u32, f3: u32, f7: u32): void {
  if (f3 == 0) {
    if (rd != 0) return;
    if (w == 0x00000073) set(O.OP_ECALL, 0, false);
    else if (w == 0x00100073) set(O.OP_EBREAK, 0, false);
    else if (w == 0x30200073) set(O.OP_MRET, 0, false);
    else if (w == 0x10200073) set(O.OP_SRET, 0, false);
    else if (w == 0x10500073) set(O.OP_WFI, 0, false);
    else if (f7 == 0x09) set(O.OP_SFENCE_VMA, 0, false);
    return;
  }
  if (f3 == 4) return;
  const csr = <i32>(w >> 20);
  set(O.OP_CSRRW + <i32>((f3 & 3) - 1) + (f3 >= 4 ? 3 : 0), csr, true);
}

function decodeAmo(f3: u32, f5: u32, rs2: u32): void {
  let base: i32;
  if (f3 == 2) base = O.OP_LR_W; else if (f3 == 3) base = O.OP_LR_D; else return;
  let k = -1;
  switch (f5) {
    case 0x02: if (rs2 == 0) k = 0; break; // lr
    case 0x03: k = 1; break; // sc
    case 0x01: k = 2; break; // amoswap
    case 0x00: k = 3; break; // amoadd
    case 0x04: k = 4; break; // amoxor
    case 0x0c: k = 5; break; // amoand
    case 0x08: k = 6; break; // amoor
    case 0x10: k = 7; break; // amomin
    case 0x14: k = 8; break; // amomax
    case 0x18: k = 9; break; // amominu
    case 0x1c: k = 10; break; // amomaxu
  }
  if (k >= 0) set(base + k, 0, true);
}

function decodeOpFp(f3: u32, f7: u32, rs2: u32): void {
  switch (f7) {
    case 0x00: set(O.OP_FADD_S, 0, false); break;
    case 0x04: set(O.OP_FSUB_S, 0, false); break;
    case 0x08: set(O.OP_FMUL_S, 0, false); break;
    case 0x0c: set(O.OP_FDIV_S, 0, false); break;
    case 0x2c: if (rs2 == 0) set(O.OP_FSQRT_S, 0, false); break;
    case 0x10:
      if (f3 == 0) set(O.OP_FSGNJ_S, 0, false);
      else if (f3 == 1) set(O.OP_FSGNJN_S, 0, false);
      else if (f3 == 2) set(O.OP_FSGNJX_S, 0, false);
      break;
    case 0x14:
      if (f3 == 0) set(O.OP_FMIN_S, 0, false); else if (f3 == 1) set(O.OP_FMAX_S, 0, false);
      break;
    case 0x60:
      if (rs2 < 4) set(O.OP_FCVT_W_S + <i32>rs2, 0, true);
      break;
    case 0x70:
      if (rs2 == 0 && f3 == 0) set(O.OP_FMV_X_W, 0, true);
      else if (rs2 == 0 && f3 == 1) set(O.OP_FCLASS_S, 0, true);
      break;
    case 0x50:
      if (f3 == 2) set(O.OP_FEQ_S, 0, true);
      else if (f3 == 1) set(O.OP_FLT_S, 0, true);
      else if (f3 == 0) set(O.OP_FLE_S, 0, true);
      break;
    case 0x68:
      if (rs2 < 4) set(O.OP_FCVT_S_W + <i32>rs2, 0, false);
      break;
    case 0x78: if (rs2 == 0 && f3 == 0) set(O.OP_FMV_W_X, 0, false); break;
    case 0x01: set(O.OP_FADD_D, 0, false); break;
    case 0x05: set(O.OP_FSUB_D, 0, false); break;
    case 0x09: set(O.OP_FMUL_D, 0, false); break;
    case 0x0d: set(O.OP_FDIV_D, 0, false); break;
    case 0x2d: if (rs2 == 0) set(O.OP_FSQRT_D, 0, false); break;
    case 0x11:
      if (f3 == 0) set(O.OP_FSGNJ_D, 0, false);
      else if (f3 == 1) set(O.OP_FSGNJN_D, 0, false);
      else if (f3 == 2) set(O.OP_FSGNJX_D, 0, false);
      break;
    case 0x15:
      if (f3 == 0) set(O.OP_FMIN_D, 0, false); else if (f3 == 1) set(O.OP_FMAX_D, 0, false);
      break;
    case 0x61:
      if (rs2 < 4) set(O.OP_FCVT_W_D + <i32>rs2, 0, true);
      break;
    case 0x71:
      if (rs2 == 0 && f3 == 0) set(O.OP_FMV_X_D, 0, true);
      else if (rs2 == 0 && f3 == 1) set(O.OP_FCLASS_D, 0, true);
      break;
    case 0x51:
      if (f3 == 2) set(O.OP_FEQ_D, 0, true);
      else if (f3 == 1) set(O.OP_FLT_D, 0, true);
      else if (f3 == 0) set(O.OP_FLE_D, 0, true);
      break;
    case 0x69:
      if (rs2 < 4) set(O.OP_FCVT_D_W + <i32>rs2, 0, false);
      break;
    case 0x79: if (rs2 == 0 && f3 == 0) set(O.OP_FMV_D_X, 0, false); break;
    case 0x20: if (rs2 == 1) set(O.OP_FCVT_S_D, 0, false); break;
    case 0x21: if (rs2 == 0) set(O.OP_FCVT_D_S, 0, false); break;
  }
}
