/* SiFive test finisher ("sifive,test") on the QEMU virt machine. */
#ifndef FINISHER_H
#define FINISHER_H

#define FINISHER_BASE 0x100000UL
#define FINISHER_PASS 0x5555u
#define FINISHER_FAIL 0x3333u

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Exit the machine: status 0 -> PASS, otherwise FAIL with the code in bits 31:16. */
static inline __attribute__((noreturn)) void finisher_exit(unsigned code)
{
    volatile uint32_t *f = (volatile uint32_t *)FINISHER_BASE;
    /* Wait until the UART has sent everything (LSR.TEMT): QEMU can otherwise end before its
     * last characters reach stdout, which made rare differential runs lose a line. */
    volatile uint8_t *lsr = (volatile uint8_t *)0x10000005UL;
    for (int spin = 0; spin < 1000000 && !(*lsr & 0x40); spin++)
        ;
    if (code == 0)
        *f = FINISHER_PASS;
    else
        *f = (code << 16) | FINISHER_FAIL;
    for (;;)
        __asm__ volatile("");
}
#endif
#endif
