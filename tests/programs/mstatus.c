/* mstatus: field behaviour. FS (FP and FP-CSR instructions with FS=Off raise
 * illegal instruction; writes make FS Dirty and set SD), TSR (sret illegal in
 * S), sstatus as a restricted view of mstatus, WARL masks of mstatus, sstatus,
 * misa, medeleg, mideleg, mie, mip, sie, sip (write all-ones / zero, restore). */
#include "test.h"

static uint64_t fs(void) { return (csr_read(mstatus) >> 13) & 3; }
static uint64_t sd(void) { return csr_read(mstatus) >> 63; }

static long s_sret(long x)
{
    uint64_t r;
    __asm__ volatile("csrw sstatus, %1\n\tla t0, 1f\n\tcsrw sepc, t0\n\tsret\n1:\tcsrr %0, sstatus"
                     : "=&r"(r)
                     : "r"((uint64_t)MSTATUS_SPP)
                     : "t0", "memory");
    return (long)r;
}
static long s_fadd(long x)
{
    __asm__ volatile("fadd.d ft0, ft0, ft0" ::: "ft0");
    return 0;
}

#define FP_OFF_TRY(what, ...)                                                                  \
    do {                                                                                       \
        trap_arm();                                                                            \
        __asm__ volatile(__VA_ARGS__);                                                         \
        trap_report_noepc(what);                                                               \
    } while (0)

/* write all-ones and zero to a CSR, read back each time, restore */
#define WARL(name, csr)                                                                        \
    do {                                                                                       \
        uint64_t o_, a_, z_;                                                                   \
        __asm__ volatile("csrr %0, " #csr "\n\t"                                               \
                         "csrw " #csr ", %3\n\t"                                               \
                         "csrr %1, " #csr "\n\t"                                               \
                         "csrw " #csr ", zero\n\t"                                             \
                         "csrr %2, " #csr "\n\t"                                               \
                         "csrw " #csr ", %0"                                                   \
                         : "=&r"(o_), "=&r"(a_), "=&r"(z_)                                     \
                         : "r"(~0UL)                                                           \
                         : "memory");                                                          \
        tprintf("%s: orig %016lx ones->%016lx zero->%016lx\n", name, o_ & mask_volatile(#csr), \
                a_ & mask_volatile(#csr), z_ & mask_volatile(#csr));                           \
    } while (0)

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}
/* mip.MTIP follows the CLINT timer: leave it out */
static uint64_t mask_volatile(const char *csr) { return streq(csr, "mip") ? ~MIP_MTIP : ~0UL; }

int main(void)
{
    CLINT_MTIMECMP = ~0UL;
    /* ---- FS ---- */
    uint64_t ms = csr_read(mstatus);
    csr_clear(mstatus, MSTATUS_FS);
    tprintf("FS=%lu SD=%lu after clearing FS\n", fs(), sd());
    FP_OFF_TRY("FS=Off fadd.d", "fadd.d ft0, ft1, ft2" ::: "ft0");
    FP_OFF_TRY("FS=Off flw", "flw ft0, 0(sp)" ::: "ft0");
    FP_OFF_TRY("FS=Off fsd", "fsd ft0, -8(sp)" ::: "memory");
    FP_OFF_TRY("FS=Off fmv.x.d", "fmv.x.d t0, ft0" ::: "t0");
    FP_OFF_TRY("FS=Off fmv.d.x", "fmv.d.x ft0, zero" ::: "ft0");
    FP_OFF_TRY("FS=Off csrr fcsr", "csrr t0, fcsr" ::: "t0");
    FP_OFF_TRY("FS=Off csrw frm", "csrwi frm, 1");
    FP_OFF_TRY("FS=Off csrr fflags", "csrr t0, fflags" ::: "t0");
    FP_OFF_TRY("FS=Off c.fld", ".hword 0x2000 | (0 << 7) | (2 << 2)\n.hword 0x0001" ::: "memory");
    FP_OFF_TRY("FS=Off fcvt.d.l", "fcvt.d.l ft0, zero" ::: "ft0");
    trap_arm();
    run_s(s_fadd, 0);
    trap_report_noepc("FS=Off fadd.d in S");
    tprintf("FS=%lu after the traps\n", fs());
    /* Initial -> Dirty on an FP register write */
    csr_set(mstatus, MSTATUS_FS_INITIAL);
    tprintf("FS=%lu SD=%lu (Initial)\n", fs(), sd());
    __asm__ volatile("fmv.d.x ft0, zero" ::: "ft0");
    tprintf("after fmv.d.x: FS=%lu SD=%lu\n", fs(), sd());
    /* Clean: a store of an FP register does not dirty it */
    csr_clear(mstatus, MSTATUS_FS);
    csr_set(mstatus, MSTATUS_FS_CLEAN);
    {
        uint64_t slot;
        __asm__ volatile("fsd ft0, %0" : "=m"(slot));
        tprintf("Clean + fsd: FS=%lu\n", fs());
        __asm__ volatile("fmv.x.d t0, ft0" ::: "t0");
        tprintf("Clean + fmv.x.d: FS=%lu\n", fs());
        __asm__ volatile("fld ft1, %0" ::"m"(slot) : "ft1");
        tprintf("Clean + fld: FS=%lu SD=%lu\n", fs(), sd());
    }
    csr_clear(mstatus, MSTATUS_FS);
    csr_set(mstatus, MSTATUS_FS_CLEAN);
    csr_write(fflags, 0);
    tprintf("Clean + csrw fflags: FS=%lu\n", fs());
    csr_clear(mstatus, MSTATUS_FS);
    csr_set(mstatus, MSTATUS_FS_CLEAN);
    __asm__ volatile("fadd.s ft2, ft0, ft0" ::: "ft2");
    tprintf("Clean + fadd.s: FS=%lu SD=%lu\n", fs(), sd());
    /* FS is also visible and writable through sstatus */
    csr_clear(sstatus, MSTATUS_FS);
    tprintf("sstatus.FS cleared -> mstatus FS=%lu\n", fs());
    csr_set(sstatus, MSTATUS_FS_CLEAN);
    tprintf("sstatus.FS=Clean -> mstatus FS=%lu sstatus.SD=%lu\n", fs(), csr_read(sstatus) >> 63);
    csr_write(mstatus, ms);

    /* ---- TSR ---- */
    trap_arm();
    uint64_t r = (uint64_t)run_s(s_sret, 0);
    tprintf("sret in S, TSR=0: sstatus %lx ", r & (MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE));
    trap_report_noepc(NULL);
    csr_set(mstatus, MSTATUS_TSR);
    trap_arm();
    run_s(s_sret, 0);
    trap_report_noepc("sret in S, TSR=1");
    /* M-mode sret is not affected by TSR: sret to U-mode from M here would leave M, so
       only check that TSR reads back */
    tprintf("TSR bit reads %lu\n", (csr_read(mstatus) >> 22) & 1);
    csr_clear(mstatus, MSTATUS_TSR);

    /* ---- sstatus view ---- */
    {
        uint64_t o, m1, s1;
        __asm__ volatile("csrr %0, mstatus\n\t"
                         "csrw sstatus, %3\n\t"
                         "csrr %1, mstatus\n\t"
                         "csrr %2, sstatus\n\t"
                         "csrw mstatus, %0"
                         : "=&r"(o), "=&r"(m1), "=&r"(s1)
                         : "r"(~0UL)
                         : "memory");
        tprintf("mstatus %016lx, sstatus<-~0: mstatus %016lx sstatus %016lx\n", o, m1, s1);
        __asm__ volatile("csrr %0, mstatus\n\t"
                         "csrw sstatus, zero\n\t"
                         "csrr %1, mstatus\n\t"
                         "csrr %2, sstatus\n\t"
                         "csrw mstatus, %0"
                         : "=&r"(o), "=&r"(m1), "=&r"(s1)
                         :
                         : "memory");
        tprintf("sstatus<-0: mstatus %016lx sstatus %016lx\n", m1, s1);
    }

    /* ---- WARL masks ---- */
    WARL("mstatus", mstatus);
    WARL("sstatus", sstatus);
    WARL("misa", misa);
    WARL("medeleg", medeleg);
    WARL("mideleg", mideleg);
    WARL("mie", mie);
    WARL("mip", mip);
    WARL("sie", sie);
    WARL("sip", sip);
    WARL("mscratch", mscratch);
    WARL("mcause", mcause);
    WARL("mtval", mtval);
    WARL("scause", scause);
    WARL("stval", stval);
    WARL("mepc", mepc);
    WARL("sepc", sepc);
    WARL("sscratch", sscratch);
    WARL("senvcfg", senvcfg);
    /* MPP is WARL: the reserved value 2 */
    {
        uint64_t o = csr_read(mstatus);
        csr_write(mstatus, (o & ~MSTATUS_MPP) | (2UL << 11));
        tprintf("quirk: mstatus.MPP <- 2: %lu\n", (csr_read(mstatus) >> 11) & 3);
        csr_write(mstatus, o);
        csr_write(mstatus, (o & ~(3UL << 32)) | (1UL << 32));
        tprintf("quirk: mstatus.UXL <- 1: %lu\n", (csr_read(mstatus) >> 32) & 3);
        csr_write(mstatus, o);
    }
    return 0;
}
