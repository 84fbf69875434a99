// Seeded generator of instruction-decoding fuzz programs (typervisor vs QEMU 7.2): which random
// instruction words are legal (run without a trap) and which raise an exception (cause, mtval).
//
// generateDecodeProgram(seed, { count }) returns { source, words } where `source` is a C program
// for tests/programs/lib and `words` describes each executed word in order ({ word, len, fsOff,
// frm, hot, slot, ... }). The program runs every word in M-mode and prints one line per word:
//
//     <word in hex: 8 digits, or 4 for a 16-bit one>[ fs=off][ frm=<n>][ @page-end] ok
//     <word>[ fs=off][ frm=<n>][ @page-end] trap cause=<hex> tval=<hex>[ epc=±<off>][ count=<n>]
//
// then "decode-fuzz done <n>". A word run several times ("hot", below) whose result changes from
// one run to another gets " but run <k>: <result of run k>" appended. Only trap/no-trap, cause
// and mtval are printed: the results of legal instructions are covered by the other fuzzers, so
// a difference here is about decoding (or about which exception an instruction class raises).
//
// How a word runs. The program has two 4-byte code slots in pages of their own: slot 0 at the
// start of a page, slot 1 at the last 2 bytes of a page (a 32-bit word there crosses into the
// next page). Each is followed by its return label (df_ret0; c.nop then df_ret1). For each word
// the program stores the word into a slot (a 16-bit word followed by c.nop), executes fence.i,
// then df_run: saves ra/sp/gp/tp/s0-s11/fs0-fs11, loads x1..x31 (sp included) with the address S
// of the middle of an 8 KiB scratch buffer (64-byte aligned), and jumps to the slot. Every
// non-zero rs1 therefore points into the scratch buffer: loads, stores, FP loads/stores, AMOs
// (aligned: no immediate), LR/SC, cbo.*, and the sp-/rs1'-relative compressed forms (offsets
// < 2 KiB) stay inside it; rs1 = x0 gives an address in [0, 0x7ff] or the top 2 KiB, where
// nothing exists (access faults; such loads/stores are kept from wrapping around 2^64). The return label restores all the registers. A trap is
// recorded by the runtime's handler (trap.c, trap_arm) and resumes at the return label
// (trap_resume_pc).
//
// Word distribution. 32-bit words (70%): bits 6:2 uniform over all 32 major opcodes (reserved,
// custom-0..3, OP-V, and the 48/64/80-bit length prefixes included), with per-opcode biased
// fields (every funct3; funct7/funct6/funct5/fmt values of the known extensions and random
// ones; rs2 used as a sub-opcode; shift amounts with bit 5 set in *W forms; ...), plus 15% of
// fully random words. 16-bit words (30%): quadrant 0..2 and funct3 0..7 uniform, other bits
// random with zero rd/rs/immediate fields favoured (the reserved and HINT encodings).
//
// Neutralised words (their decoding is still checked):
//   * branches (b*, c.beqz, c.bnez) and jal/c.j get the offset +4 (the 32-bit slot's end, or the
//     end of "16-bit word + c.nop"), so taken or not they reach the return label;
//   * jalr (every funct3; rs1 forced non-zero), c.jr and c.jalr get rs1 set to the address that
//     makes the target the return label;
//   * SYSTEM funct3=0 (ecall, ebreak, mret, wfi, sfence.vma, hfence/sinval/dret/wrs.* ... and
//     single-field perturbations of them): before the word mepc=return label, mstatus.MPP=M,
//     MPIE=0 (mret comes back to the slot end in M-mode), and mie.MTIE=1 with mtimecmp=0 (a
//     pending but globally disabled interrupt, so wfi completes at once); all undone after;
//   * sret (exactly 0x10200073) is never generated: it would leave M-mode;
//   * CSR instructions are only reads (csrrs/csrrc with rs1=x0, csrrsi/csrrci with uimm=0) of
//     biased-random CSR numbers, or any form on read-only CSR numbers (csr[11:10]=3), which must
//     trap when they write. A fully random CSR word is turned into one of these.
// About 5% of the words run with mstatus.FS=Off ("fs=off" in the line), 30% of the FP
// computational ones (2% of the others) with an invalid frm (5..7, "frm=<n>": those with
// dynamic rounding must trap), 20% in slot 1
// ("@page-end"), and 6% are "hot": run HOT_REPEAT (80) times in a row without rewriting the
// slot, so that typervisor's JIT translates the block holding the word (a block gets translated
// after 64 entries); every run must give the same result (the first runs are interpreted, the
// last ones translated). The directed words run once, in slot 0, with FS on and frm=0.
//
// Known, legitimate differences are listed in DECODE_DEVIATIONS (each exercised by the directed
// words at the start of every program, so a stale rule is noticed).
//
// CLI: node tests/differential/decode-fuzz-gen.mjs SEED [COUNT]   -> prints the program source

/** Small fast PRNG (sfc32), seeded from a 32-bit seed. */
export function makeRng(seed) {
  let a = 0x6a09e667 ^ seed, b = 0xbb67ae85, c = 0x3c6ef372 ^ Math.imul(seed, 0x9e3779b1), d = 1;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 16; i++) next();
  return {
    u32: next,
    int: (n) => next() % n,
    range: (lo, hi) => lo + (next() % (hi - lo + 1)),
    pick: (arr) => arr[next() % arr.length],
    chance: (p) => next() / 4294967296 < p,
  };
}

const u32 = (x) => x >>> 0;
export const hex32 = (w) => u32(w).toString(16).padStart(8, '0');
export const hex16 = (w) => (w & 0xffff).toString(16).padStart(4, '0');
/** The word as printed by the program: 4 hex digits for a 16-bit instruction, else 8. */
export const wordHex = (w, len) => (len === 2 ? hex16(w) : hex32(w));

/** An R-type-shaped word from its fields. */
export function encR(opc, rd, f3, rs1, rs2, f7) {
  return u32((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc);
}
/** An I-type-shaped word (imm: low 12 bits used). */
export function encI(opc, rd, f3, rs1, imm) {
  return u32(((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc);
}

const sext = (v, bits) => (v << (32 - bits)) >> (32 - bits);

// ---------------------------------------------------------------------------------------------
// Field biases

/** funct7 values of OP / OP-32 used by RV64 extensions (base, M, Zba, Zbb, Zbc, Zbs, Zbkb,
 *  Zbkx, Zicond, Zk*, ...) and their neighbours. */
const OP_F7_CORE = [0x00, 0x01, 0x20, 0x04, 0x05, 0x07, 0x10, 0x14, 0x24, 0x30, 0x34];
const OP_F7 = [...OP_F7_CORE, 0x21, 0x06, 0x08, 0x0c, 0x11, 0x15, 0x17, 0x19, 0x1b, 0x1d, 0x18, 0x1a, 0x28, 0x2c,
  0x3f, 0x40, 0x60, 0x70];
/** funct6 values of OP-IMM shifts (slli/srli/srai, bseti/bclri/binvi/bexti, rori, Zbkb/Zknh). */
const SHIFT_F6 = [0x00, 0x10, 0x18, 0x0a, 0x12, 0x1a, 0x02, 0x04, 0x08, 0x01, 0x11, 0x14, 0x20, 0x30, 0x3f];
/** imm[11:0] of OP-IMM funct3=1/5 unary ops and their neighbours (clz..sext.h, orc.b, rev8 (RV64
 *  and RV32), brev8, zip/unzip, Zknh sha*, Zksh sm3*, Zkn aes64im/ks1i). */
const UNARY_IMM = [0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x606, 0x610, 0x287, 0x286, 0x6b8, 0x698, 0x6b9, 0x687,
  0x08f, 0x09f, 0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x108, 0x109, 0x300, 0x310, 0x31a, 0x680, 0x620];
/** funct7 values of OP-FP (F and D; the H and Q ones come from random fmt bits). */
const FP_F7 = [0x00, 0x04, 0x08, 0x0c, 0x2c, 0x10, 0x14, 0x20, 0x60, 0x70, 0x50, 0x68, 0x78, 0x22, 0x2e, 0x40,
  0x44, 0x58, 0x5c, 0x7c, 0x74];
/** CSR number ranges that hold implemented CSRs (U, S, H, M, debug, counters, ids). */
const CSR_RANGES = [[0x000, 0x020], [0x100, 0x1ff], [0x200, 0x2ff], [0x300, 0x3ff], [0x600, 0x6ff],
  [0x700, 0x7bf], [0xb00, 0xbff], [0xc00, 0xcff], [0xd00, 0xdff], [0xe00, 0xeff], [0xf00, 0xf1f], [0x5a8, 0x5a8],
  [0x7c0, 0x7ff], [0x8c0, 0x8ff]];
/** SYSTEM funct3=0 words: the defined ones (privileged spec, H, Svinval, Zawrs, Smrnmi, debug). */
const SYS_WORDS = [0x00000073, 0x00100073, 0x00200073, 0x10200073, 0x30200073, 0x70200073, 0x7b200073,
  0x10500073, 0x12000073, 0x12b50073, 0x16000073, 0x16b50073, 0x18000073, 0x18100073, 0x22000073,
  0x62000073, 0x26000073, 0x66000073, 0x00d00073, 0x01d00073, 0x10400073, 0x20200073];
export const SRET = 0x10200073;

/** Sets the field [lo+width-1:lo] of w to v. */
function setField(w, lo, width, v) {
  const m = ((1 << width) - 1) << lo;
  return u32((w & ~m) | ((v << lo) & m));
}

/** A register number, zero more often than 1/32. */
function reg(r) {
  return r.chance(0.15) ? 0 : r.int(32);
}

/** A CSR number: inside a range of implemented ones, or random. */
function csrNumber(r) {
  if (r.chance(0.3)) return r.int(4096);
  const [lo, hi] = r.pick(CSR_RANGES);
  return r.range(lo, hi);
}

// ---------------------------------------------------------------------------------------------
// 32-bit words

/** A 32-bit word with major opcode `opc5` (bits 6:2) and biased fields. */
function gen32(r, opc5) {
  let w = u32(r.u32() | 3);
  w = setField(w, 2, 5, opc5);
  const f3 = r.int(8);
  w = setField(w, 12, 3, f3);
  if (r.chance(0.2)) w = setField(w, 7, 5, reg(r));
  if (r.chance(0.2)) w = setField(w, 15, 5, reg(r));
  if (r.chance(0.2)) w = setField(w, 20, 5, reg(r));
  const opc = opc5 * 4 + 3;
  switch (opc) {
    case 0x13: // OP-IMM
    case 0x1b: { // OP-IMM-32
      if (f3 === 1 || f3 === 5) {
        const k = r.int(4);
        if (k === 0) w = setField(w, 20, 12, r.pick(UNARY_IMM));
        else if (k === 1) w = setField(w, 26, 6, r.pick(SHIFT_F6));
        else if (k === 2) w = setField(w, 25, 7, r.pick(opc === 0x1b ? OP_F7_CORE : OP_F7));
        if (opc === 0x1b && r.chance(0.3)) w = setField(w, 25, 1, r.int(2)); // shamt[5] in a *W shift
      }
      break;
    }
    case 0x33: // OP
    case 0x3b: // OP-32
      if (r.chance(0.55)) w = setField(w, 25, 7, r.pick(OP_F7_CORE));
      else if (r.chance(0.6)) w = setField(w, 25, 7, r.pick(OP_F7));
      if (r.chance(0.3)) w = setField(w, 20, 5, r.int(4)); // rs2 as a sub-opcode (zext.h, ...)
      break;
    case 0x0f: // MISC-MEM
      if (f3 === 2 || r.chance(0.2)) {
        w = setField(w, 12, 3, 2);
        if (r.chance(0.6)) w = setField(w, 7, 5, 0);
        if (r.chance(0.7)) w = setField(w, 20, 12, r.int(8));
      } else if (f3 <= 1 && r.chance(0.5)) {
        // fence / fence.i / pause / fence.tso shapes with some fields zero
        if (r.chance(0.5)) w = setField(w, 7, 5, 0);
        if (r.chance(0.5)) w = setField(w, 15, 5, 0);
        if (r.chance(0.5)) w = setField(w, 28, 4, r.pick([0, 8]));
      }
      break;
    case 0x2f: // AMO: funct5 is uniform already; favour the defined widths
      if (r.chance(0.7)) w = setField(w, 12, 3, 2 + r.int(2));
      if (r.chance(0.3)) w = setField(w, 27, 5, r.pick([0x02, 0x03]));
      break;
    case 0x43: case 0x47: case 0x4b: case 0x4f: // FMA family: fmt bits 26:25 uniform, rm uniform
      break;
    case 0x53: { // OP-FP
      if (r.chance(0.75)) {
        const f7 = r.pick(FP_F7) | (r.chance(0.8) ? r.int(2) : r.int(4));
        w = setField(w, 25, 7, f7);
      }
      if (r.chance(0.6)) w = setField(w, 20, 5, r.int(r.chance(0.5) ? 4 : 8));
      break;
    }
    case 0x07: case 0x27: // FP loads/stores: width in funct3 (uniform); vector fields random
      break;
    case 0x73: { // SYSTEM
      const k = r.int(20);
      if (k < 7) {
        w = r.pick(SYS_WORDS);
        if (r.chance(0.5)) {
          switch (r.int(5)) {
            case 0: w = setField(w, 7, 5, r.range(1, 31)); break;
            case 1: w = setField(w, 15, 5, r.range(1, 31)); break;
            case 2: w = setField(w, 20, 5, r.int(32)); break;
            case 3: w = setField(w, 25, 7, r.int(128)); break;
            default: w = u32(w ^ (1 << r.range(7, 31))); break;
          }
          w = setField(w, 12, 3, 0);
        }
      } else if (k < 9) {
        w = setField(w, 12, 3, 4); // hlv/hsv space, reserved without H
        if (r.chance(0.5)) w = setField(w, 25, 7, r.pick([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39]));
      } else {
        w = setField(w, 20, 12, csrNumber(r));
      }
      break;
    }
  }
  return w;
}

/** Makes a random 32-bit word safe to run (see the header). Returns null to reject it. */
function neutralise32(w, r) {
  const opc = w & 0x7f;
  const f3 = (w >>> 12) & 7;
  const e = { word: w, len: 4, sys: false, fixReg: 0, fixAdd: 0 };
  switch (opc) {
    case 0x63: // BRANCH: offset +4
      e.word = u32((w & ~0xfe000f80) | (1 << 9));
      break;
    case 0x6f: // JAL: offset +4
      e.word = u32((w & 0xfff) | (1 << 22));
      break;
    case 0x67: { // JALR (any funct3): target = rs1 + imm = the return label
      let rs1 = (w >>> 15) & 31;
      if (rs1 === 0) {
        rs1 = r.range(1, 31);
        e.word = setField(w, 15, 5, rs1);
      }
      e.fixReg = rs1;
      e.fixAdd = -sext(w >>> 20, 12);
      break;
    }
    case 0x03: case 0x07: case 0x23: case 0x27: { // loads/stores
      // With base x0 the access is at imm: keep it from wrapping around the top of the address
      // space (imm in [-7, -1]), a corner where the faulting part reported in mtval is a free choice.
      const store = opc === 0x23 || opc === 0x27;
      const imm = store ? sext(((w >>> 25) << 5) | ((w >>> 7) & 31), 12) : sext(w >>> 20, 12);
      if (((w >>> 15) & 31) === 0 && imm >= -7 && imm <= -1) {
        const v = (imm - 8) & 0xfff;
        e.word = store ? setField(setField(w, 7, 5, v & 31), 25, 7, v >>> 5) : setField(w, 20, 12, v);
      }
      break;
    }
    case 0x73:
      if (f3 === 0) {
        if (w === SRET) return null;
        e.sys = true;
      } else if (f3 !== 4) {
        const csr = w >>> 20;
        if (csr >>> 10 !== 3) {
          // not read-only: keep the read only (no write) form
          let nf3 = f3 === 1 ? 2 : f3 === 5 ? 6 : f3;
          if (r.chance(0.5) && (nf3 === 2 || nf3 === 3)) nf3 = r.pick([2, 3]);
          e.word = setField(setField(w, 12, 3, nf3), 15, 5, 0);
        }
      }
      break;
  }
  return e;
}

// ---------------------------------------------------------------------------------------------
// 16-bit words

/** A 16-bit word in quadrant q (0..2) with funct3 f3, zero fields favoured. */
function gen16(r, q, f3) {
  let c = (r.u32() & 0x1ffc) | q | (f3 << 13);
  if (r.chance(0.2)) c &= ~(0x1f << 7); // rd/rs1 = 0 (or rd'/imm bits 9:7)
  if (r.chance(0.2)) c &= ~(0x1f << 2); // rs2 = 0 / low immediate bits zero
  if (r.chance(0.15)) c &= ~(1 << 12);
  if (r.chance(0.1)) c |= 1 << 12;
  if (q === 1 && f3 === 3 && r.chance(0.3)) c = (c & ~(0x1f << 7)) | (2 << 7); // c.addi16sp
  if (q === 1 && f3 === 4 && r.chance(0.4)) c |= 3 << 10; // the c.sub..c.addw block and its reserved part
  if (r.chance(0.02)) c = q === 0 ? 0 : c;
  return c & 0xffff;
}

/** Makes a 16-bit word safe to run. */
function neutralise16(c) {
  const q = c & 3;
  const f3 = c >>> 13;
  const e = { word: c, len: 2, sys: false, fixReg: 0, fixAdd: 0 };
  if (q === 1 && f3 === 5) {
    // c.j: offset +4 (offset[3:1] are bits 5:3, so offset[2] is bit 4)
    e.word = (c & ~0x1ffc) | (1 << 4);
  } else if (q === 1 && f3 >= 6) {
    // c.beqz/c.bnez: offset[2:1] are bits 4:3, offset +4
    e.word = (c & ~0x1c7c) | (1 << 4);
  } else if (q === 2 && f3 === 4 && ((c >>> 2) & 31) === 0 && ((c >>> 7) & 31) !== 0) {
    // c.jr / c.jalr: target = rs1 = the return label
    e.fixReg = (c >>> 7) & 31;
    e.fixAdd = 0;
  }
  return e;
}

// ---------------------------------------------------------------------------------------------
// Known differences

/** A CSR read (no write) of `csr`. */
function isCsrRead(w, csr) {
  const f3 = (w >>> 12) & 7;
  return (w & 0x7f) === 0x73 && w >>> 20 === csr && [2, 3, 6, 7].includes(f3) && ((w >>> 15) & 31) === 0;
}

/**
 * Differences accepted between QEMU's and typervisor's line for a word. Same two reasons as
 * qemu-deviations.mjs: QEMU 7.2 departs from the specification, or typervisor implements an
 * extension QEMU 7.2 lacks. `match(word, len, fsOff)` selects the words; `qemu` and `ours` are
 * the results ("ok" or "trap cause=.. tval=..") expected on each side.
 */
export const DECODE_DEVIATIONS = [
  {
    name: 'Zicond czero.eqz/czero.nez',
    match: (w, len) => len === 4 && (w & 0xfe00507f) === 0x0e005033,
    qemu: (w) => `trap cause=2 tval=${u32(w).toString(16)}`,
    ours: () => 'ok',
    why: 'typervisor implements Zicond (funct7=0x07, funct3=5/7, OP); QEMU 7.2 does not',
  },
  {
    name: 'Zicbom/Zicboz cbo.inval/clean/flush/zero',
    match: (w, len) => len === 4 && (w & 0x00007fff) === 0x0000200f && [0, 1, 2, 4].includes(w >>> 20),
    qemu: (w) => `trap cause=2 tval=${u32(w).toString(16)}`,
    // with base x0 (address 0, where nothing exists) cbo.zero, a store, faults; the others are
    // no-ops here (no caches)
    ours: (w) => (w >>> 20 === 4 && ((w >>> 15) & 31) === 0 ? 'trap cause=7 tval=0' : 'ok'),
    why: 'typervisor implements Zicbom and Zicboz (MISC-MEM funct3=2, rd=0, imm 0/1/2/4); QEMU 7.2 does not',
  },
  {
    name: 'vstimecmp read',
    match: (w, len) => len === 4 && isCsrRead(w, 0x24d),
    qemu: () => 'ok',
    ours: (w) => `trap cause=2 tval=${u32(w).toString(16)}`,
    why: 'vstimecmp (0x24d) belongs to the H extension, which the reference runs without; QEMU 7.2 keeps it',
  },
  {
    name: 'misaligned access-fault mtval',
    match: (w, len) => len === 4 && misalignedX0Access(w) !== null,
    qemu: (w) => {
      const a = misalignedX0Access(w);
      return `trap cause=${a.cause} tval=${(a.addr & ~BigInt(a.size - 1)).toString(16)}`;
    },
    ours: (w) => {
      const a = misalignedX0Access(w);
      return `trap cause=${a.cause} tval=${a.addr.toString(16)}`;
    },
    why: 'a misaligned load/store to a non-existent address: QEMU 7.2 reports the address rounded down to the access size, ' +
      'outside the access; mtval must hold the address of the portion of the access that faulted (priv spec, mtval)',
  },
  {
    name: 'AMO access fault cause',
    // AMOs (not LR/SC) of either width with base x0: address 0, where nothing exists
    match: (w, len) => len === 4 && ((w & 0x707f) === 0x202f || (w & 0x707f) === 0x302f) &&
      ((w >>> 15) & 31) === 0 && ![0x02, 0x03].includes(w >>> 27),
    qemu: () => 'trap cause=5 tval=0',
    ours: () => 'trap cause=7 tval=0',
    why: 'an AMO to a non-existent address raises a store/AMO access fault (cause 7: AMOs fault as stores, ' +
      'priv spec exception codes); QEMU 7.2 raises a load access fault (cause 5)',
  },
];

/** Loads/stores (integer and FP) with base x0 (so to an address in [0, 0x7ff] or the top 2 KiB,
 *  where nothing exists) that are misaligned: { addr (BigInt), size, cause }, else null. */
function misalignedX0Access(w) {
  const opc = w & 0x7f;
  const f3 = (w >>> 12) & 7;
  if (((w >>> 15) & 31) !== 0) return null;
  let size = 0;
  let imm;
  let cause;
  if (opc === 0x03 || opc === 0x07) {
    size = opc === 0x03 ? [1, 2, 4, 8, 1, 2, 4, 0][f3] : [0, 0, 4, 8, 0, 0, 0, 0][f3];
    imm = sext(w >>> 20, 12);
    cause = 5;
  } else if (opc === 0x23 || opc === 0x27) {
    size = opc === 0x23 ? [1, 2, 4, 8, 0, 0, 0, 0][f3] : [0, 0, 4, 8, 0, 0, 0, 0][f3];
    imm = sext(((w >>> 25) << 5) | ((w >>> 7) & 31), 12);
    cause = 7;
  }
  if (!size) return null;
  const addr = BigInt.asUintN(64, BigInt(imm));
  if ((addr & BigInt(size - 1)) === 0n) return null;
  return { addr, size, cause };
}

/** Words placed at the start of every program: one per deviation rule (so that every rule is
 *  exercised by every seed) plus hand-picked reserved/edge encodings. */
export const DIRECTED = [
  // rule probes
  encR(0x33, 10, 5, 11, 12, 0x07), // czero.eqz a0,a1,a2
  encR(0x33, 10, 7, 11, 12, 0x07), // czero.nez a0,a1,a2
  encI(0x0f, 0, 2, 10, 0), // cbo.inval (a0)
  encI(0x0f, 0, 2, 10, 1), // cbo.clean (a0)
  encI(0x0f, 0, 2, 10, 2), // cbo.flush (a0)
  encI(0x0f, 0, 2, 10, 4), // cbo.zero (a0)
  encI(0x73, 10, 2, 0, 0x24d), // csrr a0, vstimecmp
  encI(0x03, 10, 3, 0, 0x7f3), // ld a0, 0x7f3(x0): misaligned, nothing there
  encI(0x03, 10, 0, 0, 0x7f3), // lb a0, 0x7f3(x0): aligned, nothing there
  // reserved neighbours of those
  encI(0x0f, 10, 2, 10, 0), // cbo.inval with rd != 0
  encI(0x0f, 0, 2, 10, 3), // cbo, imm 3
  encR(0x33, 10, 6, 11, 12, 0x07), // funct7=0x07 funct3=6
  encR(0x3b, 10, 5, 11, 12, 0x07), // czero in OP-32 space
  // compressed reserved / HINT encodings
  0x0000, 0x2001, 0x6001, 0x6101, 0x7101, 0x4002, 0x6002, 0x8002, 0x9002, 0x9c61, 0x9c41, 0x9c01, 0x9c21,
  0x0001, 0x0081, 0x4001, 0x6081, 0x8001, 0x8401, 0x0002, 0x1002, 0x8006, 0x9006, 0x8000, 0x9c75,
  // 32-bit edges
  0x0200101b, // slliw with shamt[5]=1
  0x4200501b, // sraiw with shamt[5]=1
  0x0000100f, 0xfffff00f, 0x8330000f, 0x0100000f, 0xfffff08f, // fence.i / fence shapes
  0x0000700f, // MISC-MEM funct3=7
  0x00000013, 0x00001013, 0x04001013, 0x40001013, // slli 0 / slli with f6 bits
  0x6b805013, 0x69805013, 0x28705013, 0x68705013, // rev8 (RV64, RV32), orc.b, brev8
  0x0800403b, 0x0800c03b, 0x0800403b | (1 << 20), // zext.h and packw neighbours
  0x1005202f, 0x1015202f, 0x1800302f, // lr.w x0,(a0); the same with rs2!=0; sc.d x0,x0,(x0)
  0x1000202f, 0x1000302f, 0x0800202f, // lr.w/lr.d/amoswap.w at address 0 (nothing there: access faults)
  0x02007053, 0x0200f053, 0x02005053, 0x02006053, // fadd.d rm=7 / 5 / 6
  0xe0000053, 0xe0001053, 0xe0100053, 0xf0000053, 0xf0100053, // fmv.x.w, fclass.s, rs2!=0, fmv.w.x
  0x40100053, 0x42000053, 0x40200053, 0x44000053, // fcvt.s.d, fcvt.d.s, fcvt.s.h, fcvt.h.s (Zfhmin)
  0x30200073, 0x10500073, 0x00100073, 0x00000073, 0x12000073, 0x7b200073, 0x00200073, // SYSTEM
  encI(0x73, 10, 2, 0, 0xc00), encI(0x73, 0, 1, 10, 0xc00), encI(0x73, 10, 2, 5, 0xf14), // csr read-only writes
];

// ---------------------------------------------------------------------------------------------
// Program

/** Share of the random words run HOT_REPEAT times in a row (see the header). */
const HOT_SHARE = 0.06;
export const HOT_REPEAT = 80;
/** Share of the random words run in slot 1, across a page boundary. */
const PAGE_END_SHARE = 0.2;

/** Descriptor of word i: { word, len, sys, fixReg, fixAdd, fsOff, frm, hot, slot, directed }. */
function makeWords(seed, count) {
  const r = makeRng(u32(seed));
  const out = [];
  const push = (e, directed) => {
    e.fsOff = !directed && r.chance(0.05);
    const fpArith = e.len === 4 && [0x43, 0x47, 0x4b, 0x4f, 0x53].includes(e.word & 0x7f);
    e.frm = !directed && r.chance(fpArith ? 0.3 : 0.02) ? r.range(5, 7) : 0;
    e.hot = !directed && r.chance(HOT_SHARE);
    e.slot = !directed && r.chance(PAGE_END_SHARE) ? 1 : 0;
    e.directed = directed;
    out.push(e);
  };
  for (const w of DIRECTED) {
    const len = (w & 3) === 3 ? 4 : 2;
    const e = len === 4 ? neutralise32(w, r) : neutralise16(w);
    if (e) push(e, true);
  }
  while (out.length < count) {
    let e = null;
    if (r.chance(0.7)) {
      const w = r.chance(0.15) ? u32(r.u32() | 3) : gen32(r, r.int(32));
      e = neutralise32(w, r);
    } else {
      e = neutralise16(gen16(r, r.int(3), r.int(8)));
    }
    if (e) push(e, false);
  }
  return out;
}

/** The slots' assembly (see the comment in the C source), as a top-level asm statement. */
function slotAsm() {
  const saves = ['ra', 'sp', 'gp', 'tp', 's0', 's1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11'];
  const lines = [
    '.section .text.df_slot, "ax", @progbits',
    '.option push',
    '.option norvc',
    '.option norelax',
    '.balign 4096', // page 0: entry and restore
    '.globl df_run, df_slot0, df_ret0, df_slot1, df_ret1',
    'df_run:',
    'la t0, df_save',
    ...saves.map((r, i) => `sd ${r}, ${8 * i}(t0)`),
    ...Array.from({ length: 12 }, (_, i) => `fsd fs${i}, ${128 + 8 * i}(t0)`),
    'beqz a1, 1f',
    'li t1, 0x6000',
    'csrc mstatus, t1', // FS = Off
    '1:',
    'bnez a2, 2f',
  ];
  // x10 (a0, the regs pointer) last
  const loads = [...Array.from({ length: 31 }, (_, i) => i + 1).filter((n) => n !== 10), 10].map((n) => `ld x${n}, ${8 * n}(a0)`);
  lines.push(...loads, 'j df_slot0');
  lines.push('2:', ...loads, 'j df_slot1');
  lines.push(
    'df_restore:',
    'li t0, 0x2000',
    'csrs mstatus, t0', // FS back on (at least Initial) before the FP restores
    'la t0, df_save',
    ...saves.map((r, i) => `ld ${r}, ${8 * i}(t0)`),
    ...Array.from({ length: 12 }, (_, i) => `fld fs${i}, ${128 + 8 * i}(t0)`),
    'ret',
    '.org 4096', // page 1: slot 0
    'df_slot0:',
    '.word 0x00000013',
    'df_ret0:',
    'j df_restore',
    '.org 12286', // page 2 holds only the first half of slot 1
    'df_slot1:',
    '.hword 0x0013',
    '.hword 0x0000', // page 3 from here
    '.hword 0x0001', // c.nop: where a branch/jump by +4 from slot 1 lands
    'df_ret1:',
    'j df_restore',
    '.balign 4096',
    '.option pop',
    '.text',
  );
  return `__asm__(\n${lines.map((l) => `    "${/:$/.test(l) ? '' : '    '}${l.replace(/"/g, '\\"')}\\n"`).join('\n')});`;
}

function cSource(seed, words) {
  const rows = words.map((e) => {
    const image = e.len === 4 ? e.word : u32(e.word | 0x00010000); // 16-bit word + c.nop
    const flags = (e.sys ? 1 : 0) | (e.fixReg ? 2 : 0) | (e.fsOff ? 4 : 0) | (e.len === 2 ? 8 : 0) | (e.hot ? 16 : 0) |
      (e.slot ? 32 : 0);
    return `    {0x${hex32(image)}u, ${flags}, ${e.fixReg}, ${e.frm}, ${e.fixAdd}},`;
  });
  return `/* Generated by tests/differential/decode-fuzz-gen.mjs, seed ${seed}: ${words.length} words. */
#include "test.h"

struct df_word {
    uint32_t image;  /* slot contents: the word, or a 16-bit word + c.nop */
    uint8_t flags;   /* 1 SYSTEM set-up, 2 fix register, 4 FS=Off, 8 16-bit word, 16 repeated, 32 slot 1 */
    uint8_t fix_reg;
    uint8_t frm;     /* frm while the word runs (0: the usual 0) */
    int16_t fix_add; /* register fix_reg = the slot's return label + fix_add */
};

struct df_result {
    uint64_t n, cause, tval, epc;
};

static const struct df_word df_words[] = {
${rows.join('\n')}
};
#define N_WORDS (sizeof(df_words) / sizeof(df_words[0]))
#define HOT_REPEAT ${HOT_REPEAT}

uint64_t df_save[32];
uint64_t df_regs[32];
static uint8_t df_scratch[8192] __attribute__((aligned(4096)));
extern char df_slot0[], df_ret0[], df_slot1[], df_ret1[];
void df_run(uint64_t *regs, uint64_t fs_off, uint64_t which);

/* The code slots, in pages of their own (so slot writes invalidate no other code):
 * df_run(regs, fs_off, which) saves the C state (ra, sp, gp, tp, s0-s11, fs0-fs11), clears
 * mstatus.FS if fs_off, loads x1..x31 from regs[1..31], and jumps to slot 0 (df_slot0, at the
 * start of a page, followed by df_ret0) or to slot 1 (df_slot1: the last 2 bytes of a page, so
 * a 32-bit word crosses into the next page; followed by c.nop and df_ret1). df_ret0/df_ret1, also
 * the trap resume points, jump to df_restore, which restores the C state and returns. */
${slotAsm()}

static void print_result(const struct df_result *r, uint64_t slot)
{
    if (r->n == 0) {
        tprintf(" ok");
        return;
    }
    tprintf(" trap cause=%lx tval=%lx", r->cause, r->tval);
    if (r->epc != slot)
        tprintf(" epc=%c%lx", r->epc < slot ? '-' : '+', r->epc < slot ? slot - r->epc : r->epc - slot);
    if (r->n != 1)
        tprintf(" count=%lu", r->n);
}

int main(void)
{
    uint64_t s = (uint64_t)(df_scratch + 4096);
    tprintf("decode-fuzz seed ${seed}: %lu words\\n", (uint64_t)N_WORDS);
    for (uint64_t i = 0; i < N_WORDS; i++) {
        const struct df_word *d = &df_words[i];
        uint64_t which = (d->flags >> 5) & 1;
        uint64_t slot = which ? (uint64_t)df_slot1 : (uint64_t)df_slot0;
        uint64_t ret = which ? (uint64_t)df_ret1 : (uint64_t)df_ret0;
        ((volatile uint16_t *)slot)[0] = (uint16_t)d->image;
        ((volatile uint16_t *)slot)[1] = (uint16_t)(d->image >> 16);
        fence_i();
        int reps = (d->flags & 16) ? HOT_REPEAT : 1;
        struct df_result first = {0, 0, 0, 0}, other = {0, 0, 0, 0};
        int other_rep = -1;
        for (int rep = 0; rep < reps; rep++) {
            for (int r = 1; r < 32; r++)
                df_regs[r] = s;
            if (d->flags & 2)
                df_regs[d->fix_reg] = ret + (int64_t)d->fix_add;
            uint64_t ms = csr_read(mstatus);
            if (d->frm)
                csr_write(frm, d->frm);
            if (d->flags & 1) {
                csr_write(mepc, ret);
                csr_clear(mstatus, MSTATUS_MPIE);
                csr_set(mstatus, MSTATUS_MPP);
                CLINT_MTIMECMP = 0;
                csr_set(mie, MIP_MTIP);
            }
            trap_arm();
            trap_resume_pc = ret;
            df_run(df_regs, d->flags & 4, which);
            struct df_result res = {trap_rec.count, trap_rec.cause, trap_rec.tval, trap_rec.epc};
            trap_disarm();
            if (d->flags & 1) {
                csr_clear(mie, MIP_MTIP);
                CLINT_MTIMECMP = ~0UL;
            }
            csr_write(mstatus, ms);
            if (d->frm)
                csr_write(frm, 0);
            if (rep == 0)
                first = res;
            else if (other_rep < 0 && (res.n != first.n || res.cause != first.cause || res.tval != first.tval ||
                                       res.epc != first.epc)) {
                other = res;
                other_rep = rep;
            }
        }
        if (d->flags & 8)
            tprintf("%04x", d->image & 0xffff);
        else
            tprintf("%08x", d->image);
        if (d->flags & 4)
            tprintf(" fs=off");
        if (d->frm)
            tprintf(" frm=%d", d->frm);
        if (which)
            tprintf(" @page-end");
        print_result(&first, slot);
        if (other_rep >= 0) {
            tprintf(" but run %d:", other_rep + 1);
            print_result(&other, slot);
        }
        tprintf("\\n");
    }
    tprintf("decode-fuzz done %lu\\n", (uint64_t)N_WORDS);
    /* Wait until the UART has sent everything (LSR.TEMT): QEMU holds back bytes while the host
     * reads slowly, and the exit through the finisher would drop them. */
    for (long k = 0; k < 10000000 && !(*(volatile uint8_t *)(UART_BASE + UART_LSR) & 0x40); k++)
        ;
    return 0;
}
`;
}

/** The program of `seed` with `count` words (directed words included). */
export function generateDecodeProgram(seed, { count = 3000 } = {}) {
  const words = makeWords(seed, count);
  return { source: cSource(seed, words), words };
}

// ---------------------------------------------------------------------------------------------
// Comparison

/** "<hex>[ fs=off][ frm=N][ @page-end] <result>" -> { hex, mods, result } */
function parseLine(line) {
  const m = /^([0-9a-f]{4}|[0-9a-f]{8})((?: fs=off)?(?: frm=\d)?(?: @page-end)?) (ok.*|trap .*)$/.exec(line);
  return m ? { hex: m[1], mods: m[2], result: m[3] } : null;
}
const modsOf = (e) => `${e.fsOff ? ' fs=off' : ''}${e.frm ? ` frm=${e.frm}` : ''}${e.slot ? ' @page-end' : ''}`;

/**
 * Compares QEMU's and typervisor's output for the program's `words`. Returns
 * { ok, diffs: [{ index, word, len, fsOff, qemu, ours }], used: Set<rule>, problems: string[] }
 * where diffs are the unexplained differences and problems are structural ones (missing lines,
 * wrong words, no final line).
 */
export function compareDecode(words, qemuText, oursText) {
  const q = qemuText.split('\n');
  const o = oursText.split('\n');
  const problems = [];
  const diffs = [];
  const used = new Set();
  const qHead = q.findIndex((l) => l.startsWith('decode-fuzz seed '));
  const oHead = o.findIndex((l) => l.startsWith('decode-fuzz seed '));
  if (qHead < 0) problems.push('QEMU output has no header line');
  if (oHead < 0) problems.push('typervisor output has no header line');
  if (problems.length) return { ok: false, diffs, used, problems };
  for (let i = 0; i < words.length; i++) {
    const e = words[i];
    const hex = wordHex(e.word, e.len);
    const ql = q[qHead + 1 + i];
    const ol = o[oHead + 1 + i];
    const qp = ql === undefined ? null : parseLine(ql);
    const op = ol === undefined ? null : parseLine(ol);
    if (!qp || qp.hex !== hex || qp.mods !== modsOf(e)) {
      problems.push(`QEMU line ${qHead + 2 + i} is ${JSON.stringify(ql)}, expected word ${hex}`);
      break;
    }
    if (!op || op.hex !== hex || op.mods !== modsOf(e)) {
      diffs.push({ index: i, word: e.word, len: e.len, fsOff: e.fsOff, frm: e.frm, hot: e.hot, qemu: qp.result, ours: ol === undefined ? '(missing: output ends here)' : `(line ${JSON.stringify(ol)})` });
      problems.push(`typervisor line ${oHead + 2 + i} is ${JSON.stringify(ol)}, expected word ${hex}`);
      break;
    }
    if (qp.result === op.result) continue;
    const rule = DECODE_DEVIATIONS.find((d) => d.match(e.word, e.len, e.fsOff) && d.qemu(e.word) === qp.result && d.ours(e.word) === op.result);
    if (rule) {
      used.add(rule);
      continue;
    }
    diffs.push({ index: i, word: e.word, len: e.len, fsOff: e.fsOff, frm: e.frm, hot: e.hot, qemu: qp.result, ours: op.result });
  }
  if (!problems.length) {
    const n = words.length;
    if (!q.includes(`decode-fuzz done ${n}`)) problems.push('QEMU output has no final line');
    if (!o.includes(`decode-fuzz done ${n}`)) problems.push('typervisor output has no final line');
  }
  return { ok: !problems.length && !diffs.length, diffs, used, problems };
}

if (process.argv[1] && process.argv[1].endsWith('decode-fuzz-gen.mjs')) {
  const seed = Number(process.argv[2] ?? 1);
  const count = process.argv[3] ? Number(process.argv[3]) : 3000;
  process.stdout.write(generateDecodeProgram(seed, { count }).source);
}
