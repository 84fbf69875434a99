// Hart state accessors. The authoritative copy of every register lives in linear memory at the
// offsets of ../layout.ts so the host can save and restore it; the hot scalars (pc, privilege)
// are mirrored in wasm globals during run() and written back when it returns.
import { X_REGS, F_REGS, S_PC, S_PRIV } from "../layout";

/** Program counter of the instruction being executed. */
export let pc: u64 = 0;
/** Current privilege: 0 = U, 1 = S, 3 = M. */
export let priv: i32 = 3;

// @ts-ignore: decorator
@inline export function setPc(v: u64): void { pc = v; }
// @ts-ignore: decorator
@inline export function setPrivRaw(p: i32): void { priv = p; }

export function loadHot(): void {
  pc = load<u64>(S_PC);
  priv = load<i32>(S_PRIV);
}
export function storeHot(): void {
  store<u64>(S_PC, pc);
  store<i32>(S_PRIV, priv);
}

// @ts-ignore: decorator
@inline export function getX(i: u32): u64 { return load<u64>(X_REGS + (<usize>i << 3)); }
// @ts-ignore: decorator
@inline export function setX(i: u32, v: u64): void { store<u64>(X_REGS + (<usize>i << 3), v); }
// @ts-ignore: decorator
@inline export function getF(i: u32): u64 { return load<u64>(F_REGS + (<usize>i << 3)); }
// @ts-ignore: decorator
@inline export function setF(i: u32, v: u64): void { store<u64>(F_REGS + (<usize>i << 3), v); }

// Cause codes, privileged spec §3.1.15 table 3.6.
export const CAUSE_MISALIGNED_FETCH: u64 = 0;
export const CAUSE_FETCH_ACCESS: u64 = 1;
export const CAUSE_ILLEGAL: u64 = 2;
export const CAUSE_BREAKPOINT: u64 = 3;
export const CAUSE_MISALIGNED_LOAD: u64 = 4;
export const CAUSE_LOAD_ACCESS: u64 = 5;
export const CAUSE_MISALIGNED_STORE: u64 = 6;
export const CAUSE_STORE_ACCESS: u64 = 7;
export const CAUSE_ECALL_U: u64 = 8;
export const CAUSE_ECALL_S: u64 = 9;
export const CAUSE_ECALL_M: u64 = 11;
export const CAUSE_FETCH_PAGE: u64 = 12;
export const CAUSE_LOAD_PAGE: u64 = 13;
export const CAUSE_STORE_PAGE: u64 = 15;

// mstatus fields, privileged spec §3.1.6.
export const MSTATUS_SIE: u64 = 1 << 1;
export const MSTATUS_MIE: u64 = 1 << 3;
export const MSTATUS_SPIE: u64 = 1 << 5;
export const MSTATUS_UBE: u64 = 1 << 6;
export const MSTATUS_MPIE: u64 = 1 << 7;
export const MSTATUS_SPP: u64 = 1 << 8;
export const MSTATUS_MPP_SHIFT: u64 = 11;
export const MSTATUS_MPP: u64 = 3 << 11;
export const MSTATUS_FS_SHIFT: u64 = 13;
export const MSTATUS_FS: u64 = 3 << 13;
export const MSTATUS_MPRV: u64 = 1 << 17;
export const MSTATUS_SUM: u64 = 1 << 18;
export const MSTATUS_MXR: u64 = 1 << 19;
export const MSTATUS_TVM: u64 = 1 << 20;
export const MSTATUS_TW: u64 = 1 << 21;
export const MSTATUS_TSR: u64 = 1 << 22;
export const MSTATUS_UXL: u64 = (<u64>3) << 32;
export const MSTATUS_SXL: u64 = (<u64>3) << 34;
export const MSTATUS_SD: u64 = (<u64>1) << 63;

// Interrupt bits of mip/mie, §3.1.9.
export const IRQ_SSI: u64 = 1 << 1;
export const IRQ_MSI: u64 = 1 << 3;
export const IRQ_STI: u64 = 1 << 5;
export const IRQ_MTI: u64 = 1 << 7;
export const IRQ_SEI: u64 = 1 << 9;
export const IRQ_MEI: u64 = 1 << 11;
