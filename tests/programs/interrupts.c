/* interrupts: CLINT software (msip) and timer (mtimecmp) interrupts, the
 * standard priority order (MSI > MTI > SSI > STI), global enables per mode,
 * wfi wake-up with interrupts disabled, vectored mtvec/stvec, delegation of
 * SSI/STI via mideleg, sie/sip as views of mie/mip, Sstc stimecmp.
 * Nothing timing dependent is printed: only causes, order and relations. */
#include "test.h"

#define LOGN 16
static volatile uint64_t log_cause[LOGN];
static volatile char log_level[LOGN];
static volatile uint64_t log_vec[LOGN];
static volatile unsigned log_n;

static void log_add(uint64_t cause, char level, uint64_t vec)
{
    if (log_n < LOGN) {
        log_cause[log_n] = cause;
        log_level[log_n] = level;
        log_vec[log_n] = vec;
        log_n++;
    }
}

static void log_print(const char *what)
{
    tprintf("%s:", what);
    if (!log_n)
        tprintf(" none");
    for (unsigned i = 0; i < log_n; i++) {
        tprintf(" %c:%lx", log_level[i], log_cause[i] & ~CAUSE_INTR);
        if (!(log_cause[i] & CAUSE_INTR))
            tprintf("(exc)");
        if (log_vec[i] != (uint64_t)-1)
            tprintf("@v%lu", log_vec[i]);
    }
    tprintf("\n");
    log_n = 0;
}

static volatile int sstc_on;
static void clear_source(uint64_t irq, int in_s)
{
    switch (irq) {
    case IRQ_MSI: CLINT_MSIP = 0; break;
    case IRQ_MTI: CLINT_MTIMECMP = ~0UL; break;
    case IRQ_SSI:
        if (in_s)
            csr_clear(sip, MIP_SSIP);
        else
            csr_clear(mip, MIP_SSIP);
        break;
    case IRQ_STI:
        if (in_s) {
            if (sstc_on)
                csr_write(0x14d, ~0UL); /* stimecmp */
            else
                csr_clear(sie, MIP_STIP); /* only M can clear mip.STIP */
        } else {
            csr_clear(mip, MIP_STIP);
            if (csr_read(menvcfg) >> 63)
                csr_write(0x14d, ~0UL);
        }
        break;
    }
}

static int m_hook(struct trap_frame *tf)
{
    if (!(tf->cause & CAUSE_INTR))
        return 0;
    uint64_t v = MTRAP_VEC_SLOT;
    MTRAP_VEC_SLOT = (uint64_t)-1;
    log_add(tf->cause, 'M', v);
    clear_source(tf->cause & 0xff, 0);
    return 1;
}
static int s_hook(struct trap_frame *tf)
{
    if (!(tf->cause & CAUSE_INTR))
        return 0;
    log_add(tf->cause, 'S', (uint64_t)-1);
    clear_source(tf->cause & 0xff, 1);
    return 1;
}

static void spin_until_logged(unsigned n)
{
    for (uint64_t i = 0; i < 200000000UL && log_n < n; i++)
        __asm__ volatile("nop");
}

static uint64_t now(void) { return CLINT_MTIME; }

/* Vector table for mtvec vectored mode: each stub records its index in
 * MTRAP_VEC_SLOT and jumps to the common entry. */
__asm__(".pushsection .text\n"
        ".option push\n"
        ".option norvc\n"
        ".balign 256\n"
        "mvec_table:\n"
        "  j _mtrap_entry\n"
        "  j mvec1\n  j mvec2\n  j mvec3\n  j mvec4\n  j mvec5\n  j mvec6\n  j mvec7\n"
        "  j mvec8\n  j mvec9\n  j mvec10\n  j mvec11\n"
        ".irp n, 1,2,3,4,5,6,7,8,9,10,11\n"
        "mvec\\n:\n"
        "  csrrw sp, mscratch, sp\n"
        "  sd t0, 0(sp)\n"
        "  li t0, \\n\n"
        "  sd t0, 8(sp)\n"
        "  ld t0, 0(sp)\n"
        "  csrrw sp, mscratch, sp\n"
        "  j _mtrap_entry\n"
        ".endr\n"
        ".option pop\n"
        ".popsection\n");
extern char mvec_table[];

/* S-mode helpers */
static long s_enable_sie_and_spin(long n)
{
    csr_set(sstatus, MSTATUS_SIE);
    for (uint64_t i = 0; i < 200000000UL && log_n < (unsigned)n; i++)
        __asm__ volatile("nop");
    csr_clear(sstatus, MSTATUS_SIE);
    return log_n;
}
static long s_set_ssip_sie(long sie_on)
{
    if (sie_on)
        csr_set(sstatus, MSTATUS_SIE);
    csr_set(sip, MIP_SSIP);
    for (int i = 0; i < 1000 && log_n == 0; i++)
        __asm__ volatile("nop");
    long r = log_n;
    csr_clear(sstatus, MSTATUS_SIE);
    return r;
}
static long s_read_sip(long x) { return (long)csr_read(sip); }
static long s_read_sie(long x) { return (long)csr_read(sie); }
static long s_write_sie(long x) { csr_write(sie, x); return (long)csr_read(sie); }
static long s_write_sip(long x) { csr_write(sip, x); return (long)csr_read(sip); }
static long s_wfi(long x)
{
    __asm__ volatile("wfi");
    return 1;
}
static long u_spin(long n)
{
    for (uint64_t i = 0; i < 200000000UL && log_n < (unsigned)n; i++)
        __asm__ volatile("nop");
    return log_n;
}
static long s_stimecmp(long delta)
{
    uint64_t t = csr_read(time);
    csr_write(0x14d, t + (uint64_t)delta);
    csr_set(sstatus, MSTATUS_SIE);
    for (uint64_t i = 0; i < 200000000UL && log_n == 0; i++)
        __asm__ volatile("nop");
    csr_clear(sstatus, MSTATUS_SIE);
    return log_n;
}

int main(void)
{
    MTRAP_VEC_SLOT = (uint64_t)-1;
    m_trap_hook = m_hook;
    s_trap_hook = s_hook;
    CLINT_MTIMECMP = ~0UL;
    tprintf("mip after mtimecmp=max: %lx\n", csr_read(mip) & (MIP_MSIP | MIP_MTIP | MIP_SSIP | MIP_STIP));

    /* ---- machine software interrupt ---- */
    csr_write(mie, MIP_MSIP);
    CLINT_MSIP = 1;
    tprintf("msip reads %u; mip.MSIP=%lu (MIE=0, not taken)\n", CLINT_MSIP, (csr_read(mip) >> 3) & 1);
    csr_set(mstatus, MSTATUS_MIE);
    spin_until_logged(1);
    csr_clear(mstatus, MSTATUS_MIE);
    log_print("MSI");
    tprintf("msip after handler %u, mip.MSIP=%lu\n", CLINT_MSIP, (csr_read(mip) >> 3) & 1);

    /* ---- machine timer interrupt ---- */
    uint64_t t0 = now();
    csr_write(mie, MIP_MTIP);
    CLINT_MTIMECMP = t0 + 2000; /* 200 us */
    csr_set(mstatus, MSTATUS_MIE);
    spin_until_logged(1);
    csr_clear(mstatus, MSTATUS_MIE);
    log_print("MTI");
    tprintf("time advanced past mtimecmp: %s\n", now() >= t0 + 2000 ? "yes" : "no");
    /* mtimecmp in the past: pending at once */
    CLINT_MTIMECMP = 0;
    for (int i = 0; i < 100; i++)
        __asm__ volatile("nop");
    tprintf("mtimecmp=0 -> mip.MTIP=%lu\n", (csr_read(mip) >> 7) & 1);
    CLINT_MTIMECMP = ~0UL;
    tprintf("mtimecmp=max -> mip.MTIP=%lu\n", (csr_read(mip) >> 7) & 1);
    /* 32-bit halves of mtimecmp */
    *(volatile uint32_t *)(CLINT_BASE + 0x4000) = 0x12345678;
    *(volatile uint32_t *)(CLINT_BASE + 0x4004) = 0x7edcba98;
    tprintf("mtimecmp via 32-bit writes: %lx\n", CLINT_MTIMECMP);
    CLINT_MTIMECMP = ~0UL;

    /* ---- priority order, all handled in M ---- */
    csr_write(mideleg, 0);
    csr_write(mie, MIP_MSIP | MIP_MTIP | MIP_SSIP | MIP_STIP);
    CLINT_MSIP = 1;
    CLINT_MTIMECMP = 0;
    csr_set(mip, MIP_SSIP | MIP_STIP);
    for (int i = 0; i < 100; i++)
        __asm__ volatile("nop");
    tprintf("pending before enable: %lx\n", csr_read(mip) & (MIP_MSIP | MIP_MTIP | MIP_SSIP | MIP_STIP));
    csr_set(mstatus, MSTATUS_MIE);
    spin_until_logged(4);
    csr_clear(mstatus, MSTATUS_MIE);
    log_print("priority order");

    /* ---- M interrupts are taken in S/U even with mstatus.MIE=0 ---- */
    csr_write(mie, MIP_MSIP);
    CLINT_MSIP = 1;
    tprintf("in M with MIE=0: %s\n", log_n ? "taken" : "not taken");
    run_u(u_spin, 1);
    log_print("MSI pending, enter U with MIE=0");
    CLINT_MSIP = 1;
    run_s(u_spin, 1);
    log_print("MSI pending, enter S with MIE=0");

    /* ---- vectored mtvec ---- */
    uint64_t old_tvec = csr_read(mtvec);
    csr_write(mtvec, (uint64_t)mvec_table | 1);
    tprintf("mtvec vectored: %s\n", csr_read(mtvec) == ((uint64_t)mvec_table | 1) ? "accepted" : "rejected");
    csr_write(mie, MIP_MSIP | MIP_MTIP);
    CLINT_MSIP = 1;
    csr_set(mstatus, MSTATUS_MIE);
    spin_until_logged(1);
    CLINT_MTIMECMP = 0;
    spin_until_logged(2);
    csr_clear(mstatus, MSTATUS_MIE);
    trap_arm();
    __asm__ volatile("ecall");
    trap_report_noepc("exception with vectored mtvec");
    tprintf("  (exception used vector slot: %s)\n", MTRAP_VEC_SLOT == (uint64_t)-1 ? "no (base)" : "yes");
    MTRAP_VEC_SLOT = (uint64_t)-1;
    log_print("vectored MSI, MTI");
    csr_write(mtvec, old_tvec);

    /* ---- wfi with interrupts globally disabled: wakes, no trap ---- */
    csr_write(mie, MIP_MTIP);
    CLINT_MTIMECMP = now() + 1000;
    __asm__ volatile("wfi");
    tprintf("wfi (M, MIE=0) returned; MTIP=%lu traps=%u\n", (csr_read(mip) >> 7) & 1, log_n);
    CLINT_MTIMECMP = ~0UL;
    /* wfi in S with TW=0 waits for the (M-level) timer interrupt */
    CLINT_MTIMECMP = now() + 1000;
    long w = run_s(s_wfi, 0);
    log_print("wfi in S (TW=0) woken by");
    tprintf("  returned %ld\n", w);
    /* TW=1: wfi in S is illegal */
    csr_set(mstatus, MSTATUS_TW);
    trap_arm();
    run_s(s_wfi, 0);
    trap_report_noepc("wfi in S with TW=1");
    CLINT_MTIMECMP = 0; /* MTIP pending (MIE=0): wfi must not wait */
    trap_arm();
    __asm__ volatile("wfi" ::: "memory"); /* M ignores TW */
    csr_clear(mstatus, MSTATUS_TW);
    trap_report_noepc("wfi in M with TW=1 (timer already pending)");
    CLINT_MTIMECMP = ~0UL;

    /* ---- delegation: mideleg, sie/sip views ---- */
    csr_write(mie, 0);
    csr_write(mideleg, ~0UL);
    tprintf("mideleg writable: %lx\n", csr_read(mideleg));
    csr_write(mideleg, MIP_SSIP | MIP_STIP);
    csr_write(mie, MIP_SSIP | MIP_STIP | MIP_MSIP | MIP_MTIP);
    tprintf("sie (mie=all 4, mideleg=SSI|STI): %lx\n", run_s(s_read_sie, 0));
    tprintf("S writes sie=~0 -> sie %lx, mie %lx\n", run_s(s_write_sie, ~0L), csr_read(mie));
    csr_write(mie, MIP_SSIP | MIP_STIP);
    csr_set(mip, MIP_STIP);
    tprintf("sip with mip.STIP set (M): %lx\n", run_s(s_read_sip, 0));
    csr_clear(mip, MIP_STIP);
    tprintf("S writes sip=~0 -> sip %lx mip %lx\n", run_s(s_write_sip, ~0L) & ~MIP_MTIP,
            csr_read(mip) & ~MIP_MTIP);
    csr_clear(mip, MIP_SSIP);

    /* delegated SSI in S with SIE=1 */
    long n = run_s(s_set_ssip_sie, 1);
    log_print("S sets SSIP with SIE=1");
    tprintf("  seen in S: %ld\n", n);
    /* SIE=0 in S: not taken in S; taken when going to U */
    n = run_s(s_set_ssip_sie, 0);
    tprintf("S sets SSIP with SIE=0: taken in S: %ld\n", n);
    run_u(u_spin, 1);
    log_print("  then in U (SIE=0)");
    /* delegated interrupt pending while in M: not taken in M */
    csr_set(mip, MIP_SSIP);
    csr_set(mstatus, MSTATUS_MIE | MSTATUS_SIE);
    for (int i = 0; i < 1000; i++)
        __asm__ volatile("nop");
    csr_clear(mstatus, MSTATUS_MIE | MSTATUS_SIE);
    log_print("delegated SSIP pending in M");
    run_s(s_enable_sie_and_spin, 1);
    log_print("  then in S with SIE=1");
    /* STI set by M, delegated */
    csr_set(mip, MIP_STIP);
    run_s(s_enable_sie_and_spin, 1);
    log_print("STIP (from M) in S");
    tprintf("  mie after S masked STIE: %lx\n", csr_read(mie));
    csr_clear(mip, MIP_STIP);
    csr_set(mie, MIP_STIP);

    /* ---- Sstc: stimecmp drives STIP when menvcfg.STCE=1 ---- */
    csr_write(menvcfg, 1UL << 63);
    sstc_on = 1;
    csr_write(mcounteren, 2); /* TM: S may access time/stimecmp */
    csr_write(0x14d, ~0UL);
    tprintf("Sstc: STIP with stimecmp=max: %lu\n", (csr_read(mip) >> 5) & 1);
    csr_write(0x14d, 0);
    tprintf("Sstc: STIP with stimecmp=0: %lu\n", (csr_read(mip) >> 5) & 1);
    csr_clear(mip, MIP_STIP);
    tprintf("Sstc: STIP after csrc mip (read-only now): %lu\n", (csr_read(mip) >> 5) & 1);
    csr_write(0x14d, ~0UL);
    n = run_s(s_stimecmp, 2000);
    log_print("Sstc timer in S");
    csr_write(menvcfg, 0);
    trap_arm();
    run_s(s_stimecmp, 0);
    trap_report_noepc("S writes stimecmp with STCE=0");
    csr_write(menvcfg, 1UL << 63);
    csr_write(mcounteren, 0);
    trap_arm();
    run_s(s_stimecmp, 0);
    trap_report_noepc("S writes stimecmp with mcounteren.TM=0");
    csr_write(menvcfg, 0);
    log_n = 0;

    csr_write(mie, 0);
    csr_write(mideleg, 0);
    csr_clear(mip, MIP_SSIP | MIP_STIP);
    tprintf("done\n");
    return 0;
}
