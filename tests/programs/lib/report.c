/* Result printers shared by the assembly and C tests. Every printed result is
 * also folded into a running checksum (test_csum) that report_csum prints. */
#include "test.h"

uint64_t test_csum = 0x243f6a8885a308d3ULL;

static void fold(uint64_t r) { test_csum = mix64(test_csum, r); }

void report_rr(const char *name, uint64_t a, uint64_t b, uint64_t r)
{
    fold(r);
    tprintf("%s %016lx %016lx -> %016lx\n", name, a, b, r);
}

void report_rrr(const char *name, uint64_t a, uint64_t b, uint64_t c, uint64_t r)
{
    fold(r);
    tprintf("%s %016lx %016lx %016lx -> %016lx\n", name, a, b, c, r);
}

void report_r(const char *name, uint64_t a, uint64_t r)
{
    fold(r);
    tprintf("%s %016lx -> %016lx\n", name, a, r);
}

void report_val(const char *name, uint64_t r)
{
    fold(r);
    tprintf("%s = %016lx\n", name, r);
}

void report_imm(const char *name, int64_t imm, uint64_t a, uint64_t r)
{
    fold(r);
    tprintf("%s %016lx, %ld -> %016lx\n", name, a, imm, r);
}

void report_csum(void)
{
    tprintf("checksum = %016lx\n", test_csum);
}

/* Register/memory dump used by the generated fuzz programs. */
void fuzz_dump(const uint64_t *x, const uint64_t *f, uint64_t fcsr, const void *buf, uint64_t len)
{
    for (int i = 1; i < 32; i++)
        tprintf("x%d = %016lx\n", i, x[i]);
    for (int i = 0; i < 32; i++)
        tprintf("f%d = %016lx\n", i, f[i]);
    tprintf("fcsr = %lx\n", fcsr);
    tprintf("mem = %016lx\n", checksum64(buf, len));
    const uint64_t *w = (const uint64_t *)buf;
    for (uint64_t i = 0; i < len / 8; i += 64) {
        uint64_t h = checksum64(&w[i], 64 * 8 <= len - i * 8 ? 64 * 8 : len - i * 8);
        tprintf("mem[%lu..] = %016lx\n", i * 8, h);
    }
    tprintf("fuzz done\n");
}
