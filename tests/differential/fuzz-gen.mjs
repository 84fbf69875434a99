// Seeded random instruction-sequence generator for differential fuzzing (typervisor vs QEMU).
//
// generateProgram(seed, { length }) returns { source, listing } where `source` is a complete
// assembly program for tests/programs/lib (crt0 calls main) and `listing` is the list of the
// generated body instructions (one entry per instruction or block marker, in program order).
//
// The program:
//   * fills a 4 KiB scratch buffer with random bytes,
//   * initialises every integer register (except the three reserved pointers below) and all
//     32 FP registers with edge-case / random 64-bit values, sets frm randomly,
//   * runs a random sequence of RV64IMAFDC + Zba/Zbb/Zbc/Zbs instructions (integer ALU, M,
//     bit-manipulation, FP with every static rounding mode and dyn, compressed forms,
//     loads/stores/AMOs/LR-SC on the scratch buffer, forward branches and jumps),
//   * stores all registers and fcsr, and prints them plus checksums of the buffer, then exits 0.
//
// Reserved registers (never written by the random body): x2/sp, x8/s0 and x31/t6 all point
// into the scratch buffer (sp and s0 for the compressed sp-/rs1'-relative forms, t6 for the
// rest). Instructions with legitimately differing results (counters, time, computed jump
// targets) are never generated.
//
// CLI: node tests/differential/fuzz-gen.mjs SEED [LENGTH]  -> prints the program

const XNAMES = ['zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5',
  'a6', 'a7', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6'];
const RESERVED = new Set([2, 8, 31]);
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

class Gen {
  constructor(seed) {
    this.r = makeRng(seed);
    this.lines = [];
    this.listing = [];
    this.label = 0;
  }
  emit(text, listed = true) {
    this.lines.push(`    ${text}`);
    if (listed) this.listing.push(text);
  }
  xd() {
    // destination: any non-reserved register, occasionally x0
    if (this.r.chance(0.03)) return 'zero';
    let n;
    do n = this.r.range(1, 30); while (RESERVED.has(n));
    return XNAMES[n];
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
  memOff(size) {
    const lo = -2048, hi = 2047 - size + 1;
    let o = this.r.range(lo, hi);
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
    const k = r.int(100);
    if (k < 22) {
      this.emit(`${r.pick(INT_RR)} ${this.xd()}, ${this.xs()}, ${this.xs()}`);
    } else if (k < 30) {
      this.emit(`${r.pick(INT_RI)} ${this.xd()}, ${this.xs()}, ${this.imm12()}`);
    } else if (k < 36) {
      const [op, max] = r.pick(INT_SH);
      this.emit(`${op} ${this.xd()}, ${this.xs()}, ${r.chance(0.3) ? r.pick([0, 1, max]) : r.range(0, max)}`);
    } else if (k < 39) {
      this.emit(`${r.pick(INT_R1)} ${this.xd()}, ${this.xs()}`);
    } else if (k < 41) {
      const op = r.pick(['lui', 'auipc']);
      this.emit(`${op} ${this.xd()}, ${r.chance(0.3) ? r.pick([0, 1, 0x80000, 0xfffff, 0x7ffff]) : r.range(0, 0xfffff)}`);
    } else if (k < 49) {
      this.memInsn();
    } else if (k < 53) {
      this.atomic();
    } else if (k < 75) {
      this.fpInsn();
    } else if (k < 88) {
      this.compressed();
    } else if (k < 94) {
      this.branch();
    } else if (k < 96) {
      this.jump();
    } else if (k < 98) {
      this.emit(`fmv.x.d ${this.xd()}, ${this.f()}`);
    } else {
      this.emit(r.pick(['fence', 'fence rw, rw', 'fence.i', 'nop', 'fence.tso']));
    }
  }

  memInsn() {
    const r = this.r;
    const ops = [['lb', 1], ['lbu', 1], ['lh', 2], ['lhu', 2], ['lw', 4], ['lwu', 4], ['ld', 8], ['sb', 1],
      ['sh', 2], ['sw', 4], ['sd', 8], ['flw', 4], ['fld', 8], ['fsw', 4], ['fsd', 8]];
    const [op, size] = r.pick(ops);
    const off = this.memOff(size);
    if (op.startsWith('fl')) this.emit(`${op} ${this.f()}, ${off}(${BASE})`);
    else if (op.startsWith('fs')) this.emit(`${op} ${this.f()}, ${off}(${BASE})`);
    else if (op.startsWith('l')) this.emit(`${op} ${this.xd()}, ${off}(${BASE})`);
    else this.emit(`${op} ${this.xs()}, ${off}(${BASE})`);
  }

  atomic() {
    const r = this.r;
    const w = r.pick(['w', 'd']);
    const ord = r.pick(['', '.aq', '.rl', '.aqrl']);
    const k = r.int(10);
    if (k < 7) {
      const op = r.pick(['amoswap', 'amoadd', 'amoxor', 'amoand', 'amoor', 'amomin', 'amomax', 'amominu', 'amomaxu']);
      this.emit(`${op}.${w}${ord} ${this.xd()}, ${this.xs()}, (${BASE})`);
    } else if (k < 9) {
      // adjacent LR/SC pair: the SC succeeds
      this.emit(`lr.${w}${ord} ${this.xd()}, (${BASE})`);
      this.emit(`sc.${w}${r.pick(['', '.rl', '.aqrl'])} ${this.xd()}, ${this.xs()}, (${BASE})`);
    } else {
      // SC without a reservation (every LR above is consumed by its SC): fails
      this.emit(`sc.${w}${ord} ${this.xd()}, ${this.xs()}, (${BASE})`);
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
  }

  compressed() {
    const r = this.r;
    const nz6 = () => { let v; do v = r.range(-32, 31); while (v === 0); return v; };
    const rd = () => { let n; do n = r.range(1, 30); while (RESERVED.has(n)); return XNAMES[n]; };
    const k = r.int(26);
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

  branch() {
    const r = this.r;
    const l = `.Lf${this.label++}`;
    const k = r.int(10);
    if (k < 7) {
      const op = r.pick(['beq', 'bne', 'blt', 'bge', 'bltu', 'bgeu']);
      // comparing a register with itself makes some always/never taken
      const a = this.xs();
      const b = r.chance(0.2) ? a : this.xs();
      this.emit(`${op} ${a}, ${b}, ${l}`);
    } else {
      this.emit(`.option push`, false);
      this.emit(`.option rvc`, false);
      this.emit(`${r.pick(['c.beqz', 'c.bnez'])} ${this.xsc()}, ${l}`);
      this.emit(`.option pop`, false);
    }
    const n = r.range(1, 4);
    for (let i = 0; i < n; i++) this.simple();
    this.lines.push(`${l}:`);
    this.listing.push(`${l}:`);
  }

  jump() {
    const r = this.r;
    const l = `.Lf${this.label++}`;
    if (r.chance(0.5)) this.emit(`jal ${this.xd()}, ${l}`);
    else this.rvc(`c.j ${l}`);
    const n = r.range(1, 3);
    for (let i = 0; i < n; i++) this.simple();
    this.lines.push(`${l}:`);
    this.listing.push(`${l}:`);
  }

  /** A non-control-flow instruction (for branch shadows). */
  simple() {
    const r = this.r;
    const k = r.int(4);
    if (k === 0) this.emit(`${r.pick(INT_RR)} ${this.xd()}, ${this.xs()}, ${this.xs()}`);
    else if (k === 1) this.emit(`${r.pick(INT_RI)} ${this.xd()}, ${this.xs()}, ${this.imm12()}`);
    else if (k === 2) this.fpInsn();
    else this.memInsn();
  }
}

export function generateProgram(seed, { length = null } = {}) {
  const g = new Gen(seed >>> 0);
  const r = g.r;
  const n = length ?? r.range(200, 500);
  const xinit = [];
  for (let i = 0; i < 32; i++) xinit.push(randInt64(r));
  const finit = [];
  for (let i = 0; i < 32; i++) finit.push(randFpBits(r));
  const scratch = [];
  for (let i = 0; i < SCRATCH_SIZE / 8; i++) scratch.push(r.chance(0.25) ? randFpBits(r) : randInt64(r));
  const frm = r.int(5);

  for (let i = 0; i < n; i++) g.one();

  const out = [];
  out.push(`/* Generated by tests/differential/fuzz-gen.mjs, seed ${seed >>> 0}, ${n} steps. */`);
  out.push('#include "test.h"');
  out.push('    .option norvc');
  out.push('    .text');
  out.push('    .globl main');
  out.push('main:');
  out.push('    lla t6, fz_xinit');
  out.push('    lla t5, fz_finit');
  for (let i = 0; i < 32; i++) out.push(`    fld f${i}, ${8 * i}(t5)`);
  out.push(`    csrwi frm, ${frm}`);
  out.push('    csrwi fflags, 0');
  for (let i = 1; i < 31; i++) {
    if (RESERVED.has(i)) continue;
    out.push(`    ld ${XNAMES[i]}, ${8 * i}(t6)`);
  }
  out.push(`    lla sp, fz_scratch + ${SCRATCH_SIZE / 2}`);
  out.push(`    lla s0, fz_scratch + ${SCRATCH_SIZE / 2 + 256}`);
  out.push(`    lla t6, fz_scratch + ${SCRATCH_SIZE / 2}`);
  out.push('    /* ---- random body ---- */');
  out.push(...g.lines);
  out.push('    /* ---- dump ---- */');
  out.push('    lla t6, fz_xout');
  for (let i = 1; i < 31; i++) out.push(`    sd ${XNAMES[i]}, ${8 * i}(t6)`);
  out.push('    lla t5, fz_scratch');
  out.push(`    sub t5, sp, t5`);
  out.push('    sd t5, 16(t6)  /* sp as an offset into the scratch buffer */');
  out.push('    lla t5, fz_scratch');
  out.push(`    sub t5, s0, t5`);
  out.push('    sd t5, 64(t6)');
  out.push('    sd zero, 248(t6)');
  out.push('    lla t5, fz_fout');
  for (let i = 0; i < 32; i++) out.push(`    fsd f${i}, ${8 * i}(t5)`);
  out.push('    frcsr a2');
  out.push('    lla sp, _stack_top');
  out.push('    lla a0, fz_xout');
  out.push('    lla a1, fz_fout');
  out.push('    lla a3, fz_scratch');
  out.push(`    li a4, ${SCRATCH_SIZE}`);
  out.push('    call fuzz_dump');
  out.push('    li a0, 0');
  out.push('    call test_exit');
  out.push('    .data');
  out.push('    .balign 8');
  out.push('fz_xinit:');
  for (const v of xinit) out.push(`    .dword ${hex64(v)}`);
  out.push('fz_finit:');
  for (const v of finit) out.push(`    .dword ${hex64(v)}`);
  out.push('    .balign 64');
  out.push('fz_scratch:');
  for (const v of scratch) out.push(`    .dword ${hex64(v)}`);
  out.push('    .bss');
  out.push('    .balign 8');
  out.push('fz_xout: .space 256');
  out.push('fz_fout: .space 256');
  return { source: out.join('\n') + '\n', listing: g.listing, steps: n };
}

/** Names a dump line key ("x5", "f3", "fcsr", "mem", "mem[512..]") in assembler terms. */
export function describeKey(key) {
  const m = /^x(\d+)$/.exec(key);
  if (m) return `x${m[1]} (${XNAMES[Number(m[1])]})`;
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
  const len = process.argv[3] ? Number(process.argv[3]) : null;
  process.stdout.write(generateProgram(seed, { length: len }).source);
}
