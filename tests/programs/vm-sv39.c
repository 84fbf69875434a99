/* vm-sv39: Sv39 translation built in C. 4 KiB / 2 MiB / 1 GiB pages; R/W/X/U
 * permission checks from S and U; SUM, MXR, MPRV; hardware-set A and D bits;
 * invalid, reserved (W without R, reserved high bits, PBMT/N without the
 * extensions) and misaligned-superpage PTEs; non-canonical addresses; page
 * faults with cause 12/13/15 and tval = faulting VA, taken in M or delegated
 * to S; sfence.vma after PTE changes; TVM; satp WARL. */
#include "test.h"
#include "vm.h"

#define ALIAS_OFF 0x100000000UL /* U-accessible alias of RAM at VA 0x1_8000_0000 */
#define TVA(i) (0x40000000UL + (uint64_t)(i) * 4096)
#define MEGA_VA 0x40200000UL
#define MEGA_PA 0x80600000UL
#define MEGA_BAD_VA 0x40400000UL
#define GIGA_BAD_VA 0xC0000000UL
#define NEG_VA 0xffffffc000000000UL

static uint8_t tpages[16][4096] __attribute__((aligned(4096)));
static uint64_t *root, *l0;
static uint64_t satp_val;

static long s_load(long va) { return (long)*(volatile uint64_t *)va; }
static long s_load32(long va) { return (long)*(volatile uint32_t *)va; }
static long s_store(long va) { *(volatile uint64_t *)va = 0x5151515151515151UL; return 0; }
static long s_exec(long va) { return ((long (*)(void))va)(); }
static long s_load_sum(long va)
{
    csr_set(sstatus, MSTATUS_SUM);
    long v = (long)*(volatile uint64_t *)va;
    csr_clear(sstatus, MSTATUS_SUM);
    return v;
}
static long s_exec_sum(long va)
{
    csr_set(sstatus, MSTATUS_SUM);
    long v = ((long (*)(void))va)();
    csr_clear(sstatus, MSTATUS_SUM);
    return v;
}
static long s_load_mxr(long va)
{
    csr_set(sstatus, MSTATUS_MXR);
    long v = (long)*(volatile uint64_t *)va;
    csr_clear(sstatus, MSTATUS_MXR);
    return v;
}
static long s_misaligned_sum(long va)
{
    csr_set(sstatus, MSTATUS_SUM);
    uint64_t v;
    __asm__ volatile("ld %0, 0(%1)" : "=r"(v) : "r"(va) : "memory");
    csr_clear(sstatus, MSTATUS_SUM);
    return (long)v;
}
static long s_rd_satp(long x) { return (long)csr_read(satp); }
static long s_wr_satp(long x) { csr_write(satp, x); return (long)csr_read(satp); }
static long s_sfence(long x) { __asm__ volatile("sfence.vma" ::: "memory"); return 0; }
/* U-mode code runs at the alias; pointers passed in are VAs */
static long u_load(long va) { return (long)*(volatile uint64_t *)va; }
static long u_store(long va) { *(volatile uint64_t *)va = 0x7171717171717171UL; return 0; }
static long u_exec(long va) { return ((long (*)(void))va)(); }

static long mprv_load(uint64_t va, uint64_t mpp, uint64_t extra)
{
    uint64_t v = 0xdead, old;
    __asm__ volatile("csrr %1, mstatus\n\t"
                     "csrc mstatus, %3\n\t"
                     "csrs mstatus, %4\n\t"
                     "ld %0, 0(%2)\n\t"
                     "csrw mstatus, %1"
                     : "+&r"(v), "=&r"(old)
                     : "r"(va), "r"(MSTATUS_MPP), "r"((mpp << 11) | MSTATUS_MPRV | extra)
                     : "memory");
    return (long)v;
}


#define S_TRY(what, fn, va) do { trap_arm(); long v_ = run_in_mode(PRV_S, fn, (long)(va), 0); trap_show(what, v_); } while (0)
#define U_TRY(what, fn, va) do { trap_arm(); long v_ = run_in_mode(PRV_U, (long (*)(long))((uint64_t)(fn)), (long)(va), ALIAS_OFF); trap_show(what, v_); } while (0)

static uint64_t *pte4k(int i) { return &l0[vpn(TVA(i), 0)]; }
static void set4k(int i, uint64_t flags) { *pte4k(i) = pte_make((uint64_t)tpages[i], flags); sfence_vma(); }

static void put_code(int i)
{
    uint32_t *c = (uint32_t *)tpages[i];
    c[0] = 0x07700513; /* li a0, 0x77 */
    c[1] = 0x00008067; /* ret */
    fence_i();
}

int main(void)
{
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 4096; j += 8)
            *(uint64_t *)&tpages[i][j] = 0x0101010101010101UL * (uint64_t)(i + 1) + (uint64_t)j;
    for (uint64_t off = 0; off < 0x200000; off += 4096)
        *(volatile uint64_t *)(MEGA_PA + off) = 0xabc0000000000000UL | off;

    root = pt_alloc();
    pt_map(root, 3, 0x80000000UL, 0x80000000UL, PTE_V | PTE_RWX | PTE_AD | PTE_G, 2);
    pt_map(root, 3, 0x80000000UL + ALIAS_OFF, 0x80000000UL, PTE_V | PTE_RWX | PTE_U | PTE_AD, 2);
    pt_map(root, 3, NEG_VA, 0x80000000UL, PTE_V | PTE_R | PTE_A, 2);
    pt_map(root, 3, MEGA_VA, MEGA_PA, PTE_V | PTE_R | PTE_W | PTE_AD, 1);
    pt_map(root, 3, MEGA_BAD_VA, MEGA_PA + 0x1000, PTE_V | PTE_R | PTE_W | PTE_AD, 1);
    pt_map(root, 3, GIGA_BAD_VA, 0x80200000UL, PTE_V | PTE_R | PTE_W | PTE_AD, 2);
    l0 = (uint64_t *)pte_pa(0);
    {
        uint64_t *slot = pt_slot(root, 3, TVA(0), 0);
        l0 = slot - vpn(TVA(0), 0);
    }
    set4k(0, PTE_V | PTE_R | PTE_A | PTE_D);
    set4k(1, PTE_V | PTE_R | PTE_W);
    set4k(2, PTE_V | PTE_X | PTE_A);
    set4k(3, PTE_V | PTE_R | PTE_W | PTE_U | PTE_AD);
    *pte4k(4) = 0;
    set4k(5, PTE_V | PTE_W | PTE_AD);
    set4k(6, PTE_V | PTE_R | PTE_W | PTE_AD | (1UL << 61)); /* PBMT = NC */
    set4k(7, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A);
    set4k(8, PTE_V | PTE_R | PTE_X | PTE_A);
    set4k(9, PTE_V | PTE_R | PTE_W | PTE_AD | PTE_G);
    set4k(10, PTE_V | PTE_R | PTE_W | PTE_AD);
    set4k(11, PTE_V | PTE_R | PTE_W | PTE_A);
    set4k(12, PTE_V | PTE_R | PTE_W | PTE_AD | (1UL << 63)); /* N (Svnapot) */
    set4k(13, PTE_V | PTE_R | PTE_W | PTE_AD | (1UL << 55)); /* reserved bit */
    set4k(14, PTE_V | PTE_R | PTE_W | PTE_AD);
    put_code(2);
    put_code(7);
    put_code(8);

    /* ---- satp ---- */
    satp_val = satp_make(SATP_MODE_SV39, 0, root);
    csr_write(satp, satp_make(SATP_MODE_SV39, 0xffff, (uint64_t *)0xfffffffffff000UL));
    tprintf("satp WARL (sv39, asid ffff, ppn all ones): %016lx\n", csr_read(satp));
    csr_write(satp, 0);
    for (uint64_t m = 1; m < 16; m++) {
        csr_write(satp, (m << 60) | ((uint64_t)root >> 12));
        uint64_t r = csr_read(satp);
        if (m == 1 || m >= 8)
            tprintf("satp mode %lu -> %016lx\n", m, r == 0 ? 0 : r >> 60);
        csr_write(satp, 0);
    }
    csr_write(satp, satp_val);
    sfence_vma();

    /* ---- basic S-mode accesses ---- */
    S_TRY("S load R page", s_load, TVA(0));
    S_TRY("S store R page", s_store, TVA(0) + 8);
    S_TRY("S exec R page", s_exec, TVA(0));
    tprintf("pte1 before: %03lx\n", *pte4k(1) & 0x3ff);
    S_TRY("S load A=0 D=0 page", s_load, TVA(1) + 16);
    tprintf("pte1 after load: %03lx\n", *pte4k(1) & 0x3ff);
    S_TRY("S store A=1 D=0 page", s_store, TVA(1) + 16);
    tprintf("pte1 after store: %03lx\n", *pte4k(1) & 0x3ff);
    S_TRY("S store A=1 D=0 page 11", s_store, TVA(11));
    tprintf("pte11 after store: %03lx\n", *pte4k(11) & 0x3ff);
    S_TRY("S load X-only page", s_load, TVA(2));
    S_TRY("S load X-only page MXR=1", s_load_mxr, TVA(2));
    S_TRY("S exec X-only page", s_exec, TVA(2));
    S_TRY("S load U page SUM=0", s_load, TVA(3));
    S_TRY("S load U page SUM=1", s_load_sum, TVA(3));
    S_TRY("S exec U page SUM=1", s_exec_sum, TVA(7));
    S_TRY("S load invalid", s_load, TVA(4) + 0x123);
    S_TRY("S store invalid", s_store, TVA(4) + 0x128);
    S_TRY("S exec invalid", s_exec, TVA(4));
    S_TRY("S load W-only (reserved)", s_load, TVA(5));
    S_TRY("S load PBMT=NC", s_load, TVA(6));
    S_TRY("S load N bit", s_load, TVA(12));
    S_TRY("S load reserved bit 55", s_load, TVA(13));
    S_TRY("S load G page", s_load, TVA(9) + 24);
    S_TRY("S load 2M page", s_load, MEGA_VA + 0x3000);
    S_TRY("S load 2M page end", s_load, MEGA_VA + 0x1ff000);
    S_TRY("S load misaligned 2M page", s_load, MEGA_BAD_VA + 0x10);
    S_TRY("S load misaligned 1G page", s_load, GIGA_BAD_VA + 0x10);
    S_TRY("S load upper-half VA", s_load, NEG_VA + ((uint64_t)tpages[3] - 0x80000000UL));
    S_TRY("S store upper-half R page", s_store, NEG_VA + 0x1000);
    S_TRY("S load non-canonical VA", s_load, 0x0000008000000000UL | TVA(0));
    S_TRY("S load non-canonical VA 2", s_load, 0xffff7fc000000000UL);
    S_TRY("S load unmapped VA 0", s_load, 0);
    S_TRY("S load misaligned across into invalid", s_misaligned_sum, TVA(3) + 4092);
    S_TRY("S load misaligned across two valid pages", s_misaligned_sum, TVA(9) + 4092);
    S_TRY("S load32 last word of page", s_load32, TVA(0) + 4092);

    /* ---- U-mode accesses (code at the U alias) ---- */
    U_TRY("U load U page", u_load, TVA(3) + 40);
    U_TRY("U store U page", u_store, TVA(3) + 48);
    U_TRY("U load S page", u_load, TVA(0));
    U_TRY("U store S page", u_store, TVA(9));
    U_TRY("U exec U X page", u_exec, TVA(7));
    U_TRY("U exec S X page", u_exec, TVA(8));
    U_TRY("U load invalid", u_load, TVA(4));
    U_TRY("U load identity RAM (S only)", u_load, (long)tpages[0]);
    U_TRY("U load alias RAM", u_load, (long)tpages[0] + ALIAS_OFF);
    tprintf("U store landed: %016lx\n", *(uint64_t *)&tpages[3][48]);

    /* ---- MPRV from M ---- */
    trap_arm();
    long v = mprv_load(TVA(0), PRV_S, 0);
    trap_show("M MPRV MPP=S load R page", v);
    trap_arm();
    v = mprv_load(TVA(3), PRV_U, 0);
    trap_show("M MPRV MPP=U load U page", v);
    trap_arm();
    v = mprv_load(TVA(0), PRV_U, 0);
    trap_show("M MPRV MPP=U load S page", v);
    trap_arm();
    v = mprv_load(TVA(3), PRV_S, 0);
    trap_show("M MPRV MPP=S load U page SUM=0", v);
    trap_arm();
    v = mprv_load(TVA(3), PRV_S, MSTATUS_SUM);
    trap_show("M MPRV MPP=S load U page SUM=1", v);
    trap_arm();
    v = mprv_load(TVA(2), PRV_S, MSTATUS_MXR);
    trap_show("M MPRV MPP=S load X page MXR=1", v);
    trap_arm();
    v = mprv_load((uint64_t)tpages[5], PRV_M, 0);
    trap_show("M MPRV MPP=M (no translation)", v);

    /* ---- sfence.vma after changing a PTE ---- */
    S_TRY("S load page 10 (maps tpages[10])", s_load, TVA(10));
    *pte4k(10) = pte_make((uint64_t)tpages[14], PTE_V | PTE_R | PTE_W | PTE_AD);
    __asm__ volatile("sfence.vma %0, zero" ::"r"(TVA(10)) : "memory");
    S_TRY("S load page 10 after remap+sfence va", s_load, TVA(10));
    *pte4k(10) = pte_make((uint64_t)tpages[15], PTE_V | PTE_R | PTE_W | PTE_AD);
    __asm__ volatile("sfence.vma zero, %0" ::"r"(0UL) : "memory");
    S_TRY("S load page 10 after remap+sfence asid", s_load, TVA(10));
    *pte4k(10) = 0;
    run_s(s_sfence, 0);
    S_TRY("S load page 10 after unmap+S sfence", s_load, TVA(10));

    /* ---- TVM ---- */
    csr_set(mstatus, MSTATUS_TVM);
    S_TRY("S csrr satp TVM=1", s_rd_satp, 0);
    trap_arm();
    run_s(s_wr_satp, (long)satp_val);
    trap_show("S csrw satp (same value) TVM=1", 0);
    S_TRY("S sfence.vma TVM=1", s_sfence, 0);
    csr_clear(mstatus, MSTATUS_TVM);
    S_TRY("S csrr satp TVM=0", s_rd_satp, 0);

    /* ---- page faults delegated to S ---- */
    csr_write(medeleg, (1UL << CAUSE_FETCH_PAGE) | (1UL << CAUSE_LOAD_PAGE) | (1UL << CAUSE_STORE_PAGE));
    S_TRY("S load invalid (delegated)", s_load, TVA(4) + 0x40);
    S_TRY("S store R page (delegated)", s_store, TVA(0) + 0x48);
    S_TRY("S exec invalid (delegated)", s_exec, TVA(4));
    U_TRY("U load S page (delegated)", u_load, TVA(0) + 0x50);
    tprintf("stval=%lx scause=%lx\n", csr_read(stval), csr_read(scause));
    csr_write(medeleg, 0);

    csr_write(satp, 0);
    sfence_vma();
    tprintf("final pte flags:");
    for (int i = 0; i < 16; i++)
        tprintf(" %03lx", *pte4k(i) & 0x3ff);
    tprintf("\n");
    return 0;
}
