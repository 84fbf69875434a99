/* board-timer: the CLINT's interrupts: a software interrupt through msip, and timer interrupts
 * from mtimecmp while the hart sleeps in wfi (typervisor must sleep until the deadline and
 * wake up, rather than spin or hang). */
#include "test.h"

#define CLINT 0x2000000UL
#define MSIP (*(volatile uint32_t *)CLINT)
#define MTIMECMP (*(volatile uint64_t *)(CLINT + 0x4000))
#define MTIME (*(volatile uint64_t *)(CLINT + 0xbff8))

static volatile uint64_t interrupts, last_cause, mtime_at_irq;

static int on_interrupt(struct trap_frame *tf)
{
    if (!(tf->cause & CAUSE_INTR))
        return 0;
    interrupts++;
    last_cause = tf->cause;
    if ((tf->cause & 63) == IRQ_MTI) {
        mtime_at_irq = MTIME;
        MTIMECMP = ~0UL; /* acknowledge: MTIP drops */
    } else if ((tf->cause & 63) == IRQ_MSI) {
        MSIP = 0;
    }
    return 1;
}

int main(void)
{
    m_trap_hook = on_interrupt;
    MTIMECMP = ~0UL;

    uint64_t t0 = MTIME;
    for (volatile int i = 0; i < 10000; i++)
        ;
    tprintf("mtime advances: %d\n", MTIME > t0);

    csr_set(mie, 1UL << IRQ_MSI);
    csr_set(mstatus, MSTATUS_MIE);
    MSIP = 1;
    for (volatile int spin = 0; !interrupts && spin < 1000000; spin++)
        ;
    tprintf("software interrupt: count=%lu cause=%lx mip after=%lx\n", interrupts, last_cause, csr_read(mip));
    csr_clear(mie, 1UL << IRQ_MSI);

    csr_set(mie, 1UL << IRQ_MTI);
    for (int round = 1; round <= 3; round++) {
        interrupts = 0;
        uint64_t start = MTIME;
        uint64_t deadline = start + 200000; /* 20 ms at 10 MHz */
        MTIMECMP = deadline;
        uint64_t wakeups = 0;
        while (!interrupts) {
            __asm__ volatile("wfi");
            wakeups++;
        }
        tprintf("round %d: timer interrupt cause=%lx, on time: %d, wakeups<100: %d\n", round, last_cause,
                mtime_at_irq >= deadline, wakeups < 100);
    }
    csr_clear(mstatus, MSTATUS_MIE);
    uart_puts("done\n");
    return 0;
}
