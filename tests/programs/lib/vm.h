/* Page-table building helpers for the Sv39/Sv48/Sv57 tests. Tables come from
 * a pool of 4 KiB pages in .bss; everything runs with physical = table address
 * (built in M-mode). */
#ifndef VM_H
#define VM_H
#include <stdint.h>

#define PTE_V (1UL << 0)
#define PTE_R (1UL << 1)
#define PTE_W (1UL << 2)
#define PTE_X (1UL << 3)
#define PTE_U (1UL << 4)
#define PTE_G (1UL << 5)
#define PTE_A (1UL << 6)
#define PTE_D (1UL << 7)
#define PTE_RWX (PTE_R | PTE_W | PTE_X)
#define PTE_AD (PTE_A | PTE_D)

#define SATP_MODE_BARE 0UL
#define SATP_MODE_SV39 8UL
#define SATP_MODE_SV48 9UL
#define SATP_MODE_SV57 10UL

#ifndef PT_POOL_PAGES
#define PT_POOL_PAGES 48
#endif

static uint64_t pt_pool[PT_POOL_PAGES][512] __attribute__((aligned(4096)));
static unsigned pt_next;

static uint64_t *pt_alloc(void)
{
    if (pt_next >= PT_POOL_PAGES) {
        tprintf("*** page-table pool exhausted\n");
        test_exit(1);
    }
    uint64_t *p = pt_pool[pt_next++];
    for (int i = 0; i < 512; i++)
        p[i] = 0;
    return p;
}

static inline uint64_t pte_make(uint64_t pa, uint64_t flags) { return ((pa >> 12) << 10) | flags; }
static inline uint64_t pte_pa(uint64_t pte) { return ((pte >> 10) & ((1UL << 44) - 1)) << 12; }

/* Index of va at `level` (0 = 4 KiB level). */
static inline unsigned vpn(uint64_t va, int level) { return (va >> (12 + 9 * level)) & 511; }

/* Returns the PTE slot for va at leaf_level, creating intermediate tables as needed
 * (levels = 3, 4 or 5). */
static uint64_t *pt_slot(uint64_t *root, int levels, uint64_t va, int leaf_level)
{
    uint64_t *t = root;
    for (int l = levels - 1; l > leaf_level; l--) {
        uint64_t *e = &t[vpn(va, l)];
        if (!(*e & PTE_V)) {
            uint64_t *n = pt_alloc();
            *e = pte_make((uint64_t)n, PTE_V);
        }
        t = (uint64_t *)pte_pa(*e);
    }
    return &t[vpn(va, leaf_level)];
}

static void pt_map(uint64_t *root, int levels, uint64_t va, uint64_t pa, uint64_t flags, int leaf_level)
{
    *pt_slot(root, levels, va, leaf_level) = pte_make(pa, flags);
}

static inline uint64_t satp_make(uint64_t mode, uint64_t asid, uint64_t *root)
{
    return (mode << 60) | (asid << 44) | ((uint64_t)root >> 12);
}

#endif
