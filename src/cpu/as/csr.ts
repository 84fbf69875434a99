// Control and status registers: privileged ISA manual chapter 2 (address map, table 2.1–2.6),
// chapter 3 (machine), chapter 10 (supervisor), unprivileged chapter 10 (Zicntr) and §11.2 (fcsr),
// Sstc (stimecmp) and the CMO extension's envcfg bits. Write masks and which CSRs exist follow
// QEMU's rv64 `virt` CPU so the same program behaves the same on both.
import {
  S_MSTATUS, S_MISA, S_MEDELEG, S_MIDELEG, S_MIE, S_MIP, S_MIP_HW, S_MTVEC, S_MSCRATCH, S_MEPC, S_MCAUSE,
  S_MTVAL, S_MCOUNTEREN, S_MENVCFG, S_STVEC, S_SSCRATCH, S_SEPC, S_SCAUSE, S_STVAL, S_SCOUNTEREN,
  S_SENVCFG, S_SATP, S_FCSR, S_MCYCLE, S_MINSTRET, S_STIMECMP, S_MTIMECMP, S_MCOUNTINHIBIT, S_MHARTID,
  S_PMPADDR, S_PMPCFG,
} from "../layout";
import {
  priv, CAUSE_ILLEGAL, MSTATUS_SIE, MSTATUS_MIE, MSTATUS_SPIE, MSTATUS_MPIE, MSTATUS_SPP, MSTATUS_MPP,
  MSTATUS_FS, MSTATUS_MPRV, MSTATUS_SUM, MSTATUS_MXR, MSTATUS_TVM, MSTATUS_TW, MSTATUS_TSR,
  MSTATUS_UXL, MSTATUS_SXL, MSTATUS_SD, MSTATUS_UBE, MSTATUS_MPP_SHIFT, IRQ_STI, IRQ_MTI, IRQ_SSI, IRQ_SEI,
} from "./state";
import { raiseException } from "./trap";
import { rawBits } from "./memory";
import { updateModeKeys, flushTlb } from "./mmu";
import { pmpCfgLocked, pmpAddrLocked, pmpRecompute } from "./pmp";

@external("env", "clock") declare function hostClock(): f64;

/** Instructions retired in the current run() slice before the current one (set by the interpreter). */
export let sliceRetired: u64 = 0;
// @ts-ignore: decorator
@inline export function setSliceRetired(n: u64): void { sliceRetired = n; }

const MSTATUS_WMASK: u64 = MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP |
  MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR;
const SSTATUS_MASK: u64 = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM |
  MSTATUS_MXR | MSTATUS_UXL | MSTATUS_SD;
const SSTATUS_WMASK: u64 = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR;
// Exceptions that medeleg can delegate (all synchronous causes but ecall from M).
const MEDELEG_WMASK: u64 = 0xb3ff;
const S_INTS: u64 = 0x222;
const ALL_INTS: u64 = 0xaaa;
const ENVCFG_CBO: u64 = 0xf1; // FIOM | CBIE | CBCFE | CBZE
const MENVCFG_STCE: u64 = (<u64>1) << 63;

export const MISA_RV64GC: u64 = ((<u64>2) << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) |
  (1 << 12) | (1 << 18) | (1 << 20); // A C D F I M S U

// @ts-ignore: decorator
@inline function ld(a: usize): u64 { return load<u64>(a); }
// @ts-ignore: decorator
@inline function st(a: usize, v: u64): void { store<u64>(a, v); }

export function readTime(): u64 { return <u64>hostClock(); }

/** Recomputes the timer interrupt lines from the clock: MTIP from mtimecmp, STIP from stimecmp
 *  when Sstc is enabled (menvcfg.STCE). */
export function updateTimers(): void {
  const now = readTime();
  let hw = ld(S_MIP_HW) & ~(IRQ_MTI | IRQ_STI);
  if (now >= ld(S_MTIMECMP)) hw |= IRQ_MTI;
  if ((ld(S_MENVCFG) & MENVCFG_STCE) != 0 && now >= ld(S_STIMECMP)) hw |= IRQ_STI;
  st(S_MIP_HW, hw);
}

function mstatusRead(): u64 {
  // UXL = SXL = 2 (64-bit), read-only; SD summarises FS == Dirty.
  let v = (ld(S_MSTATUS) & ~(MSTATUS_UXL | MSTATUS_SXL | MSTATUS_SD)) | ((<u64>2) << 32) | ((<u64>2) << 34);
  if ((v & MSTATUS_FS) == MSTATUS_FS) v |= MSTATUS_SD;
  return v;
}

function mstatusWrite(v: u64, mask: u64): void {
  let ms = (ld(S_MSTATUS) & ~mask) | (v & mask);
  if (((ms & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT) == 2) ms &= ~MSTATUS_MPP; // WARL: no H mode
  st(S_MSTATUS, ms & ~(MSTATUS_UXL | MSTATUS_SXL | MSTATUS_SD));
  updateModeKeys();
}

/** Checks whether counter CSR `csr` (0xC00..0xC1F) is readable at the current privilege. */
function counterAllowed(csr: u32): bool {
  const bit = (<u64>1) << (csr & 31);
  if (priv == 3) return true;
  if ((ld(S_MCOUNTEREN) & bit) == 0) return false;
  if (priv == 0 && (ld(S_SCOUNTEREN) & bit) == 0) return false;
  return true;
}

function fpOff(): bool { return (ld(S_MSTATUS) & MSTATUS_FS) == 0; }
function markFsDirty(): void { st(S_MSTATUS, ld(S_MSTATUS) | MSTATUS_FS); }

let ok: bool = true;
// @ts-ignore: decorator
@inline function illegal(): u64 { ok = false; return 0; }

/** Whether the CSR exists and is accessible at this privilege; reads it into the result. */
function read(csr: u32): u64 {
  switch (csr) {
    case 0x001: if (fpOff()) return illegal(); return ld(S_FCSR) & 0x1f;
    case 0x002: if (fpOff()) return illegal(); return (ld(S_FCSR) >> 5) & 7;
    case 0x003: if (fpOff()) return illegal(); return ld(S_FCSR) & 0xff;
    case 0xc00: if (!counterAllowed(csr)) return illegal(); return ld(S_MCYCLE) + sliceRetired;
    case 0xc01: if (!counterAllowed(csr)) return illegal(); return readTime();
    case 0xc02: if (!counterAllowed(csr)) return illegal(); return ld(S_MINSTRET) + sliceRetired;
    case 0x100: return mstatusRead() & SSTATUS_MASK;
    case 0x104: return ld(S_MIE) & ld(S_MIDELEG);
    case 0x105: return ld(S_STVEC);
    case 0x106: return ld(S_SCOUNTEREN);
    case 0x10a: return ld(S_SENVCFG);
    case 0x140: return ld(S_SSCRATCH);
    case 0x141: return ld(S_SEPC);
    case 0x142: return ld(S_SCAUSE);
    case 0x143: return ld(S_STVAL);
    case 0x144: return (ld(S_MIP) | ld(S_MIP_HW)) & ld(S_MIDELEG);
    case 0x14d: if (!stimecmpAllowed()) return illegal(); return ld(S_STIMECMP);
    case 0x180:
      if (priv == 1 && (ld(S_MSTATUS) & MSTATUS_TVM) != 0) return illegal();
      return ld(S_SATP);
    case 0xf11: case 0xf12: case 0xf13: case 0xf15: return 0;
    case 0xf14: return ld(S_MHARTID);
    case 0x300: return mstatusRead();
    case 0x301: return ld(S_MISA);
    case 0x302: return ld(S_MEDELEG);
    case 0x303: return ld(S_MIDELEG);
    case 0x304: return ld(S_MIE);
    case 0x305: return ld(S_MTVEC);
    case 0x306: return ld(S_MCOUNTEREN);
    case 0x30a: return ld(S_MENVCFG);
    case 0x320: return ld(S_MCOUNTINHIBIT);
    case 0x340: return ld(S_MSCRATCH);
    case 0x341: return ld(S_MEPC);
    case 0x342: return ld(S_MCAUSE);
    case 0x343: return ld(S_MTVAL);
    case 0x344: return ld(S_MIP) | ld(S_MIP_HW);
    case 0x3a0: return load<u64>(S_PMPCFG);
    case 0x3a2: return load<u64>(S_PMPCFG + 8);
    case 0xb00: return ld(S_MCYCLE) + sliceRetired;
    case 0xb02: return ld(S_MINSTRET) + sliceRetired;
  }
  if (csr >= 0x3b0 && csr <= 0x3bf) return pmpaddrRead(<i32>(csr - 0x3b0));
  if (csr >= 0xc03 && csr <= 0xc1f) { if (!counterAllowed(csr)) return illegal(); return 0; }
  if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) return 0;
  return illegal();
}

function pmpaddrRead(i: i32): u64 { return ld(S_PMPADDR + (i << 3)); }

function stimecmpAllowed(): bool {
  if (priv == 3) return true;
  return (ld(S_MENVCFG) & MENVCFG_STCE) != 0 && (ld(S_MCOUNTEREN) & 2) != 0;
}

function write(csr: u32, v: u64): void {
  switch (csr) {
    case 0x001: st(S_FCSR, (ld(S_FCSR) & ~0x1f) | (v & 0x1f)); markFsDirty(); return;
    case 0x002: st(S_FCSR, (ld(S_FCSR) & 0x1f) | ((v & 7) << 5)); markFsDirty(); return;
    case 0x003: st(S_FCSR, v & 0xff); markFsDirty(); return;
    case 0x100: mstatusWrite(v, SSTATUS_WMASK); return;
    case 0x104: { const m = ld(S_MIDELEG); st(S_MIE, (ld(S_MIE) & ~m) | (v & m)); return; }
    case 0x105: if ((v & 3) < 2) st(S_STVEC, v); return;
    case 0x106: st(S_SCOUNTEREN, v & 0xffffffff); return;
    case 0x10a: st(S_SENVCFG, v & ENVCFG_CBO); return;
    case 0x140: st(S_SSCRATCH, v); return;
    case 0x141: st(S_SEPC, v & ~(<u64>1)); return;
    case 0x142: st(S_SCAUSE, v); return;
    case 0x143: st(S_STVAL, v); return;
    case 0x144: { const m = ld(S_MIDELEG) & IRQ_SSI; st(S_MIP, (ld(S_MIP) & ~m) | (v & m)); return; }
    case 0x14d: st(S_STIMECMP, v); updateTimers(); return;
    case 0x180: {
      const mode = v >> 60;
      if (mode != 0 && mode != 8 && mode != 9 && mode != 10) return; // unsupported mode: write ignored
      st(S_SATP, v); // MODE, 16-bit ASID and 44-bit PPN: every bit is a field
      flushTlb();
      return;
    }
    case 0x300: mstatusWrite(v, MSTATUS_WMASK); return;
    case 0x301: return; // misa is read-only here
    case 0x302: st(S_MEDELEG, v & MEDELEG_WMASK); return;
    case 0x303: st(S_MIDELEG, v & S_INTS); return;
    case 0x304: st(S_MIE, v & ALL_INTS); return;
    case 0x305: if ((v & 3) < 2) st(S_MTVEC, v); return;
    case 0x306: st(S_MCOUNTEREN, v & 0xffffffff); return;
    case 0x30a: st(S_MENVCFG, v & (ENVCFG_CBO | MENVCFG_STCE)); updateTimers(); return;
    case 0x320: st(S_MCOUNTINHIBIT, v & 0xfffffffd); return;
    case 0x340: st(S_MSCRATCH, v); return;
    case 0x341: st(S_MEPC, v & ~(<u64>1)); return;
    case 0x342: st(S_MCAUSE, v); return;
    case 0x343: st(S_MTVAL, v); return;
    case 0x344: {
      // SSIP, STIP (unless Sstc drives it) and SEIP are writable by M (priv §3.1.9); a written
      // SEIP is ORed with the external line.
      let m: u64 = IRQ_SSI | IRQ_STI | IRQ_SEI;
      if ((ld(S_MENVCFG) & MENVCFG_STCE) != 0) m &= ~IRQ_STI;
      st(S_MIP, (ld(S_MIP) & ~m) | (v & m));
      return;
    }
    case 0x3a0: pmpcfgWrite(0, v); return;
    case 0x3a2: pmpcfgWrite(8, v); return;
    case 0xb00: st(S_MCYCLE, v - sliceRetired); return;
    case 0xb02: st(S_MINSTRET, v - sliceRetired); return;
  }
  if (csr >= 0x3b0 && csr <= 0x3bf) {
    const i = <i32>(csr - 0x3b0);
    if (!pmpAddrLocked(i)) { st(S_PMPADDR + (i << 3), v & 0x3fffffffffffff); flushTlb(); }
  }
  // mhpmcounter/mhpmevent: read-only zero here.
}

function pmpcfgWrite(first: i32, v: u64): void {
  for (let k = 0; k < 8; k++) {
    const i = first + k;
    if (pmpCfgLocked(i)) continue;
    store<u8>(S_PMPCFG + i, <u8>((v >> (<u64>k << 3)) & 0x9f));
  }
  pmpRecompute();
  flushTlb();
}

/**
 * Executes a CSR instruction's access. kind: 0 write, 1 set, 2 clear. `doWrite` is false for
 * csrrs/csrrc with rs1 = x0 (no write, so read-only CSRs are fine). Returns the old value, or
 * raises illegal instruction (ok = false) and returns 0.
 */
export function csrOp(csr: u32, kind: i32, src: u64, doWrite: bool, e: usize): u64 {
  ok = true;
  // Privilege needed is csr[9:8]; csr[11:10] == 3 marks read-only (§2.1).
  if (<i32>((csr >> 8) & 3) > priv || (doWrite && (csr >> 10) == 3)) {
    raiseException(CAUSE_ILLEGAL, <u64>rawBits(e));
    return 0;
  }
  const old = read(csr);
  if (!ok) { raiseException(CAUSE_ILLEGAL, <u64>rawBits(e)); return 0; }
  if (doWrite) {
    const nv = kind == 0 ? src : kind == 1 ? old | src : old & ~src;
    write(csr, nv);
  }
  return old;
}
