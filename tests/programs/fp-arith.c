/* fp-arith: F and D arithmetic: fadd/fsub/fmul/fdiv/fsqrt and the fused
 * fmadd/fmsub/fnmadd/fnmsub, over special values (zeros, denormals, inf, qNaN,
 * sNaN, extremes), every static rounding mode and the dynamic mode with each
 * frm value; prints result bits (singles as the NaN-boxed 64-bit register) and
 * fflags. Also: reserved rm encodings and invalid frm with rm=dyn -> illegal. */
#include "test.h"
#include "report.h"
#include "fp.h"

uint64_t fp_flags;

static const uint64_t dv[] = {
    0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff8000000000000,
    0x0000000000000001, 0x7fefffffffffffff, 0x7ff0000000000000, 0xfff0000000000000,
    0x7ff8000000000000, 0x7ff0000000000001, 0x3fd5555555555555, 0x3ff0000000000001,
    0x0010000000000000, 0xc008000000000000, 0x7e37e43c8800759c, 0x3fb999999999999a,
};
static const uint32_t sv[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbfc00000, 0x00000001, 0x7f7fffff, 0x7f800000, 0xff800000,
    0x7fc00000, 0x7f800001, 0x3eaaaaab, 0x3f800001, 0x00800000, 0xc0400000, 0x7149f2ca, 0x3dcccccd,
};
#define NV 16

FP_RMS(FP_R2, fadd_d, "fadd.d")
FP_RMS(FP_R2, fsub_d, "fsub.d")
FP_RMS(FP_R2, fmul_d, "fmul.d")
FP_RMS(FP_R2, fdiv_d, "fdiv.d")
FP_RMS(FP_R2, fadd_s, "fadd.s")
FP_RMS(FP_R2, fsub_s, "fsub.s")
FP_RMS(FP_R2, fmul_s, "fmul.s")
FP_RMS(FP_R2, fdiv_s, "fdiv.s")
FP_RMS(FP_R1, fsqrt_d, "fsqrt.d")
FP_RMS(FP_R1, fsqrt_s, "fsqrt.s")
FP_RMS(FP_R3, fmadd_d, "fmadd.d")
FP_RMS(FP_R3, fmsub_d, "fmsub.d")
FP_RMS(FP_R3, fnmadd_d, "fnmadd.d")
FP_RMS(FP_R3, fnmsub_d, "fnmsub.d")
FP_RMS(FP_R3, fmadd_s, "fmadd.s")
FP_RMS(FP_R3, fmsub_s, "fmsub.s")
FP_RMS(FP_R3, fnmadd_s, "fnmadd.s")
FP_RMS(FP_R3, fnmsub_s, "fnmsub.s")

typedef uint64_t (*f1_t)(uint64_t);
typedef uint64_t (*f2_t)(uint64_t, uint64_t);
typedef uint64_t (*f3_t)(uint64_t, uint64_t, uint64_t);

#define TAB(n) {n##_rne, n##_rtz, n##_rdn, n##_rup, n##_rmm, n##_dyn}
struct op2 { const char *name; int dbl; f2_t f[6]; };
struct op1 { const char *name; int dbl; f1_t f[6]; };
struct op3 { const char *name; int dbl; f3_t f[6]; };

static const struct op2 ops2[] = {
    {"fadd.d", 1, TAB(fadd_d)}, {"fsub.d", 1, TAB(fsub_d)}, {"fmul.d", 1, TAB(fmul_d)},
    {"fdiv.d", 1, TAB(fdiv_d)}, {"fadd.s", 0, TAB(fadd_s)}, {"fsub.s", 0, TAB(fsub_s)},
    {"fmul.s", 0, TAB(fmul_s)}, {"fdiv.s", 0, TAB(fdiv_s)},
};
static const struct op1 ops1[] = {{"fsqrt.d", 1, TAB(fsqrt_d)}, {"fsqrt.s", 0, TAB(fsqrt_s)}};
static const struct op3 ops3[] = {
    {"fmadd.d", 1, TAB(fmadd_d)},   {"fmsub.d", 1, TAB(fmsub_d)}, {"fnmadd.d", 1, TAB(fnmadd_d)},
    {"fnmsub.d", 1, TAB(fnmsub_d)}, {"fmadd.s", 0, TAB(fmadd_s)}, {"fmsub.s", 0, TAB(fmsub_s)},
    {"fnmadd.s", 0, TAB(fnmadd_s)}, {"fnmsub.s", 0, TAB(fnmsub_s)},
};

static uint64_t val(int dbl, int i) { return dbl ? dv[i] : BOX(sv[i]); }

static void line_start(const char *name, int rm, int frm)
{
    if (rm == 5)
        tprintf("%s dyn%d", name, frm);
    else
        tprintf("%s %s", name, rm_names[rm]);
}
static void line_end(uint64_t r)
{
    test_csum = mix64(test_csum, r ^ (fp_flags << 56));
    tprintf(" -> %016lx fl=%02lx\n", r, fp_flags);
}

/* Operand index pairs / triples that round, overflow or underflow. */
static const int rpairs[][2] = {{10, 15}, {11, 10}, {3, 10}, {14, 14}, {4, 15}, {5, 11}, {15, 13}, {12, 10}};
static const int rsingles[] = {10, 15, 11, 4, 13, 5};
static const int triples[][3] = {
    {2, 2, 2},  {10, 15, 11}, {6, 0, 8},  {6, 0, 9},   {6, 7, 6},   {5, 5, 7},  {4, 4, 1},
    {0, 1, 0},  {0, 0, 1},    {13, 10, 2}, {15, 15, 3}, {11, 11, 13}, {8, 2, 2}, {14, 14, 7},
    {12, 10, 4}, {3, 3, 1},
};
static const int rtriples[] = {1, 9, 10, 11, 14};

static void run_rm_variants(void (*one)(int rm, int frm))
{
    for (int rm = 0; rm < 5; rm++)
        one(rm, 0);
    for (int frm = 0; frm < 5; frm++) {
        set_frm(frm);
        one(5, frm);
    }
    set_frm(0);
}

static int cur_op, cur_a, cur_b, cur_c;
static void one2(int rm, int frm)
{
    const struct op2 *o = &ops2[cur_op];
    uint64_t a = val(o->dbl, cur_a), b = val(o->dbl, cur_b);
    line_start(o->name, rm, frm);
    tprintf(" %016lx %016lx", a, b);
    line_end(o->f[rm](a, b));
}
static void one1(int rm, int frm)
{
    const struct op1 *o = &ops1[cur_op];
    uint64_t a = val(o->dbl, cur_a);
    line_start(o->name, rm, frm);
    tprintf(" %016lx", a);
    line_end(o->f[rm](a));
}
static void one3(int rm, int frm)
{
    const struct op3 *o = &ops3[cur_op];
    uint64_t a = val(o->dbl, cur_a), b = val(o->dbl, cur_b), c = val(o->dbl, cur_c);
    line_start(o->name, rm, frm);
    tprintf(" %016lx %016lx %016lx", a, b, c);
    line_end(o->f[rm](a, b, c));
}

int main(void)
{
    set_frm(0);
    /* 1. full operand cross product, dynamic rm with frm=rne */
    for (cur_op = 0; cur_op < 8; cur_op++)
        for (cur_a = 0; cur_a < NV; cur_a++)
            for (cur_b = 0; cur_b < NV; cur_b++)
                one2(5, 0);
    for (cur_op = 0; cur_op < 2; cur_op++)
        for (cur_a = 0; cur_a < NV; cur_a++)
            one1(5, 0);
    for (cur_op = 0; cur_op < 8; cur_op++)
        for (unsigned t = 0; t < sizeof(triples) / sizeof(triples[0]); t++) {
            cur_a = triples[t][0];
            cur_b = triples[t][1];
            cur_c = triples[t][2];
            one3(5, 0);
        }
    /* 2. rounding-mode variants on inexact cases */
    for (cur_op = 0; cur_op < 8; cur_op++)
        for (unsigned p = 0; p < sizeof(rpairs) / sizeof(rpairs[0]); p++) {
            cur_a = rpairs[p][0];
            cur_b = rpairs[p][1];
            run_rm_variants(one2);
        }
    for (cur_op = 0; cur_op < 2; cur_op++)
        for (unsigned p = 0; p < sizeof(rsingles) / sizeof(rsingles[0]); p++) {
            cur_a = rsingles[p];
            run_rm_variants(one1);
        }
    for (cur_op = 0; cur_op < 8; cur_op++)
        for (unsigned p = 0; p < sizeof(rtriples) / sizeof(rtriples[0]); p++) {
            cur_a = triples[rtriples[p]][0];
            cur_b = triples[rtriples[p]][1];
            cur_c = triples[rtriples[p]][2];
            run_rm_variants(one3);
        }

    /* 3. fflags accrue across instructions (not cleared between) */
    __asm__ volatile("csrw fflags, zero");
    {
        uint64_t r, fl;
        __asm__ volatile("li t0, 0x3ff0000000000000\n\tfmv.d.x ft0, t0\n\tfmv.d.x ft1, zero\n\t"
                         "fdiv.d ft2, ft0, ft1\n\t" /* DZ */
                         "li t0, 0x3fd5555555555555\n\tfmv.d.x ft3, t0\n\t"
                         "fadd.d ft4, ft3, ft0\n\t" /* NX */
                         "fmv.x.d %0, ft4\n\tcsrr %1, fflags"
                         : "=r"(r), "=r"(fl)
                         :
                         : "t0", "ft0", "ft1", "ft2", "ft3", "ft4");
        tprintf("accrued flags: %016lx fl=%02lx\n", r, fl);
    }

    /* 4. reserved rounding modes trap as illegal instructions */
    /* fadd.d ft2, ft0, ft1 with rm=5 and rm=6 (reserved) */
    trap_arm();
    __asm__ volatile(".insn r 0x53, 5, 0x01, ft2, ft0, ft1");
    trap_report("fadd.d rm=5");
    trap_arm();
    __asm__ volatile(".insn r 0x53, 6, 0x01, ft2, ft0, ft1");
    trap_report("fadd.d rm=6");
    /* dyn with an invalid frm */
    for (unsigned frm = 5; frm < 8; frm++) {
        set_frm(frm);
        trap_arm();
        __asm__ volatile("fadd.d ft2, ft0, ft1");
        tprintf("frm=%u ", frm);
        trap_report("fadd.d dyn");
        trap_arm();
        __asm__ volatile("fmadd.s ft2, ft0, ft1, ft3");
        tprintf("frm=%u ", frm);
        trap_report("fmadd.s dyn");
        /* instructions without a rounding mode still work */
        trap_arm();
        __asm__ volatile("fsgnj.d ft2, ft0, ft1");
        tprintf("frm=%u ", frm);
        trap_report("fsgnj.d");
        tprintf("frm=%u fcsr=%lx\n", frm, get_fcsr());
    }
    set_frm(0);
    /* static rm with an invalid frm is fine */
    set_frm(6);
    trap_arm();
    tprintf("static rtz with frm=6: %016lx\n", fadd_d_rtz(dv[10], dv[15]));
    trap_report("fadd.d rtz frm=6");
    set_frm(0);

    report_csum();
    return 0;
}
