// Guest memory accesses: the inline TLB fast paths the interpreter uses for RAM, the slow paths
// (translation, MMIO, page-crossing and misaligned accesses), instruction fetch, and keeping the
// decoded-instruction cache coherent with stores.
//
// Coherence: a page whose instructions are in the decode cache has its CODEMAP byte set, and
// store-TLB entries are never filled for such pages, so every store to code takes the slow path,
// which drops the page's decoded entries. That makes fence.i a no-op and costs the fast store
// path nothing.
import {
  TLB_LOAD, TLB_STORE, TLB_FETCH, TLB_ENTRIES, CODEMAP_BASE, DCACHE_BASE, DCACHE_ENTRIES, RAM_OFFSET,
  S_MMIO_HI, S_MMIO_FAULT, S_STOP, S_RAM_SIZE,
} from "../layout";
import { pc, CAUSE_MISALIGNED_LOAD, CAUSE_MISALIGNED_STORE } from "./state";
import {
  dataKey, fetchKey, translate, tlbFill, tlbEntry, ramHost, accessFaultCause, ACC_READ, ACC_WRITE, ACC_EXEC,
  TAG_MMIO, setFetchPage,
} from "./mmu";
import { raiseException, trapped } from "./trap";

@external("env", "mmio_read") declare function mmioRead(pa: u32, width: i32): u32;
@external("env", "mmio_write") declare function mmioWrite(pa: u32, width: i32, lo: u32, hi: u32): void;

const PAGE_MASK: u64 = ~(<u64>0xfff);

/** Set after any MMIO access: the interpreter then re-checks interrupts and S_STOP. */
export let ioEvent: bool = false;
// @ts-ignore: decorator
@inline export function clearIoEvent(): void { ioEvent = false; }

// ---- fast paths (inlined into the interpreter) ----

// @ts-ignore: decorator
@inline export function read<T>(va: u64): u64 {
  const e = tlbEntry(TLB_LOAD, va);
  if (load<u64>(e) == ((va & PAGE_MASK) | dataKey) && (va & 0xfff) <= <u64>(4096 - sizeof<T>())) {
    return <u64>load<T>(<usize>(va + load<u64>(e, 8)));
  }
  return readSlow(va, sizeof<T>());
}

// @ts-ignore: decorator
@inline export function write<T>(va: u64, v: u64): void {
  const e = tlbEntry(TLB_STORE, va);
  if (load<u64>(e) == ((va & PAGE_MASK) | dataKey) && (va & 0xfff) <= <u64>(4096 - sizeof<T>())) {
    store<T>(<usize>(va + load<u64>(e, 8)), <T>v);
    return;
  }
  writeSlow(va, sizeof<T>(), v);
}

// ---- slow paths ----

/** Physical address for a data access (TLB, or walk and fill), or -1 after raising a fault. */
function resolve(va: u64, acc: i32, size: u64): u64 {
  const base = acc == ACC_WRITE ? TLB_STORE : TLB_LOAD;
  const e = tlbEntry(base, va);
  const tag = load<u64>(e);
  if ((tag & ~TAG_MMIO) == ((va & PAGE_MASK) | dataKey)) return va + load<u64>(e, 16);
  const pa = translate(va, acc, size);
  if (trapped) return -1;
  if (acc != ACC_WRITE || !pageHasCode(pa)) tlbFill(base, va, pa, dataKey);
  return pa;
}

function pageHasCode(pa: u64): bool {
  const h = ramHost(pa & PAGE_MASK, 4096);
  return h != 0 && load<u8>(CODEMAP_BASE + ((h - RAM_OFFSET) >> 12)) != 0;
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
    if (load<u8>(CODEMAP_BASE + ((h - RAM_OFFSET) >> 12)) != 0) invalidateCodePage(h & ~0xfff);
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
  if (h == 0) { raiseException(accessFaultCause(ACC_WRITE), va); return 0; }
  if (acc == ACC_WRITE && load<u8>(CODEMAP_BASE + ((h - RAM_OFFSET) >> 12)) != 0) invalidateCodePage(h & ~0xfff);
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

/** Marks the page holding wasm address `h` as holding decoded code. */
export function markCodePage(h: usize): void {
  const m = CODEMAP_BASE + ((h - RAM_OFFSET) >> 12);
  if (load<u8>(m) == 0) {
    store<u8>(m, 1);
    // Store-TLB entries may map this page; drop them so stores see the new flag.
    memory.fill(TLB_STORE, 0xff, TLB_ENTRIES * 32);
  }
}

/** Drops decoded instructions of the 4 KiB page at wasm address `page`. */
export function invalidateCodePage(page: usize): void {
  for (let off: usize = 0; off < 4096; off += 2) {
    const a = page + off;
    const e = DCACHE_BASE + (((a >> 1) & (DCACHE_ENTRIES - 1)) << 4);
    if (load<u32>(e) == (<u32>a | 1)) store<u32>(e, 0);
  }
  store<u8>(CODEMAP_BASE + ((page - RAM_OFFSET) >> 12), 0);
}

/** After the host wrote guest RAM [offset, offset+len) (DMA, loaders). */
export function invalidateRam(offset: u64, len: u64): void {
  const size = load<u64>(S_RAM_SIZE);
  if (offset >= size) return;
  const end = offset + len > size ? size : offset + len;
  for (let p = offset & PAGE_MASK; p < end; p += 4096) {
    const h = <usize>(p + RAM_OFFSET);
    if (load<u8>(CODEMAP_BASE + (<usize>p >> 12)) != 0) invalidateCodePage(h);
  }
}

export function stopRequested(): bool { return load<i32>(S_STOP) != 0; }

export { pc };
