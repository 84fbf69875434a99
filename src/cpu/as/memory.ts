// Guest memory accesses: the inline TLB fast paths the interpreter uses for RAM, the slow paths
// (translation, MMIO, page-crossing and misaligned accesses), instruction fetch, and keeping the
// decoded-instruction cache coherent with stores.
//
// Coherence: each RAM page has a CODEMAP mask of the 64-byte lines holding decoded instructions.
// Store-TLB entries of such pages carry TAG_CODE, so the fast store path misses and the slow path
// (which skips the walk) drops decoded instructions of the lines it writes. That makes fence.i a
// no-op and costs the fast store path nothing.
import {
  TLB_LOAD, TLB_STORE, TLB_FETCH, TLB_ENTRIES, CODEMAP_BASE, DCACHE_BASE, DCACHE_ENTRIES, RAM_OFFSET,
  S_MMIO_HI, S_MMIO_FAULT, S_STOP, S_RAM_SIZE, S_PC, S_JIT_EXIT, JITMAP_BASE, JITMAP_ENTRIES,
} from "../layout";
import { pc, setPc, CAUSE_MISALIGNED_LOAD, CAUSE_MISALIGNED_STORE } from "./state";
import {
  dataKey, fetchKey, translate, tlbFill, tlbEntry, ramHost, accessFaultCause, ACC_READ, ACC_WRITE, ACC_EXEC,
  TAG_MMIO, TAG_CODE, setFetchPage,
} from "./mmu";
import { raiseException, trapped, clearTrapped as clearTrappedFlag } from "./trap";

@external("env", "mmio_read") declare function mmioRead(pa: u32, width: i32): u32;
@external("env", "mmio_write") declare function mmioWrite(pa: u32, width: i32, lo: u32, hi: u32): void;

const PAGE_MASK: u64 = ~(<u64>0xfff);

/** Set after any MMIO access: the interpreter then re-checks interrupts and S_STOP. */
export let ioEvent: bool = false;
// @ts-ignore: decorator
@inline export function clearIoEvent(): void { ioEvent = false; }

// ---- fast paths (inlined into the interpreter) ----

// @ts-ignore: decorator
@inline export function read<T>(va: u64, pcNow: u64): u64 {
  const e = tlbEntry(TLB_LOAD, va);
  if (load<u64>(e) == ((va & PAGE_MASK) | dataKey) && (va & 0xfff) <= <u64>(4096 - sizeof<T>())) {
    return <u64>load<T>(<usize>(va + load<u64>(e, 8)));
  }
  setPc(pcNow); // the slow path may trap, and traps record pc
  return readSlow(va, sizeof<T>());
}

// @ts-ignore: decorator
@inline export function write<T>(va: u64, v: u64, pcNow: u64): void {
  const e = tlbEntry(TLB_STORE, va);
  if (load<u64>(e) == ((va & PAGE_MASK) | dataKey) && (va & 0xfff) <= <u64>(4096 - sizeof<T>())) {
    store<T>(<usize>(va + load<u64>(e, 8)), <T>v);
    return;
  }
  setPc(pcNow);
  writeSlow(va, sizeof<T>(), v);
}

// ---- slow paths ----

/** Physical address for a data access (TLB, or walk and fill), or -1 after raising a fault. */
function resolve(va: u64, acc: i32, size: u64): u64 {
  const base = acc == ACC_WRITE ? TLB_STORE : TLB_LOAD;
  const e = tlbEntry(base, va);
  const tag = load<u64>(e);
  if ((tag & ~(TAG_MMIO | TAG_CODE)) == ((va & PAGE_MASK) | dataKey)) return va + load<u64>(e, 16);
  const pa = translate(va, acc, size);
  if (trapped) return -1;
  tlbFill(base, va, pa, acc == ACC_WRITE && pageHasCode(pa) ? dataKey | TAG_CODE : dataKey);
  return pa;
}

// @ts-ignore: decorator
@inline function codeMaskAddr(h: usize): usize { return CODEMAP_BASE + (((h - RAM_OFFSET) >> 12) << 3); }

function pageHasCode(pa: u64): bool {
  const h = ramHost(pa & PAGE_MASK, 4096);
  return h != 0 && load<u64>(codeMaskAddr(h)) != 0;
}

/** Drops decoded instructions overlapping RAM bytes [h, h + size) (one page) if there are any. */
// @ts-ignore: decorator
@inline function codeWritten(h: usize, size: u64): void {
  const m = load<u64>(codeMaskAddr(h));
  if (m != 0) {
    const first = (h & 0xfff) >> 6;
    const last = ((h + <usize>size - 1) & 0xfff) >> 6;
    const lines = ((<u64>2 << <u64>(last - first)) - 1) << <u64>first;
    if ((m & lines) != 0) invalidateLines(h & ~0xfff, m & lines);
  }
}

export function readSlow(va: u64, size: u64): u64 {
  if ((va & 0xfff) + size > 4096) {
    // Crosses a page: byte by byte, little-endian.
    let v: u64 = 0;
    for (let i: u64 = 0; i < size; i++) {
      const b = readSlow(va + i, 1);
      if (trapped) return 0;
      v |= b << (i << 3);
    }
    return v;
  }
  const pa = resolve(va, ACC_READ, size);
  if (trapped) return 0;
  const h = ramHost(pa, size);
  if (h != 0) {
    if (size == 8) return load<u64>(h);
    if (size == 4) return <u64>load<u32>(h);
    if (size == 2) return <u64>load<u16>(h);
    return <u64>load<u8>(h);
  }
  return mmioLoad(va, pa, size, ACC_READ);
}

function mmioLoad(va: u64, pa: u64, size: u64, acc: i32): u64 {
  if ((pa >> 32) != 0) { raiseException(accessFaultCause(acc), va); return 0; }
  store<i32>(S_MMIO_FAULT, 0);
  store<u32>(S_MMIO_HI, 0);
  const lo = mmioRead(<u32>pa, <i32>size);
  ioEvent = true;
  if (load<i32>(S_MMIO_FAULT) != 0) { raiseException(accessFaultCause(acc), va); return 0; }
  return (<u64>lo) | (size == 8 ? (<u64>load<u32>(S_MMIO_HI)) << 32 : 0);
}

export function writeSlow(va: u64, size: u64, v: u64): void {
  if ((va & 0xfff) + size > 4096) {
    // Crosses a page: check both pages first so a fault leaves memory untouched.
    const second = (va + size - 1) & PAGE_MASK;
    resolve(va, ACC_WRITE, 1);
    if (trapped) return;
    resolve(second, ACC_WRITE, 1);
    if (trapped) return;
    for (let i: u64 = 0; i < size; i++) {
      writeSlow(va + i, 1, v >> (i << 3));
      if (trapped) return;
    }
    return;
  }
  const pa = resolve(va, ACC_WRITE, size);
  if (trapped) return;
  const h = ramHost(pa, size);
  if (h != 0) {
    if (size == 8) store<u64>(h, v);
    else if (size == 4) store<u32>(h, <u32>v);
    else if (size == 2) store<u16>(h, <u16>v);
    else store<u8>(h, <u8>v);
    codeWritten(h, size);
    return;
  }
  if ((pa >> 32) != 0) { raiseException(accessFaultCause(ACC_WRITE), va); return; }
  store<i32>(S_MMIO_FAULT, 0);
  mmioWrite(<u32>pa, <i32>size, <u32>v, <u32>(v >> 32));
  ioEvent = true;
  if (load<i32>(S_MMIO_FAULT) != 0) raiseException(accessFaultCause(ACC_WRITE), va);
}

/** Physical RAM wasm address for an atomic access (AMO/LR/SC), or 0 after raising a fault.
 *  Atomics must be naturally aligned (misaligned: cause 4 for LR, 6 otherwise) and are only
 *  supported on RAM (elsewhere: access fault). */
export function atomicHost(va: u64, size: u64, acc: i32): usize {
  if ((va & (size - 1)) != 0) {
    raiseException(acc == ACC_READ ? CAUSE_MISALIGNED_LOAD : CAUSE_MISALIGNED_STORE, va);
    return 0;
  }
  const pa = resolve(va, acc, size);
  if (trapped) return 0;
  const h = ramHost(pa, size);
  if (h == 0) { raiseException(accessFaultCause(acc), va); return 0; } // LR: load fault (5); SC/AMO: 7
  if (acc == ACC_WRITE) codeWritten(h, size);
  return h;
}

// ---- instruction fetch ----

/** Translates pc's page for fetching; sets the interpreter's fetch page. Returns the wasm
 *  address of the instruction at va, or 0 after raising a fault. */
export function fetchSlow(va: u64): usize {
  const e = tlbEntry(TLB_FETCH, va);
  let pa: u64;
  if (load<u64>(e) == ((va & PAGE_MASK) | fetchKey)) {
    pa = va + load<u64>(e, 16);
  } else {
    pa = translate(va, ACC_EXEC, 2);
    if (trapped) return 0;
    tlbFill(TLB_FETCH, va, pa, fetchKey);
  }
  const h = ramHost(pa, 2);
  if (h == 0) { raiseException(accessFaultCause(ACC_EXEC), va); return 0; }
  if (load<u64>(e) == ((va & PAGE_MASK) | fetchKey)) setFetchPage(va & PAGE_MASK, <u64>(h & ~0xfff));
  return h;
}

/** Records that the decode cache holds an instruction at wasm address h of `len` bytes. */
export function markCode(h: usize, len: usize): void {
  const a = codeMaskAddr(h);
  const m = load<u64>(a);
  const bits = ((<u64>1) << <u64>((h & 0xfff) >> 6)) | ((<u64>1) << <u64>(((h + len - 1) & 0xfff) >> 6));
  if ((m & bits) == bits) return;
  store<u64>(a, m | bits);
  // Store-TLB entries of this page lack TAG_CODE; drop them so stores take the checking path.
  if (m == 0) memory.fill(TLB_STORE, 0xff, TLB_ENTRIES * 32);
}

/** Drops decoded instructions in the 64-byte lines of `mask` of the page at wasm address `page`. */
function invalidateLines(page: usize, mask: u64): void {
  let m = mask;
  while (m != 0) {
    const line = <usize>ctz<u64>(m);
    m &= m - 1;
    // From 2 bytes before the line: an instruction starting there may reach into it.
    const start = page + (line << 6);
    for (let a = start > page ? start - 2 : start; a < start + 64; a += 2) {
      const e = DCACHE_BASE + (((a >> 1) & (DCACHE_ENTRIES - 1)) << 4);
      if (load<u32>(e) == (<u32>a | 1)) store<u32>(e, 0);
    }
  }
  const ca = codeMaskAddr(page);
  store<u64>(ca, load<u64>(ca) & ~mask);
  dropTranslations(page);
}

/** Set when decoded or translated code was dropped; translated code must then stop. */
export let codeChanged: bool = false;
// @ts-ignore: decorator
@inline export function clearCodeChanged(): void { codeChanged = false; }

/** Forgets translated blocks that start in the page at wasm address `page` (a block never
 *  leaves its page). The map is indexed by (address >> 1) mod entries, so the page's blocks
 *  can only sit in the 2048 consecutive entries from (page >> 1) on. */
function dropTranslations(page: usize): void {
  codeChanged = true;
  const first = page >> 1;
  for (let i: usize = 0; i < 2048; i++) {
    const je = JITMAP_BASE + (((first + i) & (<usize>JITMAP_ENTRIES - 1)) << 4);
    if ((load<u32>(je, 8) & ~0xfff) == <u32>page) store<u32>(je, 0, 8);
  }
}

// ---- helpers for translated code (src/cpu/jit): slow paths with exits reported in memory ----

/** Starts a helper call from translated code at pcNow (traps record pc). */
export function jitBegin(pcNow: u64): void {
  setPc(pcNow);
  clearCodeChanged();
}

/** Ends a helper call from translated code: a trap leaves the handler in S_PC and
 *  S_JIT_EXIT = 2 (returns true); MMIO or a write to code sets S_JIT_EXIT = 1 so the
 *  translated function stops and the interpreter sees the event. */
export function jitReport(): bool {
  if (trapped) { clearTrappedFlag(); store<u64>(S_PC, pc); store<i32>(S_JIT_EXIT, 2); return true; }
  if (ioEvent || codeChanged) store<i32>(S_JIT_EXIT, 1);
  return false;
}

/** Load slow path for translated code. */
export function jitRead(va: u64, size: i32, pcNow: u64): u64 {
  jitBegin(pcNow);
  const v = readSlow(va, <u64>size);
  return jitReport() ? 0 : v;
}

/** Store slow path for translated code (a store that hits code also ends the function). */
export function jitWrite(va: u64, size: i32, v: u64, pcNow: u64): void {
  jitBegin(pcNow);
  writeSlow(va, <u64>size, v);
  jitReport();
}

/** After the host wrote guest RAM [offset, offset+len) (DMA, loaders). */
export function invalidateRam(offset: u64, len: u64): void {
  const size = load<u64>(S_RAM_SIZE);
  if (offset >= size) return;
  const end = offset + len > size ? size : offset + len;
  for (let p = offset & PAGE_MASK; p < end; p += 4096) {
    const h = <usize>(p + RAM_OFFSET);
    const m = load<u64>(codeMaskAddr(h));
    if (m != 0) invalidateLines(h, m);
  }
}

/** The bits of the instruction at pc whose decoded entry is `e`, for xtval on illegal-instruction
 *  traps; re-read from memory because entries keep only decoded fields (slow, error path only). */
export function rawBits(e: usize): u32 {
  const lo = <u32>halfAt(pc);
  return load<u8>(e, 10) == 2 ? lo : lo | (<u32>halfAt(pc + 2) << 16);
}
function halfAt(va: u64): u16 {
  const h = fetchSlow(va);
  if (h == 0) { clearTrappedFlag(); return 0; }
  return load<u16>(h);
}

export function stopRequested(): bool { return load<i32>(S_STOP) != 0; }

export { pc };
