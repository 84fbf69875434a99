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
    if (code == 0)
        *f = FINISHER_PASS;
    else
        *f = (code << 16) | FINISHER_FAIL;
    for (;;)
        __asm__ volatile("");
}
#endif
#endif
