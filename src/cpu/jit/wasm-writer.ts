/**
 * A minimal WebAssembly binary writer: just what the block translator emits (WebAssembly core
 * spec §5, binary format). Code is built as a flat byte list with typed helpers per opcode.
 */
import { concatBytes } from '../../core/concat-bytes.js';

export const I32 = 0x7f;
export const I64 = 0x7e;
export const BLOCK_VOID = 0x40;

/** Opcodes used by the translator (core spec §5.4). */
export const Op = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, brIf: 0x0d, return: 0x0f, call: 0x10,
  drop: 0x1a, select: 0x1b,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Load: 0x28, i64Load: 0x29, i64Load8S: 0x30, i64Load8U: 0x31, i64Load16S: 0x32, i64Load16U: 0x33,
  i64Load32S: 0x34, i64Load32U: 0x35, i32Store: 0x36, i64Store: 0x37, i64Store8: 0x3c, i64Store16: 0x3d,
  i64Store32: 0x3e,
  i32Const: 0x41, i64Const: 0x42,
  i32Eqz: 0x45, i32Eq: 0x46, i32Ne: 0x47, i32LtS: 0x48, i32GtS: 0x4a, i32GeS: 0x4e,
  i64Eqz: 0x50, i64Eq: 0x51, i64Ne: 0x52, i64LtS: 0x53, i64LtU: 0x54, i64GtS: 0x55, i64GtU: 0x56,
  i64LeS: 0x57, i64LeU: 0x58, i64GeS: 0x59, i64GeU: 0x5a,
  i32Clz: 0x67, i32Ctz: 0x68, i32Popcnt: 0x69, i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32DivS: 0x6d,
  i32DivU: 0x6e, i32RemS: 0x6f, i32RemU: 0x70, i32And: 0x71, i32Or: 0x72, i32Shl: 0x74, i32ShrS: 0x75,
  i32ShrU: 0x76, i32Rotl: 0x77, i32Rotr: 0x78,
  i64Clz: 0x79, i64Ctz: 0x7a, i64Popcnt: 0x7b, i64Add: 0x7c, i64Sub: 0x7d, i64Mul: 0x7e, i64DivS: 0x7f,
  i64DivU: 0x80, i64RemS: 0x81, i64RemU: 0x82, i64And: 0x83, i64Or: 0x84, i64Xor: 0x85, i64Shl: 0x86,
  i64ShrS: 0x87, i64ShrU: 0x88, i64Rotl: 0x89, i64Rotr: 0x8a,
  i32WrapI64: 0xa7, i64ExtendI32S: 0xac, i64ExtendI32U: 0xad, i64Extend8S: 0xc2, i64Extend16S: 0xc3,
  i64Extend32S: 0xc4,
} as const;

export function uleb(out: number[], v: number): void {
  if (v < 0x80) {
    out.push(v); // the common case: small indices and offsets
    return;
  }
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

/** Signed LEB128 of a 32-bit integer, in number arithmetic (BigInt made this a hot spot). */
export function sleb32(out: number[], v: number): void {
  v |= 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return;
  }
}

export function sleb(out: number[], v: bigint): void {
  if (v >= -0x8000_0000n && v <= 0x7fff_ffffn) {
    sleb32(out, Number(v));
    return;
  }
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return;
  }
}

/** Function body under construction. */
export class Code {
  readonly bytes: number[] = [];
  /** Nesting depth of structured control (block/loop/if), for computing branch depths. */
  level = 0;
  /** Opens a block, loop or if. */
  enter(o: number, type: number = BLOCK_VOID): this { this.bytes.push(o, type); this.level++; return this; }
  end(): this { this.bytes.push(Op.end); this.level--; return this; }
  brTable(targets: number[], fallback: number): this {
    this.bytes.push(0x0e);
    uleb(this.bytes, targets.length);
    for (const t of targets) uleb(this.bytes, t);
    uleb(this.bytes, fallback);
    return this;
  }
  op(o: number): this { this.bytes.push(o); return this; }
  get(local: number): this { this.bytes.push(Op.localGet); uleb(this.bytes, local); return this; }
  set(local: number): this { this.bytes.push(Op.localSet); uleb(this.bytes, local); return this; }
  tee(local: number): this { this.bytes.push(Op.localTee); uleb(this.bytes, local); return this; }
  i32(v: number): this { this.bytes.push(Op.i32Const); sleb32(this.bytes, v); return this; }
  i64(v: bigint): this { this.bytes.push(Op.i64Const); sleb(this.bytes, BigInt.asIntN(64, v)); return this; }
  /** A load or store with natural alignment hint `align` (log2) and a constant offset. */
  mem(o: number, align: number, offset: number): this {
    this.bytes.push(o);
    uleb(this.bytes, align);
    uleb(this.bytes, offset);
    return this;
  }
  call(fn: number): this { this.bytes.push(Op.call); uleb(this.bytes, fn); return this; }
  /** return_call (tail-call proposal, in V8 since 11.2 and every current browser). */
  returnCall(fn: number): this {
    this.bytes.push(0x12);
    uleb(this.bytes, fn);
    return this;
  }
  /** return_call_indirect (tail-call proposal, in V8 since 11.2 and every current browser). */
  returnCallIndirect(type: number, table: number): this {
    this.bytes.push(0x13);
    uleb(this.bytes, type);
    uleb(this.bytes, table);
    return this;
  }
  br(o: number, depth: number): this { this.bytes.push(o); uleb(this.bytes, depth); return this; }
}

export interface FuncType { params: number[]; results: number[] }
export interface FuncImport { module: string; name: string; type: number }

/** Appends `src` to `dst` without spreading (spread pushes of large code arrays were a measured
 *  hot spot of translation). */
function append(dst: number[], src: readonly number[]): void {
  for (let i = 0; i < src.length; i++) dst.push(src[i]!);
}
function vec(out: number[], items: number[][]): void {
  uleb(out, items.length);
  for (const it of items) append(out, it);
}
function str(s: string): number[] {
  const out: number[] = [];
  uleb(out, s.length); // names here are ASCII
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
  return out;
}
function section(out: number[], id: number, body: number[]): void {
  out.push(id);
  uleb(out, body.length);
  append(out, body);
}

/**
 * Assembles a module that imports `imports`, `memory` (env.memory) and, when `importTable`, the
 * function table (env.table), and exports each function of `funcs` as "f0", "f1", ….
 * Function bodies, the bulk of the bytes, are copied once with native copies (pushing them byte
 * by byte through JS arrays was a measured hot spot of a Linux boot).
 */
export function assembleModule(
  types: FuncType[],
  imports: FuncImport[],
  funcs: { type: number; locals: number[]; code: Code }[],
  importTable = true,
): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const typeSec: number[] = [];
  vec(typeSec, types.map((t) => {
    const e = [0x60];
    uleb(e, t.params.length); append(e, t.params);
    uleb(e, t.results.length); append(e, t.results);
    return e;
  }));
  section(out, 1, typeSec);
  const importSec: number[] = [];
  const items = imports.map((im) => { const e = [...str(im.module), ...str(im.name), 0x00]; uleb(e, im.type); return e; });
  items.push([...str('env'), ...str('memory'), 0x02, 0x00, 0x00]); // memory, limits min 0
  if (importTable) items.push([...str('env'), ...str('table'), 0x01, 0x70, 0x00, 0x00]); // funcref table, min 0
  vec(importSec, items);
  section(out, 2, importSec);
  const funcSec: number[] = [];
  vec(funcSec, funcs.map((f) => { const e: number[] = []; uleb(e, f.type); return e; }));
  section(out, 3, funcSec);
  const exportSec: number[] = [];
  vec(exportSec, funcs.map((_, i) => { const e = [...str(`f${i}`), 0x00]; uleb(e, imports.length + i); return e; }));
  section(out, 7, exportSec);
  // Code section: [count] then per function [size][locals][body][end].
  const bodies: Uint8Array[] = [];
  let codeSize = 0;
  const count: number[] = [];
  uleb(count, funcs.length);
  bodies.push(Uint8Array.from(count));
  codeSize += count.length;
  for (const f of funcs) {
    // Locals compressed as runs of the same type.
    const runs: [number, number][] = [];
    for (const t of f.locals) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    const head: number[] = [];
    uleb(head, runs.length);
    for (const [n, t] of runs) { uleb(head, n); head.push(t); }
    const size: number[] = [];
    uleb(size, head.length + f.code.bytes.length + 1);
    bodies.push(Uint8Array.from(size), Uint8Array.from(head), Uint8Array.from(f.code.bytes), Uint8Array.of(Op.end));
    codeSize += size.length + head.length + f.code.bytes.length + 1;
  }
  out.push(10);
  uleb(out, codeSize);
  return concatBytes([Uint8Array.from(out), ...bodies]);
}
