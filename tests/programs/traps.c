/* traps: synchronous exceptions and privilege transitions.
 * ecall from M/S/U (causes 11/9/8), ebreak, illegal instructions with mtval =
 * instruction bits, privileged instructions and CSRs from lower modes,
 * medeleg delegation to S (scause/stval/sepc, SPP/SPIE/SIE), trap-entry and
 * mret/sret effects on MPP/MPIE/MIE/SPP/SPIE/SIE/MPRV, mepc/sepc alignment. */
#include "test.h"

static long f_ecall(long x)
{
    register long a0 __asm__("a0") = x;
    register long a7 __asm__("a7") = 93;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a7) : "memory");
    return a0;
}
static long f_ebreak(long x) { __asm__ volatile("ebreak"); return x; }
static long f_cebreak(long x) { __asm__ volatile(".hword 0x9002"); return x; }
static long f_illegal(long x) { __asm__ volatile(".word 0xffffffff"); return x; }
static long f_mret(long x) { __asm__ volatile("mret"); return x; }
static long f_sret(long x) { __asm__ volatile("sret"); return x; }
static long f_uret(long x) { __asm__ volatile(".word 0x00200073"); return x; }
static long f_wfi(long x) { __asm__ volatile("wfi"); return x; }
static long f_rd_mstatus(long x) { return (long)csr_read(mstatus); }
static long f_rd_mscratch(long x) { return (long)csr_read(mscratch); }
static long f_rd_mhartid(long x) { return (long)csr_read(mhartid); }
static long f_rd_sstatus(long x) { return (long)csr_read(sstatus); }
static long f_rd_sscratch(long x) { return (long)csr_read(sscratch); }
static long f_rd_satp(long x) { return (long)csr_read(satp); }
static long f_sfence(long x) { __asm__ volatile("sfence.vma"); return x; }
static long f_rd_fflags(long x) { return (long)csr_read(fflags); }
static long f_rd_misa(long x) { return (long)csr_read(misa); }
static long f_nop(long x) { return x; }
static long f_hfence(long x) { __asm__ volatile(".word 0x62000073"); return x; }

struct modefn { const char *name; long (*fn)(long); };

static const char *mname(int m) { return m == PRV_U ? "U" : m == PRV_S ? "S" : "M"; }

static void run_modes(const char *name, long (*fn)(long), int first)
{
    static const int modes[] = {PRV_M, PRV_S, PRV_U};
    for (int i = first; i < 3; i++) {
        trap_arm();
        long r = run_in_mode(modes[i], fn, 0x1234, 0);
        tprintf("%s in %s: ", name, mname(modes[i]));
        trap_report_noepc(NULL);
        (void)r;
    }
}
static void run_each(const char *name, long (*fn)(long)) { run_modes(name, fn, 0); }

/* mret to the next instruction in M-mode with the given mstatus; returns the
 * new mstatus. MPRV is cleared again at once (it would affect M's loads). */
static uint64_t mret_self(uint64_t ms)
{
    uint64_t r;
    __asm__ volatile("csrw mstatus, %1\n\t"
                     "la t0, 1f\n\t"
                     "csrw mepc, t0\n\t"
                     "mret\n"
                     "1:\tcsrr %0, mstatus\n\t"
                     "csrc mstatus, %2"
                     : "=&r"(r)
                     : "r"(ms), "r"(MSTATUS_MPRV)
                     : "t0", "memory");
    return r;
}

/* In S-mode: sret to the next instruction with the given sstatus (SPP=S). */
static long s_sret_self(long ss)
{
    uint64_t r;
    __asm__ volatile("csrw sstatus, %1\n\t"
                     "la t0, 1f\n\t"
                     "csrw sepc, t0\n\t"
                     "sret\n"
                     "1:\tcsrr %0, sstatus"
                     : "=&r"(r)
                     : "r"((uint64_t)ss)
                     : "t0", "memory");
    return (long)r;
}

static uint64_t ms_bits(uint64_t m)
{
    return m & (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP |
                MSTATUS_MPRV);
}

static volatile uint64_t s_status_at_trap, m_status_at_trap;
static int s_hook_status(struct trap_frame *tf)
{
    s_status_at_trap = tf->status;
    return 0; /* let the default recording continue */
}
static int m_hook_status(struct trap_frame *tf)
{
    m_status_at_trap = tf->status;
    return 0;
}

int main(void)
{
    uint64_t base_ms = csr_read(mstatus);
    tprintf("mstatus at start: %016lx\n", base_ms);

    /* ---- ecall / ebreak / illegal from each mode ---- */
    run_each("ecall", f_ecall);
    run_each("ebreak", f_ebreak);
    run_each("c.ebreak", f_cebreak);
    run_each("illegal 0xffffffff", f_illegal);
    run_modes("mret", f_mret, 1);
    run_modes("sret", f_sret, 2);
    run_each("uret (removed)", f_uret);
    run_each("csrr mstatus", f_rd_mstatus);
    run_each("csrr mscratch", f_rd_mscratch);
    run_each("csrr mhartid", f_rd_mhartid);
    run_each("csrr sstatus", f_rd_sstatus);
    run_each("csrr sscratch", f_rd_sscratch);
    run_each("csrr satp", f_rd_satp);
    run_each("sfence.vma", f_sfence);
    run_each("csrr fflags", f_rd_fflags);
    run_each("csrr misa", f_rd_misa);
    run_each("hfence.gvma", f_hfence);
    /* wfi from U is illegal (S-mode exists); from M/S it would wait: see interrupts */
    trap_arm();
    run_u(f_wfi, 0);
    trap_report_noepc("wfi in U");

    /* ---- more illegal encodings in M-mode (mtval = instruction bits) ---- */
    static const uint32_t bad[] = {
        0x0000000b, /* custom-0 */
        0x0000002b, /* custom-1 */
        0x0000006b, /* reserved opcode */
        0x302000f3, /* mret with rd != 0 */
        0x00008073, /* ecall with rs1 != 0 */
        0x0200101b, /* slliw with shamt[5] = 1 */
        0x4000501b | (1 << 25), /* sraiw with shamt[5] = 1 */
        0x0000703b, /* reserved funct3 in OP-32 */
        0x06000053, /* fadd.q (no Q) */
        0xfe000033, /* OP with funct7 0x7f */
        0x00002063, /* branch funct3=2 */
        0x00003003 | (7 << 12), /* load funct3=7 */
        0x00004023, /* store funct3=4 */
        0x0000102f, /* AMO funct3=1 */
        0x1000302f | (1 << 20), /* lr.d with rs2 != 0 */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        static uint32_t code[2] __attribute__((aligned(4)));
        code[0] = bad[i];
        code[1] = 0x00008067; /* ret */
        fence_i();
        trap_arm();
        ((void (*)(void))code)();
        tprintf("insn %08x: ", bad[i]);
        trap_report_noepc(NULL);
    }

    /* ---- trap entry: MPP/MPIE/MIE ---- */
    m_trap_hook = m_hook_status;
    csr_set(mstatus, MSTATUS_MIE);
    trap_arm();
    __asm__ volatile("ecall");
    trap_report_noepc("ecall in M with MIE=1");
    tprintf("  mstatus seen by handler: %016lx (MIE=%lu MPIE=%lu MPP=%lu)\n", ms_bits(m_status_at_trap),
            (m_status_at_trap >> 3) & 1, (m_status_at_trap >> 7) & 1, (m_status_at_trap >> 11) & 3);
    tprintf("  mstatus after mret: MIE=%lu MPIE=%lu MPP=%lu\n", (csr_read(mstatus) >> 3) & 1,
            (csr_read(mstatus) >> 7) & 1, (csr_read(mstatus) >> 11) & 3);
    csr_clear(mstatus, MSTATUS_MIE);
    trap_arm();
    run_s(f_ecall, 0);
    trap_report_noepc("ecall from S");
    tprintf("  handler mstatus: MIE=%lu MPIE=%lu MPP=%lu\n", (m_status_at_trap >> 3) & 1,
            (m_status_at_trap >> 7) & 1, (m_status_at_trap >> 11) & 3);
    m_trap_hook = 0;

    /* ---- mret effects ---- */
    static const uint64_t mret_cases[] = {
        (3UL << 11) | MSTATUS_MPIE,                 /* MPP=M MPIE=1 MIE=0 */
        (3UL << 11) | MSTATUS_MIE,                  /* MPP=M MPIE=0 MIE=1 */
        (3UL << 11) | MSTATUS_MPIE | MSTATUS_MPRV,  /* MPRV stays (MPP=M) */
        (3UL << 11) | MSTATUS_SPIE | MSTATUS_SPP,   /* S fields untouched */
    };
    for (unsigned i = 0; i < sizeof(mret_cases) / sizeof(mret_cases[0]); i++) {
        uint64_t ms = (base_ms & ~ms_bits(~0UL)) | mret_cases[i];
        uint64_t after = mret_self(ms);
        tprintf("mret with %016lx -> %016lx\n", ms_bits(ms), ms_bits(after));
    }
    csr_write(mstatus, base_ms);

    /* ---- sret effects (executed in S-mode) ---- */
    static const uint64_t sret_cases[] = {
        MSTATUS_SPP | MSTATUS_SPIE,
        MSTATUS_SPP | MSTATUS_SIE,
        MSTATUS_SPP,
    };
    for (unsigned i = 0; i < sizeof(sret_cases) / sizeof(sret_cases[0]); i++) {
        trap_arm();
        uint64_t after = (uint64_t)run_s(s_sret_self, (long)sret_cases[i]);
        tprintf("sret with %016lx -> %016lx ", sret_cases[i], ms_bits(after));
        trap_report_noepc(NULL);
    }
    /* Does an xRET to a lower privilege clear MPRV (priv 1.12)? */
    static long (*const noop)(long) = f_nop;
    csr_set(mstatus, MSTATUS_MPRV);
    run_s(noop, 0); /* run_in_mode leaves MPP=S, MPRV=1 -> mret to S */
    tprintf("quirk: MPRV after mret to S: %lu\n", (csr_read(mstatus) >> 17) & 1);
    csr_clear(mstatus, MSTATUS_MPRV);
    csr_set(mstatus, MSTATUS_MPRV);
    run_u(noop, 0);
    tprintf("quirk: MPRV after mret to U: %lu\n", (csr_read(mstatus) >> 17) & 1);
    csr_clear(mstatus, MSTATUS_MPRV);

    /* ---- delegation to S ---- */
    csr_write(medeleg, (1UL << CAUSE_ILLEGAL) | (1UL << CAUSE_ECALL_U) | (1UL << CAUSE_ECALL_S));
    tprintf("medeleg = %016lx\n", csr_read(medeleg));
    s_trap_hook = s_hook_status;
    run_each("delegated ecall", f_ecall);
    run_each("delegated illegal", f_illegal);
    run_each("delegated csrr mstatus", f_rd_mstatus);
    run_each("not delegated ebreak", f_ebreak);
    trap_arm();
    run_u(f_illegal, 0);
    tprintf("scause=%lx stval=%lx sstatus at trap: SPP=%lu SPIE=%lu SIE=%lu\n", csr_read(scause),
            csr_read(stval), (s_status_at_trap >> 8) & 1, (s_status_at_trap >> 5) & 1,
            (s_status_at_trap >> 1) & 1);
    trap_report_noepc("  U illegal delegated");
    /* SIE=1 in S before the trap: SPIE=1, SIE=0 in the handler */
    csr_set(sstatus, MSTATUS_SIE);
    trap_arm();
    run_s(f_illegal, 0);
    tprintf("S illegal with SIE=1: SPP=%lu SPIE=%lu SIE=%lu\n", (s_status_at_trap >> 8) & 1,
            (s_status_at_trap >> 5) & 1, (s_status_at_trap >> 1) & 1);
    trap_report_noepc("  S illegal delegated");
    csr_clear(sstatus, MSTATUS_SIE);
    csr_write(medeleg, 1UL << CAUSE_BREAKPOINT);
    run_each("delegated ebreak", f_ebreak);
    run_each("not delegated illegal", f_illegal);
    s_trap_hook = 0;
    csr_write(medeleg, 0);

    /* ---- mepc/sepc/mtvec alignment ---- */
    csr_write(mepc, 0x80001235UL);
    tprintf("mepc write 0x80001235 -> %lx\n", csr_read(mepc));
    csr_write(sepc, 0x80001237UL);
    tprintf("sepc write 0x80001237 -> %lx\n", csr_read(sepc));
    uint64_t tv = csr_read(mtvec);
    csr_write(mtvec, 0x80001006UL);
    tprintf("mtvec write 0x80001006 -> %lx\n", csr_read(mtvec));
    csr_write(mtvec, 0x80001003UL);
    tprintf("mtvec write 0x80001003 (mode 3) -> %lx\n", csr_read(mtvec));
    csr_write(mtvec, 0x80001001UL);
    tprintf("mtvec write 0x80001001 (vectored) -> %lx\n", csr_read(mtvec));
    csr_write(mtvec, tv);
    tv = csr_read(stvec);
    csr_write(stvec, 0x80002006UL);
    tprintf("stvec write 0x80002006 -> %lx\n", csr_read(stvec));
    csr_write(stvec, 0x80002002UL);
    tprintf("stvec write 0x80002002 (mode 2) -> %lx\n", csr_read(stvec));
    csr_write(stvec, tv);

    /* ---- ecall from M with a7 and a0 preserved, mcause/mtval CSRs after ---- */
    trap_arm();
    __asm__ volatile("ecall");
    trap_report("ecall in M");
    tprintf("mcause=%lx mtval=%lx\n", csr_read(mcause), csr_read(mtval));
    return 0;
}
