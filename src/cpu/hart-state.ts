/**
 * A hart's architectural state as plain data (DESIGN.md, "State is data"): keyed by name, 64-bit
 * values as `0x`-prefixed hex strings so it survives JSON, versioned, and validated strictly on
 * restore because a snapshot file is untrusted input.
 */
import * as L from './layout.js';

export const HART_STATE_VERSION = 1;

/** 64-bit slots saved by name. Order is irrelevant; names are the contract. */
const SLOTS: Readonly<Record<string, number>> = {
  pc: L.S_PC, mstatus: L.S_MSTATUS, misa: L.S_MISA, medeleg: L.S_MEDELEG, mideleg: L.S_MIDELEG,
  mie: L.S_MIE, mip: L.S_MIP, mipLines: L.S_MIP_HW, mtvec: L.S_MTVEC, mscratch: L.S_MSCRATCH, mepc: L.S_MEPC,
  mcause: L.S_MCAUSE, mtval: L.S_MTVAL, mcounteren: L.S_MCOUNTEREN, menvcfg: L.S_MENVCFG, stvec: L.S_STVEC,
  sscratch: L.S_SSCRATCH, sepc: L.S_SEPC, scause: L.S_SCAUSE, stval: L.S_STVAL, scounteren: L.S_SCOUNTEREN,
  senvcfg: L.S_SENVCFG, satp: L.S_SATP, fcsr: L.S_FCSR, mcycle: L.S_MCYCLE, minstret: L.S_MINSTRET,
  stimecmp: L.S_STIMECMP, mtimecmp: L.S_MTIMECMP, reservation: L.S_RES_ADDR, reservationValue: L.S_RES_VALUE,
  mcountinhibit: L.S_MCOUNTINHIBIT, mhartid: L.S_MHARTID, ramBase: L.S_RAM_PADDR, ramSize: L.S_RAM_SIZE,
};

export interface HartState {
  version: number;
  privilege: 0 | 1 | 3;
  flags: number;
  /** x0..x31 (x0 always "0x0"). */
  x: string[];
  /** f0..f31 raw bit patterns. */
  f: string[];
  /** Named 64-bit registers (see SLOTS). */
  regs: Record<string, string>;
  pmpcfg: number[];
  pmpaddr: string[];
}

const hex = (v: bigint): string => '0x' + v.toString(16);

export function captureHartState(view: DataView): HartState {
  const regs: Record<string, string> = {};
  for (const [name, off] of Object.entries(SLOTS)) regs[name] = hex(view.getBigUint64(off, true));
  const read = (base: number, n: number) => Array.from({ length: n }, (_, i) => hex(view.getBigUint64(base + i * 8, true)));
  return {
    version: HART_STATE_VERSION,
    privilege: view.getInt32(L.S_PRIV, true) as 0 | 1 | 3,
    flags: view.getInt32(L.S_FLAGS, true),
    x: read(L.X_REGS, 32),
    f: read(L.F_REGS, 32),
    regs,
    pmpcfg: Array.from({ length: 16 }, (_, i) => view.getUint8(L.S_PMPCFG + i)),
    pmpaddr: read(L.S_PMPADDR, 16),
  };
}

function parseU64(where: string, v: unknown): bigint {
  if (typeof v !== 'string' || !/^0x[0-9a-f]{1,16}$/i.test(v)) {
    throw new TypeError(`hart state: ${where} must be a 0x-prefixed hex string of at most 64 bits, got ${JSON.stringify(v)}`);
  }
  return BigInt(v);
}

function hexArray(where: string, v: unknown, n: number): bigint[] {
  if (!Array.isArray(v) || v.length !== n) throw new TypeError(`hart state: ${where} must be an array of ${n} hex strings`);
  return v.map((e, i) => parseU64(`${where}[${i}]`, e));
}

/** Validates `s` completely before writing anything, so a bad snapshot changes nothing. */
export function applyHartState(view: DataView, s: HartState): void {
  if (typeof s !== 'object' || s === null) throw new TypeError('hart state: expected an object');
  if (s.version !== HART_STATE_VERSION) {
    throw new TypeError(`hart state: version ${String(s.version)} is not supported (expected ${HART_STATE_VERSION})`);
  }
  if (s.privilege !== 0 && s.privilege !== 1 && s.privilege !== 3) throw new TypeError('hart state: privilege must be 0, 1 or 3');
  if (!Number.isInteger(s.flags) || s.flags < 0 || s.flags > 0xffff) throw new TypeError('hart state: flags out of range');
  const x = hexArray('x', s.x, 32);
  const f = hexArray('f', s.f, 32);
  const pmpaddr = hexArray('pmpaddr', s.pmpaddr, 16);
  if (!Array.isArray(s.pmpcfg) || s.pmpcfg.length !== 16 || !s.pmpcfg.every((b) => Number.isInteger(b) && b >= 0 && b <= 0xff)) {
    throw new TypeError('hart state: pmpcfg must be 16 bytes');
  }
  if (typeof s.regs !== 'object' || s.regs === null) throw new TypeError('hart state: regs must be an object');
  const regs = new Map<number, bigint>();
  for (const [name, off] of Object.entries(SLOTS)) regs.set(off, parseU64(`regs.${name}`, s.regs[name]));
  for (const name of Object.keys(s.regs)) if (!(name in SLOTS)) throw new TypeError(`hart state: unknown register ${name}`);
  if (regs.get(L.S_RAM_SIZE) !== view.getBigUint64(L.S_RAM_SIZE, true) || regs.get(L.S_RAM_PADDR) !== view.getBigUint64(L.S_RAM_PADDR, true)) {
    throw new TypeError('hart state: RAM base/size differ from this machine');
  }
  view.setInt32(L.S_PRIV, s.privilege, true);
  view.setInt32(L.S_FLAGS, s.flags, true);
  x.forEach((v, i) => view.setBigUint64(L.X_REGS + i * 8, i === 0 ? 0n : v, true));
  f.forEach((v, i) => view.setBigUint64(L.F_REGS + i * 8, v, true));
  pmpaddr.forEach((v, i) => view.setBigUint64(L.S_PMPADDR + i * 8, v, true));
  s.pmpcfg.forEach((b, i) => view.setUint8(L.S_PMPCFG + i, b));
  for (const [off, v] of regs) view.setBigUint64(off, v, true);
}
