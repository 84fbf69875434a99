// Seeded random instruction-sequence generator for differential fuzzing (typervisor vs QEMU).
//
// generateProgram(seed, { length, mode }) returns { source, listing, steps, mode, iterations }
// where `source` is a complete assembly program for tests/programs/lib (crt0 calls main) and
// `listing` is the list of the generated body instructions (one entry per instruction or label,
// in program order).
//
// The program:
//   * fills a 4 KiB scratch buffer with random bytes; the buffer straddles a 4 KiB page
//     boundary at its middle, where the base pointers point,
//   * initialises every integer register (except the reserved ones below) and all 32 FP
//     registers with edge-case / random 64-bit values, sets frm randomly,
//   * runs a random sequence of RV64IMAFDC + Zba/Zbb/Zbc/Zbs instructions (integer ALU, M with
//     divisors 0 / -1 and most-negative dividends, bit-manipulation, FP with every static
//     rounding mode and dyn, compressed forms, loads/stores of every width on the scratch buffer
//     -- aligned, misaligned and crossing the page boundary --, aligned AMOs and LR/SC pairs,
//     forward branches, jumps and computed jumps to labels, instructions that trap (faulting
//     loads/stores at physical address 0, ecall, ebreak, an illegal instruction; the runtime's
//     handler skips them and restores every register),
//   * stores all registers and fcsr, and prints them plus checksums of the buffer, then exits 0
//     (sp and s0 are printed as offsets into the buffer, x31 as the number of traps taken).
//
// Modes:
//   straight  the sequence runs once (the interpreter only: nothing gets hot),
//   loop      the sequence is the body of a counted loop run K = 100..300 times, made of many
//             basic blocks (forward branches/jumps, plus small counted self-loops), so that the
//             JIT translates them (a block is translated after 64 entries); some programs make
//             frm invalid every 2^q-th iteration, so that FP instructions with the dynamic
//             rounding mode trap there,
//   smc       a loop like `loop` whose code is rewritten while it runs: "sites" in the body are
//             overwritten (sw / amoswap.w / lr+sc / sh / sb of new instruction bits, then
//             fence.i) every 2^p iterations, before or after the point where they execute
//             (sometimes inside a counted self-loop, sometimes straddling a page boundary), so
//             translated and decoded code must be dropped.
// Loop bodies also call a few leaf functions (jal, auipc+jalr, through registers or a pointer
// reloaded from memory; link ra or t0), put a page boundary at a random point, and fold many
// results (and every integer register at the end of each iteration) into an accumulator
// register, so that intermediate values reach the dump.
//
// Reserved registers (never written by the random body): x2/sp, x8/s0 and x31/t6 all point
// into the scratch buffer (sp and s0 for the compressed sp-/rs1'-relative forms, t6 for the
// rest); in loop and smc modes also x30/t5 (the loop counter), x29/t4 (inner-loop counter
// and patch address) and x28/t3 (the accumulator). Instructions with legitimately differing results (counters, time,
// Zicond which QEMU 7.2 lacks, ctzw of a zero low word which QEMU 7.2 gets wrong, misaligned
// AMOs which QEMU 7.2 reports with another cause) are never generated.
//
// CLI: node tests/differential/fuzz-gen.mjs SEED [LENGTH|-] [straight|loop|smc]  -> prints the program

const XNAMES = ['zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5',
  'a6', 'a7', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6'];
/** Pointers into the scratch buffer (all modes). */
const PTR_REGS = [2, 8, 31];
/** Loop counter (loop/smc modes). */
const CNT = 't5';
/** Inner-loop counter and patch address register (loop/smc modes). */
const AUX = 't4';
/** Accumulator of observed results (loop/smc modes). */
const ACC = 't3';
export const MODES = ['straight', 'loop', 'smc'];
const MODE_SALT = { straight: 0, loop: 0x4c4f4f50, smc: 0x534d4321 };
const BASE = 't6';
const SCRATCH_SIZE = 4096;

/** Small fast PRNG (sfc32), seeded from a 32-bit seed. */
export function makeRng(seed) {
  let a = 0x9e3779b9 ^ seed, b = 0x243f6a88, c = 0xb7e15162 ^ (seed * 0x85ebca6b), d = 1;
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t >>> 0;
  };
  for (let i = 0; i < 16; i++) next();
  const rng = {
    u32: next,
    int: (n) => next() % n,
    range: (lo, hi) => lo + (next() % (hi - lo + 1)),
    pick: (arr) => arr[next() % arr.length],
    chance: (p) => next() / 4294967296 < p,
    u64: () => (BigInt(next()) << 32n) | BigInt(next()),
  };
  return rng;
}

const hex64 = (v) => '0x' + BigInt.asUintN(64, v).toString(16).padStart(16, '0');

const INT_EDGE = [0n, 1n, 2n, 3n, -1n, -2n, 0x7fffffffffffffffn, -0x8000000000000000n, 0x80000000n, 0x7fffffffn,
  0xffffffffn, -0x80000000n, 0x100000000n, 31n, 32n, 63n, 64n, 0x5555555555555555n, 0xaaaaaaaaaaaaaaaan,
  0xffn, 0xffffn, -0x81n, 0x123456789abcdef0n];

const F32_EDGE = [0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000,
  0x7f800001, 0x7fa00000, 0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff, 0x3eaaaaab, 0x4f000000, 0xcf000000,
  0x5f000000, 0x3f000000, 0x40490fdb];
const F64_EDGE = [0x0n, 0x8000000000000000n, 0x3ff0000000000000n, 0xbff0000000000000n, 0x7ff0000000000000n,
  0xfff0000000000000n, 0x7ff8000000000000n, 0xfff8000000000000n, 0x7ff0000000000001n, 0x7ff4000000000000n,
  0x1n, 0x800fffffffffffffn, 0x10000000000000n, 0x7fefffffffffffffn, 0x3fd5555555555555n, 0x41e0000000000000n,
  0xc3e0000000000000n, 0x43f0000000000000n, 0x3fe0000000000000n, 0x400921fb54442d18n];

function randInt64(r) {
  switch (r.int(4)) {
    case 0: return BigInt.asUintN(64, r.pick(INT_EDGE));
    case 1: return BigInt.asUintN(64, BigInt(r.range(-2048, 2047)));
    case 2: return BigInt.asUintN(64, BigInt.asIntN(32, BigInt(r.u32())));
    default: return r.u64();
  }
}

function randFpBits(r) {
  switch (r.int(6)) {
    case 0: return 0xffffffff00000000n | BigInt(r.pick(F32_EDGE) >>> 0); // boxed single edge
    case 1: return 0xffffffff00000000n | BigInt(r.u32()); // boxed random single
    case 2: return r.pick(F64_EDGE);
    case 3: return r.u64(); // random double (also an unboxed single)
    case 4: return BigInt(r.pick(F32_EDGE) >>> 0); // unboxed single
    default: { // a "nice" double from a small integer/fraction
      const v = (r.range(-1000, 1000) / r.range(1, 64));
      const b = new DataView(new ArrayBuffer(8));
      b.setFloat64(0, v, true);
      return b.getBigUint64(0, true);
    }
  }
}

const RMS = ['rne', 'rtz', 'rdn', 'rup', 'rmm', 'dyn'];

const INT_RR = ['add', 'sub', 'sll', 'slt', 'sltu', 'xor', 'srl', 'sra', 'or', 'and', 'addw', 'subw', 'sllw',
  'srlw', 'sraw', 'mul', 'mulh', 'mulhsu', 'mulhu', 'div', 'divu', 'rem', 'remu', 'mulw', 'divw', 'divuw', 'remw',
  'remuw', 'sh1add', 'sh2add', 'sh3add', 'add.uw', 'sh1add.uw', 'sh2add.uw', 'sh3add.uw', 'andn', 'orn', 'xnor',
  'max', 'maxu', 'min', 'minu', 'rol', 'rolw', 'ror', 'rorw', 'clmul', 'clmulh', 'clmulr', 'bclr', 'bext', 'binv',
  'bset'];
const INT_RI = ['addi', 'slti', 'sltiu', 'xori', 'ori', 'andi', 'addiw'];
const INT_SH = [['slli', 63], ['srli', 63], ['srai', 63], ['slliw', 31], ['srliw', 31], ['sraiw', 31],
  ['rori', 63], ['roriw', 31], ['slli.uw', 63], ['bclri', 63], ['bexti', 63], ['binvi', 63], ['bseti', 63]];
const INT_R1 = ['clz', 'clzw', 'ctz', 'ctzw', 'cpop', 'cpopw', 'sext.b', 'sext.h', 'zext.h', 'orc.b', 'rev8'];

const FP_RR_RM = ['fadd', 'fsub', 'fmul', 'fdiv'];
const FP_RR = ['fmin', 'fmax', 'fsgnj', 'fsgnjn', 'fsgnjx'];
const FP_CMP = ['feq', 'flt', 'fle'];
const FP_FMA = ['fmadd', 'fmsub', 'fnmadd', 'fnmsub'];

const DIV_OPS = new Set(['div', 'divu', 'rem', 'remu', 'divw', 'divuw', 'remw', 'remuw']);
const AMO_OPS = ['amoswap', 'amoadd', 'amoxor', 'amoand', 'amoor', 'amomin', 'amomax', 'amominu', 'amomaxu'];
const MEM_OPS = [['lb', 1], ['lbu', 1], ['lh', 2], ['lhu', 2], ['lw', 4], ['lwu', 4], ['ld', 8], ['sb', 1],
  ['sh', 2], ['sw', 4], ['sd', 8], ['flw', 4], ['fld', 8], ['fsw', 4], ['fsd', 8]];
const INT_MEM_OPS = MEM_OPS.filter(([op]) => !op.startsWith('f'));
const I_TYPE_ALU = ['addi', 'slti', 'sltiu', 'xori', 'ori', 'andi', 'addiw'];

/** Relative weights of the kinds of step. Loop bodies favour what the JIT translates (integer
 *  code, loads/stores, branches) so that translated blocks are long; FP and AMOs end blocks. */
const MIX = {
  straight: { rr: 22, ri: 8, sh: 6, r1: 3, upper: 2, mem: 8, atomic: 4, fp: 22, rvc: 13, branch: 6, jump: 2,
    indirect: 1, trap: 1, fmvxd: 2, misc: 2 },
  loop: { rr: 24, ri: 10, sh: 7, r1: 4, upper: 2, mem: 14, atomic: 3, fp: 10, rvc: 12, branch: 9, jump: 2,
    indirect: 2, inner: 2, call: 3, trap: 1, fmvxd: 1, misc: 1 },
};

class Gen {
  constructor(seed, mode) {
    this.mode = mode;
    this.r = makeRng((seed + MODE_SALT[mode]) >>> 0);
    const reserved = mode === 'straight' ? PTR_REGS : [...PTR_REGS, ...[CNT, AUX, ACC].map((x) => XNAMES.indexOf(x))];
    this.reserved = new Set(reserved);
    this.lines = [];
    this.listing = [];
    /** Lines for the read-only data section (smc replacement tables). */
    this.data = [];
    this.label = 0;
    /** Upper bound of the code bytes emitted so far (decides the loop's closing branch). */
    this.bytes = 0;
    this.mix = Object.entries(MIX[mode === 'straight' ? 'straight' : 'loop']);
    /** Results are folded into ACC (loop modes; off while emitting fixed-size smc code). */
    this.observing = mode !== 'straight';
    /** Inside a counted self-loop (t4 is its counter then). */
    this.inInner = false;
    this.mixTotal = this.mix.reduce((s, [, w]) => s + w, 0);
  }
  emit(text, listed = true) {
    this.lines.push(`    ${text}`);
    if (listed) this.listing.push(text);
    if (!text.startsWith('.') || text.startsWith('.2byte')) this.bytes += /^li\s/.test(text) ? 32 : /^lla\s/.test(text) ? 8 : 4;
  }
  place(label) {
    this.lines.push(`${label}:`);
    this.listing.push(`${label}:`);
  }
  newLabel(prefix = '.Lf') {
    return `${prefix}${this.label++}`;
  }
  /** Runs `fn` and returns the source lines it emitted instead of adding them to the body. */
  capture(fn) {
    const lines = this.lines, listing = this.listing, bytes = this.bytes;
    this.lines = [];
    this.listing = [];
    fn();
    const out = this.lines;
    this.lines = lines;
    this.listing = listing;
    this.bytes = bytes;
    return out;
  }
  /** Any writable register other than x0. */
  rd() {
    let n;
    do n = this.r.range(1, 31); while (this.reserved.has(n));
    return XNAMES[n];
  }
  xd() {
    // destination: any non-reserved register, occasionally x0
    if (this.r.chance(0.03)) return 'zero';
    return this.rd();
  }
  xs() {
    return XNAMES[this.r.int(32)];
  }
  xdc() { // x8..x15 destination, excluding s0 (reserved)
    return XNAMES[this.r.range(9, 15)];
  }
  xsc() {
    return XNAMES[this.r.range(8, 15)];
  }
  f() { return `f${this.r.int(32)}`; }
  fc() { return `f${this.r.range(8, 15)}`; }
  rm() { return this.r.pick(RMS); }
  imm12() { return this.r.chance(0.5) ? this.r.pick([0, 1, -1, 2047, -2048, 0x555, -0x556]) : this.r.range(-2048, 2047); }
  /** Offset from t6 (the page boundary in the middle of the buffer) for a `size`-byte access that
   *  stays inside the buffer: mostly naturally aligned, sometimes misaligned, sometimes
   *  straddling the page boundary. */
  memOff(size) {
    const r = this.r;
    const k = r.int(20);
    if (k < 3 && size > 1) return -r.range(1, size - 1); // crosses the page boundary (misaligned)
    if (k < 4) return r.pick([-size, 0]); // aligned, touching the boundary from either side
    const o = r.range(-2048, 2048 - size);
    if (k < 8) return o; // any alignment
    return o - (((o % size) + size) % size);
  }
  rvc(text) {
    this.emit('.option push', false);
    this.emit('.option rvc', false);
    this.emit(text);
    this.emit('.option pop', false);
  }

  one() {
    const r = this.r;
    let k = r.int(this.mixTotal);
    let kind = this.mix[0][0];
    for (const [name, w] of this.mix) {
      if (k < w) { kind = name; break; }
      k -= w;
    }
    switch (kind) {
      case 'rr': return this.intRR();
      case 'ri': return this.intRI();
      case 'sh': return this.intShift();
      case 'r1': return this.intR1();
      case 'upper': return this.upper();
      case 'mem': return this.memInsn();
      case 'atomic': return this.atomic();
      case 'fp': return this.fpInsn();
      case 'rvc': return this.compressed();
      case 'branch': return this.branch();
      case 'jump': return this.jump();
      case 'indirect': return this.indirect();
      case 'inner': return this.innerLoop();
      case 'call': return this.call();
      case 'trap': return this.trap();
      case 'fmvxd': {
        const rd = this.xd();
        this.emit(`fmv.x.d ${rd}, ${this.f()}`);
        return this.observe(rd);
      }
      default: return this.emit(r.pick(['fence', 'fence rw, rw', 'fence.i', 'nop', 'fence.tso']));
    }
  }

  /** Register-register integer op. Divisions sometimes get a divisor of 0 or -1 and a
   *  most-negative dividend (set up just before), unless `single` asks for one instruction. */
  intRR(single = false) {
    const r = this.r;
    const op = r.pick(INT_RR);
    const rd = this.xd();
    let a = this.xs();
    let b = this.xs();
    if (!single && DIV_OPS.has(op) && r.chance(0.4)) {
      const k = r.int(3);
      if (k === 0) b = 'zero';
      else {
        b = this.rd();
        this.emit(`addi ${b}, zero, ${k === 1 ? 0 : -1}`);
      }
      if (r.chance(0.5)) {
        do a = this.rd(); while (a === b);
        if (op.endsWith('w')) this.emit(`lui ${a}, 0x80000`); // low word 0x80000000
        else {
          this.emit(`addi ${a}, zero, 1`);
          this.emit(`slli ${a}, ${a}, 63`);
        }
      }
    }
    this.emit(`${op} ${rd}, ${a}, ${b}`);
    this.observe(rd);
  }
  intRI() {
    const rd = this.xd();
    this.emit(`${this.r.pick(INT_RI)} ${rd}, ${this.xs()}, ${this.imm12()}`);
    this.observe(rd);
  }
  intShift() {
    const r = this.r;
    const [op, max] = r.pick(INT_SH);
    const rd = this.xd();
    this.emit(`${op} ${rd}, ${this.xs()}, ${r.chance(0.3) ? r.pick([0, 1, max]) : r.range(0, max)}`);
    this.observe(rd);
  }
  /** One-operand Zbb op. ctzw gets an operand whose low word is non-zero (QEMU 7.2 returns 63
   *  instead of 32 for e.g. 0x8000000000000000); with `single` it is not generated at all. */
  intR1(single = false) {
    const r = this.r;
    let op = r.pick(INT_R1);
    if (op === 'ctzw') {
      if (single) op = 'ctz';
      else {
        const t = this.rd();
        const rd = this.xd();
        this.emit(`bseti ${t}, ${this.xs()}, ${r.range(0, 31)}`);
        this.emit(`ctzw ${rd}, ${t}`);
        this.observe(rd);
        return;
      }
    }
    const rd = this.xd();
    this.emit(`${op} ${rd}, ${this.xs()}`);
    this.observe(rd);
  }
  upper() {
    const r = this.r;
    const op = r.pick(['lui', 'auipc']);
    const rd = this.xd();
    this.emit(`${op} ${rd}, ${r.chance(0.3) ? r.pick([0, 1, 0x80000, 0xfffff, 0x7ffff]) : r.range(0, 0xfffff)}`);
    this.observe(rd, 0.2);
  }

  memInsn(intOnly = false) {
    const r = this.r;
    const [op, size] = r.pick(intOnly ? INT_MEM_OPS : MEM_OPS);
    const off = this.memOff(size);
    if (op.startsWith('fl')) this.emit(`${op} ${this.f()}, ${off}(${BASE})`);
    else if (op.startsWith('fs')) this.emit(`${op} ${this.f()}, ${off}(${BASE})`);
    else if (op.startsWith('l')) {
      const rd = this.xd();
      this.emit(`${op} ${rd}, ${off}(${BASE})`);
      this.observe(rd);
    } else this.emit(`${op} ${this.xs()}, ${off}(${BASE})`);
  }

  /** AMOs and LR/SC, always naturally aligned: on t6 itself or on a register just set to an
   *  aligned address in the buffer. */
  atomic() {
    const r = this.r;
    const w = r.pick(['w', 'd']);
    const size = w === 'w' ? 4 : 8;
    const ord = r.pick(['', '.aq', '.rl', '.aqrl']);
    let addr = BASE;
    if (r.chance(0.6)) {
      addr = this.rd();
      this.emit(`addi ${addr}, ${BASE}, ${size * r.range(-2048 / size, 2048 / size - 1)}`);
    }
    const k = r.int(10);
    if (k < 7) {
      this.emit(`${r.pick(AMO_OPS)}.${w}${ord} ${this.xd()}, ${this.xs()}, (${addr})`);
    } else if (k < 9) {
      // adjacent LR/SC pair: the SC succeeds (the LR must not overwrite the address)
      let d;
      do d = this.xd(); while (d === addr);
      this.emit(`lr.${w}${ord} ${d}, (${addr})`);
      this.emit(`sc.${w}${r.pick(['', '.rl', '.aqrl'])} ${this.xd()}, ${this.xs()}, (${addr})`);
    } else {
      // SC without a reservation (every LR above is consumed by its SC): fails
      this.emit(`sc.${w}${ord} ${this.xd()}, ${this.xs()}, (${addr})`);
    }
  }

  fpInsn() {
    const r = this.r;
    const p = r.pick(['s', 'd']);
    const k = r.int(20);
    if (k < 6) this.emit(`${r.pick(FP_RR_RM)}.${p} ${this.f()}, ${this.f()}, ${this.f()}, ${this.rm()}`);
    else if (k < 7) this.emit(`fsqrt.${p} ${this.f()}, ${this.f()}, ${this.rm()}`);
    else if (k < 10) this.emit(`${r.pick(FP_RR)}.${p} ${this.f()}, ${this.f()}, ${this.f()}`);
    else if (k < 13) this.emit(`${r.pick(FP_FMA)}.${p} ${this.f()}, ${this.f()}, ${this.f()}, ${this.f()}, ${this.rm()}`);
    else if (k < 14) this.emit(`${r.pick(FP_CMP)}.${p} ${this.xd()}, ${this.f()}, ${this.f()}`);
    else if (k < 15) this.emit(`fclass.${p} ${this.xd()}, ${this.f()}`);
    else if (k < 17) {
      const it = r.pick(['w', 'wu', 'l', 'lu']);
      this.emit(`fcvt.${it}.${p} ${this.xd()}, ${this.f()}, ${this.rm()}`);
    } else if (k < 19) {
      const it = r.pick(['w', 'wu', 'l', 'lu']);
      // int -> double for 32-bit sources is exact: the assembler takes no rm there
      if (p === 'd' && (it === 'w' || it === 'wu')) this.emit(`fcvt.d.${it} ${this.f()}, ${this.xs()}`);
      else this.emit(`fcvt.${p}.${it} ${this.f()}, ${this.xs()}, ${this.rm()}`);
    } else {
      const k2 = r.int(4);
      if (k2 === 0) this.emit(`fcvt.s.d ${this.f()}, ${this.f()}, ${this.rm()}`);
      else if (k2 === 1) this.emit(`fcvt.d.s ${this.f()}, ${this.f()}`);
      else if (k2 === 2) this.emit(`fmv.w.x ${this.f()}, ${this.xs()}`);
      else this.emit(r.pick([`fmv.x.w ${this.xd()}, ${this.f()}`, `fmv.d.x ${this.f()}, ${this.xs()}`]));
    }
    // the destination is the first operand
    const dest = /^\S+\s+([a-z0-9]+)/.exec(this.listing[this.listing.length - 1])[1];
    if (/^f\d+$/.test(dest)) this.observeF(dest);
    else this.observe(dest);
  }

  /** One 16-bit instruction (never control flow). `intOnly` leaves out the FP ones. */
  compressed(intOnly = false) {
    this.compressedBody(intOnly);
    const m = /^c\.(\S+)\s+([a-z0-9]+)/.exec(this.listing[this.listing.length - 1]);
    if (m && !/^(f?s[wd](sp)?|nop)$/.test(m[1])) {
      if (/^f\d+$/.test(m[2])) this.observeF(m[2]);
      else this.observe(m[2]);
    }
  }
  compressedBody(intOnly) {
    const r = this.r;
    const nz6 = () => { let v; do v = r.range(-32, 31); while (v === 0); return v; };
    const rd = () => this.rd();
    let k;
    do k = r.int(26); while (intOnly && [17, 18, 23, 24].includes(k));
    switch (k) {
      case 0: return this.rvc(`c.addi ${rd()}, ${nz6()}`);
      case 1: return this.rvc(`c.addiw ${rd()}, ${r.range(-32, 31)}`);
      case 2: return this.rvc(`c.li ${rd()}, ${r.range(-32, 31)}`);
      case 3: { // c.lui: rd not x0/x2, nonzero imm (1..0x1f or 0xfffe0..0xfffff)
        const imm = r.chance(0.5) ? r.range(1, 31) : r.range(0xfffe0, 0xfffff);
        return this.rvc(`c.lui ${rd()}, ${imm}`);
      }
      case 4: return this.rvc(`c.slli ${rd()}, ${r.range(1, 63)}`);
      case 5: return this.rvc(`c.srli ${this.xdc()}, ${r.range(1, 63)}`);
      case 6: return this.rvc(`c.srai ${this.xdc()}, ${r.range(1, 63)}`);
      case 7: return this.rvc(`c.andi ${this.xdc()}, ${r.range(-32, 31)}`);
      case 8: case 9: {
        const op = r.pick(['c.sub', 'c.xor', 'c.or', 'c.and', 'c.addw', 'c.subw']);
        return this.rvc(`${op} ${this.xdc()}, ${this.xsc()}`);
      }
      case 10: { let s; do s = this.xs(); while (s === 'zero'); return this.rvc(`c.mv ${rd()}, ${s}`); }
      case 11: { let s; do s = this.xs(); while (s === 'zero'); return this.rvc(`c.add ${rd()}, ${s}`); }
      case 12: return this.rvc(`c.addi4spn ${this.xdc()}, sp, ${4 * r.range(1, 255)}`);
      case 13: return this.rvc(`c.lw ${this.xdc()}, ${4 * r.range(0, 31)}(s0)`);
      case 14: return this.rvc(`c.ld ${this.xdc()}, ${8 * r.range(0, 31)}(s0)`);
      case 15: return this.rvc(`c.sw ${this.xsc()}, ${4 * r.range(0, 31)}(s0)`);
      case 16: return this.rvc(`c.sd ${this.xsc()}, ${8 * r.range(0, 31)}(s0)`);
      case 17: return this.rvc(`c.fld ${this.fc()}, ${8 * r.range(0, 31)}(s0)`);
      case 18: return this.rvc(`c.fsd ${this.fc()}, ${8 * r.range(0, 31)}(s0)`);
      case 19: return this.rvc(`c.lwsp ${rd()}, ${4 * r.range(0, 63)}(sp)`);
      case 20: return this.rvc(`c.ldsp ${rd()}, ${8 * r.range(0, 63)}(sp)`);
      case 21: return this.rvc(`c.swsp ${this.xs()}, ${4 * r.range(0, 63)}(sp)`);
      case 22: return this.rvc(`c.sdsp ${this.xs()}, ${8 * r.range(0, 63)}(sp)`);
      case 23: return this.rvc(`c.fldsp ${this.f()}, ${8 * r.range(0, 63)}(sp)`);
      case 24: return this.rvc(`c.fsdsp ${this.f()}, ${8 * r.range(0, 63)}(sp)`);
      default: return this.rvc('c.nop');
    }
  }

  /** Body of a branch/jump shadow: a few non-control instructions (longer in loop modes, so
   *  that translated blocks have some length). */
  shadow(max) {
    const n = this.r.range(1, this.mode === 'straight' ? max : max + 3);
    for (let i = 0; i < n; i++) this.simple();
  }

  branch() {
    const r = this.r;
    const l = this.newLabel();
    const k = r.int(10);
    if (k < 7) {
      const op = r.pick(['beq', 'bne', 'blt', 'bge', 'bltu', 'bgeu']);
      // comparing a register with itself makes some always/never taken
      const a = this.xs();
      const b = r.chance(0.2) ? a : this.xs();
      this.emit(`${op} ${a}, ${b}, ${l}`);
    } else {
      this.rvc(`${r.pick(['c.beqz', 'c.bnez'])} ${this.xsc()}, ${l}`);
    }
    this.shadow(4);
    this.place(l);
  }

  jump() {
    const r = this.r;
    const l = this.newLabel();
    if (r.chance(0.5)) this.emit(`jal ${this.xd()}, ${l}`);
    else this.rvc(`c.j ${l}`);
    this.shadow(3);
    this.place(l);
  }

  /** A computed jump forward to a label: jalr (with an offset, sometimes an odd target whose
   *  bit 0 jalr clears), c.jr or c.jalr through a register loaded with lla, sometimes adjusted
   *  on the way by addi / c.addi (the translator follows those constants) or by an operation it
   *  does not follow (ori 0, c.mv into another register, a round trip through memory). */
  indirect() {
    const r = this.r;
    const l = this.newLabel();
    let t = this.rd();
    const k = r.int(4);
    const off = k === 1 ? 2 * r.range(-100, 100) : 0;
    let adj = (k === 1 && r.chance(0.3) ? 1 : 0) - off;
    const step = r.int(8);
    const delta = step === 0 || step === 1 ? 2 * r.range(-15, 15) : 0;
    adj -= delta;
    this.emit(`lla ${t}, ${l}${adj < 0 ? '-' : '+'}${Math.abs(adj)}`);
    if (step === 0 && delta !== 0) this.rvc(`c.addi ${t}, ${delta}`);
    else if (step <= 1) this.emit(`addi ${t}, ${t}, ${delta}`);
    else if (step === 2) this.emit(`ori ${t}, ${t}, 0`);
    else if (step === 3) {
      let u;
      do u = this.rd(); while (u === t);
      this.rvc(`c.mv ${u}, ${t}`);
      t = u;
    } else if (step === 4) {
      const o = 8 * r.range(-256, 255);
      this.emit(`sd ${t}, ${o}(${BASE})`);
      this.emit(`ld ${t}, ${o}(${BASE})`);
    }
    if (k < 2) this.emit(`jalr ${this.xd()}, ${off}(${t})`);
    else this.rvc(k === 2 ? `c.jr ${t}` : `c.jalr ${t}`);
    this.shadow(3);
    this.place(l);
  }

  /** A counted self-loop (its block branches back to its own start, which the JIT keeps
   *  looping inside one translated function): t4 = 1..40 rounds of a few integer steps. */
  innerLoop(site = null) {
    const r = this.r;
    const l = this.newLabel('.Li');
    this.emit(`addi ${AUX}, zero, ${r.range(1, 40)}`);
    this.place(l);
    const n = r.range(1, 6);
    const at = site ? r.range(0, n) : -1;
    this.inInner = true;
    for (let i = 0; i <= n; i++) {
      if (i === at) site();
      if (i < n) this.simpleInt();
    }
    this.inInner = false;
    if (r.chance(0.5)) this.emit(`addi ${AUX}, ${AUX}, -1`);
    else this.rvc(`c.addi ${AUX}, -1`);
    this.emit(r.pick([`bnez ${AUX}, ${l}`, `blt zero, ${AUX}, ${l}`, `bltu zero, ${AUX}, ${l}`, `bne ${AUX}, zero, ${l}`]));
  }

  /** A call of one of the leaf functions (loop/smc modes): jal, the auipc+jalr `call` idiom, jalr
   *  or c.jalr through a register loaded with lla, or through a pointer stored to and reloaded
   *  from the scratch buffer (a target the translator cannot know). */
  call() {
    const r = this.r;
    if (!this.funcs.length) return this.intRR();
    const f = r.pick(this.funcs);
    let t;
    do t = this.rd(); while (t === f.link);
    const k = r.int(f.link === 'ra' ? 6 : 5);
    if (k === 0) this.emit(`jal ${f.link}, ${f.name}`);
    else if (k === 1) this.emit(f.link === 'ra' ? `call ${f.name}` : `call ${f.link}, ${f.name}`);
    else if (k === 2) {
      this.emit(`lla ${t}, ${f.name}`);
      this.emit(`jalr ${f.link}, 0(${t})`);
    } else if (k === 3) {
      const off = 8 * r.range(-256, 255);
      this.emit(`lla ${t}, ${f.name}`);
      this.emit(`sd ${t}, ${off}(${BASE})`);
      this.emit(`ld ${t}, ${off}(${BASE})`);
      this.emit(`jalr ${f.link}, 0(${t})`);
    } else if (k === 4) {
      this.emit(`lla ${f.link}, ${f.name}`);
      this.emit(`jalr ${f.link}, 0(${f.link})`);
    } else {
      this.emit(`lla ${t}, ${f.name}`);
      this.rvc(`c.jalr ${t}`);
    }
  }

  /** A leaf function: a few steps (never writing its link register), then the return. */
  func(f) {
    const r = this.r;
    const link = XNAMES.indexOf(f.link);
    this.reserved.add(link);
    this.place(f.name);
    const n = r.range(1, 8);
    for (let i = 0; i < n; i++) {
      const k = r.int(10);
      if (k === 0) this.branch();
      else if (k === 1) this.innerLoop();
      else this.simple();
    }
    const ret = r.int(3);
    if (ret === 0) this.emit(f.link === 'ra' ? 'ret' : `jr ${f.link}`);
    else if (ret === 1) this.emit(`jalr zero, 0(${f.link})`);
    else this.rvc(`c.jr ${f.link}`);
    this.reserved.delete(link);
  }

  /** An instruction that traps; the runtime's handler (armed by trap_arm) records the trap and
   *  resumes after it, restoring every register: so the trapping instruction must have had no
   *  effect and everything before it must have happened. Loads and stores fault on the
   *  unmapped physical page at 0. */
  trap() {
    const r = this.r;
    const k = r.int(8);
    if (k < 5) {
      const [op, size] = r.pick(MEM_OPS);
      const off = size * r.range(0, 255 / size);
      if (op.startsWith('f')) this.emit(`${op} ${this.f()}, ${off}(zero)`);
      else if (op.startsWith('l')) this.emit(`${op} ${this.xd()}, ${off}(zero)`);
      else this.emit(`${op} ${this.xs()}, ${off}(zero)`);
    } else if (k === 5) this.emit(r.pick(['ecall', 'ebreak']));
    else if (k === 6) this.rvc('c.ebreak');
    else this.emit('.2byte 0 /* illegal */');
  }

  /** Folds integer register `x` into the accumulator (loop modes, for some results), so that
   *  values soon overwritten still reach the dump: translated code must get every one right. */
  observe(x, p = 0.35) {
    if (!this.observing || x === 'zero' || !this.r.chance(p)) return;
    this.emit(`rori ${ACC}, ${ACC}, ${this.r.range(1, 63)}`);
    this.emit(`${this.r.pick(['xor', 'add', 'sub'])} ${ACC}, ${ACC}, ${x}`);
  }
  /** The same for an FP register (through t4, so not inside a counted self-loop). */
  observeF(f, p = 0.25) {
    if (!this.observing || this.inInner || !this.r.chance(p)) return;
    this.emit(`fmv.x.d ${AUX}, ${f}`);
    this.observe(AUX, 1);
  }

  /** A non-control-flow instruction (for branch shadows). */
  simple() {
    const k = this.r.int(this.mode === 'straight' ? 6 : 12);
    if (k === 0) this.intRR();
    else if (k === 1) this.intRI();
    else if (k === 2) this.fpInsn();
    else if (k === 3) this.memInsn();
    else if (k === 4) this.intShift();
    else if (k === 5) this.compressed();
    else if (k < 8) this.intRR();
    else if (k < 10) this.memInsn(true);
    else this.compressed(true);
  }

  /** A non-control integer instruction (what translated blocks are made of). */
  simpleInt() {
    const k = this.r.int(12);
    if (k < 3) this.intRR();
    else if (k < 5) this.intRI();
    else if (k < 6) this.intShift();
    else if (k < 7) this.intR1();
    else if (k < 9) this.memInsn(true);
    else if (k < 11) this.compressed(true);
    else this.fpInsn(); // now and then something the translator stops at
  }

  /** Exactly one 32-bit non-control instruction (for code that gets patched in). */
  one32() {
    const k = this.r.int(8);
    if (k < 2) this.intRR(true);
    else if (k < 3) this.intRI();
    else if (k < 4) this.intShift();
    else if (k < 5) this.intR1(true);
    else if (k < 6) this.memInsn();
    else if (k < 7) this.fpInsn();
    else this.upper();
  }

  /** 4 bytes of code for an smc site or replacement: one 32-bit instruction or two 16-bit ones
   *  (always two 16-bit ones for halfword-patched sites). */
  slot(kind) {
    const was = this.observing;
    this.observing = false;
    this.slotBody(kind);
    this.observing = was;
  }
  slotBody(kind) {
    if (kind === 'h' || (kind === 'w' && this.r.chance(0.3))) {
      this.compressed();
      this.compressed();
    } else if (kind === 'b') {
      this.emit(`${this.r.pick(I_TYPE_ALU)} ${this.xd()}, ${this.xs()}, ${this.imm12()}`);
    } else this.one32();
  }

  /**
   * An smc site: 4 bytes of code that patch sequences overwrite. Kind `w` is replaced whole
   * (sw) by one of four 4-byte alternatives, kind `h` is two 16-bit instructions of which one is
   * replaced (sh), kind `b` is an I-type ALU instruction whose top immediate byte (bits 31:24)
   * is overwritten (sb) with the low byte of some register.
   */
  site(i) {
    const { label, table, kind, align } = this.sites[i];
    if (align === 'page') {
      // jump over padding so that the site's 4 bytes straddle a page boundary
      this.emit(`j ${label}`);
      this.lines.push('    .balign 4096', '    .skip 4094');
      this.bytes += 8192;
    } else if (align === 'word') this.lines.push('    .balign 4');
    this.place(label);
    this.slot(kind);
    this.lines.push(`    .if . - ${label} - 4`, `    .error "smc site ${i} is not 4 bytes"`, '    .endif');
    if (kind !== 'b') {
      this.data.push('    .balign 4', `${table}:`);
      for (let j = 0; j < 4; j++) this.data.push(...this.capture(() => this.slot(kind)));
      this.data.push(`    .if . - ${table} - 16`, `    .error "smc table ${i} is not 16 bytes"`, '    .endif');
    }
  }

  /** Rewrites site `s` when the loop counter is a multiple of 2^p (p = 0: every iteration),
   *  choosing the replacement from the counter's next bits, then fence.i. */
  patch(s) {
    const r = this.r;
    // (2^p must not exceed the iteration count, or the patch would never run)
    const p = r.pick(this.iterations >= 256 ? [0, 1, 2, 4, 5, 6, 6, 7] : [0, 1, 2, 4, 5, 6, 6]);
    const skip = this.newLabel('.Lk');
    const v = this.rd();
    if (p > 0) {
      this.emit(`andi ${AUX}, ${CNT}, ${(1 << p) - 1}`);
      this.emit(`bnez ${AUX}, ${skip}`);
    }
    if (s.kind === 'b') {
      this.emit(`lla ${AUX}, ${s.label}`);
      this.emit(`sb ${r.chance(0.5) ? CNT : this.xs()}, 3(${AUX})`);
    } else {
      if (p > 0) {
        this.emit(`srli ${AUX}, ${CNT}, ${p}`);
        this.emit(`andi ${AUX}, ${AUX}, 3`);
      } else this.emit(`andi ${AUX}, ${CNT}, 3`);
      this.emit(`lla ${v}, ${s.table}`);
      if (r.chance(0.5)) this.emit(`sh2add ${AUX}, ${AUX}, ${v}`);
      else {
        this.emit(`slli ${AUX}, ${AUX}, 2`);
        this.emit(`add ${AUX}, ${AUX}, ${v}`);
      }
      if (s.kind === 'w') {
        this.emit(`lw ${v}, 0(${AUX})`);
        this.emit(`lla ${AUX}, ${s.label}`);
        const how = s.align === 'word' ? r.int(3) : 0;
        if (how === 0) this.emit(`sw ${v}, 0(${AUX})`);
        else if (how === 1) this.emit(`amoswap.w${r.pick(['', '.aq', '.rl', '.aqrl'])} ${v}, ${v}, (${AUX})`);
        else {
          let w;
          do w = this.rd(); while (w === v);
          this.emit(`lr.w ${w}, (${AUX})`);
          this.emit(`sc.w ${w}, ${v}, (${AUX})`);
        }
      } else {
        const off = r.pick([0, 2]);
        this.emit(`lhu ${v}, ${off}(${AUX})`);
        this.emit(`lla ${AUX}, ${s.label}`);
        this.emit(`sh ${v}, ${off}(${AUX})`);
      }
    }
    this.emit('fence.i');
    if (p > 0) this.place(skip);
  }
}

/**
 * Generates one program. `mode` is 'straight' (default), 'loop' or 'smc'; `length` fixes the
 * number of random steps (default 200..500 straight, 80..300 in a loop).
 */
export function generateProgram(seed, { length = null, mode = 'straight' } = {}) {
  if (!MODES.includes(mode)) throw new Error(`unknown fuzz mode ${mode}`);
  const g = new Gen(seed >>> 0, mode);
  const r = g.r;
  const looped = mode !== 'straight';
  const n = length ?? (looped ? r.range(80, 300) : r.range(200, 500));
  const xinit = [];
  for (let i = 0; i < 32; i++) xinit.push(randInt64(r));
  const finit = [];
  for (let i = 0; i < 32; i++) finit.push(randFpBits(r));
  const scratch = [];
  for (let i = 0; i < SCRATCH_SIZE / 8; i++) scratch.push(r.chance(0.25) ? randFpBits(r) : randInt64(r));
  const frm = r.int(5);
  const iterations = looped ? r.range(100, 300) : 1;
  g.iterations = iterations;

  // loop/smc: leaf functions called from the body (link ra or t0)
  g.funcs = [];
  if (looped) {
    const nf = r.range(0, 3);
    for (let i = 0; i < nf; i++) g.funcs.push({ name: `fz_fn${i}`, link: r.chance(0.7) ? 'ra' : 't0' });
  }
  // loop/smc: a page boundary falls `cross` bytes into the body
  const cross = looped ? 2 * r.range(8, 700) : 0;

  // smc: where the sites and their patch sequences go (step index -> actions)
  const events = new Map();
  const at = (i, action) => { if (!events.has(i)) events.set(i, []); events.get(i).push(action); };
  g.sites = [];
  if (mode === 'smc') {
    const nSites = r.range(2, 5);
    for (let i = 0; i < nSites; i++) {
      // (a patch sequence may come before its site: it names a label defined later)
      const kind = r.pick(['w', 'w', 'h', 'b']);
      // 'word': 4-byte aligned, so that an AMO or SC can rewrite it; 'page': across a page
      // boundary (at most one such site, it costs 4 KiB of padding)
      const align = i === 0 && r.chance(0.2) ? 'page' : kind === 'w' && r.chance(0.4) ? 'word' : 'any';
      g.sites.push({ label: `.Ls${i}`, table: `fz_alt${i}`, kind, align });
      const inLoop = align !== 'page' && r.chance(0.3); // (a backward branch cannot span the padding)
      const where = r.int(n);
      if (r.chance(0.25)) at(where, () => g.patch(g.sites[i])); // right before the site
      at(where, () => (inLoop ? g.innerLoop(() => g.site(i)) : g.site(i)));
      const nPatches = r.range(1, 2);
      for (let j = 0; j < nPatches; j++) at(r.int(n + 1), () => g.patch(g.sites[i]));
    }
  }

  // loop/smc: every 2^q-th iteration runs with an invalid frm (5..7), so that every FP
  // instruction with the dynamic rounding mode traps (illegal instruction) and is skipped
  const badFrm = looped && r.chance(0.4) ? { q: r.range(1, 4), value: r.range(5, 7) } : null;
  if (looped) {
    g.emit(`addi ${CNT}, zero, ${iterations}`);
    g.place('.Lloop');
    if (badFrm) {
      g.emit(`andi ${AUX}, ${CNT}, ${(1 << badFrm.q) - 1}`);
      g.emit(`csrwi frm, ${frm}`);
      g.emit(`bnez ${AUX}, .Lfrm_ok`);
      g.emit(`csrwi frm, ${badFrm.value}`);
      g.place('.Lfrm_ok');
    }
  }
  for (let i = 0; i <= n; i++) {
    for (const action of events.get(i) ?? []) action();
    if (i < n) g.one();
  }
  if (looped) {
    // every iteration's final integer registers go into the accumulator
    for (let i = 1; i < 32; i++) if (!g.reserved.has(i)) g.observe(XNAMES[i], 1);
    g.emit(`addi ${CNT}, ${CNT}, -1`);
    if (g.bytes < 3500 && r.chance(0.7)) g.emit(`bnez ${CNT}, .Lloop`);
    else {
      g.emit(`beqz ${CNT}, .Ldone`);
      g.emit('j .Lloop');
      g.place('.Ldone');
    }
    if (g.funcs.length) {
      g.emit('j .Lfuncs_end');
      for (const f of g.funcs) g.func(f);
      g.place('.Lfuncs_end');
    }
  }

  const out = [];
  out.push(`/* Generated by tests/differential/fuzz-gen.mjs, seed ${seed >>> 0}, mode ${mode}, ${n} steps` +
    `${looped ? `, ${iterations} iterations` : ''}. */`);
  out.push('#include "test.h"');
  out.push('    .option norvc');
  out.push('    .option norelax');
  out.push('    .text');
  out.push('    .globl main');
  out.push('main:');
  out.push('    call trap_arm /* the trap steps resume after the trapping instruction */');
  out.push('    lla t6, fz_xinit');
  out.push('    lla t5, fz_finit');
  for (let i = 0; i < 32; i++) out.push(`    fld f${i}, ${8 * i}(t5)`);
  out.push(`    csrwi frm, ${frm}`);
  out.push('    csrwi fflags, 0');
  for (let i = 1; i < 31; i++) {
    if (PTR_REGS.includes(i)) continue;
    out.push(`    ld ${XNAMES[i]}, ${8 * i}(t6)`);
  }
  out.push(`    lla sp, fz_scratch + ${SCRATCH_SIZE / 2}`);
  out.push(`    lla s0, fz_scratch + ${SCRATCH_SIZE / 2 + 256}`);
  out.push(`    lla t6, fz_scratch + ${SCRATCH_SIZE / 2}`);
  out.push('    /* ---- random body ---- */');
  if (looped) {
    out.push('    j fz_body');
    out.push('    .balign 4096');
    out.push(`    .skip ${4096 - cross}`);
  }
  out.push('fz_body:');
  out.push(...g.lines);
  out.push('fz_body_end:');
  out.push('    /* ---- dump ---- */');
  out.push('    lla t6, fz_xout');
  for (let i = 1; i < 31; i++) out.push(`    sd ${XNAMES[i]}, ${8 * i}(t6)`);
  out.push('    lla t5, fz_scratch');
  out.push(`    sub t5, sp, t5`);
  out.push('    sd t5, 16(t6)  /* sp as an offset into the scratch buffer */');
  out.push('    lla t5, fz_scratch');
  out.push(`    sub t5, s0, t5`);
  out.push('    sd t5, 64(t6)');
  out.push('    lla t5, trap_rec');
  out.push('    ld t5, 0(t5)');
  out.push('    sd t5, 248(t6)  /* x31 (a base pointer) is replaced by the number of traps taken */');
  out.push('    lla t5, fz_fout');
  for (let i = 0; i < 32; i++) out.push(`    fsd f${i}, ${8 * i}(t5)`);
  out.push('    frcsr a2');
  out.push('    lla sp, _stack_top');
  out.push('    lla a0, fz_xout');
  out.push('    lla a1, fz_fout');
  out.push('    lla a3, fz_scratch');
  out.push(`    li a4, ${SCRATCH_SIZE}`);
  out.push('    call fuzz_dump');
  // Wait until the UART has sent everything (LSR.TEMT) before the finisher ends the machine:
  // QEMU otherwise sometimes loses the last characters when the host is busy.
  out.push('    li t0, 0x10000000');
  out.push('1:  lbu t1, 5(t0)');
  out.push('    andi t1, t1, 0x40');
  out.push('    beqz t1, 1b');
  out.push('    li a0, 0');
  out.push('    call test_exit');
  out.push('    .data');
  out.push('    .balign 8');
  out.push('fz_xinit:');
  for (const v of xinit) out.push(`    .dword ${hex64(v)}`);
  out.push('fz_finit:');
  for (const v of finit) out.push(`    .dword ${hex64(v)}`);
  // The buffer's middle (where sp and t6 point) is a page boundary.
  out.push('    .balign 4096');
  out.push(`    .space ${4096 - SCRATCH_SIZE / 2}`);
  out.push('fz_scratch:');
  for (const v of scratch) out.push(`    .dword ${hex64(v)}`);
  if (g.data.length) {
    out.push('    .section .rodata');
    out.push(...g.data);
  }
  out.push('    .bss');
  out.push('    .balign 8');
  out.push('fz_xout: .space 256');
  out.push('fz_fout: .space 256');
  return { source: out.join('\n') + '\n', listing: g.listing, steps: n, mode, iterations };
}

/** Names a dump line key ("x5", "f3", "fcsr", "mem", "mem[512..]") in assembler terms. */
export function describeKey(key) {
  const m = /^x(\d+)$/.exec(key);
  if (m) return m[1] === '31' ? 'x31 (stands for the number of traps taken)' : `x${m[1]} (${XNAMES[Number(m[1])]})`;
  return key;
}

/** Instructions in `listing` that write the register named by a dump key (best effort). */
export function writersOf(listing, key) {
  let names;
  const m = /^x(\d+)$/.exec(key);
  const fm = /^f(\d+)$/.exec(key);
  if (m) names = [XNAMES[Number(m[1])], `x${m[1]}`];
  else if (fm) names = [`f${fm[1]}`];
  else return [];
  const out = [];
  listing.forEach((ins, i) => {
    const parts = ins.replace(/,/g, ' ').split(/\s+/).filter(Boolean);
    if (parts.length < 2) return;
    const op = parts[0];
    const isStore = /^(c\.)?(s[bhwd]|fs[wd]|fsdsp|sdsp|swsp|c\.fsd|c\.sd|c\.sw)$/.test(op) || /^c\.(s[wd]|fs[wd])(sp)?$/.test(op);
    const isBranch = /^(c\.)?(b|j)/.test(op) && op !== 'jal';
    if (isStore || isBranch || op.startsWith('fence') || op === 'nop' || op === 'c.nop') return;
    if (names.includes(parts[1])) out.push({ index: i, ins });
  });
  return out;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const seed = Number(process.argv[2] ?? 1);
  const len = process.argv[3] && process.argv[3] !== '-' ? Number(process.argv[3]) : null;
  const mode = process.argv[4] ?? 'straight';
  process.stdout.write(generateProgram(seed, { length: len, mode }).source);
}
