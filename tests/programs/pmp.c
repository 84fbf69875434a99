/* pmp: physical memory protection. WARL behaviour of pmpcfg/pmpaddr, TOR, NA4
 * and NAPOT regions checked from U and S (load/store/fetch access faults 5/7/1,
 * tval = address), partial matches, entry priority, M-mode bypass of unlocked
 * entries, locked entries that bind M-mode and ignore writes, and the
 * no-entries case. crt0 leaves entry 15 = allow-all (lowest priority). */
#include "test.h"

#define PMP_R 0x01
#define PMP_W 0x02
#define PMP_X 0x04
#define PMP_OFF 0x00
#define PMP_TOR 0x08
#define PMP_NA4 0x10
#define PMP_NAPOT 0x18
#define PMP_L 0x80

static uint8_t pbuf[0x8000] __attribute__((aligned(0x4000)));

static long u_load(long a) { return (long)*(volatile uint64_t *)a; }
static long u_load32(long a) { return (long)*(volatile uint32_t *)a; }
static long u_store(long a) { *(volatile uint64_t *)a = 0x2424242424242424UL; return 0; }
static long u_store32(long a) { *(volatile uint32_t *)a = 0x42424242U; return 0; }
static long u_exec(long a) { return ((long (*)(void))a)(); }

static void try_mode(int mode, const char *what, long (*fn)(long), uint64_t a)
{
    trap_arm();
    long v = run_in_mode(mode, fn, (long)a, 0);
    tprintf("%s ", mode == PRV_U ? "U" : mode == PRV_S ? "S" : "M");
    trap_show(what, v);
}

static void cfg_set(int i, uint64_t cfg)
{
    /* entries 0..7 in pmpcfg0, 8..15 in pmpcfg2 */
    uint64_t sh = (uint64_t)(i & 7) * 8;
    if (i < 8) {
        uint64_t v = csr_read(pmpcfg0);
        v = (v & ~(0xffUL << sh)) | (cfg << sh);
        csr_write(pmpcfg0, v);
    } else {
        uint64_t v = csr_read(pmpcfg2);
        v = (v & ~(0xffUL << sh)) | (cfg << sh);
        csr_write(pmpcfg2, v);
    }
}
static void addr_set(int i, uint64_t v)
{
    switch (i) {
    case 0: csr_write(pmpaddr0, v); break;
    case 1: csr_write(pmpaddr1, v); break;
    case 2: csr_write(pmpaddr2, v); break;
    case 3: csr_write(pmpaddr3, v); break;
    case 4: csr_write(pmpaddr4, v); break;
    case 5: csr_write(pmpaddr5, v); break;
    case 6: csr_write(pmpaddr6, v); break;
    }
}
static uint64_t napot(uint64_t base, uint64_t size) { return (base >> 2) | ((size >> 3) - 1); }

static void put_code(uint8_t *p)
{
    uint32_t *c = (uint32_t *)p;
    c[0] = 0x05500513; /* li a0, 0x55 */
    c[1] = 0x00008067; /* ret */
    fence_i();
}

int main(void)
{
    for (unsigned i = 0; i < sizeof(pbuf); i += 8)
        *(uint64_t *)&pbuf[i] = 0x0102030405060708UL + i;
    uint64_t b = (uint64_t)pbuf;
    tprintf("pmpcfg0=%lx pmpcfg2=%lx pmpaddr15=%lx\n", csr_read(pmpcfg0), csr_read(pmpcfg2), csr_read(pmpaddr15));

    /* ---- WARL ---- */
    csr_write(pmpaddr0, ~0UL);
    tprintf("pmpaddr0 <- ~0: %lx\n", csr_read(pmpaddr0));
    csr_write(pmpaddr0, 0x123456789abcdefUL);
    tprintf("pmpaddr0 <- 0x123456789abcdef: %lx\n", csr_read(pmpaddr0));
    static const uint64_t cfgs[] = {0x1f, 0x7f, 0x02, 0x03, 0x0f, 0x60, 0x16};
    for (unsigned i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        csr_write(pmpaddr0, 0);
        csr_write(pmpcfg0, cfgs[i]);
        tprintf("pmpcfg0 <- %02lx: %lx\n", cfgs[i], csr_read(pmpcfg0));
        csr_write(pmpcfg0, 0);
    }
    csr_write(pmpaddr0, 0);

    /* ---- TOR: entries 0..1 cover [b, b+0x1000) with no permissions ---- */
    addr_set(0, b >> 2);
    addr_set(1, (b + 0x1000) >> 2);
    cfg_set(1, PMP_TOR);
    put_code(pbuf + 0x800);
    try_mode(PRV_U, "TOR load inside", u_load, b + 0x10);
    try_mode(PRV_U, "TOR store inside", u_store, b + 0x18);
    try_mode(PRV_U, "TOR exec inside", u_exec, b + 0x800);
    try_mode(PRV_U, "TOR load at top (outside)", u_load, b + 0x1000);
    try_mode(PRV_U, "TOR load below base (outside)", u_load, b - 8);
    try_mode(PRV_U, "TOR load straddling top", u_load, b + 0xffc);
    try_mode(PRV_S, "TOR load inside", u_load, b + 0x20);
    try_mode(PRV_M, "TOR load inside", u_load, b + 0x28);
    cfg_set(1, PMP_TOR | PMP_R | PMP_X);
    try_mode(PRV_U, "TOR(RX) load inside", u_load, b + 0x10);
    try_mode(PRV_U, "TOR(RX) store inside", u_store, b + 0x18);
    try_mode(PRV_U, "TOR(RX) exec inside", u_exec, b + 0x800);
    cfg_set(1, PMP_OFF);

    /* ---- NA4 at b+0x1000, read-only ---- */
    addr_set(2, (b + 0x1000) >> 2);
    cfg_set(2, PMP_NA4 | PMP_R);
    addr_set(3, napot(b + 0x1000, 0x1000));
    cfg_set(3, PMP_NAPOT); /* rest of that page: no access */
    try_mode(PRV_U, "NA4 load32", u_load32, b + 0x1000);
    try_mode(PRV_U, "NA4 store32", u_store32, b + 0x1000);
    try_mode(PRV_U, "NA4 load64 (partial match)", u_load, b + 0x1000);
    try_mode(PRV_U, "load32 next word (NAPOT none)", u_load32, b + 0x1004);
    cfg_set(2, PMP_OFF);
    cfg_set(3, PMP_OFF);

    /* ---- NAPOT 4K at b+0x2000, execute-only ---- */
    put_code(pbuf + 0x2100);
    addr_set(2, napot(b + 0x2000, 0x1000));
    cfg_set(2, PMP_NAPOT | PMP_X);
    tprintf("pmpaddr2 (NAPOT 4K) = %lx\n", csr_read(pmpaddr2));
    try_mode(PRV_U, "NAPOT(X) exec", u_exec, b + 0x2100);
    try_mode(PRV_U, "NAPOT(X) load", u_load, b + 0x2100);
    try_mode(PRV_S, "NAPOT(X) store", u_store, b + 0x2ff8);
    try_mode(PRV_U, "NAPOT(X) load just past end", u_load, b + 0x3000);
    cfg_set(2, PMP_OFF);

    /* ---- priority: lowest-numbered matching entry wins ---- */
    addr_set(3, napot(b + 0x3000, 0x1000));
    addr_set(4, napot(b + 0x3000, 0x1000));
    cfg_set(3, PMP_NAPOT | PMP_R | PMP_W);
    cfg_set(4, PMP_NAPOT);
    try_mode(PRV_U, "entry3 RW over entry4 none: load", u_load, b + 0x3010);
    cfg_set(3, PMP_NAPOT);
    cfg_set(4, PMP_NAPOT | PMP_R | PMP_W);
    try_mode(PRV_U, "entry3 none over entry4 RW: load", u_load, b + 0x3010);
    cfg_set(3, PMP_OFF);
    cfg_set(4, PMP_OFF);
    /* a larger NAPOT (16K) region, RW */
    addr_set(4, napot(b + 0x4000, 0x4000));
    cfg_set(4, PMP_NAPOT);
    tprintf("pmpaddr4 (NAPOT 16K) = %lx\n", csr_read(pmpaddr4));
    try_mode(PRV_U, "NAPOT 16K none: load at +0x7ff8", u_load, b + 0x7ff8);
    try_mode(PRV_U, "NAPOT 16K none: load at +0x8000", u_load, b + 0x8000);
    cfg_set(4, PMP_OFF);

    /* ---- no PMP entries at all ---- */
    uint64_t c2 = csr_read(pmpcfg2);
    csr_write(pmpcfg2, 0);
    trap_arm();
    long v = run_u(u_load, b);
    trap_show("quirk: U run with no PMP entries (mret)", v);
    try_mode(PRV_M, "M load with no PMP entries", u_load, b);
    csr_write(pmpcfg2, c2);

    /* ---- locked entry binds M-mode; its registers ignore writes ---- */
    addr_set(5, napot(b + 0x6000, 0x1000));
    cfg_set(5, PMP_NAPOT | PMP_R | PMP_L);
    try_mode(PRV_M, "locked R: load", u_load, b + 0x6008);
    try_mode(PRV_M, "locked R: store", u_store, b + 0x6010);
    try_mode(PRV_M, "locked R: exec", u_exec, b + 0x6000);
    try_mode(PRV_U, "locked R: U load", u_load, b + 0x6008);
    uint64_t before = csr_read(pmpcfg0), abefore = csr_read(pmpaddr5);
    cfg_set(5, PMP_NAPOT | PMP_R | PMP_W | PMP_X);
    csr_write(pmpaddr5, 0);
    tprintf("locked entry writes ignored: cfg %s addr %s\n", csr_read(pmpcfg0) == before ? "yes" : "no",
            csr_read(pmpaddr5) == abefore ? "yes" : "no");
    tprintf("pmpcfg0 = %lx\n", csr_read(pmpcfg0));
    try_mode(PRV_M, "M load outside locked entry", u_load, b + 0x5000);
    return 0;
}
