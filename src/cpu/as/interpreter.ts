// The interpreter loop: fetch through the one-entry fetch-page cache, look the instruction up in
// the decoded-instruction cache (decoding on a miss), dispatch on the op. Integer work is inline
// here; atomics and floating point live in their own files. Interrupts are checked on entry and
// after anything that can make one pending (CSR writes, xRET, MMIO), never per instruction.
import * as O from "./ops";
import {
  DCACHE_BASE, DCACHE_ENTRIES, S_MSTATUS, S_MCYCLE, S_MINSTRET, S_FLAGS,
  S_MIE, S_MENVCFG, S_SENVCFG, FLAG_SBI_IN_HOST, EXIT_BUDGET, EXIT_WFI, EXIT_STOP, EXIT_ECALL, S_EXIT_CAUSE,
  EXIT_JIT, S_JIT_EXIT, S_JIT_VPC, S_JIT_HOST, S_PC, S_RAN, JITMAP_BASE, JITMAP_ENTRIES, HOT_BASE, HOT_ENTRIES,
  S_HOT_THRESHOLD, FLAG_JIT,
} from "../layout";
import {
  pc, priv, setPc, getX, setX, loadHot, storeHot, CAUSE_ILLEGAL, CAUSE_BREAKPOINT, CAUSE_ECALL_U,
  MSTATUS_TVM, MSTATUS_TW, MSTATUS_TSR,
} from "./state";
import { E_OP, E_RD, E_RS1, E_RS2, E_LEN, E_IMM, decodeInto } from "./decode";
import { expandCompressed } from "./decode-compressed";
import { fetchPage, fetchHostBase, flushTlb, updateModeKeys } from "./mmu";
import { read, write, fetchSlow, markCode, ioEvent, clearIoEvent, stopRequested, rawBits } from "./memory";
import { trapped, clearTrapped, raiseException, checkInterrupts, mipValue, doMret, doSret } from "./trap";
import { csrOp, setSliceRetired, updateTimers } from "./csr";
import { mulh, mulhsu, mulhu, clmul, clmulh, clmulr, orcb } from "./int-math";
import { execAtomic } from "./execute-atomic";
import { execFp } from "./execute-fp";
import { pmpAnyActive } from "./pmp";

const PAGE_MASK: u64 = ~(<u64>0xfff);
/** A decode-cache slot for instructions that cross a page and so cannot be cached. */
const SCRATCH_ENTRY: usize = DCACHE_BASE - 16;

// @ts-ignore: decorator
@inline function sext32(v: u64): u64 { return <u64><i64><i32>v; }

/** Decodes the instruction at wasm address h into entry e; a 32-bit instruction must not cross
 *  the page. */
function decodeInPage(e: usize, h: usize): void {
  const lo = <u32>load<u16>(h);
  if ((lo & 3) != 3) decodeInto(e, expandCompressed(lo), 2, lo);
  else decodeInto(e, load<u32>(h), 4, load<u32>(h));
}

/** Decodes the instruction at wasm address h (guest pc) into entry e; returns the entry to use,
 *  or 0 after raising a fetch fault for the second half of a page-crossing instruction. */
function decodeAt(e: usize, h: usize): usize {
  const lo = <u32>load<u16>(h);
  if ((lo & 3) == 3 && (h & 0xfff) == 0xffe) {
    // Crosses the page: the halves may live in different physical pages, so never cached.
    const h2 = fetchSlow(pc + 2); // the caller has set pc
    if (trapped) return 0;
    const w = lo | (<u32>load<u16>(h2) << 16);
    decodeInto(SCRATCH_ENTRY, w, 4, w);
    return SCRATCH_ENTRY;
  }
  decodeInPage(e, h);
  store<u32>(e, <u32>h | 1);
  markCode(h, load<u8>(e, E_LEN));
  return e;
}

/** For the translator: decodes the instruction at wasm address h into a scratch entry (without
 *  caching it), records h as code so stores there drop the translation, and returns the entry.
 *  The caller guarantees h lies in RAM and a 32-bit instruction does not cross the page. */
export function decodeForJit(h: usize): usize {
  decodeInPage(SCRATCH_ENTRY, h);
  markCode(h, load<u8>(SCRATCH_ENTRY, E_LEN));
  return SCRATCH_ENTRY;
}

/** Runs up to `budget` instructions; returns an EXIT_* code (../layout.ts). */
export function run(budget: i32): i32 {
  loadHot();
  updateModeKeys();
  updateTimers();
  checkInterrupts();
  let n = budget;
  let exit = EXIT_BUDGET;
  // Hot state in locals: the global pc is written once per instruction (traps read it) and
  // read back only after something that may have changed it.
  let lpc = pc;
  let fp = fetchPage;
  let fhb = fetchHostBase;
  // True when lpc follows a branch or jump: only there translated blocks are
  // looked up and execution counted, so straight-line interpretation pays nothing for the JIT.
  let blockStart = true;
  // The interpreted block running since the last block start, whose entry's counter is
  // credited with the instructions it ran when the next block starts (hotCe 0: none).
  let hotCe: usize = 0;
  let hotH: usize = 0;
  let hotPc: u64 = 0;
  let hotN: i32 = 0;
  while (n > 0) {
    // After MMIO (by the previous instruction or translated code): the device may have asked
    // to stop, moved a timer compare value or raised an interrupt line.
    if (ioEvent) {
      clearIoEvent();
      setPc(lpc);
      if (stopRequested()) { exit = EXIT_STOP; break; }
      updateTimers(); // e.g. a CLINT mtimecmp write
      checkInterrupts();
      lpc = pc; fp = fetchPage; fhb = fetchHostBase;
    }
    n--;
    let h: usize;
    if ((lpc & PAGE_MASK) == fp) {
      h = <usize>(fhb + (lpc & 0xfff));
    } else {
      setPc(lpc);
      h = fetchSlow(lpc);
      fp = fetchPage; fhb = fetchHostBase;
      if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; }
    }
    if (blockStart) {
      blockStart = false;
      // Hotness is instructions run from a block entry, not entries: a long unrolled function
      // (a hash round, a bignum multiply) called a few hundred times is as hot as a short
      // loop run thousands of times.
      if (hotCe != 0) {
        if (load<u32>(hotCe) == <u32>hotH) {
          const c = load<u32>(hotCe, 4) + <u32>(hotN - n);
          if (c >= load<u32>(S_HOT_THRESHOLD) && jitEnabled()) {
            store<u32>(hotCe, 0, 4);
            store<u64>(S_JIT_VPC, hotPc);
            store<u32>(S_JIT_HOST, <u32>hotH);
            hotCe = 0;
            n++;
            exit = EXIT_JIT;
            break;
          }
          store<u32>(hotCe, c, 4);
        }
        hotCe = 0;
      }
      const je = JITMAP_BASE + (((h >> 1) & (JITMAP_ENTRIES - 1)) << 4);
      if (load<u32>(je, 8) == <u32>h && load<u64>(je) == lpc) {
        const fn = load<u32>(je, 12);
        if (fn != 0) {
          store<i32>(S_JIT_EXIT, 0);
          n += 1 - call_indirect<i32>(fn, n + 1, 0);
          lpc = load<u64>(S_PC);
          fp = fetchPage; fhb = fetchHostBase;
          blockStart = true;
          continue;
        }
      } else {
        const ce = HOT_BASE + (((h >> 1) & (HOT_ENTRIES - 1)) << 3);
        if (load<u32>(ce) != <u32>h) {
          store<u32>(ce, <u32>h);
          store<u32>(ce, 0, 4);
        }
        hotCe = ce;
        hotH = h;
        hotPc = lpc;
        hotN = n;
      }
    }
    let e = DCACHE_BASE + (((h >> 1) & (DCACHE_ENTRIES - 1)) << 4);
    if (load<u32>(e) != (<u32>h | 1)) {
      setPc(lpc);
      e = decodeAt(e, h);
      fp = fetchPage; fhb = fetchHostBase;
      if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; }
    }
    const op = <i32>load<u16>(e, E_OP);
    const rd = <u32>load<u8>(e, E_RD);
    const rs1 = <u32>load<u8>(e, E_RS1);
    const rs2 = <u32>load<u8>(e, E_RS2);
    const imm = load<i32>(e, E_IMM);
    const simm = <u64><i64>imm;
    let npc = lpc + <u64>load<u8>(e, E_LEN);
    switch (op) {
      case O.OP_LUI: setX(rd, simm); break;
      case O.OP_AUIPC: setX(rd, lpc + simm); break;
      case O.OP_JAL: setX(rd, npc); npc = lpc + simm; blockStart = true; break;
      case O.OP_JALR: { const t = (getX(rs1) + simm) & ~(<u64>1); setX(rd, npc); npc = t; blockStart = true; break; }
      case O.OP_BEQ: if (getX(rs1) == getX(rs2)) npc = lpc + simm; blockStart = true; break;
      case O.OP_BNE: if (getX(rs1) != getX(rs2)) npc = lpc + simm; blockStart = true; break;
      case O.OP_BLT: if (<i64>getX(rs1) < <i64>getX(rs2)) npc = lpc + simm; blockStart = true; break;
      case O.OP_BGE: if (<i64>getX(rs1) >= <i64>getX(rs2)) npc = lpc + simm; blockStart = true; break;
      case O.OP_BLTU: if (getX(rs1) < getX(rs2)) npc = lpc + simm; blockStart = true; break;
      case O.OP_BGEU: if (getX(rs1) >= getX(rs2)) npc = lpc + simm; blockStart = true; break;
      case O.OP_LB: { const v = read<u8>(getX(rs1) + simm, lpc); if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; } setX(rd, <u64><i64><i8>v); break; }
      case O.OP_LH: { const v = read<u16>(getX(rs1) + simm, lpc); if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; } setX(rd, <u64><i64><i16>v); break; }
      case O.OP_LW: { const v = read<u32>(getX(rs1) + simm, lpc); if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; } setX(rd, sext32(v)); break; }
      case O.OP_LD: { const v = read<u64>(getX(rs1) + simm, lpc); if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; } setX(rd, v); break; }
      case O.OP_LBU: { const v = read<u8>(getX(rs1) + simm, lpc); if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; } setX(rd, v); break; }
      case O.OP_LHU: { const v = read<u16>(getX(rs1) + simm, lpc); if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; } setX(rd, v); break; }
      case O.OP_LWU: { const v = read<u32>(getX(rs1) + simm, lpc); if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; } setX(rd, v); break; }
      case O.OP_SB: write<u8>(getX(rs1) + simm, getX(rs2), lpc); if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; } break;
      case O.OP_SH: write<u16>(getX(rs1) + simm, getX(rs2), lpc); if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; } break;
      case O.OP_SW: write<u32>(getX(rs1) + simm, getX(rs2), lpc); if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; } break;
      case O.OP_SD: write<u64>(getX(rs1) + simm, getX(rs2), lpc); if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; } break;
      case O.OP_ADDI: setX(rd, getX(rs1) + simm); break;
      case O.OP_SLTI: setX(rd, <i64>getX(rs1) < <i64>simm ? 1 : 0); break;
      case O.OP_SLTIU: setX(rd, getX(rs1) < simm ? 1 : 0); break;
      case O.OP_XORI: setX(rd, getX(rs1) ^ simm); break;
      case O.OP_ORI: setX(rd, getX(rs1) | simm); break;
      case O.OP_ANDI: setX(rd, getX(rs1) & simm); break;
      case O.OP_SLLI: setX(rd, getX(rs1) << simm); break;
      case O.OP_SRLI: setX(rd, getX(rs1) >> simm); break;
      case O.OP_SRAI: setX(rd, <u64>(<i64>getX(rs1) >> <i64>simm)); break;
      case O.OP_ADD: setX(rd, getX(rs1) + getX(rs2)); break;
      case O.OP_SUB: setX(rd, getX(rs1) - getX(rs2)); break;
      case O.OP_SLL: setX(rd, getX(rs1) << (getX(rs2) & 63)); break;
      case O.OP_SLT: setX(rd, <i64>getX(rs1) < <i64>getX(rs2) ? 1 : 0); break;
      case O.OP_SLTU: setX(rd, getX(rs1) < getX(rs2) ? 1 : 0); break;
      case O.OP_XOR: setX(rd, getX(rs1) ^ getX(rs2)); break;
      case O.OP_SRL: setX(rd, getX(rs1) >> (getX(rs2) & 63)); break;
      case O.OP_SRA: setX(rd, <u64>(<i64>getX(rs1) >> <i64>(getX(rs2) & 63))); break;
      case O.OP_OR: setX(rd, getX(rs1) | getX(rs2)); break;
      case O.OP_AND: setX(rd, getX(rs1) & getX(rs2)); break;
      case O.OP_ADDIW: setX(rd, sext32(getX(rs1) + simm)); break;
      case O.OP_SLLIW: setX(rd, sext32(<u64>(<u32>getX(rs1) << <u32>imm))); break;
      case O.OP_SRLIW: setX(rd, sext32(<u64>(<u32>getX(rs1) >> <u32>imm))); break;
      case O.OP_SRAIW: setX(rd, <u64><i64>(<i32>getX(rs1) >> imm)); break;
      case O.OP_ADDW: setX(rd, sext32(getX(rs1) + getX(rs2))); break;
      case O.OP_SUBW: setX(rd, sext32(getX(rs1) - getX(rs2))); break;
      case O.OP_SLLW: setX(rd, sext32(<u64>(<u32>getX(rs1) << (<u32>getX(rs2) & 31)))); break;
      case O.OP_SRLW: setX(rd, sext32(<u64>(<u32>getX(rs1) >> (<u32>getX(rs2) & 31)))); break;
      case O.OP_SRAW: setX(rd, <u64><i64>(<i32>getX(rs1) >> (<i32>getX(rs2) & 31))); break;
      case O.OP_MUL: setX(rd, getX(rs1) * getX(rs2)); break;
      case O.OP_MULH: setX(rd, mulh(getX(rs1), getX(rs2))); break;
      case O.OP_MULHSU: setX(rd, mulhsu(getX(rs1), getX(rs2))); break;
      case O.OP_MULHU: setX(rd, mulhu(getX(rs1), getX(rs2))); break;
      case O.OP_DIV: {
        const a = <i64>getX(rs1), b = <i64>getX(rs2);
        setX(rd, b == 0 ? <u64>-1 : (b == -1 ? <u64>(0 - a) : <u64>(a / b)));
        break;
      }
      case O.OP_DIVU: { const b = getX(rs2); setX(rd, b == 0 ? <u64>-1 : getX(rs1) / b); break; }
      case O.OP_REM: {
        const a = <i64>getX(rs1), b = <i64>getX(rs2);
        setX(rd, b == 0 ? <u64>a : (b == -1 ? 0 : <u64>(a % b)));
        break;
      }
      case O.OP_REMU: { const b = getX(rs2); setX(rd, b == 0 ? getX(rs1) : getX(rs1) % b); break; }
      case O.OP_MULW: setX(rd, sext32(getX(rs1) * getX(rs2))); break;
      case O.OP_DIVW: {
        const a = <i64><i32>getX(rs1), b = <i64><i32>getX(rs2);
        // In 64 bits INT32_MIN / -1 cannot overflow; truncating gives the ISA's INT32_MIN.
        setX(rd, b == 0 ? <u64>-1 : sext32(<u64>(a / b)));
        break;
      }
      case O.OP_DIVUW: {
        const a = <u32>getX(rs1), b = <u32>getX(rs2);
        setX(rd, b == 0 ? <u64>-1 : sext32(<u64>(a / b)));
        break;
      }
      case O.OP_REMW: {
        const a = <i64><i32>getX(rs1), b = <i64><i32>getX(rs2);
        setX(rd, b == 0 ? <u64>a : sext32(<u64>(a % b)));
        break;
      }
      case O.OP_REMUW: {
        const a = <u32>getX(rs1), b = <u32>getX(rs2);
        setX(rd, sext32(<u64>(b == 0 ? a : a % b)));
        break;
      }
      // Zba
      case O.OP_ADD_UW: setX(rd, (getX(rs1) & 0xffffffff) + getX(rs2)); break;
      case O.OP_SH1ADD: setX(rd, (getX(rs1) << 1) + getX(rs2)); break;
      case O.OP_SH2ADD: setX(rd, (getX(rs1) << 2) + getX(rs2)); break;
      case O.OP_SH3ADD: setX(rd, (getX(rs1) << 3) + getX(rs2)); break;
      case O.OP_SH1ADD_UW: setX(rd, ((getX(rs1) & 0xffffffff) << 1) + getX(rs2)); break;
      case O.OP_SH2ADD_UW: setX(rd, ((getX(rs1) & 0xffffffff) << 2) + getX(rs2)); break;
      case O.OP_SH3ADD_UW: setX(rd, ((getX(rs1) & 0xffffffff) << 3) + getX(rs2)); break;
      case O.OP_SLLI_UW: setX(rd, (getX(rs1) & 0xffffffff) << simm); break;
      // Zbb
      case O.OP_ANDN: setX(rd, getX(rs1) & ~getX(rs2)); break;
      case O.OP_ORN: setX(rd, getX(rs1) | ~getX(rs2)); break;
      case O.OP_XNOR: setX(rd, ~(getX(rs1) ^ getX(rs2))); break;
      case O.OP_CLZ: setX(rd, clz<u64>(getX(rs1))); break;
      case O.OP_CLZW: setX(rd, <u64>clz<u32>(<u32>getX(rs1))); break;
      case O.OP_CTZ: setX(rd, ctz<u64>(getX(rs1))); break;
      case O.OP_CTZW: setX(rd, <u64>ctz<u32>(<u32>getX(rs1))); break;
      case O.OP_CPOP: setX(rd, popcnt<u64>(getX(rs1))); break;
      case O.OP_CPOPW: setX(rd, <u64>popcnt<u32>(<u32>getX(rs1))); break;
      case O.OP_MAX: { const a = getX(rs1), b = getX(rs2); setX(rd, <i64>a > <i64>b ? a : b); break; }
      case O.OP_MAXU: { const a = getX(rs1), b = getX(rs2); setX(rd, a > b ? a : b); break; }
      case O.OP_MIN: { const a = getX(rs1), b = getX(rs2); setX(rd, <i64>a < <i64>b ? a : b); break; }
      case O.OP_MINU: { const a = getX(rs1), b = getX(rs2); setX(rd, a < b ? a : b); break; }
      case O.OP_SEXT_B: setX(rd, <u64><i64><i8>getX(rs1)); break;
      case O.OP_SEXT_H: setX(rd, <u64><i64><i16>getX(rs1)); break;
      case O.OP_ZEXT_H: setX(rd, getX(rs1) & 0xffff); break;
      case O.OP_ROL: setX(rd, rotl<u64>(getX(rs1), getX(rs2) & 63)); break;
      case O.OP_ROLW: setX(rd, sext32(<u64>rotl<u32>(<u32>getX(rs1), <u32>getX(rs2) & 31))); break;
      case O.OP_ROR: setX(rd, rotr<u64>(getX(rs1), getX(rs2) & 63)); break;
      case O.OP_RORI: setX(rd, rotr<u64>(getX(rs1), simm)); break;
      case O.OP_RORIW: setX(rd, sext32(<u64>rotr<u32>(<u32>getX(rs1), <u32>imm))); break;
      case O.OP_RORW: setX(rd, sext32(<u64>rotr<u32>(<u32>getX(rs1), <u32>getX(rs2) & 31))); break;
      case O.OP_ORC_B: setX(rd, orcb(getX(rs1), 0)); break;
      case O.OP_REV8: setX(rd, bswap<u64>(getX(rs1))); break;
      // Zbc
      case O.OP_CLMUL: setX(rd, clmul(getX(rs1), getX(rs2))); break;
      case O.OP_CLMULH: setX(rd, clmulh(getX(rs1), getX(rs2))); break;
      case O.OP_CLMULR: setX(rd, clmulr(getX(rs1), getX(rs2))); break;
      // Zbs
      case O.OP_BCLR: setX(rd, getX(rs1) & ~((<u64>1) << (getX(rs2) & 63))); break;
      case O.OP_BCLRI: setX(rd, getX(rs1) & ~((<u64>1) << simm)); break;
      case O.OP_BEXT: setX(rd, (getX(rs1) >> (getX(rs2) & 63)) & 1); break;
      case O.OP_BEXTI: setX(rd, (getX(rs1) >> simm) & 1); break;
      case O.OP_BINV: setX(rd, getX(rs1) ^ ((<u64>1) << (getX(rs2) & 63))); break;
      case O.OP_BINVI: setX(rd, getX(rs1) ^ ((<u64>1) << simm)); break;
      case O.OP_BSET: setX(rd, getX(rs1) | ((<u64>1) << (getX(rs2) & 63))); break;
      case O.OP_BSETI: setX(rd, getX(rs1) | ((<u64>1) << simm)); break;
      // Zicond
      case O.OP_CZERO_EQZ: setX(rd, getX(rs2) == 0 ? 0 : getX(rs1)); break;
      case O.OP_CZERO_NEZ: setX(rd, getX(rs2) != 0 ? 0 : getX(rs1)); break;
      // Memory ordering: one in-order hart, and stores keep the decode cache coherent.
      case O.OP_FENCE: case O.OP_FENCE_I: break;
      case O.OP_CBO_CLEAN: case O.OP_CBO_FLUSH: case O.OP_CBO_INVAL: case O.OP_CBO_ZERO:
        setPc(lpc);
        if (!cboAllowed(op)) { raiseException(CAUSE_ILLEGAL, <u64><u32>rawBits(e)); clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; }
        if (op == O.OP_CBO_ZERO) {
          const base = getX(rs1) & ~(<u64>63);
          for (let i: u64 = 0; i < 64; i += 8) {
            write<u64>(base + i, 0, lpc);
            if (trapped) break;
          }
          if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; }
        }
        break;
      case O.OP_ECALL:
        setPc(lpc);
        if (priv == 1 && (load<i32>(S_FLAGS) & FLAG_SBI_IN_HOST) != 0) {
          store<u64>(S_EXIT_CAUSE, getX(17));
          exit = EXIT_ECALL;
          n = 0;
          break;
        }
        raiseException(CAUSE_ECALL_U + <u64>priv, 0);
        clearTrapped();
        lpc = pc; fp = fetchPage; fhb = fetchHostBase;
        continue;
      case O.OP_EBREAK: setPc(lpc); raiseException(CAUSE_BREAKPOINT, 0); clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; // tval 0, as QEMU
      case O.OP_MRET:
        setPc(lpc);
        // Like QEMU's virt CPU, refuse to return to S or U while no PMP entry is active: every
        // fetch there would fault (no match denies S/U), so the loop would never end.
        if (priv < 3 || (((load<u64>(S_MSTATUS) >> 11) & 3) != 3 && !pmpAnyActive())) {
          raiseException(CAUSE_ILLEGAL, 0x30200073); clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue;
        }
        doMret();
        checkInterrupts();
        lpc = pc; fp = fetchPage; fhb = fetchHostBase;
        continue;
      case O.OP_SRET:
        setPc(lpc);
        if (priv < 1 || (priv == 1 && (load<u64>(S_MSTATUS) & MSTATUS_TSR) != 0)) {
          raiseException(CAUSE_ILLEGAL, 0x10200073); clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue;
        }
        doSret();
        checkInterrupts();
        lpc = pc; fp = fetchPage; fhb = fetchHostBase;
        continue;
      case O.OP_WFI:
        setPc(lpc);
        if (priv == 0 || (priv == 1 && (load<u64>(S_MSTATUS) & MSTATUS_TW) != 0)) {
          raiseException(CAUSE_ILLEGAL, 0x10500073); clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue;
        }
        if ((mipValue() & load<u64>(S_MIE)) == 0) { exit = EXIT_WFI; n = 0; }
        break;
      case O.OP_SFENCE_VMA:
        setPc(lpc);
        if (priv == 0 || (priv == 1 && (load<u64>(S_MSTATUS) & MSTATUS_TVM) != 0)) {
          raiseException(CAUSE_ILLEGAL, <u64><u32>rawBits(e)); clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue;
        }
        flushTlb();
        fp = fetchPage;
        break;
      case O.OP_CSRRW: case O.OP_CSRRS: case O.OP_CSRRC: case O.OP_CSRRWI: case O.OP_CSRRSI: case O.OP_CSRRCI: {
        setPc(lpc);
        const k = (op - O.OP_CSRRW) % 3;
        const src = op >= O.OP_CSRRWI ? <u64>rs1 : getX(rs1);
        setSliceRetired(<u64>(budget - n - 1));
        const old = csrOp(<u32>imm & 0xfff, k, src, k == 0 || rs1 != 0, e);
        if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; }
        setX(rd, old);
        setPc(npc);
        checkInterrupts();
        lpc = pc; fp = fetchPage; fhb = fetchHostBase;
        continue;
      }
      case O.OP_ILLEGAL:
        setPc(lpc);
        raiseException(CAUSE_ILLEGAL, <u64><u32>imm);
        clearTrapped();
        lpc = pc; fp = fetchPage; fhb = fetchHostBase;
        continue;
      default:
        setPc(lpc);
        if (op <= O.OP_AMOMAXU_D) execAtomic(op, rd, rs1, rs2);
        else execFp(op, e);
        if (trapped) { clearTrapped(); lpc = pc; fp = fetchPage; fhb = fetchHostBase; continue; }
    }
    lpc = npc;
  }
  // The last instruction's MMIO may have asked to stop (e.g. the test finisher).
  if (ioEvent) {
    clearIoEvent();
    if (stopRequested()) exit = EXIT_STOP;
  }
  setPc(lpc);
  const done = <u64>(budget - n);
  store<i32>(S_RAN, budget - n);
  store<u64>(S_MINSTRET, load<u64>(S_MINSTRET) + done);
  store<u64>(S_MCYCLE, load<u64>(S_MCYCLE) + done);
  storeHot();
  return exit;
}

function jitEnabled(): bool { return (load<i32>(S_FLAGS) & FLAG_JIT) != 0; }

/** Zicbom/Zicboz enables (menvcfg/senvcfg CBIE, CBCFE, CBZE; CMO spec §2.5). */
function cboAllowed(op: i32): bool {
  if (priv == 3) return true;
  let cfg = load<u64>(S_MENVCFG);
  if (priv == 0) cfg &= load<u64>(S_SENVCFG);
  if (op == O.OP_CBO_ZERO) return (cfg & 0x80) != 0;
  if (op == O.OP_CBO_INVAL) return (cfg & 0x30) != 0;
  return (cfg & 0x40) != 0;
}
