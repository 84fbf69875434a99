/* ext-probe: which optional extensions the machine implements. Each probe
 * executes one instruction (via .insn where the assembler lacks it) or reads
 * one CSR and prints whether it raised illegal instruction (with mtval).
 * Also checks the behaviour of the ones that exist: Zicond results,
 * cbo.zero's block size and menvcfg gating, and menvcfg's writable bits. */
#include "test.h"
#include "report.h"

static uint8_t blk[256] __attribute__((aligned(256)));

#define PROBE(name, ...)                                                                        \
    do {                                                                                       \
        trap_arm();                                                                            \
        __asm__ volatile(__VA_ARGS__);                                                         \
        trap_report_noepc(name);                                                               \
    } while (0)

static uint64_t czero_eqz(uint64_t a, uint64_t b)
{
    uint64_t r = 0x5a5a;
    __asm__ volatile(".insn r 0x33, 5, 7, %0, %1, %2" : "+r"(r) : "r"(a), "r"(b));
    return r;
}
static uint64_t czero_nez(uint64_t a, uint64_t b)
{
    uint64_t r = 0x5a5a;
    __asm__ volatile(".insn r 0x33, 7, 7, %0, %1, %2" : "+r"(r) : "r"(a), "r"(b));
    return r;
}

static long s_cbo_zero(long p)
{
    __asm__ volatile(".insn i 0x0f, 2, x0, %0, 4" ::"r"(p) : "memory");
    return 0;
}
static long s_cbo_clean(long p)
{
    __asm__ volatile(".insn i 0x0f, 2, x0, %0, 1" ::"r"(p) : "memory");
    return 0;
}

int main(void)
{
    uint64_t misa = csr_read(misa);
    tprintf("misa = %016lx ext:", misa);
    for (int i = 0; i < 26; i++)
        if (misa & (1UL << i))
            tprintf(" %c", 'A' + i);
    tprintf("\n");

    /* Zicond */
    PROBE("Zicond czero.eqz", ".insn r 0x33, 5, 7, t0, t1, t2" ::: "t0");
    PROBE("Zicond czero.nez", ".insn r 0x33, 7, 7, t0, t1, t2" ::: "t0");
    /* scalar crypto / Zbk* */
    PROBE("Zbkb pack", ".insn r 0x33, 4, 4, t0, t1, t2" ::: "t0");
    PROBE("Zbkb packh", ".insn r 0x33, 7, 4, t0, t1, t2" ::: "t0");
    PROBE("Zbkb brev8", ".insn i 0x13, 5, t0, t1, 0x687" ::: "t0");
    PROBE("Zbkx xperm8", ".insn r 0x33, 4, 0x14, t0, t1, t2" ::: "t0");
    PROBE("Zknh sha256sum0", ".insn i 0x13, 1, t0, t1, 0x100" ::: "t0");
    PROBE("Zkne aes64es", ".insn r 0x33, 0, 0x19, t0, t1, t2" ::: "t0");
    PROBE("Zksh sm3p0", ".insn i 0x13, 1, t0, t1, 0x108" ::: "t0");
    /* cache-block operations (M-mode) */
    PROBE("Zicbom cbo.inval", ".insn i 0x0f, 2, x0, %0, 0" ::"r"(blk) : "memory");
    PROBE("Zicbom cbo.clean", ".insn i 0x0f, 2, x0, %0, 1" ::"r"(blk) : "memory");
    PROBE("Zicbom cbo.flush", ".insn i 0x0f, 2, x0, %0, 2" ::"r"(blk) : "memory");
    PROBE("Zicbop prefetch.r (ori hint)", ".insn i 0x13, 6, x0, %0, 1" ::"r"(blk) : "memory");
    /* cbo.zero: zeroes the naturally aligned block holding the address */
    for (int i = 0; i < 256; i++)
        blk[i] = (uint8_t)(0xa0 + i);
    PROBE("Zicboz cbo.zero", ".insn i 0x0f, 2, x0, %0, 4" ::"r"(blk + 70) : "memory");
    {
        int first = -1, last = -1;
        for (int i = 0; i < 256; i++)
            if (blk[i] == 0) {
                if (first < 0)
                    first = i;
                last = i;
            }
        tprintf("cbo.zero zeroed bytes [%d..%d]\n", first, last);
    }
    /* misc */
    PROBE("Zawrs wrs.nto", ".word 0x00d00073");
    PROBE("Zawrs wrs.sto", ".word 0x01d00073");
    PROBE("Zihintpause pause", ".word 0x0100000f");
    PROBE("Zihintntl ntl.p1 (add x0,x0,x2)", ".word 0x00200033");
    PROBE("Zfh flh", ".insn i 0x07, 1, ft0, %0, 0" ::"r"(blk) : "ft0");
    PROBE("Zfh fadd.h", ".insn r 0x53, 7, 0x02, ft0, ft1, ft2" ::: "ft0");
    PROBE("Zfhmin fcvt.s.h", ".insn r 0x53, 0, 0x20, ft0, ft1, x2" ::: "ft0");
    PROBE("Zfa fli.s", ".insn r 0x53, 0, 0x78, ft0, x0, x1" ::: "ft0");
    PROBE("fmv.w.x with rs2!=0 (reserved)", ".insn r 0x53, 0, 0x78, ft0, x0, x2" ::: "ft0");
    PROBE("Zcb c.lbu (0x8000)", ".hword 0x8000\n.hword 0x0001");
    PROBE("Zcb c.not (0x9c75)", ".hword 0x9c75\n.hword 0x0001" ::: "s0");
    PROBE("V vsetvli", ".insn i 0x57, 7, t0, t1, 0" ::: "t0");
    PROBE("H hfence.gvma", ".word 0x62000073");
    PROBE("H hlv.b", ".insn r 0x73, 4, 0x30, t0, %0, x0" ::"r"(blk) : "t0");
    PROBE("Svinval sinval.vma", ".word 0x16000073");
    PROBE("Svinval sfence.w.inval", ".word 0x18000073");
    PROBE("Svinval sfence.inval.ir", ".word 0x18100073");
    PROBE("Zkr csrrw seed", "csrrw t0, 0x015, x0" ::: "t0");

    /* CSRs that reveal extensions */
    PROBE("Sstc csrr stimecmp", "csrr t0, 0x14d" ::: "t0");
    PROBE("Smstateen csrr mstateen0", "csrr t0, 0x30c" ::: "t0");
    PROBE("Sscofpmf csrr scountovf", "csrr t0, 0xda0" ::: "t0");
    PROBE("Smaia csrr miselect", "csrr t0, 0x350" ::: "t0");
    PROBE("Ssaia csrr stopi", "csrr t0, 0xdb0" ::: "t0");
    PROBE("Sdtrig csrr tselect", "csrr t0, 0x7a0" ::: "t0");
    PROBE("Smepmp csrr mseccfg", "csrr t0, 0x747" ::: "t0");
    PROBE("V csrr vlenb", "csrr t0, 0xc22" ::: "t0");
    PROBE("H csrr hstatus", "csrr t0, 0x600" ::: "t0");
    PROBE("Zicntr csrr hpmcounter3", "csrr t0, 0xc03" ::: "t0");
    PROBE("Zcmt csrr jvt", "csrr t0, 0x017" ::: "t0");

    /* menvcfg writable bits: FIOM(0) CBIE(5:4) CBCFE(6) CBZE(7) PBMTE(62) STCE(63) */
    uint64_t old = csr_read(menvcfg);
    csr_write(menvcfg, -1L);
    uint64_t m = csr_read(menvcfg);
    csr_write(menvcfg, old);
    tprintf("menvcfg reset=%016lx all-ones->%016lx (PBMTE=%lu STCE=%lu CBZE=%lu)\n", old, m,
            (m >> 62) & 1, m >> 63, (m >> 7) & 1);
    old = csr_read(senvcfg);
    csr_write(senvcfg, -1L);
    m = csr_read(senvcfg);
    csr_write(senvcfg, old);
    tprintf("senvcfg reset=%016lx all-ones->%016lx\n", old, m);

    /* Zicond semantics, if implemented */
    static const uint64_t cv[] = {0, 1, (uint64_t)-1, 0x8000000000000000ULL, 0x123456789abcdef0ULL};
    trap_arm();
    czero_eqz(1, 2);
    int zicond = trap_rec.count == 0;
    trap_disarm();
    tprintf("Zicond implemented: %s\n", zicond ? "yes" : "no");
    for (unsigned i = 0; zicond && i < 5; i++)
        for (unsigned j = 0; j < 5; j++) {
            trap_arm();
            uint64_t r1 = czero_eqz(cv[i], cv[j]);
            uint64_t r2 = czero_nez(cv[i], cv[j]);
            int trapped = trap_rec.count != 0;
            trap_disarm();
            tprintf("czero %016lx %016lx -> eqz %016lx nez %016lx%s\n", cv[i], cv[j], r1, r2,
                    trapped ? " (trapped)" : "");
        }

    /* cbo.zero / cbo.clean from S-mode with menvcfg gating */
    csr_write(menvcfg, 0);
    trap_arm();
    run_s(s_cbo_zero, (long)blk);
    trap_report_noepc("S cbo.zero menvcfg.CBZE=0");
    csr_write(menvcfg, 1UL << 7);
    for (int i = 0; i < 256; i++)
        blk[i] = 0xee;
    trap_arm();
    run_s(s_cbo_zero, (long)(blk + 130));
    trap_report_noepc("S cbo.zero menvcfg.CBZE=1");
    tprintf("blk[127]=%02x blk[128]=%02x blk[191]=%02x blk[192]=%02x\n", blk[127], blk[128], blk[191],
            blk[192]);
    csr_write(menvcfg, 0);
    trap_arm();
    run_s(s_cbo_clean, (long)blk);
    trap_report_noepc("S cbo.clean menvcfg.CBCFE=0");
    csr_write(menvcfg, 1UL << 6);
    trap_arm();
    run_s(s_cbo_clean, (long)blk);
    trap_report_noepc("S cbo.clean menvcfg.CBCFE=1");
    csr_write(menvcfg, 0);
    return 0;
}
