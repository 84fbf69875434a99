/* fp-convert: every fcvt between single, double and 32/64-bit signed/unsigned
 * integers, with every static rounding mode and dyn; out-of-range and NaN
 * inputs (saturation, NV/NX flags), and fcvt.s.d/fcvt.d.s (NaN
 * canonicalisation, overflow, underflow). */
#include "test.h"
#include "report.h"
#include "fp.h"

uint64_t fp_flags;

FP_RMS(FP_X1, fcvt_w_d, "fcvt.w.d")
FP_RMS(FP_X1, fcvt_wu_d, "fcvt.wu.d")
FP_RMS(FP_X1, fcvt_l_d, "fcvt.l.d")
FP_RMS(FP_X1, fcvt_lu_d, "fcvt.lu.d")
FP_RMS(FP_X1, fcvt_w_s, "fcvt.w.s")
FP_RMS(FP_X1, fcvt_wu_s, "fcvt.wu.s")
FP_RMS(FP_X1, fcvt_l_s, "fcvt.l.s")
FP_RMS(FP_X1, fcvt_lu_s, "fcvt.lu.s")
/* The assembler refuses an rm operand on the exact conversions (fcvt.d.w,
 * fcvt.d.wu, fcvt.d.s); encode them with .insn so every rm is exercised. */
#define RM_INSN(KIND, NAME, f7, rs2, src)                                                          \
    KIND(NAME##_rne, ".insn r 0x53, 0, " #f7 ", ft2, " src ", " #rs2 " #", "")                    \
    KIND(NAME##_rtz, ".insn r 0x53, 1, " #f7 ", ft2, " src ", " #rs2 " #", "")                    \
    KIND(NAME##_rdn, ".insn r 0x53, 2, " #f7 ", ft2, " src ", " #rs2 " #", "")                    \
    KIND(NAME##_rup, ".insn r 0x53, 3, " #f7 ", ft2, " src ", " #rs2 " #", "")                    \
    KIND(NAME##_rmm, ".insn r 0x53, 4, " #f7 ", ft2, " src ", " #rs2 " #", "")                    \
    KIND(NAME##_dyn, ".insn r 0x53, 7, " #f7 ", ft2, " src ", " #rs2 " #", "")
RM_INSN(FP_1X, fcvt_d_w, 0x69, x0, "%2")
RM_INSN(FP_1X, fcvt_d_wu, 0x69, x1, "%2")
FP_RMS(FP_1X, fcvt_d_l, "fcvt.d.l")
FP_RMS(FP_1X, fcvt_d_lu, "fcvt.d.lu")
FP_RMS(FP_1X, fcvt_s_w, "fcvt.s.w")
FP_RMS(FP_1X, fcvt_s_wu, "fcvt.s.wu")
FP_RMS(FP_1X, fcvt_s_l, "fcvt.s.l")
FP_RMS(FP_1X, fcvt_s_lu, "fcvt.s.lu")
FP_RMS(FP_R1, fcvt_s_d, "fcvt.s.d")
RM_INSN(FP_R1, fcvt_d_s, 0x21, x0, "ft0")

typedef uint64_t (*f1_t)(uint64_t);
#define TAB(n) {n##_rne, n##_rtz, n##_rdn, n##_rup, n##_rmm, n##_dyn}
struct op { const char *name; int src; f1_t f[6]; }; /* src: 0=int, 1=double, 2=single */

static const struct op ops[] = {
    {"fcvt.w.d", 1, TAB(fcvt_w_d)},   {"fcvt.wu.d", 1, TAB(fcvt_wu_d)},
    {"fcvt.l.d", 1, TAB(fcvt_l_d)},   {"fcvt.lu.d", 1, TAB(fcvt_lu_d)},
    {"fcvt.w.s", 2, TAB(fcvt_w_s)},   {"fcvt.wu.s", 2, TAB(fcvt_wu_s)},
    {"fcvt.l.s", 2, TAB(fcvt_l_s)},   {"fcvt.lu.s", 2, TAB(fcvt_lu_s)},
    {"fcvt.d.w", 0, TAB(fcvt_d_w)},   {"fcvt.d.wu", 0, TAB(fcvt_d_wu)},
    {"fcvt.d.l", 0, TAB(fcvt_d_l)},   {"fcvt.d.lu", 0, TAB(fcvt_d_lu)},
    {"fcvt.s.w", 0, TAB(fcvt_s_w)},   {"fcvt.s.wu", 0, TAB(fcvt_s_wu)},
    {"fcvt.s.l", 0, TAB(fcvt_s_l)},   {"fcvt.s.lu", 0, TAB(fcvt_s_lu)},
    {"fcvt.s.d", 1, TAB(fcvt_s_d)},   {"fcvt.d.s", 2, TAB(fcvt_d_s)},
};

static const uint64_t dvals[] = {
    0x0000000000000000, /* 0 */          0x8000000000000000, /* -0 */
    0x3fe0000000000000, /* 0.5 */        0x3ff8000000000000, /* 1.5 */
    0x4004000000000000, /* 2.5 */        0xbfe0000000000000, /* -0.5 */
    0xbff8000000000000, /* -1.5 */       0xc004000000000000, /* -2.5 */
    0x3fefffffffffffff, /* 0.999.. */    0x41dfffffffc00000, /* 2^31-1 */
    0x41dfffffffe00000, /* 2^31-0.5 */   0x41e0000000000000, /* 2^31 */
    0xc1e0000000000000, /* -2^31 */      0xc1e0000000200000, /* -2^31-1 */
    0x41efffffffe00000, /* 2^32-1 */     0x41f0000000000000, /* 2^32 */
    0x43e0000000000000, /* 2^63 */       0xc3e0000000000000, /* -2^63 */
    0x43f0000000000000, /* 2^64 */       0x43efffffffffffff, /* <2^64 */
    0x7ff0000000000000, /* inf */        0xfff0000000000000, /* -inf */
    0x7ff8000000000000, /* qNaN */       0xfff8000000000001, /* -qNaN */
    0x7ff0000000000001, /* sNaN */       0x0000000000000001, /* min denormal */
    0x7fefffffffffffff, /* max */        0x3fd5555555555555, /* 1/3 */
    0x3ff0000010000000, /* 1+2^-24 */    0x3ff0000030000000, /* 1+3*2^-24 */
    0x380fffffffffffff, /* < min single */ 0x47efffffefffffff, /* ~max single */
};
static const uint32_t svals[] = {
    0x00000000, 0x80000000, 0x3f000000, 0x3fc00000, 0x40200000, 0xbf000000, 0xbfc00000,
    0xc0200000, 0x3f7fffff, 0x4effffff, 0x4f000000, 0xcf000000, 0xcf000001, 0x4f7fffff,
    0x4f800000, 0x5f000000, 0xdf000000, 0x5f800000, 0x5f7fffff, 0x7f800000, 0xff800000,
    0x7fc00000, 0xffc00001, 0x7f800001, 0x00000001, 0x7f7fffff, 0x3eaaaaab,
};
static const uint64_t ivals[] = {
    0, 1, (uint64_t)-1, 0x7fffffff, 0xffffffff80000000, 0x00000000ffffffff, 0x80000000,
    0x1000001, 0xfffffffffeffffff, 0x20000000000001, 0x7fffffffffffffff, 0x8000000000000000,
    0x0123456789abcdef, 0xdeadbeef00000003, 0x00000000fffffffd,
};

int main(void)
{
    for (unsigned o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
        const struct op *op = &ops[o];
        unsigned n = op->src == 0 ? sizeof(ivals) / 8 : op->src == 1 ? sizeof(dvals) / 8 : sizeof(svals) / 4;
        for (unsigned i = 0; i < n; i++) {
            uint64_t a = op->src == 0 ? ivals[i] : op->src == 1 ? dvals[i] : BOX(svals[i]);
            for (int rm = 0; rm < 6; rm++) {
                if (rm == 5)
                    set_frm(3); /* dyn = rup */
                uint64_t r = op->f[rm](a);
                test_csum = mix64(test_csum, r ^ (fp_flags << 56));
                tprintf("%s %s %016lx -> %016lx fl=%02lx\n", op->name, rm == 5 ? "dyn3" : rm_names[rm], a,
                        r, fp_flags);
                if (rm == 5)
                    set_frm(0);
            }
        }
    }
    /* fcvt.w.* writes the sign-extended 32-bit result; fcvt.wu too */
    tprintf("fcvt.wu.d 3e9 rtz -> %016lx\n", fcvt_wu_d_rtz(0x41e65a0bc0000000ULL));
    tprintf("fcvt.w.d -7.9 rtz -> %016lx\n", fcvt_w_d_rtz(0xc01f99999999999aULL));
    report_csum();
    return 0;
}
