/* vm-sv48-sv57: 4- and 5-level translation. For Sv48 and Sv57: 4 KiB pages at
 * the top and bottom of the canonical range, 1 GiB, 512 GiB (and 256 TiB for
 * Sv57) superpages, misaligned superpages, canonical-address checks (an
 * address valid in Sv57 faults in Sv48 and vice versa), A/D updates, U-mode
 * access through an alias, and satp mode switches with sfence.vma. */
#include "test.h"
#define PT_POOL_PAGES 64
#include "vm.h"

#define ALIAS_OFF 0x100000000UL

static uint8_t tpages[8][4096] __attribute__((aligned(4096)));

static long s_load(long va) { return (long)*(volatile uint64_t *)va; }
static long s_store(long va) { *(volatile uint64_t *)va = 0x3939393939393939UL; return 0; }
static long u_load(long va) { return (long)*(volatile uint64_t *)va; }

static void s_try(const char *what, long (*fn)(long), uint64_t va)
{
    trap_arm();
    long v = run_in_mode(PRV_S, fn, (long)va, 0);
    trap_show(what, v);
}
static void u_try(const char *what, long (*fn)(long), uint64_t va)
{
    trap_arm();
    long v = run_in_mode(PRV_U, fn, (long)va, ALIAS_OFF);
    trap_show(what, v);
}

static void run_mode(int levels)
{
    uint64_t mode = levels == 4 ? SATP_MODE_SV48 : SATP_MODE_SV57;
    int vabits = 12 + 9 * levels;
    uint64_t top = (1UL << (vabits - 1)) - 4096;        /* highest positive page */
    uint64_t neg = ~((1UL << (vabits - 1)) - 1);       /* lowest negative address */
    uint64_t tera = 1UL << 39;                          /* 512 GiB */
    tprintf("=== Sv%d ===\n", vabits);
    pt_next = 0;
    uint64_t *root = pt_alloc();
    pt_map(root, levels, 0x80000000UL, 0x80000000UL, PTE_V | PTE_RWX | PTE_AD, 2);
    pt_map(root, levels, 0x80000000UL + ALIAS_OFF, 0x80000000UL, PTE_V | PTE_RWX | PTE_U | PTE_AD, 2);
    pt_map(root, levels, top, (uint64_t)tpages[1], PTE_V | PTE_R | PTE_W, 0);
    pt_map(root, levels, neg, (uint64_t)tpages[2], PTE_V | PTE_R | PTE_W | PTE_AD, 0);
    pt_map(root, levels, neg + 0x7000, (uint64_t)tpages[4], PTE_V | PTE_R | PTE_W | PTE_U | PTE_AD, 0);
    pt_map(root, levels, 1UL * tera, 0, PTE_V | PTE_R | PTE_W | PTE_AD, 3);          /* 512G page */
    pt_map(root, levels, 2UL * tera, 0x80000000UL, PTE_V | PTE_R | PTE_AD, 3);      /* misaligned */
    if (levels == 5) {
        pt_map(root, levels, 1UL << 47, (uint64_t)tpages[3], PTE_V | PTE_R | PTE_AD, 0);
        pt_map(root, levels, 1UL << 48, 0, PTE_V | PTE_R | PTE_AD, 4);              /* 256T page */
        pt_map(root, levels, 2UL << 48, 1UL << 39, PTE_V | PTE_R | PTE_AD, 4);      /* misaligned */
    }
    csr_write(satp, satp_make(mode, 5, root));
    tprintf("satp mode field: %lu asid: %lx\n", csr_read(satp) >> 60, (csr_read(satp) >> 44) & 0xffff);
    sfence_vma();

    uint64_t *ptop = pt_slot(root, levels, top, 0);
    tprintf("top page pte before: %03lx\n", *ptop & 0x3ff);
    s_try("S load top page", s_load, top + 0x18);
    s_try("S store top page", s_store, top + 0x20);
    tprintf("top page pte after: %03lx\n", *ptop & 0x3ff);
    s_try("S load lowest negative page", s_load, neg + 8);
    s_try("S load 512G page", s_load, tera + (uint64_t)tpages[5]);
    s_try("S load misaligned 512G page", s_load, 2 * tera + 0x100);
    s_try("S load identity 1G page", s_load, (uint64_t)tpages[6]);
    s_try("S load 2^47 (canonical only in Sv57)", s_load, (1UL << 47) + 8);
    s_try("S load 2^56 (never canonical)", s_load, 1UL << 56);
    s_try("S load sign-extended neg-1", s_load, 0xfffffffffffff000UL);
    if (levels == 5) {
        s_try("S load 256T page", s_load, (1UL << 48) + (uint64_t)tpages[7]);
        s_try("S load misaligned 256T page", s_load, (2UL << 48) + 0x40);
    }
    u_try("U load U page (negative VA)", u_load, neg + 0x7000 + 16);
    u_try("U load S page (negative VA)", u_load, neg + 16);
    /* switch to bare and back */
    csr_write(satp, 0);
    sfence_vma();
    s_try("S load 512G VA with satp=bare", s_load, tera + (uint64_t)tpages[5]);
    tprintf("pte of negative page: %03lx\n", *pt_slot(root, levels, neg, 0) & 0x3ff);
}

int main(void)
{
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4096; j += 8)
            *(uint64_t *)&tpages[i][j] = 0x1111111111111111UL * (uint64_t)(i + 1) ^ (uint64_t)j;
    run_mode(4);
    run_mode(5);
    /* Sv48 page tables walked as Sv39 see a different layout */
    tprintf("done\n");
    return 0;
}
