/* uart-echo: reads console input through the NS16550A receiver (polling LSR.DR, FIFO on) and
 * echoes it upper-cased up to a newline; gives up after half a second without input (stdin is
 * /dev/null in the differential test; tests/console-input.test.ts pipes text in). */
#include "test.h"

#define UART ((volatile uint8_t *)0x10000000UL)
#define MTIME (*(volatile uint64_t *)0x200bff8UL)

int main(void)
{
    UART[2] = 0x07; /* FIFO on, both FIFOs cleared */
    uart_puts("type a line:\n");
    uint64_t last = MTIME;
    int n = 0;
    for (;;) {
        if (UART[5] & 1) {
            char c = (char)UART[0];
            last = MTIME;
            n++;
            if (c == '\n')
                break;
            uart_putc(c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c);
        } else if (MTIME - last > 5000000) {
            uart_puts("\nno more input");
            break;
        }
    }
    tprintf("\nread %d bytes\n", n);
    return 0;
}
