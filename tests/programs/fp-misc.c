/* fp-misc: F/D non-arithmetic instructions: fsgnj/fsgnjn/fsgnjx, fmin/fmax
 * (incl. sNaN/qNaN and signed zeros), feq/flt/fle (signalling behaviour),
 * fclass (all ten classes), fmv.x.w/fmv.w.x/fmv.x.d/fmv.d.x, flw/fsw/fld/fsd,
 * and NaN-boxing: single-precision ops on improperly boxed inputs. */
#include "test.h"
#include "report.h"
#include "fp.h"

uint64_t fp_flags;

static const uint64_t dv[] = {
    0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff8000000000000,
    0x0000000000000001, 0x800fffffffffffff, 0x7ff0000000000000, 0xfff0000000000000,
    0x7ff8000000000000, 0x7ff0000000000001, 0xfff8000000000123, 0xfff4000000000000,
    0x0010000000000000, 0xc008000000000000,
};
static const uint32_t sv[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbfc00000, 0x00000001, 0x807fffff, 0x7f800000,
    0xff800000, 0x7fc00000, 0x7f800001, 0xffc00123, 0xffa00000, 0x00800000, 0xc0400000,
};
#define NV 14

FP_R2(fsgnj_d, "fsgnj.d", "")
FP_R2(fsgnjn_d, "fsgnjn.d", "")
FP_R2(fsgnjx_d, "fsgnjx.d", "")
FP_R2(fmin_d, "fmin.d", "")
FP_R2(fmax_d, "fmax.d", "")
FP_R2(fsgnj_s, "fsgnj.s", "")
FP_R2(fsgnjn_s, "fsgnjn.s", "")
FP_R2(fsgnjx_s, "fsgnjx.s", "")
FP_R2(fmin_s, "fmin.s", "")
FP_R2(fmax_s, "fmax.s", "")
FP_X2(feq_d, "feq.d")
FP_X2(flt_d, "flt.d")
FP_X2(fle_d, "fle.d")
FP_X2(feq_s, "feq.s")
FP_X2(flt_s, "flt.s")
FP_X2(fle_s, "fle.s")
FP_X1(fclass_d, "fclass.d", "")
FP_X1(fclass_s, "fclass.s", "")
FP_X1(fmv_x_d, "fmv.x.d", "")
FP_X1(fmv_x_w, "fmv.x.w", "")
FP_1X(fmv_d_x, "fmv.d.x", "")
FP_1X(fmv_w_x, "fmv.w.x", "")
FP_R1(fadd_s_self, "fadd.s", ", ft0")
FP_R1(fsqrt_s_1, "fsqrt.s", "")
FP_R1(fcvt_d_s_1, "fcvt.d.s", "")
FP_R1(fmadd_s_self, "fmadd.s", ", ft0, ft0")

typedef uint64_t (*f2_t)(uint64_t, uint64_t);
static const struct { const char *name; int dbl; f2_t f; } ops2[] = {
    {"fsgnj.d", 1, fsgnj_d}, {"fsgnjn.d", 1, fsgnjn_d}, {"fsgnjx.d", 1, fsgnjx_d},
    {"fmin.d", 1, fmin_d},   {"fmax.d", 1, fmax_d},     {"feq.d", 1, feq_d},
    {"flt.d", 1, flt_d},     {"fle.d", 1, fle_d},       {"fsgnj.s", 0, fsgnj_s},
    {"fsgnjn.s", 0, fsgnjn_s}, {"fsgnjx.s", 0, fsgnjx_s}, {"fmin.s", 0, fmin_s},
    {"fmax.s", 0, fmax_s},   {"feq.s", 0, feq_s},       {"flt.s", 0, flt_s},
    {"fle.s", 0, fle_s},
};

static void show(const char *name, uint64_t a, uint64_t r)
{
    test_csum = mix64(test_csum, r ^ (fp_flags << 56));
    tprintf("%s %016lx -> %016lx fl=%02lx\n", name, a, r, fp_flags);
}
static void show2(const char *name, uint64_t a, uint64_t b, uint64_t r)
{
    test_csum = mix64(test_csum, r ^ (fp_flags << 56));
    tprintf("%s %016lx %016lx -> %016lx fl=%02lx\n", name, a, b, r, fp_flags);
}

static uint64_t mem[4];

int main(void)
{
    for (unsigned o = 0; o < sizeof(ops2) / sizeof(ops2[0]); o++)
        for (int i = 0; i < NV; i++)
            for (int j = 0; j < NV; j++) {
                uint64_t a = ops2[o].dbl ? dv[i] : BOX(sv[i]);
                uint64_t b = ops2[o].dbl ? dv[j] : BOX(sv[j]);
                show2(ops2[o].name, a, b, ops2[o].f(a, b));
            }

    /* fclass: all ten classes in both precisions */
    static const uint64_t cd[] = {0xfff0000000000000, 0xbff0000000000000, 0x800fffffffffffff,
                                  0x8000000000000000, 0x0000000000000000, 0x0000000000000001,
                                  0x3ff0000000000000, 0x7ff0000000000000, 0x7ff0000000000001,
                                  0x7ff8000000000000, 0xfff7ffffffffffff, 0x7fefffffffffffff};
    static const uint32_t cs[] = {0xff800000, 0xbf800000, 0x807fffff, 0x80000000,
                                  0x00000000, 0x00000001, 0x3f800000, 0x7f800000,
                                  0x7f800001, 0x7fc00000, 0xffbfffff, 0x7f7fffff};
    for (unsigned i = 0; i < sizeof(cd) / sizeof(cd[0]); i++)
        show("fclass.d", cd[i], fclass_d(cd[i]));
    for (unsigned i = 0; i < sizeof(cs) / sizeof(cs[0]); i++)
        show("fclass.s", BOX(cs[i]), fclass_s(BOX(cs[i])));

    /* moves */
    static const uint64_t mv[] = {0, 0x3f800000, 0x80000000, 0xffffffff7fc00000, 0x123456789abcdef0,
                                  0xfedcba9876543210, 0x00000000ffffffff};
    for (unsigned i = 0; i < sizeof(mv) / sizeof(mv[0]); i++) {
        show("fmv.w.x", mv[i], fmv_w_x(mv[i]));
        show("fmv.d.x", mv[i], fmv_d_x(mv[i]));
        show("fmv.x.w", mv[i], fmv_x_w(mv[i]));
        show("fmv.x.d", mv[i], fmv_x_d(mv[i]));
    }

    /* NaN-boxing: single ops on values whose upper 32 bits are not all ones
     * see the canonical NaN */
    static const uint64_t unboxed[] = {0x000000003f800000, 0x7fffffff3f800000, 0xfffffffe40000000,
                                       0xffffffff40000000};
    for (unsigned i = 0; i < sizeof(unboxed) / sizeof(unboxed[0]); i++) {
        uint64_t u = unboxed[i];
        show("fadd.s x,x", u, fadd_s_self(u));
        show("fsqrt.s", u, fsqrt_s_1(u));
        show("fcvt.d.s", u, fcvt_d_s_1(u));
        show("fmadd.s x,x,x", u, fmadd_s_self(u));
        show("fclass.s", u, fclass_s(u));
        show("fmv.x.w", u, fmv_x_w(u));
        show2("fsgnj.s u,1.0", u, BOX(0x3f800000), fsgnj_s(u, BOX(0x3f800000)));
        show2("fsgnjn.s 1.0,u", BOX(0x3f800000), u, fsgnjn_s(BOX(0x3f800000), u));
        show2("fmin.s u,2.0", u, BOX(0x40000000), fmin_s(u, BOX(0x40000000)));
        show2("feq.s u,u", u, u, feq_s(u, u));
        show2("fle.s u,1.0", u, BOX(0x3f800000), fle_s(u, BOX(0x3f800000)));
    }

    /* loads and stores */
    mem[0] = 0x0123456789abcdefULL;
    mem[1] = 0xfedcba9876543210ULL;
    mem[2] = 0;
    mem[3] = 0;
    uint64_t r1, r2, r3, r4;
    __asm__ volatile("flw ft0, 0(%4)\n\tfmv.x.d %0, ft0\n\t"
                     "flw ft1, 12(%4)\n\tfmv.x.d %1, ft1\n\t"
                     "fld ft2, 8(%4)\n\tfmv.x.d %2, ft2\n\t"
                     "fsw ft2, 16(%4)\n\t" /* stores the low 32 bits of an unboxed value */
                     "fsd ft0, 24(%4)\n\t"
                     "fsw ft1, 20(%4)\n\t"
                     "flw ft3, -4(%5)\n\tfmv.x.d %3, ft3"
                     : "=&r"(r1), "=&r"(r2), "=&r"(r3), "=&r"(r4)
                     : "r"(mem), "r"(&mem[1])
                     : "ft0", "ft1", "ft2", "ft3", "memory");
    report_val("flw 0", r1);
    report_val("flw 12", r2);
    report_val("fld 8", r3);
    report_val("flw -4", r4);
    report_val("mem[2] after fsw/fsw", mem[2]);
    report_val("mem[3] after fsd", mem[3]);

    /* fmin/fmax/feq: every flag-combination with sNaN/qNaN inputs once more,
     * with fflags accrued over a sequence */
    __asm__ volatile("csrw fflags, zero");
    fmin_d(dv[9], dv[2]);
    uint64_t acc;
    __asm__ volatile("csrr %0, fflags" : "=r"(acc));
    report_val("fflags after fmin.d sNaN", acc);

    report_csum();
    return 0;
}
