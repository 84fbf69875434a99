// Physical memory protection, privileged ISA manual §3.7: 16 entries, granularity 4 bytes
// (G = 0), checked in priority order; a matching entry applies to S and U always and to M when
// locked. As in QEMU's virt CPU, when no entry matches an S- or U-mode access it fails, and an
// access that matches an entry only partly fails too.
import { S_PMPADDR, S_PMPCFG } from "../layout";

const PMP_R: u32 = 1;
const PMP_W: u32 = 2;
const PMP_X: u32 = 4;
const PMP_L: u32 = 0x80;
export const PMP_COUNT = 16;

// @ts-ignore: decorator
@inline function cfgOf(i: i32): u32 { return load<u8>(S_PMPCFG + i); }
// @ts-ignore: decorator
@inline function addrOf(i: i32): u64 { return load<u64>(S_PMPADDR + (i << 3)); }

let rangeLo: u64 = 0;
let rangeHi: u64 = 0; // exclusive

/** Computes entry i's byte range into rangeLo/rangeHi; false when the entry is off. */
function entryRange(i: i32): bool {
  const cfg = cfgOf(i);
  const a = (cfg >> 3) & 3;
  if (a == 0) return false;
  const addr = addrOf(i);
  if (a == 1) { // TOR
    rangeLo = i == 0 ? 0 : addrOf(i - 1) << 2;
    rangeHi = addr << 2;
  } else if (a == 2) { // NA4
    rangeLo = addr << 2;
    rangeHi = rangeLo + 4;
  } else { // NAPOT: trailing ones in pmpaddr give the size
    const ones = ctz<u64>(~addr);
    const size: u64 = ones >= 62 ? 0 : (<u64>8) << ones;
    rangeLo = (addr & ~(((<u64>1) << ones) - 1)) << 2;
    rangeHi = size == 0 ? 0xffffffffffffffff : rangeLo + size;
  }
  return true;
}

/** Whether any entry is active (A != OFF); kept current by pmpRecompute(). */
let anyActive: bool = false;

export function pmpAnyActive(): bool { return anyActive; }

/** Call after pmpcfg changes (CSR write, state restore). */
export function pmpRecompute(): void {
  anyActive = false;
  for (let i = 0; i < PMP_COUNT; i++) if ((cfgOf(i) >> 3) & 3) anyActive = true;
}

/** acc: 0 read, 1 write, 2 execute. */
export function pmpAllows(pa: u64, size: u64, acc: i32, p: i32): bool {
  if (!anyActive) return p == 3;
  const end = pa + size;
  for (let i = 0; i < PMP_COUNT; i++) {
    if (!entryRange(i)) continue;
    if (rangeHi <= rangeLo) continue;
    const inside = pa >= rangeLo && end <= rangeHi;
    const overlaps = pa < rangeHi && end > rangeLo;
    if (!inside) {
      if (overlaps) return false;
      continue;
    }
    const cfg = cfgOf(i);
    if (p == 3 && (cfg & PMP_L) == 0) return true;
    const need = acc == 0 ? PMP_R : acc == 1 ? PMP_W : PMP_X;
    return (cfg & need) != 0;
  }
  return p == 3;
}

/** True when every byte of the 4 KiB page at `page` gets the same PMP decision, so a
 *  translation for it may be cached in the TLB. */
export function pmpPageUniform(page: u64): bool {
  if (!anyActive) return true;
  const end = page + 4096;
  for (let i = 0; i < PMP_COUNT; i++) {
    if (!entryRange(i)) continue;
    if (rangeHi <= rangeLo) continue;
    if (page >= rangeLo && end <= rangeHi) return true; // first match covers the page
    if (page < rangeHi && end > rangeLo) return false; // boundary inside the page
  }
  return true;
}

/** Whether a write to pmpcfg entry i / pmpaddr i is ignored because of a lock (§3.7.1). */
export function pmpCfgLocked(i: i32): bool { return (cfgOf(i) & PMP_L) != 0; }
export function pmpAddrLocked(i: i32): bool {
  if (pmpCfgLocked(i)) return true;
  // A locked TOR entry also locks the address below it.
  if (i + 1 < PMP_COUNT) {
    const next = cfgOf(i + 1);
    if ((next & PMP_L) != 0 && ((next >> 3) & 3) == 1) return true;
  }
  return false;
}
