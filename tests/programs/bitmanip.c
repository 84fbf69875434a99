/* bitmanip: every Zba, Zbb, Zbc and Zbs instruction over edge-case operands
 * (register and immediate forms, *.uw and *w variants). */
#include "test.h"
#include "report.h"

#define RR(name, insn)                                                                         \
    static uint64_t name(uint64_t a, uint64_t b)                                               \
    {                                                                                          \
        uint64_t r;                                                                            \
        __asm__ volatile(insn " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));                       \
        return r;                                                                              \
    }
#define R1(name, insn)                                                                         \
    static uint64_t name(uint64_t a)                                                           \
    {                                                                                          \
        uint64_t r;                                                                            \
        __asm__ volatile(insn " %0, %1" : "=r"(r) : "r"(a));                                   \
        return r;                                                                              \
    }

/* Zba */
RR(sh1add, "sh1add") RR(sh2add, "sh2add") RR(sh3add, "sh3add") RR(add_uw, "add.uw")
RR(sh1add_uw, "sh1add.uw") RR(sh2add_uw, "sh2add.uw") RR(sh3add_uw, "sh3add.uw")
/* Zbb */
RR(andn, "andn") RR(orn, "orn") RR(xnor, "xnor") RR(max, "max") RR(maxu, "maxu") RR(min, "min")
RR(minu, "minu") RR(rol, "rol") RR(rolw, "rolw") RR(ror, "ror") RR(rorw, "rorw")
R1(clz, "clz") R1(clzw, "clzw") R1(ctz, "ctz") R1(ctzw, "ctzw") R1(cpop, "cpop") R1(cpopw, "cpopw")
R1(sext_b, "sext.b") R1(sext_h, "sext.h") R1(zext_h, "zext.h") R1(orc_b, "orc.b") R1(rev8, "rev8")
/* Zbc */
RR(clmul, "clmul") RR(clmulh, "clmulh") RR(clmulr, "clmulr")
/* Zbs */
RR(bclr, "bclr") RR(bext, "bext") RR(binv, "binv") RR(bset, "bset")

typedef uint64_t (*f2_t)(uint64_t, uint64_t);
typedef uint64_t (*f1_t)(uint64_t);
static const struct { const char *n; f2_t f; } rr[] = {
    {"sh1add", sh1add}, {"sh2add", sh2add}, {"sh3add", sh3add}, {"add.uw", add_uw},
    {"sh1add.uw", sh1add_uw}, {"sh2add.uw", sh2add_uw}, {"sh3add.uw", sh3add_uw},
    {"andn", andn}, {"orn", orn}, {"xnor", xnor}, {"max", max}, {"maxu", maxu}, {"min", min},
    {"minu", minu}, {"rol", rol}, {"rolw", rolw}, {"ror", ror}, {"rorw", rorw},
    {"clmul", clmul}, {"clmulh", clmulh}, {"clmulr", clmulr},
    {"bclr", bclr}, {"bext", bext}, {"binv", binv}, {"bset", bset},
};
static const struct { const char *n; f1_t f; } r1[] = {
    {"clz", clz}, {"clzw", clzw}, {"ctz", ctz}, {"ctzw", ctzw}, {"cpop", cpop}, {"cpopw", cpopw},
    {"sext.b", sext_b}, {"sext.h", sext_h}, {"zext.h", zext_h}, {"orc.b", orc_b}, {"rev8", rev8},
};

static const uint64_t vals[] = {
    0, 1, (uint64_t)-1, 0x8000000000000000ULL, 0x7fffffffffffffffULL, 0x80000000ULL, 0xffffffffULL,
    0x123456789abcdef0ULL, 0x00ff00000000ff80ULL, 0x0000000100000000ULL, 63, 0xfedcba9876543241ULL,
};
#define NV (sizeof(vals) / sizeof(vals[0]))

#define IMM(name, insn, imm)                                                                   \
    {                                                                                          \
        for (unsigned i = 0; i < NV; i++) {                                                    \
            uint64_t r;                                                                        \
            __asm__ volatile(insn " %0, %1, " #imm : "=r"(r) : "r"(vals[i]));                  \
            report_imm(name, imm, vals[i], r);                                                 \
        }                                                                                      \
    }

int main(void)
{
    for (unsigned o = 0; o < sizeof(rr) / sizeof(rr[0]); o++)
        for (unsigned i = 0; i < NV; i++)
            for (unsigned j = 0; j < NV; j++)
                report_rr(rr[o].n, vals[i], vals[j], rr[o].f(vals[i], vals[j]));
    for (unsigned o = 0; o < sizeof(r1) / sizeof(r1[0]); o++)
        for (unsigned i = 0; i < NV; i++)
            report_r(r1[o].n, vals[i], r1[o].f(vals[i]));
    IMM("slli.uw", "slli.uw", 0)
    IMM("slli.uw", "slli.uw", 1)
    IMM("slli.uw", "slli.uw", 31)
    IMM("slli.uw", "slli.uw", 32)
    IMM("slli.uw", "slli.uw", 63)
    IMM("rori", "rori", 0)
    IMM("rori", "rori", 1)
    IMM("rori", "rori", 32)
    IMM("rori", "rori", 63)
    IMM("roriw", "roriw", 0)
    IMM("roriw", "roriw", 1)
    IMM("roriw", "roriw", 31)
    IMM("bclri", "bclri", 0)
    IMM("bclri", "bclri", 63)
    IMM("bexti", "bexti", 7)
    IMM("bexti", "bexti", 63)
    IMM("binvi", "binvi", 31)
    IMM("binvi", "binvi", 32)
    IMM("bseti", "bseti", 0)
    IMM("bseti", "bseti", 40)
    /* zext.w is add.uw rd, rs, x0 */
    for (unsigned i = 0; i < NV; i++) {
        uint64_t r;
        __asm__ volatile("zext.w %0, %1" : "=r"(r) : "r"(vals[i]));
        report_r("zext.w", vals[i], r);
    }
    report_csum();
    return 0;
}
