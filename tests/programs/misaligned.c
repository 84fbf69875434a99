/* misaligned: misaligned integer and FP loads/stores to RAM at every offset
 * from M, S and U (QEMU 7.2 performs them without trapping), and accesses to
 * unmapped physical addresses (access faults 1/5/7 with tval = address). */
#include "test.h"
#include "report.h"

static uint8_t buf[64] __attribute__((aligned(64)));
static uint8_t sbuf[64] __attribute__((aligned(64)));

static void fill(void)
{
    for (int i = 0; i < 64; i++)
        buf[i] = (uint8_t)(0x80 + i * 7);
}

#define LD(name, insn)                                                                         \
    static long name(long a)                                                                   \
    {                                                                                          \
        long r;                                                                                \
        __asm__ volatile(insn " %0, 0(%1)" : "=r"(r) : "r"(a) : "memory");                     \
        return r;                                                                              \
    }
LD(m_lh, "lh") LD(m_lhu, "lhu") LD(m_lw, "lw") LD(m_lwu, "lwu") LD(m_ld, "ld")
static long m_flw(long a)
{
    long r;
    __asm__ volatile("flw ft0, 0(%1)\n\tfmv.x.d %0, ft0" : "=r"(r) : "r"(a) : "ft0", "memory");
    return r;
}
static long m_fld(long a)
{
    long r;
    __asm__ volatile("fld ft0, 0(%1)\n\tfmv.x.d %0, ft0" : "=r"(r) : "r"(a) : "ft0", "memory");
    return r;
}
static long m_sh(long a) { __asm__ volatile("sh %1, 0(%0)" ::"r"(a), "r"(0x1122334455667788L) : "memory"); return 0; }
static long m_sw(long a) { __asm__ volatile("sw %1, 0(%0)" ::"r"(a), "r"(0x1122334455667788L) : "memory"); return 0; }
static long m_sd(long a) { __asm__ volatile("sd %1, 0(%0)" ::"r"(a), "r"(0x1122334455667788L) : "memory"); return 0; }
static long m_fsw(long a)
{
    __asm__ volatile("fmv.d.x ft0, %1\n\tfsw ft0, 0(%0)" ::"r"(a), "r"(0x99aabbccddeeff00L) : "ft0", "memory");
    return 0;
}
static long m_fsd(long a)
{
    __asm__ volatile("fmv.d.x ft0, %1\n\tfsd ft0, 0(%0)" ::"r"(a), "r"(0x99aabbccddeeff00L) : "ft0", "memory");
    return 0;
}
static long m_exec(long a) { return ((long (*)(void))a)(); }
static long m_lb(long a) { return (long)*(volatile int8_t *)a; }
static long m_sb(long a) { *(volatile uint8_t *)a = 0x5a; return 0; }

struct op { const char *name; long (*fn)(long); int store; };
static const struct op ops[] = {
    {"lh", m_lh, 0}, {"lhu", m_lhu, 0}, {"lw", m_lw, 0}, {"lwu", m_lwu, 0}, {"ld", m_ld, 0},
    {"flw", m_flw, 0}, {"fld", m_fld, 0}, {"sh", m_sh, 1}, {"sw", m_sw, 1}, {"sd", m_sd, 1},
    {"fsw", m_fsw, 1}, {"fsd", m_fsd, 1},
};

static void run_all(int mode)
{
    const char *mn = mode == PRV_M ? "M" : mode == PRV_S ? "S" : "U";
    for (unsigned o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
        for (int off = 1; off < 8; off++) {
            fill();
            trap_arm();
            long r = run_in_mode(mode, ops[o].fn, (long)(buf + 8 + off), 0);
            int trapped = trap_rec.count != 0;
            uint64_t cause = trap_rec.cause, tval = trap_rec.tval;
            trap_disarm();
            if (trapped)
                tprintf("%s %s +%d: trap cause=%lx tval=%lx\n", mn, ops[o].name, off, cause, tval);
            else if (ops[o].store)
                tprintf("%s %s +%d: mem %016lx %016lx\n", mn, ops[o].name, off, *(uint64_t *)(buf + 8),
                        *(uint64_t *)(buf + 16));
            else
                tprintf("%s %s +%d: %016lx\n", mn, ops[o].name, off, (uint64_t)r);
        }
    }
}

static void probe(const char *what, long (*fn)(long), uint64_t addr)
{
    trap_arm();
    long v = run_in_mode(PRV_M, fn, (long)addr, 0);
    if (trap_rec.count)
        trap_report_noepc(what);
    else {
        trap_disarm();
        tprintf("%s: no trap (value not printed)\n", what);
    }
    (void)v;
}

int main(void)
{
    run_all(PRV_M);
    run_all(PRV_S);
    run_all(PRV_U);
    /* misaligned access spanning a cache line / 64-byte boundary */
    for (int i = 0; i < 64; i++)
        sbuf[i] = (uint8_t)i;
    tprintf("ld across 64B boundary: %016lx\n", (uint64_t)m_ld((long)(sbuf + 60 - 64 + 64 - 3)));
    tprintf("ld at sbuf+61: %016lx\n", (uint64_t)m_ld((long)(sbuf + 57)));

    /* ---- unmapped physical addresses ---- */
    static const uint64_t addrs[] = {0x0, 0x8, 0x2010000, 0x2fff0000, 0x5000000, 0x1000000000UL,
                                     0xfffffffffffff000UL};
    for (unsigned i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        char what[64];
        const char *hx = "0123456789abcdef";
        int n = 0;
        for (int sh = 60; sh >= 0; sh -= 4)
            what[n++] = hx[(addrs[i] >> sh) & 15];
        what[n] = 0;
        tprintf("[%s]\n", what);
        probe("  load64", m_ld, addrs[i]);
        probe("  load8", m_lb, addrs[i]);
        probe("  store8", m_sb, addrs[i]);
        probe("  store64", m_sd, addrs[i]);
        probe("  fetch", m_exec, addrs[i]);
    }
    /* from U-mode too */
    trap_arm();
    run_u(m_ld, 0x0);
    trap_report_noepc("U load64 0x0");
    trap_arm();
    run_s(m_sd, 0x2010000);
    trap_report_noepc("S store64 0x2010000");
    /* the test finisher region only decodes 32-bit accesses? read it */
    probe("load32 finisher 0x100000", m_lw, 0x100000);
    return 0;
}
