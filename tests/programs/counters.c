/* counters: cycle/time/instret (and mcycle/minstret, hpmcounter3) are readable
 * and advance (only relations are printed), time matches CLINT mtime, and the
 * mcounteren/scounteren gates for S- and U-mode reads (illegal instruction). */
#include "test.h"

static long rd_cycle(long x) { return (long)csr_read(cycle); }
static long rd_time(long x) { return (long)csr_read(time); }
static long rd_instret(long x) { return (long)csr_read(instret); }
static long rd_hpm3(long x) { return (long)csr_read(hpmcounter3); }
static long rd_hpm31(long x) { return (long)csr_read(hpmcounter31); }
static long wr_scounteren(long x) { csr_write(scounteren, x); return (long)csr_read(scounteren); }

int main(void)
{
    uint64_t c0 = csr_read(cycle), i0 = csr_read(instret), t0 = csr_read(time);
    uint64_t mt0 = CLINT_MTIME;
    uint64_t mc0 = csr_read(mcycle), mi0 = csr_read(minstret);
    volatile uint64_t sink = 0;
    for (int i = 0; i < 20000; i++)
        sink += (uint64_t)i;
    /* wait until time visibly moves */
    for (int i = 0; i < 10000000 && csr_read(time) == t0; i++)
        ;
    uint64_t c1 = csr_read(cycle), i1 = csr_read(instret), t1 = csr_read(time);
    uint64_t mt1 = CLINT_MTIME;
    uint64_t mc1 = csr_read(mcycle), mi1 = csr_read(minstret);
    tprintf("cycle advanced: %s\n", c1 > c0 ? "yes" : "no");
    tprintf("instret advanced: %s\n", i1 > i0 ? "yes" : "no");
    tprintf("time advanced: %s\n", t1 > t0 ? "yes" : "no");
    tprintf("mcycle advanced: %s\n", mc1 > mc0 ? "yes" : "no");
    tprintf("minstret advanced: %s\n", mi1 > mi0 ? "yes" : "no");
    uint64_t mt2 = CLINT_MTIME;
    tprintf("time and mtime monotonic (t0 <= mt0 <= t1 <= mt1): %s\n",
            t0 <= mt0 && mt0 <= t1 && t1 <= mt2 ? "yes" : "no");
    tprintf("mtime advanced: %s\n", mt1 > mt0 ? "yes" : "no");
    uint64_t a = csr_read(time), b = CLINT_MTIME, c = csr_read(time);
    tprintf("time <= mtime <= time': %s\n", a <= b && b <= c ? "yes" : "no");

    /* ---- counter-enable gating ---- */
    static const struct { const char *n; long (*f)(long); int bit; } ctr[] = {
        {"cycle", rd_cycle, 0}, {"time", rd_time, 1}, {"instret", rd_instret, 2},
        {"hpmcounter3", rd_hpm3, 3}, {"hpmcounter31", rd_hpm31, 31},
    };
    for (unsigned k = 0; k < sizeof(ctr) / sizeof(ctr[0]); k++) {
        for (int mc = 0; mc < 2; mc++) {
            for (int sc = 0; sc < 2; sc++) {
                csr_write(mcounteren, mc ? (1UL << ctr[k].bit) : 0);
                csr_write(scounteren, sc ? (1UL << ctr[k].bit) : 0);
                trap_arm();
                run_s(ctr[k].f, 0);
                tprintf("%s mcounteren=%d scounteren=%d S: ", ctr[k].n, mc, sc);
                trap_report_noepc(NULL);
                trap_arm();
                run_u(ctr[k].f, 0);
                tprintf("%s mcounteren=%d scounteren=%d U: ", ctr[k].n, mc, sc);
                trap_report_noepc(NULL);
            }
        }
    }
    csr_write(mcounteren, ~0UL);
    tprintf("mcounteren WARL: %lx\n", csr_read(mcounteren));
    tprintf("scounteren written from S: %lx\n", run_s(wr_scounteren, -1L));
    csr_write(mcounteren, 0);
    csr_write(scounteren, 0);

    /* mcountinhibit: writable; minstret/mcycle writable */
    uint64_t ci = csr_read(mcountinhibit);
    csr_write(mcountinhibit, ~0UL);
    tprintf("mcountinhibit reset=%lx WARL=%lx\n", ci, csr_read(mcountinhibit));
    csr_write(mcountinhibit, 0);
    csr_write(minstret, 1000);
    uint64_t mi = csr_read(minstret);
    tprintf("minstret after write 1000: %s\n", mi >= 1000 && mi < 1000000 ? ">=1000 and small" : "other");
    csr_write(mcycle, 0);
    tprintf("mcycle after write 0: %s\n", csr_read(mcycle) < (1UL << 40) ? "small" : "large");
    return (int)(sink & 0);
}
