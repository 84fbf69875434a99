// Trap entry and return, interrupt selection. Privileged ISA manual §3.1.6.1 (privilege stack),
// §3.1.7 (xtvec), §3.1.9 (mip/mie, priority MEI > MSI > MTI > SEI > SSI > STI), §3.3.2 (xRET).
import {
  S_MSTATUS, S_MEDELEG, S_MIDELEG, S_MIE, S_MIP, S_MIP_HW, S_MTVEC, S_MEPC, S_MCAUSE, S_MTVAL,
  S_STVEC, S_SEPC, S_SCAUSE, S_STVAL,
} from "../layout";
import {
  pc, priv, setPc, setPrivRaw, MSTATUS_SIE, MSTATUS_MIE, MSTATUS_SPIE, MSTATUS_MPIE, MSTATUS_SPP,
  MSTATUS_MPP, MSTATUS_MPP_SHIFT, MSTATUS_MPRV,
} from "./state";
import { updateModeKeys } from "./mmu";

/** Set when the current instruction raised an exception (pc already points at the handler). */
export let trapped: bool = false;
// @ts-ignore: decorator
@inline export function clearTrapped(): void { trapped = false; }

const INTERRUPT_BIT: u64 = (<u64>1) << 63;

export function raiseException(cause: u64, tval: u64): void {
  trapped = true;
  enterTrap(cause, tval, false);
}

function enterTrap(cause: u64, tval: u64, interrupt: bool): void {
  const deleg = load<u64>(interrupt ? S_MIDELEG : S_MEDELEG);
  let ms = load<u64>(S_MSTATUS);
  const fullCause = interrupt ? cause | INTERRUPT_BIT : cause;
  if (priv <= 1 && ((deleg >> cause) & 1) != 0) {
    store<u64>(S_SEPC, pc);
    store<u64>(S_SCAUSE, fullCause);
    store<u64>(S_STVAL, tval);
    ms = (ms & ~(MSTATUS_SPIE | MSTATUS_SIE | MSTATUS_SPP)) |
      ((ms & MSTATUS_SIE) != 0 ? MSTATUS_SPIE : 0) | (priv == 1 ? MSTATUS_SPP : 0);
    store<u64>(S_MSTATUS, ms);
    setPrivRaw(1);
    const tvec = load<u64>(S_STVEC);
    setPc((tvec & ~(<u64>3)) + ((tvec & 3) == 1 && interrupt ? cause << 2 : 0));
  } else {
    store<u64>(S_MEPC, pc);
    store<u64>(S_MCAUSE, fullCause);
    store<u64>(S_MTVAL, tval);
    ms = (ms & ~(MSTATUS_MPIE | MSTATUS_MIE | MSTATUS_MPP)) |
      ((ms & MSTATUS_MIE) != 0 ? MSTATUS_MPIE : 0) | (<u64>priv << MSTATUS_MPP_SHIFT);
    store<u64>(S_MSTATUS, ms);
    setPrivRaw(3);
    const tvec = load<u64>(S_MTVEC);
    setPc((tvec & ~(<u64>3)) + ((tvec & 3) == 1 && interrupt ? cause << 2 : 0));
  }
  updateModeKeys();
}

// @ts-ignore: decorator
@inline export function mipValue(): u64 { return load<u64>(S_MIP) | load<u64>(S_MIP_HW); }

/** The cause of the interrupt the hart should take now, or -1. */
export function pendingInterrupt(): i32 {
  const pend = mipValue() & load<u64>(S_MIE);
  if (pend == 0) return -1;
  const mideleg = load<u64>(S_MIDELEG);
  const ms = load<u64>(S_MSTATUS);
  const mOn = priv < 3 || (ms & MSTATUS_MIE) != 0;
  const sOn = priv < 1 || (priv == 1 && (ms & MSTATUS_SIE) != 0);
  let cand: u64 = mOn ? pend & ~mideleg : 0;
  if (cand == 0) cand = sOn ? pend & mideleg : 0;
  if (cand == 0) return -1;
  if (cand & (1 << 11)) return 11;
  if (cand & (1 << 3)) return 3;
  if (cand & (1 << 7)) return 7;
  if (cand & (1 << 9)) return 9;
  if (cand & (1 << 1)) return 1;
  if (cand & (1 << 5)) return 5;
  return <i32>ctz<u64>(cand);
}

/** Takes a pending, enabled interrupt if there is one (pc is the next instruction to run). */
export function checkInterrupts(): bool {
  const c = pendingInterrupt();
  if (c < 0) return false;
  enterTrap(<u64>c, 0, true);
  return true;
}

/** mret (§3.3.2). The caller has checked privilege. */
export function doMret(): void {
  let ms = load<u64>(S_MSTATUS);
  const mpp = <i32>((ms >> MSTATUS_MPP_SHIFT) & 3);
  ms = (ms & ~(MSTATUS_MIE | MSTATUS_MPP)) | ((ms & MSTATUS_MPIE) != 0 ? MSTATUS_MIE : 0) | MSTATUS_MPIE;
  if (mpp != 3) ms &= ~MSTATUS_MPRV;
  store<u64>(S_MSTATUS, ms);
  setPrivRaw(mpp);
  setPc(load<u64>(S_MEPC));
  updateModeKeys();
}

/** sret (§3.3.2). The caller has checked privilege and TSR. */
export function doSret(): void {
  let ms = load<u64>(S_MSTATUS);
  const spp = (ms & MSTATUS_SPP) != 0 ? 1 : 0;
  ms = (ms & ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV)) | ((ms & MSTATUS_SPIE) != 0 ? MSTATUS_SIE : 0) | MSTATUS_SPIE;
  store<u64>(S_MSTATUS, ms);
  setPrivRaw(spp);
  setPc(load<u64>(S_SEPC));
  updateModeKeys();
}
