/* hello: the smallest sanity check of loading, UART output and exit status. */
#include "test.h"

int main(void)
{
    uart_puts("Hello from typervisor test program!\n");
    tprintf("boot a0 (hartid) = %lu\n", boot_a0);
    tprintf("mhartid = %lu\n", csr_read(mhartid));
    tprintf("dec: %d %d %u %ld %lu\n", 0, -12345, 4000000000u, (long)-9223372036854775807L - 1,
            18446744073709551615UL);
    tprintf("hex: %x %08x %016lx %lx\n", 0xabcu, 0x1fu, 0x123456789abcdefUL, 0UL);
    tprintf("str: [%s] [%8s] chr: %c%c\n", "abc", "right", 'o', 'k');
    uart_puts("Goodbye.\n");
    return 0;
}
