// A extension: LR/SC and AMOs (unprivileged ISA manual chapter 8). One hart, so every AMO is
// trivially atomic. Like QEMU, the reservation is the virtual address and the value LR read; SC
// succeeds when both still match (so a plain store of a different value in between fails it).
import * as O from "./ops";
import { S_RES_ADDR, S_RES_VALUE } from "../layout";
import { getX, setX } from "./state";
import { atomicHost, jitBegin, jitReport } from "./memory";
import { ACC_READ, ACC_WRITE } from "./mmu";
import { trapped } from "./trap";

export function execAtomic(op: i32, rd: u32, rs1: u32, rs2: u32): void {
  const va = getX(rs1);
  const word = op <= O.OP_AMOMAXU_W;
  const size: u64 = word ? 4 : 8;
  const k = op - (word ? O.OP_LR_W : O.OP_LR_D);
  if (k == 0) { // lr
    const h = atomicHost(va, size, ACC_READ);
    if (trapped) return;
    const v = word ? <u64><i64>load<i32>(h) : load<u64>(h);
    store<u64>(S_RES_ADDR, va);
    store<u64>(S_RES_VALUE, v);
    setX(rd, v);
    return;
  }
  if (k == 1) { // sc
    const matched = load<u64>(S_RES_ADDR) == va;
    store<u64>(S_RES_ADDR, -1);
    if (!matched) { setX(rd, 1); return; }
    const h = atomicHost(va, size, ACC_WRITE);
    if (trapped) return;
    const cur = word ? <u64><i64>load<i32>(h) : load<u64>(h);
    if (cur != load<u64>(S_RES_VALUE)) { setX(rd, 1); return; }
    if (word) store<u32>(h, <u32>getX(rs2)); else store<u64>(h, getX(rs2));
    setX(rd, 0);
    return;
  }
  const h = atomicHost(va, size, ACC_WRITE);
  if (trapped) return;
  const old = word ? <u64><i64>load<i32>(h) : load<u64>(h);
  let src = getX(rs2);
  if (word) src = <u64><i64><i32>src;
  let r: u64;
  switch (k) {
    case 2: r = src; break; // swap
    case 3: r = old + src; break; // add
    case 4: r = old ^ src; break; // xor
    case 5: r = old & src; break; // and
    case 6: r = old | src; break; // or
    case 7: r = <i64>old < <i64>src ? old : src; break; // min
    case 8: r = <i64>old > <i64>src ? old : src; break; // max
    case 9: r = word ? (<u32>old < <u32>src ? old : src) : (old < src ? old : src); break; // minu
    default: r = word ? (<u32>old > <u32>src ? old : src) : (old > src ? old : src); break; // maxu
  }
  if (word) store<u32>(h, <u32>r); else store<u64>(h, r);
  setX(rd, old);
}

/** Runs one A-extension instruction for translated code (src/cpu/jit). Integer registers must be
 *  in memory; outcomes are reported as memory.ts's jitReport describes. */
export function jitAtomic(op: i32, rd: u32, rs1: u32, rs2: u32, pcNow: u64): void {
  jitBegin(pcNow);
  execAtomic(op, rd, rs1, rs2);
  jitReport();
}
