/* csr-list: reads every CSR number 0x000-0xfff from M-, S- and U-mode and
 * lists which ones are readable (the rest raise illegal instruction), then
 * prints the values of the readable M-mode CSRs that are not time-varying. */
#include "test.h"

/* 4096 stubs: csrr a0, N; ret  (8 bytes each) */
__asm__(".pushsection .text\n"
        ".option push\n"
        ".option norvc\n"
        ".balign 8\n"
        "csr_stubs:\n"
        ".set n, 0\n"
        ".rept 4096\n"
        "  csrr a0, n\n"
        "  ret\n"
        ".set n, n + 1\n"
        ".endr\n"
        ".option pop\n"
        ".popsection\n");
extern char csr_stubs[];

static uint8_t ok_m[4096], ok_s[4096], ok_u[4096];
static uint64_t val_m[4096];

static long read_csr_n(long n) { return ((long (*)(void))(csr_stubs + 8 * n))(); }

static long scan(long which)
{
    uint8_t *ok = which == 0 ? ok_m : which == 1 ? ok_s : ok_u;
    for (long n = 0; n < 4096; n++) {
        trap_arm();
        uint64_t v = (uint64_t)read_csr_n(n);
        ok[n] = trap_rec.count == 0;
        if (which == 0)
            val_m[n] = v;
        if (!ok[n] && (trap_rec.cause != CAUSE_ILLEGAL))
            ok[n] = 2; /* some other trap */
    }
    trap_disarm();
    return 0;
}

static void print_ranges(const char *what, const uint8_t *ok)
{
    tprintf("%s:", what);
    int count = 0;
    for (int n = 0; n < 4096;) {
        if (!ok[n]) {
            n++;
            continue;
        }
        int e = n;
        while (e + 1 < 4096 && ok[e + 1] == ok[n])
            e++;
        if (e == n)
            tprintf(" %03x", n);
        else
            tprintf(" %03x-%03x", n, e);
        if (ok[n] == 2)
            tprintf("(other trap)");
        count += e - n + 1;
        n = e + 1;
    }
    tprintf("\n  (%d readable)\n", count);
}

static int volatile_csr(int n)
{
    if (n >= 0xb00 && n <= 0xb1f) return 1; /* mcycle, minstret, mhpmcounterN */
    if (n >= 0xc00 && n <= 0xc1f) return 1; /* cycle, time, instret, hpmcounterN */
    if (n == 0x344 || n == 0x144 || n == 0x644 || n == 0x244 || n == 0x645) return 1; /* *ip */
    if (n == 0x340) return 1; /* mscratch: runtime's trap stack (fine, but keep it out) */
    if (n == 0x341 || n == 0x342 || n == 0x343) return 1; /* mepc/mcause/mtval of the scan */
    if (n == 0xe12) return 1; /* hgeip */
    return 0;
}

int main(void)
{
    scan(0);
    run_s(scan, 1);
    run_u(scan, 2);
    print_ranges("readable in M", ok_m);
    print_ranges("readable in S", ok_s);
    print_ranges("readable in U", ok_u);
    tprintf("values (M-mode, excluding counters/time/ip/trap CSRs):\n");
    for (int n = 0; n < 4096; n++)
        if (ok_m[n] == 1 && !volatile_csr(n))
            tprintf("  csr %03x = %016lx\n", n, val_m[n]);
    return 0;
}
