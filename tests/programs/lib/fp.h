/* Helpers for the floating-point tests: each helper runs one FP instruction on
 * raw register bit patterns (singles are passed NaN-boxed by the caller) and
 * leaves the resulting fflags in fp_flags. */
#ifndef FP_H
#define FP_H
#include <stdint.h>

extern uint64_t fp_flags;

#define BOX(x) (0xffffffff00000000ULL | (uint32_t)(x))

/* rm is a string like ", rtz" or "" (dynamic) */
#define FP_R1(name, insn, rm)                                                                  \
    static uint64_t name(uint64_t a)                                                           \
    {                                                                                          \
        uint64_t r, f;                                                                         \
        __asm__ volatile("fmv.d.x ft0, %2\n\tcsrw fflags, zero\n\t" insn " ft2, ft0" rm        \
                         "\n\tcsrr %1, fflags\n\tfmv.x.d %0, ft2"                               \
                         : "=&r"(r), "=&r"(f)                                                  \
                         : "r"(a)                                                              \
                         : "ft0", "ft2", "memory");                                            \
        fp_flags = f;                                                                          \
        return r;                                                                              \
    }
#define FP_R2(name, insn, rm)                                                                  \
    static uint64_t name(uint64_t a, uint64_t b)                                               \
    {                                                                                          \
        uint64_t r, f;                                                                         \
        __asm__ volatile("fmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\tcsrw fflags, zero\n\t" insn    \
                         " ft2, ft0, ft1" rm "\n\tcsrr %1, fflags\n\tfmv.x.d %0, ft2"          \
                         : "=&r"(r), "=&r"(f)                                                  \
                         : "r"(a), "r"(b)                                                      \
                         : "ft0", "ft1", "ft2", "memory");                                     \
        fp_flags = f;                                                                          \
        return r;                                                                              \
    }
#define FP_R3(name, insn, rm)                                                                  \
    static uint64_t name(uint64_t a, uint64_t b, uint64_t c)                                   \
    {                                                                                          \
        uint64_t r, f;                                                                         \
        __asm__ volatile("fmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\tfmv.d.x ft3, %4\n\t"           \
                         "csrw fflags, zero\n\t" insn " ft2, ft0, ft1, ft3" rm                 \
                         "\n\tcsrr %1, fflags\n\tfmv.x.d %0, ft2"                               \
                         : "=&r"(r), "=&r"(f)                                                  \
                         : "r"(a), "r"(b), "r"(c)                                              \
                         : "ft0", "ft1", "ft2", "ft3", "memory");                              \
        fp_flags = f;                                                                          \
        return r;                                                                              \
    }
/* FP source(s) -> integer destination (compares, fclass, fcvt to int, fmv.x.*) */
#define FP_X1(name, insn, rm)                                                                  \
    static uint64_t name(uint64_t a)                                                           \
    {                                                                                          \
        uint64_t r, f;                                                                         \
        __asm__ volatile("fmv.d.x ft0, %2\n\tcsrw fflags, zero\n\t" insn " %0, ft0" rm         \
                         "\n\tcsrr %1, fflags"                                                 \
                         : "=&r"(r), "=&r"(f)                                                  \
                         : "r"(a)                                                              \
                         : "ft0", "memory");                                                   \
        fp_flags = f;                                                                          \
        return r;                                                                              \
    }
#define FP_X2(name, insn)                                                                      \
    static uint64_t name(uint64_t a, uint64_t b)                                               \
    {                                                                                          \
        uint64_t r, f;                                                                         \
        __asm__ volatile("fmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\tcsrw fflags, zero\n\t" insn    \
                         " %0, ft0, ft1\n\tcsrr %1, fflags"                                    \
                         : "=&r"(r), "=&r"(f)                                                  \
                         : "r"(a), "r"(b)                                                      \
                         : "ft0", "ft1", "memory");                                            \
        fp_flags = f;                                                                          \
        return r;                                                                              \
    }
/* integer source -> FP destination (fcvt from int, fmv.*.x) */
#define FP_1X(name, insn, rm)                                                                  \
    static uint64_t name(uint64_t a)                                                           \
    {                                                                                          \
        uint64_t r, f;                                                                         \
        __asm__ volatile("csrw fflags, zero\n\t" insn " ft2, %2" rm                            \
                         "\n\tcsrr %1, fflags\n\tfmv.x.d %0, ft2"                               \
                         : "=&r"(r), "=&r"(f)                                                  \
                         : "r"(a)                                                              \
                         : "ft2", "memory");                                                   \
        fp_flags = f;                                                                          \
        return r;                                                                              \
    }

/* Instantiate a helper for each static rounding mode and the dynamic one:
 * NAME_rne .. NAME_rmm, NAME_dyn, plus a table NAME_tab[6]. */
#define FP_RMS(KIND, NAME, insn)                                                               \
    KIND(NAME##_rne, insn, ", rne")                                                            \
    KIND(NAME##_rtz, insn, ", rtz")                                                            \
    KIND(NAME##_rdn, insn, ", rdn")                                                            \
    KIND(NAME##_rup, insn, ", rup")                                                            \
    KIND(NAME##_rmm, insn, ", rmm")                                                            \
    KIND(NAME##_dyn, insn, "")

static const char *const rm_names[6] = {"rne", "rtz", "rdn", "rup", "rmm", "dyn"};

static inline void set_frm(unsigned rm) { __asm__ volatile("csrw frm, %0" ::"r"((uint64_t)rm)); }
static inline uint64_t get_fcsr(void)
{
    uint64_t v;
    __asm__ volatile("csrr %0, fcsr" : "=r"(v));
    return v;
}
#endif
