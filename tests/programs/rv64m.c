/* rv64m: every M-extension instruction (mul, mulh, mulhsu, mulhu, div, divu,
 * rem, remu, mulw, divw, divuw, remw, remuw) over edge-case operand pairs,
 * including division by zero and signed overflow. */
#include "test.h"
#include "report.h"

#define OP(name)                                                                       \
    static uint64_t do_##name(uint64_t a, uint64_t b)                                  \
    {                                                                                  \
        uint64_t r;                                                                    \
        __asm__ volatile(#name " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));              \
        return r;                                                                      \
    }
OP(mul)
OP(mulh)
OP(mulhsu)
OP(mulhu)
OP(div)
OP(divu)
OP(rem)
OP(remu)
OP(mulw)
OP(divw)
OP(divuw)
OP(remw)
OP(remuw)

static const uint64_t vals[] = {
    0, 1, (uint64_t)-1, 2, (uint64_t)-2, 0x8000000000000000ULL, 0x7fffffffffffffffULL,
    0x80000000ULL, 0x7fffffffULL, 0xffffffffULL, 0x123456789abcdef0ULL, 0xffffffff80000000ULL,
    7,
};
#define NV (sizeof(vals) / sizeof(vals[0]))

struct op {
    const char *name;
    uint64_t (*fn)(uint64_t, uint64_t);
};
static const struct op ops[] = {
    {"mul", do_mul},     {"mulh", do_mulh},   {"mulhsu", do_mulhsu}, {"mulhu", do_mulhu},
    {"div", do_div},     {"divu", do_divu},   {"rem", do_rem},       {"remu", do_remu},
    {"mulw", do_mulw},   {"divw", do_divw},   {"divuw", do_divuw},   {"remw", do_remw},
    {"remuw", do_remuw},
};

int main(void)
{
    for (unsigned o = 0; o < sizeof(ops) / sizeof(ops[0]); o++)
        for (unsigned i = 0; i < NV; i++)
            for (unsigned j = 0; j < NV; j++)
                report_rr(ops[o].name, vals[i], vals[j], ops[o].fn(vals[i], vals[j]));

    /* Same register as source and destination, and x0 as destination. */
    uint64_t x = 0x0000000100000003ULL;
    __asm__ volatile("mul %0, %0, %0" : "+r"(x));
    report_val("mul x,x,x", x);
    uint64_t z;
    __asm__ volatile("li t0, 5\n mul x0, t0, t0\n mv %0, x0" : "=r"(z) : : "t0");
    report_val("mul x0", z);
    /* A small product loop: 20! mod 2^64 and a division chain. */
    uint64_t f = 1;
    for (uint64_t i = 2; i <= 25; i++)
        f = do_mul(f, i);
    report_val("25! mod 2^64", f);
    uint64_t q = 0xffffffffffffffffULL, s = 0;
    for (uint64_t d = 3; d < 40; d += 2) {
        s += do_remu(q, d);
        q = do_divu(q, d) + 0x1234567;
    }
    report_val("division chain", q ^ s);
    report_csum();
    return 0;
}
