// Virtual-memory translation (privileged ISA manual §12.3–12.6: Sv39, Sv48, Sv57), PMP checks,
// and the software TLBs that make the common case a tag compare.
//
// TLB entries are per 4 KiB page and tagged with the page and a key naming the privilege and
// the mstatus bits that change permissions (SUM, MXR), so changing mode needs no flush; satp
// writes, sfence.vma and PMP writes flush. Pages that are MMIO carry TAG_MMIO so the fast path
// (RAM only) misses while the slow path can still skip the walk.
import {
  TLB_FETCH, TLB_LOAD, TLB_STORE, TLB_ENTRIES, S_SATP, S_MSTATUS, S_RAM_PADDR, S_RAM_SIZE, RAM_OFFSET, S_DATAKEY, S_FETCHKEY,
} from "../layout";
import { priv, MSTATUS_MPRV, MSTATUS_SUM, MSTATUS_MXR, MSTATUS_MPP_SHIFT,
  CAUSE_FETCH_ACCESS, CAUSE_LOAD_ACCESS, CAUSE_STORE_ACCESS, CAUSE_FETCH_PAGE, CAUSE_LOAD_PAGE, CAUSE_STORE_PAGE } from "./state";
import { pmpAllows, pmpPageUniform } from "./pmp";
import { raiseException } from "./trap";

export const ACC_READ = 0;
export const ACC_WRITE = 1;
export const ACC_EXEC = 2;
export const TAG_MMIO: u64 = 0x800;
export const TAG_CODE: u64 = 0x400;
const PAGE_MASK: u64 = ~(<u64>0xfff);

/** Key of data accesses: effective privilege | SUM << 2 | MXR << 3. */
export let dataKey: u64 = 3;
/** Effective privilege of data accesses (MPRV, §3.1.6.3). */
export let dataPriv: i32 = 3;
/** Key of instruction fetches: the privilege. */
export let fetchKey: u64 = 3;
/** The virtual page the interpreter fetches from without a lookup, or 1 (never a page) when none. */
export let fetchPage: u64 = 1;
export let fetchHostBase: u64 = 0;

/** Recomputes the keys after a change of privilege or mstatus. */
export function updateModeKeys(): void {
  const ms = load<u64>(S_MSTATUS);
  let p = priv;
  if (p == 3 && (ms & MSTATUS_MPRV) != 0) p = <i32>((ms >> MSTATUS_MPP_SHIFT) & 3);
  dataPriv = p;
  dataKey = <u64>p | ((ms & MSTATUS_SUM) != 0 ? 4 : 0) | ((ms & MSTATUS_MXR) != 0 ? 8 : 0);
  fetchKey = <u64>priv;
  fetchPage = 1;
  store<u64>(S_DATAKEY, dataKey); // translated code reads the keys from memory
  store<u64>(S_FETCHKEY, fetchKey);
}

export function setFetchPage(vpage: u64, hostPage: u64): void {
  fetchPage = vpage;
  fetchHostBase = hostPage;
}

export function flushTlb(): void {
  memory.fill(TLB_FETCH, 0xff, TLB_ENTRIES * 32 * 3);
  fetchPage = 1;
}

// @ts-ignore: decorator
@inline export function tlbEntry(base: usize, vaddr: u64): usize {
  return base + ((<usize>(vaddr >> 12) & (TLB_ENTRIES - 1)) << 5);
}

/** Wasm address of guest physical `pa` if it lies in RAM with `size` bytes, else 0. */
// @ts-ignore: decorator
@inline export function ramHost(pa: u64, size: u64): usize {
  const off = pa - load<u64>(S_RAM_PADDR);
  return off < load<u64>(S_RAM_SIZE) && off + size <= load<u64>(S_RAM_SIZE) ? <usize>(off + RAM_OFFSET) : 0;
}

function pageFaultCause(acc: i32): u64 {
  return acc == ACC_EXEC ? CAUSE_FETCH_PAGE : acc == ACC_WRITE ? CAUSE_STORE_PAGE : CAUSE_LOAD_PAGE;
}
export function accessFaultCause(acc: i32): u64 {
  return acc == ACC_EXEC ? CAUSE_FETCH_ACCESS : acc == ACC_WRITE ? CAUSE_STORE_ACCESS : CAUSE_LOAD_ACCESS;
}

/** Set by translate(): whether its result may be cached in a TLB. */
let cacheable: bool = true;

/**
 * Translates `va` for an access of `size` bytes (inside one page). Returns the physical address,
 * or raises the page/access fault and returns -1 (the caller checks `trapped`).
 */
export function translate(va: u64, acc: i32, size: u64): u64 {
  const p = acc == ACC_EXEC ? priv : dataPriv;
  cacheable = true;
  let pa: u64;
  const satp = load<u64>(S_SATP);
  const mode = <i32>(satp >> 60);
  if (p == 3 || mode == 0) {
    pa = va;
    // Bare: physical addresses are 56 bits wide; anything above does not exist.
    if ((pa >> 56) != 0) { raiseException(accessFaultCause(acc), va); return -1; }
  } else {
    pa = walk(va, acc, p, satp, mode);
    if (pa == <u64>-1) return -1;
  }
  if (!pmpAllows(pa, size, acc, p)) { raiseException(accessFaultCause(acc), va); return -1; }
  if (!pmpPageUniform(pa & PAGE_MASK)) cacheable = false;
  return pa;
}

/** Page-table walk, §12.3.2. Sets A and D as hardware does (QEMU's behaviour). */
function walk(va: u64, acc: i32, p: i32, satp: u64, mode: i32): u64 {
  const levels = mode - 5; // Sv39 = 8 → 3, Sv48 = 9 → 4, Sv57 = 10 → 5
  const vaBits = <u64>(12 + 9 * levels);
  // The address must be sign-extended from bit vaBits-1.
  const top = <i64>va >> (vaBits - 1);
  if (top != 0 && top != -1) { raiseException(pageFaultCause(acc), va); return -1; }
  const ms = load<u64>(S_MSTATUS);
  let a: u64 = (satp & 0xfffffffffff) << 12;
  for (let i = levels - 1; i >= 0; i--) {
    const vpn = (va >> (12 + 9 * <u64>i)) & 0x1ff;
    const pteAddr = a + (vpn << 3);
    // Implicit page-table reads are checked by PMP as S-mode accesses (§3.7.1).
    const host = ramHost(pteAddr, 8);
    if (host == 0 || !pmpAllows(pteAddr, 8, ACC_READ, 1)) { raiseException(accessFaultCause(acc), va); return -1; }
    let pte = load<u64>(host);
    if ((pte & 1) == 0 || ((pte & 2) == 0 && (pte & 4) != 0) || (pte >> 54) != 0) {
      raiseException(pageFaultCause(acc), va); return -1;
    }
    if ((pte & 0xa) == 0) { // pointer to the next level
      if (i == 0) { raiseException(pageFaultCause(acc), va); return -1; }
      a = ((pte >> 10) & 0xfffffffffff) << 12;
      continue;
    }
    // Leaf: permissions (§12.3.2 step 5).
    const u = (pte & 0x10) != 0;
    let ok: bool;
    if (acc == ACC_EXEC) ok = (pte & 8) != 0 && (p == 0 ? u : !u);
    else {
      if (p == 0 && !u) ok = false;
      else if (p == 1 && u && (ms & MSTATUS_SUM) == 0) ok = false;
      else if (acc == ACC_READ) ok = (pte & 2) != 0 || ((ms & MSTATUS_MXR) != 0 && (pte & 8) != 0);
      else ok = (pte & 4) != 0;
    }
    const ppn = (pte >> 10) & 0xfffffffffff;
    // A superpage's low PPN fields must be zero (step 6).
    if (i > 0 && (ppn & ((<u64>1 << (9 * <u64>i)) - 1)) != 0) ok = false;
    if (!ok) { raiseException(pageFaultCause(acc), va); return -1; }
    // Step 7: set A, and D on writes.
    const need: u64 = acc == ACC_WRITE ? 0xc0 : 0x40;
    if ((pte & need) != need) {
      if (!pmpAllows(pteAddr, 8, ACC_WRITE, 1)) { raiseException(accessFaultCause(acc), va); return -1; }
      pte |= need;
      store<u64>(host, pte);
    }
    const offMask: u64 = (<u64>1 << (12 + 9 * <u64>i)) - 1;
    return ((ppn << 12) & ~offMask) | (va & offMask);
  }
  raiseException(pageFaultCause(acc), va);
  return -1;
}

/** Fills the TLB entry for `va`'s page after a successful translate() to `pa`. */
export function tlbFill(base: usize, va: u64, pa: u64, key: u64): void {
  if (!cacheable) return;
  const e = tlbEntry(base, va);
  const vpage = va & PAGE_MASK;
  const ppage = pa & PAGE_MASK;
  const host = ramHost(ppage, 4096);
  store<u64>(e, vpage | key | (host == 0 ? TAG_MMIO : 0));
  store<u64>(e, <u64>host - vpage, 8);
  store<u64>(e, ppage - vpage, 16);
}

export { TLB_FETCH, TLB_LOAD, TLB_STORE };
