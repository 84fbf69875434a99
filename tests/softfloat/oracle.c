/*
 * Reference oracle for the soft-float differential test: runs each vector through the
 * real RISC-V F/D instruction (under qemu-riscv64) and reports result bits and fflags.
 *
 * stdin:  records of 32 bytes, little endian: u32 op, u32 rm, u64 a, u64 b, u64 c
 * stdout: records of 16 bytes: u64 result, u64 fflags
 *
 * op = fmt * 32 + code (fmt 0 = single, 1 = double); codes are listed in OPS below and
 * must match tests/softfloat/entry.ts and softfloat.test.ts. Single-precision results are
 * the 32-bit pattern zero-extended; integer results are the full x register value.
 * rm is written to frm and every instruction uses the dynamic rounding mode.
 */
#include <stdint.h>
#include <stdio.h>

typedef uint64_t u64;
typedef uint32_t u32;

/* one instruction between moves from / to integer registers */
#define OP1(fn, mvin, insn, mvout)                                                   \
  static u64 fn(u64 a, u64 b, u64 c) {                                              \
    u64 r;                                                                          \
    (void)b; (void)c;                                                               \
    asm volatile(mvin " ft0, %1\n\t" insn " ft2, ft0, dyn\n\t" mvout " %0, ft2"      \
                 : "=r"(r) : "r"(a) : "ft0", "ft2");                                \
    return r;                                                                       \
  }
#define OP2(fn, mvin, insn, mvout)                                                   \
  static u64 fn(u64 a, u64 b, u64 c) {                                              \
    u64 r;                                                                          \
    (void)c;                                                                        \
    asm volatile(mvin " ft0, %1\n\t" mvin " ft1, %2\n\t" insn " ft2, ft0, ft1, dyn\n\t" \
                 mvout " %0, ft2"                                                   \
                 : "=r"(r) : "r"(a), "r"(b) : "ft0", "ft1", "ft2");                 \
    return r;                                                                       \
  }
/* two operands, no rounding mode (fmin / fmax) */
#define OP2N(fn, mvin, insn, mvout)                                                  \
  static u64 fn(u64 a, u64 b, u64 c) {                                              \
    u64 r;                                                                          \
    (void)c;                                                                        \
    asm volatile(mvin " ft0, %1\n\t" mvin " ft1, %2\n\t" insn " ft2, ft0, ft1\n\t"  \
                 mvout " %0, ft2"                                                   \
                 : "=r"(r) : "r"(a), "r"(b) : "ft0", "ft1", "ft2");                 \
    return r;                                                                       \
  }
#define OP3(fn, mvin, insn, mvout)                                                   \
  static u64 fn(u64 a, u64 b, u64 c) {                                              \
    u64 r;                                                                          \
    asm volatile(mvin " ft0, %1\n\t" mvin " ft1, %2\n\t" mvin " ft3, %3\n\t"        \
                 insn " ft2, ft0, ft1, ft3, dyn\n\t" mvout " %0, ft2"               \
                 : "=r"(r) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3");   \
    return r;                                                                       \
  }
/* float operands, integer result */
#define CMP(fn, mvin, insn)                                                          \
  static u64 fn(u64 a, u64 b, u64 c) {                                              \
    u64 r;                                                                          \
    (void)c;                                                                        \
    asm volatile(mvin " ft0, %1\n\t" mvin " ft1, %2\n\t" insn " %0, ft0, ft1"       \
                 : "=r"(r) : "r"(a), "r"(b) : "ft0", "ft1");                        \
    return r;                                                                       \
  }
#define TOINT(fn, mvin, insn, rmode)                                                 \
  static u64 fn(u64 a, u64 b, u64 c) {                                              \
    u64 r;                                                                          \
    (void)b; (void)c;                                                               \
    asm volatile(mvin " ft0, %1\n\t" insn " %0, ft0" rmode : "=r"(r) : "r"(a) : "ft0"); \
    return r;                                                                       \
  }
/* integer operand, float result */
#define FROMINT(fn, insn, rmode, mvout)                                              \
  static u64 fn(u64 a, u64 b, u64 c) {                                              \
    u64 r;                                                                          \
    (void)b; (void)c;                                                               \
    asm volatile(insn " ft2, %1" rmode "\n\t" mvout " %0, ft2" : "=r"(r) : "r"(a) : "ft2"); \
    return r;                                                                       \
  }

#define FORMAT(S, MVIN, MVOUT, RMW)                                                       \
  OP2(add_##S, MVIN, "fadd." #S, MVOUT)                                             \
  OP2(sub_##S, MVIN, "fsub." #S, MVOUT)                                             \
  OP2(mul_##S, MVIN, "fmul." #S, MVOUT)                                             \
  OP2(div_##S, MVIN, "fdiv." #S, MVOUT)                                             \
  OP1(sqrt_##S, MVIN, "fsqrt." #S, MVOUT)                                           \
  OP3(fmadd_##S, MVIN, "fmadd." #S, MVOUT)                                          \
  OP3(fmsub_##S, MVIN, "fmsub." #S, MVOUT)                                          \
  OP3(fnmsub_##S, MVIN, "fnmsub." #S, MVOUT)                                        \
  OP3(fnmadd_##S, MVIN, "fnmadd." #S, MVOUT)                                        \
  OP2N(min_##S, MVIN, "fmin." #S, MVOUT)                                            \
  OP2N(max_##S, MVIN, "fmax." #S, MVOUT)                                            \
  CMP(eq_##S, MVIN, "feq." #S)                                                      \
  CMP(lt_##S, MVIN, "flt." #S)                                                      \
  CMP(le_##S, MVIN, "fle." #S)                                                      \
  TOINT(class_##S, MVIN, "fclass." #S, "")                                          \
  TOINT(cvt_w_##S, MVIN, "fcvt.w." #S, ", dyn")                                     \
  TOINT(cvt_wu_##S, MVIN, "fcvt.wu." #S, ", dyn")                                   \
  TOINT(cvt_l_##S, MVIN, "fcvt.l." #S, ", dyn")                                     \
  TOINT(cvt_lu_##S, MVIN, "fcvt.lu." #S, ", dyn")                                   \
  FROMINT(from_w_##S, "fcvt." #S ".w", RMW, MVOUT)                              \
  FROMINT(from_wu_##S, "fcvt." #S ".wu", RMW, MVOUT)                            \
  FROMINT(from_l_##S, "fcvt." #S ".l", ", dyn", MVOUT)                              \
  FROMINT(from_lu_##S, "fcvt." #S ".lu", ", dyn", MVOUT)

/* int32 -> double is exact and has no rounding-mode operand */
FORMAT(s, "fmv.w.x", "fmv.x.w", ", dyn")
FORMAT(d, "fmv.d.x", "fmv.x.d", "")

static u64 s_to_d(u64 a, u64 b, u64 c) {
  u64 r;
  (void)b; (void)c;
  asm volatile("fmv.w.x ft0, %1\n\tfcvt.d.s ft2, ft0\n\tfmv.x.d %0, ft2" : "=r"(r) : "r"(a) : "ft0", "ft2");
  return r;
}
static u64 d_to_s(u64 a, u64 b, u64 c) {
  u64 r;
  (void)b; (void)c;
  asm volatile("fmv.d.x ft0, %1\n\tfcvt.s.d ft2, ft0, dyn\n\tfmv.x.w %0, ft2" : "=r"(r) : "r"(a) : "ft0", "ft2");
  return r;
}

typedef u64 (*opfn)(u64, u64, u64);
#define LIST(S)                                                                      \
  add_##S, sub_##S, mul_##S, div_##S, sqrt_##S, fmadd_##S, fmsub_##S, fnmsub_##S,     \
  fnmadd_##S, min_##S, max_##S, eq_##S, lt_##S, le_##S, class_##S, cvt_w_##S,         \
  cvt_wu_##S, cvt_l_##S, cvt_lu_##S, from_w_##S, from_wu_##S, from_l_##S, from_lu_##S
#define NCODES 24
static const opfn OPS[2][32] = {{LIST(s), s_to_d}, {LIST(d), d_to_s}};
/* codes whose result is a binary32 pattern (to be masked to 32 bits) */
static int single_result(u32 op) {
  u32 fmt = op >> 5, code = op & 31;
  if (code <= 10 || (code >= 19 && code <= 22)) return fmt == 0;
  return code == 23 && fmt == 1;
}

struct in { u32 op, rm; u64 a, b, c; };
struct out { u64 r, flags; };
#define CHUNK 4096
static struct in ibuf[CHUNK];
static struct out obuf[CHUNK];

int main(void) {
  size_t n;
  while ((n = fread(ibuf, sizeof(struct in), CHUNK, stdin)) > 0) {
    for (size_t i = 0; i < n; i++) {
      u32 op = ibuf[i].op, fmt = op >> 5, code = op & 31;
      if (fmt > 1 || code >= NCODES) {
        fprintf(stderr, "oracle: bad op %u\n", op);
        return 2;
      }
      u64 rm = ibuf[i].rm, r, fl;
      asm volatile("fsrm %0\n\tfsflags x0" : : "r"(rm));
      r = OPS[fmt][code](ibuf[i].a, ibuf[i].b, ibuf[i].c);
      asm volatile("frflags %0" : "=r"(fl));
      if (single_result(op)) r &= 0xffffffffu;
      obuf[i].r = r;
      obuf[i].flags = fl;
    }
    if (fwrite(obuf, sizeof(struct out), n, stdout) != n) return 3;
  }
  return 0;
}
