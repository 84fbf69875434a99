// The CPU core's wasm exports. The host (../hart.ts) owns the memory and reads/writes state at
// the offsets of ../layout.ts; these functions are the only behaviour it calls.
import {
  STATE_BASE, STATE_SIZE, S_RAM_SIZE, S_RAM_PADDR, S_MHARTID, S_MISA, S_PRIV, S_RES_ADDR, S_MTIMECMP,
  S_STIMECMP, DCACHE_BASE, DCACHE_ENTRIES, CODEMAP_BASE, CODEMAP_SIZE, JITMAP_BASE, JITMAP_ENTRIES, HOT_BASE,
  HOT_ENTRIES,
} from "../layout";
import { MISA_RV64GC, updateTimers } from "./csr";
import { flushTlb, updateModeKeys } from "./mmu";
import { invalidateRam } from "./memory";
import { loadHot } from "./state";
import { pmpRecompute } from "./pmp";

export { run } from "./interpreter";
export { jitRead, jitWrite } from "./memory";
export { mulh, mulhsu, mulhu, clmul, clmulh, clmulr, rev8, orcb } from "./int-math";
export { decodeForJit } from "./interpreter";
export { jitFp } from "./execute-fp";
export { jitAtomic } from "./execute-atomic";

/** Puts the hart in its reset state (privileged spec §3.4): M-mode, everything zero but misa. */
export function reset(ramPaddr: u64, ramSize: u64, hartId: u64): void {
  memory.fill(STATE_BASE, 0, STATE_SIZE);
  store<u64>(S_RAM_PADDR, ramPaddr);
  store<u64>(S_RAM_SIZE, ramSize);
  store<u64>(S_MHARTID, hartId);
  store<u64>(S_MISA, MISA_RV64GC);
  store<i32>(S_PRIV, 3);
  store<u64>(S_RES_ADDR, -1);
  store<u64>(S_MTIMECMP, -1);
  invalidateAllCode();
  resync();
}

/** Call after the host changed state in memory (restore, satp/PMP edits): drops cached
 *  translations and decoded code and recomputes derived values. */
export function resync(): void {
  loadHot();
  pmpRecompute();
  flushTlb();
  updateModeKeys();
  updateTimers();
}

/** The host wrote guest RAM [offset, offset + len): forget instructions decoded from it. */
export function invalidateCode(offset: u64, len: u64): void { invalidateRam(offset, len); }

/** Drops every decoded instruction (e.g. after restoring a snapshot). */
export function invalidateAllCode(): void {
  memory.fill(DCACHE_BASE, 0, DCACHE_ENTRIES * 16);
  memory.fill(CODEMAP_BASE, 0, CODEMAP_SIZE);
  memory.fill(JITMAP_BASE, 0, JITMAP_ENTRIES * 16);
  memory.fill(HOT_BASE, 0, HOT_ENTRIES * 8);
  flushTlb();
}
