// Test-vector generation for the soft-float differential test (see softfloat.test.ts).
// Record layout (shared with oracle.c and entry.ts), 32 bytes little endian:
//   u32 op, u32 rm, u64 a, u64 b, u64 c      with op = fmt * 32 + code (fmt 0 = f32, 1 = f64)

export const CODES = [
  "add", "sub", "mul", "div", "sqrt", "fmadd", "fmsub", "fnmsub", "fnmadd", "min", "max",
  "eq", "lt", "le", "class", "cvt.w", "cvt.wu", "cvt.l", "cvt.lu", "from.w", "from.wu",
  "from.l", "from.lu", "cvt.fmt",
] as const;
const C = Object.fromEntries(CODES.map((n, i) => [n, i])) as Record<(typeof CODES)[number], number>;

export function opName(op: number): string {
  const fmt = op >> 5 ? "d" : "s";
  const name = CODES[op & 31] ?? `op${op & 31}`;
  if (name === "cvt.fmt") return fmt === "s" ? "fcvt.d.s" : "fcvt.s.d";
  if (name.startsWith("cvt.")) return `f${name}.${fmt}`;
  if (name.startsWith("from.")) return `fcvt.${fmt}.${name.slice(5)}`;
  if (name.startsWith("fm") || name.startsWith("fn")) return `${name}.${fmt}`;
  return `f${name}.${fmt}`;
}

/** Number of operands each code reads (for reporting). */
export function arity(op: number): number {
  const code = op & 31;
  if (code >= C.fmadd && code <= C.fnmadd) return 3;
  if (code <= C.div || (code >= C.min && code <= C.le)) return 2;
  return 1;
}

// ---- deterministic PRNG (sfc32) ------------------------------------------------------

class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }
  /** integer in [lo, hi] */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  big(bits: number): bigint {
    let x = 0n;
    for (let i = 0; i < bits; i += 32) x = (x << 32n) | BigInt(this.u32());
    return x & ((1n << BigInt(bits)) - 1n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

// ---- formats -------------------------------------------------------------------------

interface Fmt {
  id: number; // 0 = f32, 1 = f64
  bits: number;
  frac: number;
  emax: number; // all-ones exponent
  bias: number;
}
const F32: Fmt = { id: 0, bits: 32, frac: 23, emax: 255, bias: 127 };
const F64: Fmt = { id: 1, bits: 64, frac: 52, emax: 2047, bias: 1023 };

function make(f: Fmt, sign: number, exp: number, frac: bigint): bigint {
  return (BigInt(sign) << BigInt(f.bits - 1)) | (BigInt(exp) << BigInt(f.frac)) | (frac & ((1n << BigInt(f.frac)) - 1n));
}
/** 2^k as a pattern (normal range only). */
function pow2(f: Fmt, k: number, sign = 0): bigint {
  return make(f, sign, k + f.bias, 0n);
}
const expOf = (f: Fmt, x: bigint) => Number((x >> BigInt(f.frac)) & BigInt(f.emax));
const fracMask = (f: Fmt) => (1n << BigInt(f.frac)) - 1n;

/** Interesting magnitudes; edge() returns them with both signs. */
function edgeMagnitudes(f: Fmt): bigint[] {
  const F = BigInt(f.frac);
  const m = fracMask(f);
  const one = pow2(f, 0);
  const inf = make(f, 0, f.emax, 0n);
  const vals: bigint[] = [
    0n, // zero
    1n, // min subnormal
    2n,
    m, // max subnormal
    1n << (F - 1n), // half of min normal (subnormal)
    make(f, 0, 1, 0n), // min normal
    make(f, 0, 1, 1n),
    make(f, 0, 2, 0n),
    one,
    one + 1n,
    make(f, 0, f.bias - 1, m), // 1 - ulp/2
    make(f, 0, f.bias - 1, 0n), // 0.5
    make(f, 0, f.bias, 1n << (F - 1n)), // 1.5
    make(f, 0, f.bias + 1, 1n << (F - 2n)), // 2.5
    make(f, 0, f.bias + 1, 1n << (F - 1n)), // 3
    pow2(f, 1),
    pow2(f, f.frac), // 2^p-1: ulp becomes 1
    make(f, 0, f.bias + f.frac, m), // largest with ulp 1
    pow2(f, 31),
    make(f, 0, f.bias + 30, m), // just below 2^31
    make(f, 0, f.bias + 31, 1n), // just above 2^31
    pow2(f, 32),
    make(f, 0, f.bias + 31, m),
    pow2(f, 63),
    make(f, 0, f.bias + 62, m),
    make(f, 0, f.bias + 63, 1n),
    pow2(f, 64),
    make(f, 0, f.bias + 63, m),
    make(f, 0, f.emax - 1, m), // max finite
    make(f, 0, f.emax - 1, 0n), // largest power of two
    make(f, 0, f.emax - 2, m),
    pow2(f, -(f.bias >> 1)), // ~sqrt(min normal)
    pow2(f, f.bias >> 1), // ~sqrt(max)
    inf,
    inf | (1n << (F - 1n)), // canonical qNaN
    inf | (1n << (F - 1n)) | 1n, // qNaN with payload
    inf | 1n, // sNaN
    inf | (1n << (F - 2n)), // sNaN
  ];
  return vals;
}
function edge(f: Fmt): bigint[] {
  const out: bigint[] = [];
  const sb = 1n << BigInt(f.bits - 1);
  for (const v of edgeMagnitudes(f)) out.push(v, v | sb);
  return out;
}
/** A smaller set for triples. */
function edgeSmall(f: Fmt): bigint[] {
  const F = BigInt(f.frac);
  const inf = make(f, 0, f.emax, 0n);
  const mags = [
    0n, 1n, fracMask(f), make(f, 0, 1, 0n), pow2(f, 0), make(f, 0, f.bias, 1n << (F - 1n)),
    make(f, 0, f.emax - 1, fracMask(f)), inf, inf | (1n << (F - 1n)), inf | 1n,
  ];
  const sb = 1n << BigInt(f.bits - 1);
  const out: bigint[] = [];
  for (const v of mags) out.push(v, v | sb);
  out.push(pow2(f, -(f.bias >> 1)), pow2(f, f.bias >> 1, 1), make(f, 0, f.bias + 2, 3n));
  return out;
}

// ---- random operand generators -------------------------------------------------------

function randFrac(r: Rng, f: Fmt): bigint {
  const m = fracMask(f);
  switch (r.int(8)) {
    case 0:
      return 0n;
    case 1:
      return m;
    case 2: // few significant bits: exact results and exact ties
      return r.big(f.frac) & ~((1n << BigInt(r.range(1, f.frac))) - 1n) & m;
    case 3: // single bit
      return 1n << BigInt(r.int(f.frac));
    case 4: // runs of ones at the bottom
      return (r.big(f.frac) | ((1n << BigInt(r.range(1, f.frac))) - 1n)) & m;
    default:
      return r.big(f.frac);
  }
}
function randExp(r: Rng, f: Fmt): number {
  switch (r.int(8)) {
    case 0:
      return r.range(0, f.frac + 3); // subnormal / near min normal
    case 1:
      return r.range(f.emax - f.frac - 3, f.emax - 1); // near overflow
    case 2:
      return r.int(64) == 0 ? f.emax : r.range(0, f.emax - 1);
    case 3:
      return r.range(f.bias - 3, f.bias + 70); // integer range
    default:
      return r.range(f.bias - 40, f.bias + 40);
  }
}
function randVal(r: Rng, f: Fmt, edges: bigint[]): bigint {
  const k = r.int(32);
  if (k == 0) return r.pick(edges);
  if (k == 1) return r.big(f.bits); // raw bits
  return make(f, r.int(2), randExp(r, f), randFrac(r, f));
}
/** A value whose exponent is near `e` (alignment, cancellation). */
function randNear(r: Rng, f: Fmt, x: bigint): bigint {
  const e = expOf(f, x);
  if (r.int(4) == 0) {
    // a few ulps away, either sign
    const d = BigInt(r.range(-3, 3));
    let y = (x & ((1n << BigInt(f.bits - 1)) - 1n)) + d;
    if (y < 0n) y = 0n;
    return make(f, r.int(2), 0, 0n) | y;
  }
  const ne = Math.min(f.emax - 1, Math.max(0, e + r.range(-(f.frac + 4), f.frac + 4)));
  return make(f, r.int(2), r.int(3) == 0 ? Math.min(f.emax - 1, Math.max(0, e + r.range(-2, 2))) : ne, randFrac(r, f));
}

// bit <-> number views for building near-cancelling FMA addends
const dv = new DataView(new ArrayBuffer(8));
function toNum(f: Fmt, x: bigint): number {
  if (f.bits == 32) {
    dv.setUint32(0, Number(x));
    return dv.getFloat32(0);
  }
  dv.setBigUint64(0, x);
  return dv.getFloat64(0);
}
function toBits(f: Fmt, v: number): bigint {
  if (f.bits == 32) {
    dv.setFloat32(0, v);
    return BigInt(dv.getUint32(0));
  }
  dv.setFloat64(0, v);
  return dv.getBigUint64(0);
}

/** Result magnitudes where rounding decides underflow / overflow. */
function boundaryTargets(f: Fmt): number[] {
  return [
    toNum(f, make(f, 0, 1, 0n)), // min normal: tininess after rounding
    toNum(f, make(f, 0, 0, fracMask(f))), // max subnormal
    toNum(f, 1n), // min subnormal: rounding to zero
    toNum(f, 2n),
    toNum(f, make(f, 0, f.emax - 1, fracMask(f))), // max finite: overflow
  ];
}
/** Operands (a, b) whose product (or quotient) lies within a few ulps of a boundary. */
function boundaryPair(r: Rng, f: Fmt, div: boolean): [bigint, bigint] {
  const t = r.pick(boundaryTargets(f));
  const x = make(f, r.int(2), f.bias + r.range(-20, 20), randFrac(r, f));
  const nx = Math.abs(toNum(f, x));
  const q = div ? t * nx : t / nx; // a = t * b for a / b; b = t / a for a * b
  const qb = toBits(f, f.bits == 32 ? Math.fround(q) : q) + BigInt(r.range(-3, 3));
  const y = (qb < 0n ? 0n : qb) | (BigInt(r.int(2)) << BigInt(f.bits - 1));
  return div ? [y, x] : [x, y];
}

// ---- vector buffer -------------------------------------------------------------------

export class Vectors {
  buf = Buffer.alloc(1 << 20);
  count = 0;
  push(op: number, rm: number, a: bigint, b = 0n, c = 0n): void {
    if ((this.count + 1) * 32 > this.buf.length) {
      const nb = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(nb);
      this.buf = nb;
    }
    const o = this.count * 32;
    this.buf.writeUInt32LE(op, o);
    this.buf.writeUInt32LE(rm, o + 4);
    this.buf.writeBigUInt64LE(a, o + 8);
    this.buf.writeBigUInt64LE(b, o + 16);
    this.buf.writeBigUInt64LE(c, o + 24);
    this.count++;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.count * 32);
  }
}

const RMS = [0, 1, 2, 3, 4];

function genFormat(v: Vectors, r: Rng, f: Fmt, scale: number): void {
  const op = (code: number) => f.id * 32 + code;
  const E = edge(f);
  const ES = edgeSmall(f);
  const N = (n: number) => Math.max(1, Math.round(n * scale));

  // --- exhaustive edge combinations
  for (const rm of RMS) {
    for (const a of E) {
      for (const b of E) {
        for (const code of [C.add, C.sub, C.mul, C.div]) v.push(op(code), rm, a, b);
      }
      for (const code of [C.sqrt, C.class, C["cvt.w"], C["cvt.wu"], C["cvt.l"], C["cvt.lu"], C["cvt.fmt"]]) {
        v.push(op(code), rm, a);
      }
    }
    for (const a of ES) for (const b of ES) for (const c of ES) {
      for (const code of [C.fmadd, C.fmsub, C.fnmsub, C.fnmadd]) v.push(op(code), rm, a, b, c);
    }
  }
  for (const a of E) for (const b of E) {
    for (const code of [C.min, C.max, C.eq, C.lt, C.le]) v.push(op(code), r.int(5), a, b);
  }

  // --- random
  for (const rm of RMS) {
    for (let i = 0; i < N(6000); i++) {
      const a = randVal(r, f, E);
      const b = r.int(2) ? randNear(r, f, a) : randVal(r, f, E);
      v.push(op(r.int(2) ? C.add : C.sub), rm, a, b);
    }
    for (let i = 0; i < N(5000); i++) {
      // products / quotients near the underflow and overflow thresholds, or anywhere
      const a = randVal(r, f, E);
      const ea = expOf(f, a);
      const target = r.pick([r.range(-f.frac - 4, 3), r.range(f.emax - 3, f.emax + 1), r.range(1, f.emax - 1)]);
      const eMul = Math.min(f.emax - 1, Math.max(0, target - ea + f.bias));
      const eDiv = Math.min(f.emax - 1, Math.max(0, ea - target + f.bias));
      v.push(op(C.mul), rm, a, r.int(8) ? make(f, r.int(2), eMul, randFrac(r, f)) : randVal(r, f, E));
      v.push(op(C.div), rm, a, r.int(8) ? make(f, r.int(2), eDiv, randFrac(r, f)) : randVal(r, f, E));
    }
    for (let i = 0; i < N(3000); i++) {
      const [a, b] = boundaryPair(r, f, false);
      v.push(op(C.mul), rm, a, b);
      const [x, y] = boundaryPair(r, f, true);
      v.push(op(C.div), rm, x, y);
      // the same products plus a tiny (or, near overflow, a small) addend
      const big = expOf(f, a) + expOf(f, b) - f.bias > f.bias;
      const ce = big ? f.emax - 1 - f.frac - r.range(0, 4) : r.range(0, 2);
      const c = r.int(8) ? make(f, r.int(2), ce, randFrac(r, f)) : 0n;
      v.push(op(r.pick([C.fmadd, C.fmsub, C.fnmsub, C.fnmadd])), rm, a, b, c);
    }
    for (let i = 0; i < N(5000); i++) {
      const a = randVal(r, f, E);
      v.push(op(C.sqrt), rm, r.int(8) ? a & ((1n << BigInt(f.bits - 1)) - 1n) : a);
    }
    for (const code of [C.fmadd, C.fmsub, C.fnmsub, C.fnmadd]) {
      for (let i = 0; i < N(4000); i++) {
        const a = randVal(r, f, E);
        const b = randVal(r, f, E);
        let c: bigint;
        const k = r.int(4);
        if (k == 0) {
          c = randVal(r, f, E);
        } else if (k == 1) {
          // addend close to -product (or +product): massive cancellation
          const p = toNum(f, a) * toNum(f, b);
          const pb = toBits(f, f.bits == 32 ? Math.fround(p) : p);
          const mag = (pb & ((1n << BigInt(f.bits - 1)) - 1n)) + BigInt(r.range(-2, 2));
          c = (mag < 0n ? 0n : mag) | (BigInt(r.int(2)) << BigInt(f.bits - 1));
        } else {
          // addend with exponent near the product's
          const ep = expOf(f, a) + expOf(f, b) - f.bias;
          const ec = Math.min(f.emax - 1, Math.max(0, ep + r.range(-(2 * f.frac + 6), 2 * f.frac + 6)));
          c = make(f, r.int(2), ec, randFrac(r, f));
        }
        v.push(op(code), rm, a, b, c);
      }
    }
    for (const code of [C["cvt.w"], C["cvt.wu"], C["cvt.l"], C["cvt.lu"]]) {
      for (let i = 0; i < N(4000); i++) {
        let a: bigint;
        if (r.int(4) == 0) {
          a = randVal(r, f, E);
        } else {
          // |a| in [2^-2, 2^65), often with an exact .5 (ties) or short fraction
          const e = f.bias + r.range(-2, 65);
          const intBits = Math.max(0, e - f.bias);
          let frac = randFrac(r, f);
          if (r.int(2) && intBits < f.frac) {
            const sh = BigInt(f.frac - intBits - 1); // the 1/2 bit position
            frac = (frac & ~((1n << (sh + 1n)) - 1n)) | (1n << sh);
          }
          a = make(f, r.int(3) == 0 ? 1 : r.int(2), e, frac);
        }
        v.push(op(code), rm, a);
      }
    }
    for (const code of [C["from.w"], C["from.wu"], C["from.l"], C["from.lu"]]) {
      for (let i = 0; i < N(3000); i++) {
        const bits = code == C["from.w"] || code == C["from.wu"] ? 32 : 64;
        const len = r.range(1, bits);
        let x = r.big(len);
        if (r.int(4) == 0) x |= 1n << BigInt(len - 1);
        if (r.int(3) == 0) x = ((1n << BigInt(bits)) - 1n) ^ x; // negative (as signed)
        if (bits == 32 && r.int(8) == 0) x |= r.big(32) << 32n; // upper bits are ignored
        v.push(op(code), rm, x);
      }
    }
    for (let i = 0; i < N(5000); i++) {
      let a: bigint;
      if (f.bits == 64 && r.int(4) != 0) {
        // binary64 values around the binary32 range (overflow, subnormal, ties)
        const e = r.range(1023 - 127 - 30, 1023 + 129);
        let frac = randFrac(r, f);
        if (r.int(2)) frac = (frac & ~((1n << 30n) - 1n)) | (BigInt(r.int(2)) << 28n) | (r.int(2) ? 0n : 1n);
        a = make(f, r.int(2), e, frac);
      } else {
        a = randVal(r, f, E);
      }
      v.push(op(C["cvt.fmt"]), rm, a);
    }
    if (f.bits == 64) {
      // binary64 values within about one binary32 ulp of the binary32 boundaries
      for (let i = 0; i < N(3000); i++) {
        const t = toBits(F64, r.pick(boundaryTargets(F32)));
        const d = BigInt(r.range(-2, 2)) * (1n << 28n) + BigInt(r.range(-2, 2)) + (r.int(2) ? r.big(29) : 0n);
        const a = t + d;
        v.push(op(C["cvt.fmt"]), rm, (a < 0n ? 0n : a) | (BigInt(r.int(2)) << 63n));
      }
    }
  }
  for (let i = 0; i < N(20000); i++) {
    const a = randVal(r, f, E);
    const b = r.int(2) ? randNear(r, f, a) : r.int(4) ? randVal(r, f, E) : a;
    v.push(op(r.pick([C.min, C.max, C.eq, C.lt, C.le])), r.int(5), a, b);
    v.push(op(C.class), 0, randVal(r, f, E));
  }
}

/** All vectors for both formats. `scale` multiplies the number of random vectors. */
export function generateVectors(seed: number, scale = 1): Vectors {
  const v = new Vectors();
  const r = new Rng(seed);
  genFormat(v, r, F32, scale);
  genFormat(v, r, F64, scale);
  return v;
}
