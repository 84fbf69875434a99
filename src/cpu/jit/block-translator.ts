/**
 * Translates hot guest code into WebAssembly functions against the core's state layout
 * (../layout.ts), so hot code runs as V8-compiled machine code instead of through the
 * interpreter's dispatch.
 *
 * A translation unit is a region: the basic block where the interpreter found a hot entry and
 * every block reachable from it by static branches and fall-throughs inside the same 4 KiB page.
 * A basic block runs until a branch or jump (included), an instruction the translator does not
 * handle (excluded: the interpreter runs it), the page end, or 64 instructions. Inside a region
 * control moves through a loop/br_table dispatcher; guest registers live in wasm locals for the
 * function's life (loaded and written back as liveness() decides). RAM accesses use the same TLB fast path as
 * the interpreter and call the core's jitRead/jitWrite on a miss, which report traps and device
 * events through S_JIT_EXIT so the function ends precisely (the instruction that trapped has no
 * effect).
 *
 * The function's contract: f(budget, done) → done + instructions executed, with the next pc in
 * S_PC. When it leaves the region for a static target in its own page whose translation exists,
 * it tail-calls that translation (return_call_indirect through the core's table) while budget
 * remains.
 */
import * as L from '../layout.js';
import * as O from '../as/ops.js';
import { Code, Op, I32, I64, type FuncType, type FuncImport } from './wasm-writer.js';

/** Decoded fields of one instruction, as the core's decodeForJit leaves them. */
export interface DecodedInsn { op: number; rd: number; rs1: number; rs2: number; rs3: number; rm: number; imm: number; len: number }
export type DecodeAt = (wasmAddress: number) => DecodedInsn;

const MAX_BLOCK = 64; // instructions per basic block
export const JIT_TYPES: FuncType[] = [
  { params: [I32, I32], results: [I32] }, // 0: a block: (budget, done) → done + executed
  { params: [I64, I32, I64], results: [I64] }, // 1: jitRead(va, size, pc)
  { params: [I64, I32, I64, I64], results: [] }, // 2: jitWrite(va, size, value, pc)
  { params: [I64, I64], results: [I64] }, // 3: mulh*
  { params: [I32, I32, I32, I32, I32, I32, I32, I32, I64], results: [] }, // 4: jitFp(op, rd, rs1, rs2, rs3, rm, imm, len, pc)
  { params: [I32, I32, I32, I32, I64], results: [] }, // 5: jitAtomic(op, rd, rs1, rs2, pc)
  { params: [I32, I32, I32], results: [I32] }, // 6: dispatch(budget, done, table slot)
];
export const JIT_IMPORTS: FuncImport[] = [
  { module: 'core', name: 'jitRead', type: 1 },
  { module: 'core', name: 'jitWrite', type: 2 },
  { module: 'core', name: 'mulh', type: 3 },
  { module: 'core', name: 'mulhsu', type: 3 },
  { module: 'core', name: 'mulhu', type: 3 },
  { module: 'core', name: 'jitFp', type: 4 },
  { module: 'core', name: 'jitAtomic', type: 5 },
  { module: 'core', name: 'clmul', type: 3 },
  { module: 'core', name: 'clmulh', type: 3 },
  { module: 'core', name: 'clmulr', type: 3 },
  { module: 'core', name: 'rev8', type: 3 },
  { module: 'core', name: 'orcb', type: 3 },
  // Chaining to another translation: a tail call through the compiler's dispatcher instead of
  // return_call_indirect on the shared table, so translated modules do not import the table.
  // (V8 before 12.8 keeps a copy of an imported table per instance: every table.set then costs
  // time proportional to the number of instances, and every instantiation to the table's size,
  // which made a Linux boot with ~1,000 modules quadratic.)
  { module: 'core', name: 'dispatch', type: 6 },
];
const DISPATCH = JIT_IMPORTS.length - 1;
/** Ops wasm has no instruction for: rd = core function(rs1, rs2) (rev8/orc.b ignore rs2). */
const CALLED: Record<number, number> = {
  [O.OP_MULH]: 2, [O.OP_MULHSU]: 3, [O.OP_MULHU]: 4,
  [O.OP_CLMUL]: 7, [O.OP_CLMULH]: 8, [O.OP_CLMULR]: 9, [O.OP_REV8]: 10, [O.OP_ORC_B]: 11,
};
const F_READ = 0, F_WRITE = 1, F_FP = 5, F_ATOMIC = 6;

// LR/SC and AMOs also run in the core (they need the reservation and exact fault causes).
const isAtomic = (op: number) => op >= O.OP_LR_W && op <= O.OP_AMOMAXU_D;

// F and D run in the core (soft-float) through jitFp; these tell which use integer registers.
const isFp = (op: number) => op >= O.OP_FLW && op <= O.OP_FCVT_D_S;
const FP_READS_X = new Set<number>([
  O.OP_FLW, O.OP_FLD, O.OP_FSW, O.OP_FSD, O.OP_FCVT_S_W, O.OP_FCVT_S_WU, O.OP_FCVT_S_L, O.OP_FCVT_S_LU,
  O.OP_FCVT_D_W, O.OP_FCVT_D_WU, O.OP_FCVT_D_L, O.OP_FCVT_D_LU, O.OP_FMV_W_X, O.OP_FMV_D_X,
]);
const FP_WRITES_X = new Set<number>([
  O.OP_FCVT_W_S, O.OP_FCVT_WU_S, O.OP_FCVT_L_S, O.OP_FCVT_LU_S, O.OP_FMV_X_W, O.OP_FEQ_S, O.OP_FLT_S, O.OP_FLE_S,
  O.OP_FCLASS_S, O.OP_FCVT_W_D, O.OP_FCVT_WU_D, O.OP_FCVT_L_D, O.OP_FCVT_LU_D, O.OP_FMV_X_D, O.OP_FEQ_D,
  O.OP_FLT_D, O.OP_FLE_D, O.OP_FCLASS_D,
]);

const LOADS: Record<number, { size: number; op: number; ext?: number }> = {
  [O.OP_LB]: { size: 1, op: Op.i64Load8S, ext: Op.i64Extend8S },
  [O.OP_LH]: { size: 2, op: Op.i64Load16S, ext: Op.i64Extend16S },
  [O.OP_LW]: { size: 4, op: Op.i64Load32S, ext: Op.i64Extend32S },
  [O.OP_LD]: { size: 8, op: Op.i64Load },
  [O.OP_LBU]: { size: 1, op: Op.i64Load8U },
  [O.OP_LHU]: { size: 2, op: Op.i64Load16U },
  [O.OP_LWU]: { size: 4, op: Op.i64Load32U },
};
const STORES: Record<number, { size: number; op: number }> = {
  [O.OP_SB]: { size: 1, op: Op.i64Store8 },
  [O.OP_SH]: { size: 2, op: Op.i64Store16 },
  [O.OP_SW]: { size: 4, op: Op.i64Store32 },
  [O.OP_SD]: { size: 8, op: Op.i64Store },
};
const BRANCHES: Record<number, number> = {
  [O.OP_BEQ]: Op.i64Eq, [O.OP_BNE]: Op.i64Ne, [O.OP_BLT]: Op.i64LtS,
  [O.OP_BGE]: Op.i64GeS, [O.OP_BLTU]: Op.i64LtU, [O.OP_BGEU]: Op.i64GeU,
};
/** rd = rs1 OP rs2 in i64. */
const BINARY: Record<number, number> = {
  [O.OP_ADD]: Op.i64Add, [O.OP_SUB]: Op.i64Sub, [O.OP_XOR]: Op.i64Xor, [O.OP_OR]: Op.i64Or, [O.OP_AND]: Op.i64And,
  [O.OP_MUL]: Op.i64Mul,
};
/** rd = rs1 OP imm in i64. */
const IMMEDIATE: Record<number, number> = {
  [O.OP_ADDI]: Op.i64Add, [O.OP_XORI]: Op.i64Xor, [O.OP_ORI]: Op.i64Or, [O.OP_ANDI]: Op.i64And,
  [O.OP_SLLI]: Op.i64Shl, [O.OP_SRLI]: Op.i64ShrU, [O.OP_SRAI]: Op.i64ShrS, [O.OP_RORI]: Op.i64Rotr,
};
/** rd = rs1 OP (rs2 & 63): wasm masks i64 shift counts to 6 bits itself. */
const SHIFTS: Record<number, number> = {
  [O.OP_SLL]: Op.i64Shl, [O.OP_SRL]: Op.i64ShrU, [O.OP_SRA]: Op.i64ShrS, [O.OP_ROL]: Op.i64Rotl, [O.OP_ROR]: Op.i64Rotr,
};
/** rd = sext32(i32(rs1) OP i32(rs2 or imm)). */
const WORD: Record<number, number> = {
  [O.OP_ADDW]: Op.i32Add, [O.OP_SUBW]: Op.i32Sub, [O.OP_SLLW]: Op.i32Shl, [O.OP_SRLW]: Op.i32ShrU,
  [O.OP_SRAW]: Op.i32ShrS, [O.OP_MULW]: Op.i32Mul, [O.OP_ROLW]: Op.i32Rotl, [O.OP_RORW]: Op.i32Rotr,
};
const WORD_IMM: Record<number, number> = {
  [O.OP_ADDIW]: Op.i32Add, [O.OP_SLLIW]: Op.i32Shl, [O.OP_SRLIW]: Op.i32ShrU, [O.OP_SRAIW]: Op.i32ShrS,
  [O.OP_RORIW]: Op.i32Rotr,
};
const UNARY: Record<number, number[]> = {
  [O.OP_CLZ]: [Op.i64Clz], [O.OP_CTZ]: [Op.i64Ctz], [O.OP_CPOP]: [Op.i64Popcnt],
  [O.OP_SEXT_B]: [Op.i64Extend8S], [O.OP_SEXT_H]: [Op.i64Extend16S],
  [O.OP_CLZW]: [Op.i32WrapI64, Op.i32Clz, Op.i64ExtendI32U], [O.OP_CTZW]: [Op.i32WrapI64, Op.i32Ctz, Op.i64ExtendI32U],
  [O.OP_CPOPW]: [Op.i32WrapI64, Op.i32Popcnt, Op.i64ExtendI32U],
};
const SIMPLE = new Set<number>([
  O.OP_LUI, O.OP_AUIPC, O.OP_SLTI, O.OP_SLTIU, O.OP_SLT, O.OP_SLTU, O.OP_FENCE, O.OP_DIV, O.OP_DIVU, O.OP_REM, O.OP_REMU, O.OP_DIVW, O.OP_DIVUW, O.OP_REMW, O.OP_REMUW,
  O.OP_ADD_UW, O.OP_SH1ADD, O.OP_SH2ADD, O.OP_SH3ADD, O.OP_SH1ADD_UW, O.OP_SH2ADD_UW, O.OP_SH3ADD_UW, O.OP_SLLI_UW,
  O.OP_ANDN, O.OP_ORN, O.OP_XNOR, O.OP_MAX, O.OP_MAXU, O.OP_MIN, O.OP_MINU, O.OP_ZEXT_H,
  O.OP_BCLR, O.OP_BCLRI, O.OP_BEXT, O.OP_BEXTI, O.OP_BINV, O.OP_BINVI, O.OP_BSET, O.OP_BSETI,
  O.OP_CZERO_EQZ, O.OP_CZERO_NEZ,
]);

function supported(op: number): boolean {
  return isFp(op) || isAtomic(op) || op in CALLED || op in LOADS || op in STORES || op in BRANCHES || op in BINARY || op in IMMEDIATE || op in SHIFTS ||
    op in WORD || op in WORD_IMM || op in UNARY || SIMPLE.has(op) || op === O.OP_JAL || op === O.OP_JALR;
}
const isControl = (op: number) => op in BRANCHES || op === O.OP_JAL || op === O.OP_JALR;
/** Whether rd names an integer register the op writes (stores, branches and fence keep other
 *  bits in the rd field; most F/D ops write an f register). */
const writesRd = (op: number) =>
  isFp(op) ? FP_WRITES_X.has(op) : !(op in STORES) && !(op in BRANCHES) && op !== O.OP_FENCE;
/** Integer registers an op reads. */
const readsX = (d: DecodedInsn) => (isFp(d.op) ? (FP_READS_X.has(d.op) ? [d.rs1] : []) : [d.rs1, d.rs2]);

/** A region translated into one wasm function (of type JIT_TYPES[0]), ready for assembleModule. */
export interface TranslatedBlock { func: { type: number; locals: number[]; code: Code }; instructions: number; blocks: number }

/** A decoded instruction at its pc; `target` is a jalr's target when the block computed its
 *  base register from constants (auipc/lui/addi: the `auipc ra; jalr off(ra)` call idiom). */
type Insn = DecodedInsn & { pc: bigint; target?: bigint };
interface Block { pc: bigint; insns: Insn[] }

/** Instructions translated into one function at most (bounds compile time and code size). */
const MAX_REGION = 512;
const MAX_BLOCKS = 48;

/** Decodes the basic block at virtual `pc` (wasm address `a`), or returns [] if its first
 *  instruction is not translatable. */
function decodeBlock(pc: bigint, a: number, decodeAt: DecodeAt, readHalf: (a: number) => number): Insn[] {
  const insns: Insn[] = [];
  const known = new Map<number, bigint>(); // registers holding constants the block computed
  while (insns.length < MAX_BLOCK) {
    if ((a & 0xfff) === 0xffe && (readHalf(a) & 3) === 3) break; // 32-bit instruction crossing the page
    const d = decodeAt(a);
    if (!supported(d.op)) break;
    const insn: Insn = { ...d, pc };
    const base = known.get(d.rs1);
    if (d.op === O.OP_JALR && base !== undefined) insn.target = BigInt.asUintN(64, base + BigInt(d.imm)) & ~1n;
    if (writesRd(d.op)) {
      if (d.op === O.OP_AUIPC) known.set(d.rd, BigInt.asUintN(64, pc + BigInt(d.imm)));
      else if (d.op === O.OP_LUI) known.set(d.rd, BigInt.asUintN(64, BigInt(d.imm)));
      else if (d.op === O.OP_ADDI && (base !== undefined || d.rs1 === 0)) known.set(d.rd, BigInt.asUintN(64, (base ?? 0n) + BigInt(d.imm)));
      else known.delete(d.rd);
    }
    insns.push(insn);
    if (isControl(d.op)) break;
    a += d.len;
    pc += BigInt(d.len);
    if ((a & 0xfff) === 0) break; // the page ends
  }
  return insns;
}

/** Successors of a block: branch targets, fall-throughs and static jump targets. A call's return
 *  point is deliberately not followed: measured, the larger regions cost more in V8 compile time
 *  and baseline-tier execution than returns that stay inside wasm save (cpu-bound benchmark,
 *  0.47 s vs 0.32 s). Returns that do land on a region block still dispatch inside it. */
function successors(b: Block): bigint[] {
  const last = b.insns[b.insns.length - 1]!;
  const next = last.pc + BigInt(last.len);
  if (last.op in BRANCHES) return [last.pc + BigInt(last.imm), next];
  if (last.op === O.OP_JAL) return [last.pc + BigInt(last.imm)];
  if (last.op === O.OP_JALR) return last.target !== undefined ? [last.target] : [];
  return [next];
}

/** Return points of the region's calls: where an indirect jump (a return) most likely goes. */
function returnPoints(blocks: Block[], index: Map<bigint, number>): bigint[] {
  const points = new Set<bigint>();
  for (const b of blocks) {
    const last = b.insns[b.insns.length - 1]!;
    const next = last.pc + BigInt(last.len);
    if ((last.op === O.OP_JAL || last.op === O.OP_JALR) && last.rd !== 0 && last.rd < 32 && index.has(next)) points.add(next);
  }
  return [...points].slice(0, 8);
}

/**
 * Translates the region entered at virtual `vpc`, wasm address `h`: the block there and every
 * block reachable from it by static branches and fall-throughs inside the same 4 KiB page, as
 * one function in which control moves between blocks without leaving wasm or spilling
 * registers. Returns undefined when the first instruction is not translatable. `readHalf`
 * reads 16 bits of RAM at a wasm address.
 */
export function translateBlock(vpc: bigint, h: number, decodeAt: DecodeAt, readHalf: (a: number) => number): TranslatedBlock | undefined {
  const page = vpc >> 12n;
  const blocks: Block[] = [];
  const seen = new Set<bigint>();
  const work = [vpc];
  let total = 0;
  while (work.length && blocks.length < MAX_BLOCKS && total < MAX_REGION) {
    const pc = work.shift()!;
    if (seen.has(pc) || pc >> 12n !== page) continue;
    seen.add(pc);
    const insns = decodeBlock(pc, h + Number(pc - vpc), decodeAt, readHalf);
    if (insns.length === 0) continue;
    const b = { pc, insns };
    blocks.push(b);
    total += insns.length;
    work.push(...successors(b));
  }
  if (blocks.length === 0 || blocks[0]!.pc !== vpc) return undefined;
  const code = emit(vpc, h, blocks);
  return { func: code, instructions: total, blocks: blocks.length };
}

/** Bit r of a mask: guest register x1..x31 (x0 and the sink never count). */
const bit = (r: number) => (r !== 0 && r < 32 ? (1 << r) >>> 0 : 0);

/**
 * Which registers a region's prologue must load and which its exits must store, so that entering
 * a region costs less than loading every register it mentions (lukewarm regions are entered often
 * and run few instructions each time). Forward dataflow over the region's blocks (entry = block 0):
 * `mayIn[b]`/`mustIn[b]` are the registers written on some/every path from the entry to block b.
 * An exit after k instructions of block b stores `mayIn[b] | prefix[b][k]`; a register must be
 * loaded if some exit may store it without every path having written it, or if it may be read
 * before every path wrote it.
 */
function liveness(blocks: Block[], index: Map<bigint, number>, returns: readonly bigint[]) {
  const n = blocks.length;
  const prefix = blocks.map((b) => {
    const out = [0];
    for (const d of b.insns) out.push((out[out.length - 1]! | (writesRd(d.op) ? bit(d.rd) : 0)) >>> 0);
    return out;
  });
  const succ = blocks.map((b) => {
    const last = b.insns[b.insns.length - 1]!;
    const targets = last.op === O.OP_JALR && last.target === undefined ? [...returns] : successors(b);
    return targets.map((t) => index.get(t)).filter((i): i is number => i !== undefined);
  });
  const ALL = 0xffff_fffe;
  const mayIn = new Array<number>(n).fill(0);
  const mustIn = new Array<number>(n).fill(ALL);
  mustIn[0] = 0; // the function's own entry: nothing written yet
  for (let changed = true; changed; ) {
    changed = false;
    for (let b = 0; b < n; b++) {
      const out = prefix[b]![blocks[b]!.insns.length]!;
      const mayOut = (mayIn[b]! | out) >>> 0;
      const mustOut = (mustIn[b]! | out) >>> 0;
      for (const s of succ[b]!) {
        const may = (mayIn[s]! | mayOut) >>> 0;
        const must = s === 0 ? 0 : (mustIn[s]! & mustOut) >>> 0;
        if (may !== mayIn[s] || must !== mustIn[s]) {
          mayIn[s] = may;
          mustIn[s] = must;
          changed = true;
        }
      }
    }
  }
  let load = 0;
  blocks.forEach((b, bi) => {
    load |= mayIn[bi]! & ~mustIn[bi]!;
    b.insns.forEach((d, i) => {
      for (const r of readsX(d)) load |= bit(r) & ~(mustIn[bi]! | prefix[bi]![i]!);
    });
  });
  return { load: load >>> 0, mayIn, prefix };
}

function emit(entry: bigint, entryHost: number, blocks: Block[]) {
  // Locals: 0 budget, 1 done (params), 2 count, 3 va, 4 value, 5 tlb entry (i32), 6 dataKey,
  // 7 flag (i32), 8 block index (i32), 9.. registers.
  const LBUDGET = 0, LDONE = 1, LCOUNT = 2, LVA = 3, LVAL = 4, LE = 5, LKEY = 6, LFLAG = 7, LBLOCK = 8;
  const FIRST_REG = 9;
  const locals = [I32, I64, I64, I32, I64, I32, I32];
  const regLocal = new Map<number, number>();
  const written = new Set<number>();
  const reg = (r: number) => {
    let l = regLocal.get(r);
    if (l === undefined) { l = FIRST_REG + regLocal.size; regLocal.set(r, l); locals.push(I64); }
    return l;
  };
  const index = new Map<bigint, number>();
  blocks.forEach((b, i) => index.set(b.pc, i));
  const returns = returnPoints(blocks, index);
  for (const b of blocks) {
    for (const d of b.insns) {
      for (const r of readsX(d)) if (r !== 0 && r < 32) reg(r);
      if (writesRd(d.op) && d.rd !== 0 && d.rd < 32) { reg(d.rd); written.add(d.rd); }
    }
  }
  const c = new Code();
  let loopLevel = 0;

  const getX = (r: number) => (r === 0 ? c.i64(0n) : c.get(reg(r)));
  /** Pops a value into rd (dropped for x0 and the sink). */
  const setX = (r: number) => (r === 0 || r >= 32 ? c.op(Op.drop) : c.set(reg(r)));
  const live = liveness(blocks, index, returns);
  /** Where code is being emitted: block index, and how many of its instructions have completed at an exit. */
  let curBlock = 0, curAfter = 0;
  /** Stores the registers written so far on some path (after `k` instructions of the current block). */
  const flush = (k = curAfter) => {
    const mask = (live.mayIn[curBlock]! | live.prefix[curBlock]![k]!) >>> 0;
    for (const r of written) if (mask & bit(r)) { c.i32(0); c.get(reg(r)); c.mem(Op.i64Store, 3, L.X_REGS + r * 8); }
  };
  /** Pushes done + count + n: the value a return reports. */
  const count = (n: number) => { c.get(LDONE); c.get(LCOUNT); c.op(Op.i32Add); if (n) { c.i32(n); c.op(Op.i32Add); } };
  /** Pushes budget - count - n: what is left for a chained function. */
  const remaining = (n: number) => { c.get(LBUDGET); c.get(LCOUNT); c.op(Op.i32Sub); if (n) { c.i32(n); c.op(Op.i32Sub); } };
  /** Tail-calls the translation of static `next` if it is in this page, exists and budget remains. */
  const chain = (next: bigint, n: number) => {
    if (next >> 12n !== entry >> 12n) { c.i64(next); c.set(LVA); chainDynamic(n); return; }
    const hNext = entryHost + Number(next - entry);
    const je = L.JITMAP_BASE + (((hNext >>> 1) & (L.JITMAP_ENTRIES - 1)) << 4);
    remaining(n); c.i32(0); c.op(Op.i32GtS);
    c.enter(Op.if);
    c.i32(0); c.mem(Op.i64Load, 3, je); c.i64(next); c.op(Op.i64Eq);
    c.i32(0); c.mem(Op.i32Load, 2, je + 8); c.i32(hNext); c.op(Op.i32Eq); c.op(Op.i32And);
    c.enter(Op.if);
    c.i32(0); c.mem(Op.i32Load, 2, je + 12); c.tee(LFLAG);
    c.enter(Op.if);
    remaining(n); count(n); c.get(LFLAG); c.returnCall(DISPATCH);
    c.end(); c.end(); c.end();
  };
  /** Tail-calls the translation of the pc in LVA (any page) when the fetch TLB maps its page to
   *  RAM for the current privilege, a translation exists there, and budget remains. */
  const chainDynamic = (n: number) => {
    remaining(n); c.i32(0); c.op(Op.i32GtS);
    c.enter(Op.if);
    // e = fetch-TLB entry of the page; hit when its tag is page | fetch key (MMIO pages never hit).
    c.get(LVA); c.i64(12n); c.op(Op.i64ShrU); c.op(Op.i32WrapI64); c.i32(L.TLB_ENTRIES - 1); c.op(Op.i32And);
    c.i32(5); c.op(Op.i32Shl); c.tee(LE);
    c.mem(Op.i64Load, 3, L.TLB_FETCH);
    c.get(LVA); c.i64(~0xfffn); c.op(Op.i64And); c.i32(0); c.mem(Op.i64Load, 3, L.S_FETCHKEY); c.op(Op.i64Or);
    c.op(Op.i64Eq);
    c.enter(Op.if);
    // LE ← JITMAP entry of the wasm address h = pc + hostDelta; LFLAG ← h.
    c.get(LE); c.mem(Op.i64Load, 3, L.TLB_FETCH + 8); c.get(LVA); c.op(Op.i64Add); c.op(Op.i32WrapI64); c.tee(LFLAG);
    c.i32(1); c.op(Op.i32ShrU); c.i32(L.JITMAP_ENTRIES - 1); c.op(Op.i32And); c.i32(4); c.op(Op.i32Shl); c.tee(LE);
    c.mem(Op.i32Load, 2, L.JITMAP_BASE + 8); c.get(LFLAG); c.op(Op.i32Eq);
    c.get(LE); c.mem(Op.i64Load, 3, L.JITMAP_BASE); c.get(LVA); c.op(Op.i64Eq); c.op(Op.i32And);
    c.enter(Op.if);
    c.get(LE); c.mem(Op.i32Load, 2, L.JITMAP_BASE + 12); c.tee(LFLAG);
    c.enter(Op.if);
    remaining(n); count(n); c.get(LFLAG); c.returnCall(DISPATCH);
    c.end(); c.end(); c.end(); c.end();
  };
  /** Leaves with pc = `next` (or the value on the stack when undefined), `n` more instructions done. */
  const exit = (next: bigint | undefined, n: number) => {
    if (next === undefined) c.set(LVAL);
    flush();
    if (next !== undefined) chain(next, n);
    else { c.get(LVAL); c.set(LVA); chainDynamic(n); }
    c.i32(0);
    if (next === undefined) c.get(LVAL); else c.i64(next);
    c.mem(Op.i64Store, 3, L.S_PC);
    count(n);
    c.op(Op.return);
  };
  /** Continues at static `next` after `n` more instructions: inside the region while budget
   *  remains, else leaves. */
  const goto = (next: bigint, n: number) => {
    const target = index.get(next);
    if (target === undefined) { exit(next, n); return; }
    c.get(LCOUNT); c.i32(n); c.op(Op.i32Add); c.tee(LCOUNT);
    c.get(LBUDGET); c.op(Op.i32LtS);
    c.enter(Op.if);
    c.i32(target); c.set(LBLOCK);
    c.br(Op.br, c.level - loopLevel);
    c.end();
    exit(next, 0);
  };
  /** After a slow-path call: end the function on a trap (flag 2) or a device event/code change (flag 1). */
  const checkExit = (i: number, next: bigint, commit?: () => void) => {
    c.i32(0); c.mem(Op.i32Load, 2, L.S_JIT_EXIT); c.tee(LFLAG);
    c.enter(Op.if);
    c.get(LFLAG); c.i32(2); c.op(Op.i32Eq);
    c.enter(Op.if); flush(i); count(i); c.op(Op.return); c.end(); // trapped: S_PC holds the handler
    commit?.();
    exit(next, i + 1);
    c.end();
  };
  /** Leaves the TLB entry index ((va >> 12) & 255) << 5 in LE and the tag test on the stack. */
  const tlbHit = (base: number, size: number) => {
    c.get(LVA); c.i64(12n); c.op(Op.i64ShrU); c.op(Op.i32WrapI64); c.i32(L.TLB_ENTRIES - 1); c.op(Op.i32And);
    c.i32(5); c.op(Op.i32Shl); c.tee(LE);
    c.mem(Op.i64Load, 3, base);
    c.get(LVA); c.i64(~0xfffn); c.op(Op.i64And); c.get(LKEY); c.op(Op.i64Or); c.op(Op.i64Eq);
    if (size > 1) {
      c.get(LVA); c.i64(0xfffn); c.op(Op.i64And); c.i64(BigInt(4096 - size)); c.op(Op.i64LeU); c.op(Op.i32And);
    }
  };
  const hostAddr = (base: number) => {
    c.get(LE); c.mem(Op.i64Load, 3, base + 8); c.get(LVA); c.op(Op.i64Add); c.op(Op.i32WrapI64);
  };

  // Prologue.
  for (const [r, l] of regLocal) if (live.load & bit(r)) { c.i32(0); c.mem(Op.i64Load, 3, L.X_REGS + r * 8); c.set(l); }
  c.i32(0); c.mem(Op.i64Load, 3, L.S_DATAKEY); c.set(LKEY);
  // Dispatch: loop { block_{n-1} { … block_0 { br_table } code_0 } … code_{n-1} }; the code of
  // block i follows the end of the i-th nested block, so `br_table` lands on it.
  c.enter(Op.loop);
  loopLevel = c.level;
  for (let i = blocks.length - 1; i >= 0; i--) c.enter(Op.block);
  c.get(LBLOCK);
  c.brTable(blocks.map((_, i) => i), blocks.length - 1);
  blocks.forEach((b) => {
    c.end();
    emitBlock(b);
  });
  c.end(); // loop
  // Every path returned; the function still needs a value on the stack for validation.
  c.i32(0);
  return { type: 0, locals, code: c };

  function emitBlock(b: Block) {
    curBlock = index.get(b.pc)!;
    b.insns.forEach((d, i) => {
      curAfter = i + 1;
      const next = d.pc + BigInt(d.len);
      const imm = BigInt(d.imm);
      const op = d.op;
      if (op in LOADS) {
        const ld = LOADS[op]!;
        getX(d.rs1); c.i64(imm); c.op(Op.i64Add); c.set(LVA);
        tlbHit(L.TLB_LOAD, ld.size);
        c.enter(Op.if, I64);
        hostAddr(L.TLB_LOAD); c.mem(ld.op, 0, 0);
        c.op(Op.else);
        c.get(LVA); c.i32(ld.size); c.i64(d.pc); c.call(F_READ);
        if (ld.ext) c.op(ld.ext);
        c.set(LVAL);
        checkExit(i, next, () => { if (d.rd !== 0 && d.rd < 32) { c.get(LVAL); c.set(reg(d.rd)); } });
        c.get(LVAL);
        c.end();
        setX(d.rd);
      } else if (op in STORES) {
        const st = STORES[op]!;
        getX(d.rs1); c.i64(imm); c.op(Op.i64Add); c.set(LVA);
        tlbHit(L.TLB_STORE, st.size);
        c.enter(Op.if);
        hostAddr(L.TLB_STORE); getX(d.rs2); c.mem(st.op, 0, 0);
        c.op(Op.else);
        c.get(LVA); c.i32(st.size); getX(d.rs2); c.i64(d.pc); c.call(F_WRITE);
        checkExit(i, next);
        c.end();
      } else if (isFp(op) || isAtomic(op)) {
        // The core does the work on memory-resident registers: write ours back first, reload rd after.
        const reload = () => { if (writesRd(op) && d.rd < 32 && d.rd !== 0) { c.i32(0); c.mem(Op.i64Load, 3, L.X_REGS + d.rd * 8); c.set(reg(d.rd)); } };
        flush(i);
        if (isFp(op)) {
          for (const v of [op, d.rd, d.rs1, d.rs2, d.rs3, d.rm, d.imm, d.len]) c.i32(v);
          c.i64(d.pc); c.call(F_FP);
        } else {
          for (const v of [op, d.rd, d.rs1, d.rs2]) c.i32(v);
          c.i64(d.pc); c.call(F_ATOMIC);
        }
        checkExit(i, next, reload);
        reload();
      } else if (op in BRANCHES) {
        getX(d.rs1); getX(d.rs2); c.op(BRANCHES[op]!);
        c.enter(Op.if);
        goto(d.pc + imm, i + 1);
        c.end();
        goto(next, i + 1);
      } else if (op === O.OP_JAL) {
        c.i64(next); setX(d.rd);
        goto(d.pc + imm, i + 1);
      } else if (op === O.OP_JALR && d.target !== undefined) {
        c.i64(next); setX(d.rd);
        goto(d.target, i + 1);
      } else if (op === O.OP_JALR) {
        getX(d.rs1); c.i64(imm); c.op(Op.i64Add); c.i64(~1n); c.op(Op.i64And); c.set(LVA);
        c.i64(next); setX(d.rd);
        // A return to one of this region's call sites continues inside the function.
        for (const p of returns) {
          c.get(LVA); c.i64(p); c.op(Op.i64Eq);
          c.enter(Op.if);
          goto(p, i + 1);
          c.end();
        }
        c.get(LVA);
        exit(undefined, i + 1);
      } else {
        alu(d, imm);
      }
      if (i === b.insns.length - 1 && !isControl(op)) goto(next, i + 1);
    });
  }

  function alu(d: DecodedInsn & { pc: bigint }, imm: bigint) {
    const op = d.op;
    const rs1 = () => getX(d.rs1);
    const rs2 = () => getX(d.rs2);
    const uw = (f: () => void) => { f(); c.i64(0xffffffffn); c.op(Op.i64And); };
    if (op in BINARY) { rs1(); rs2(); c.op(BINARY[op]!); }
    else if (op in CALLED) { rs1(); rs2(); c.call(CALLED[op]!); }
    else if (op in IMMEDIATE) { rs1(); c.i64(imm); c.op(IMMEDIATE[op]!); }
    else if (op in SHIFTS) { rs1(); rs2(); c.op(SHIFTS[op]!); }
    else if (op in WORD) { rs1(); c.op(Op.i32WrapI64); rs2(); c.op(Op.i32WrapI64); c.op(WORD[op]!); c.op(Op.i64ExtendI32S); }
    else if (op in WORD_IMM) { rs1(); c.op(Op.i32WrapI64); c.i32(Number(imm)); c.op(WORD_IMM[op]!); c.op(Op.i64ExtendI32S); }
    else if (op in UNARY) { rs1(); for (const o of UNARY[op]!) c.op(o); }
    else switch (op) {
      case O.OP_LUI: c.i64(imm); break;
      case O.OP_AUIPC: c.i64(d.pc + imm); break;
      case O.OP_FENCE: return;
      case O.OP_SLTI: rs1(); c.i64(imm); c.op(Op.i64LtS); c.op(Op.i64ExtendI32U); break;
      case O.OP_SLTIU: rs1(); c.i64(imm); c.op(Op.i64LtU); c.op(Op.i64ExtendI32U); break;
      case O.OP_SLT: rs1(); rs2(); c.op(Op.i64LtS); c.op(Op.i64ExtendI32U); break;
      case O.OP_SLTU: rs1(); rs2(); c.op(Op.i64LtU); c.op(Op.i64ExtendI32U); break;
      case O.OP_DIV: case O.OP_REM: {
        // x / 0 = -1, x % 0 = x; MIN / -1 = MIN, MIN % -1 = 0 (unpriv §13.2): only the divisor -1
        // needs care beyond zero, and for it the quotient is -x and the remainder 0.
        const isDiv = op === O.OP_DIV;
        rs2(); c.op(Op.i64Eqz);
        c.enter(Op.if, I64);
        if (isDiv) c.i64(-1n); else rs1();
        c.op(Op.else);
        rs2(); c.i64(-1n); c.op(Op.i64Eq);
        c.enter(Op.if, I64);
        if (isDiv) { c.i64(0n); rs1(); c.op(Op.i64Sub); } else c.i64(0n);
        c.op(Op.else);
        rs1(); rs2(); c.op(isDiv ? Op.i64DivS : Op.i64RemS);
        c.end(); c.end();
        break;
      }
      case O.OP_DIVU: case O.OP_REMU: {
        rs2(); c.op(Op.i64Eqz);
        c.enter(Op.if, I64);
        if (op === O.OP_DIVU) c.i64(-1n); else rs1();
        c.op(Op.else);
        rs1(); rs2(); c.op(op === O.OP_DIVU ? Op.i64DivU : Op.i64RemU);
        c.end();
        break;
      }
      case O.OP_DIVW: case O.OP_REMW: {
        // In 64 bits the 32-bit overflow case cannot trap; truncation gives the ISA's answer.
        const isDiv = op === O.OP_DIVW;
        rs2(); c.op(Op.i32WrapI64); c.op(Op.i32Eqz);
        c.enter(Op.if, I64);
        if (isDiv) c.i64(-1n); else { rs1(); c.op(Op.i64Extend32S); }
        c.op(Op.else);
        rs1(); c.op(Op.i64Extend32S); rs2(); c.op(Op.i64Extend32S); c.op(isDiv ? Op.i64DivS : Op.i64RemS); c.op(Op.i64Extend32S);
        c.end();
        break;
      }
      case O.OP_DIVUW: case O.OP_REMUW: {
        rs2(); c.op(Op.i32WrapI64); c.op(Op.i32Eqz);
        c.enter(Op.if, I64);
        if (op === O.OP_DIVUW) c.i64(-1n); else { rs1(); c.op(Op.i64Extend32S); }
        c.op(Op.else);
        rs1(); c.op(Op.i32WrapI64); rs2(); c.op(Op.i32WrapI64); c.op(op === O.OP_DIVUW ? Op.i32DivU : Op.i32RemU);
        c.op(Op.i64ExtendI32S);
        c.end();
        break;
      }
      case O.OP_ADD_UW: uw(rs1); rs2(); c.op(Op.i64Add); break;
      case O.OP_SH1ADD: case O.OP_SH2ADD: case O.OP_SH3ADD:
        rs1(); c.i64(BigInt(op - O.OP_SH1ADD + 1)); c.op(Op.i64Shl); rs2(); c.op(Op.i64Add); break;
      case O.OP_SH1ADD_UW: case O.OP_SH2ADD_UW: case O.OP_SH3ADD_UW:
        uw(rs1); c.i64(BigInt(op - O.OP_SH1ADD_UW + 1)); c.op(Op.i64Shl); rs2(); c.op(Op.i64Add); break;
      case O.OP_SLLI_UW: uw(rs1); c.i64(imm); c.op(Op.i64Shl); break;
      case O.OP_ANDN: rs1(); rs2(); c.i64(-1n); c.op(Op.i64Xor); c.op(Op.i64And); break;
      case O.OP_ORN: rs1(); rs2(); c.i64(-1n); c.op(Op.i64Xor); c.op(Op.i64Or); break;
      case O.OP_XNOR: rs1(); rs2(); c.op(Op.i64Xor); c.i64(-1n); c.op(Op.i64Xor); break;
      case O.OP_MAX: case O.OP_MIN: case O.OP_MAXU: case O.OP_MINU: {
        const cmp = op === O.OP_MAX ? Op.i64GtS : op === O.OP_MIN ? Op.i64LtS : op === O.OP_MAXU ? Op.i64GtU : Op.i64LtU;
        rs1(); rs2(); rs1(); rs2(); c.op(cmp); c.op(Op.select);
        break;
      }
      case O.OP_ZEXT_H: rs1(); c.i64(0xffffn); c.op(Op.i64And); break;
      case O.OP_BCLR: rs1(); c.i64(1n); rs2(); c.op(Op.i64Shl); c.i64(-1n); c.op(Op.i64Xor); c.op(Op.i64And); break;
      case O.OP_BCLRI: rs1(); c.i64(~(1n << imm)); c.op(Op.i64And); break;
      case O.OP_BEXT: rs1(); rs2(); c.op(Op.i64ShrU); c.i64(1n); c.op(Op.i64And); break;
      case O.OP_BEXTI: rs1(); c.i64(imm); c.op(Op.i64ShrU); c.i64(1n); c.op(Op.i64And); break;
      case O.OP_BINV: rs1(); c.i64(1n); rs2(); c.op(Op.i64Shl); c.op(Op.i64Xor); break;
      case O.OP_BINVI: rs1(); c.i64(1n << imm); c.op(Op.i64Xor); break;
      case O.OP_BSET: rs1(); c.i64(1n); rs2(); c.op(Op.i64Shl); c.op(Op.i64Or); break;
      case O.OP_BSETI: rs1(); c.i64(1n << imm); c.op(Op.i64Or); break;
      case O.OP_CZERO_EQZ: rs1(); c.i64(0n); rs2(); c.op(Op.i64Eqz); c.op(Op.i32Eqz); c.op(Op.select); break;
      case O.OP_CZERO_NEZ: rs1(); c.i64(0n); rs2(); c.op(Op.i64Eqz); c.op(Op.select); break;
      default: throw new Error(`translator: op ${op} marked supported but not emitted`);
    }
    setX(d.rd);
  }
}
