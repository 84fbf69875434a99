/* Minimal polled NS16550A output for the test programs. All functions follow
 * the standard C ABI so assembly tests can call them too. */
#ifndef UART_H
#define UART_H

#define UART_BASE 0x10000000UL
#define UART_THR 0
#define UART_LSR 5
#define UART_LSR_THRE 0x20

#ifndef __ASSEMBLER__
#include <stdint.h>

void uart_putc(char c);
void uart_puts(const char *s);          /* no newline appended */
void print_nl(void);
void print_hex(uint64_t v);             /* 16 hex digits, no prefix */
void print_hexn(uint64_t v, int digits);/* lowest `digits` hex digits */
void print_hex32(uint64_t v);           /* 8 hex digits */
void print_dec(int64_t v);
void print_udec(uint64_t v);
/* Tiny printf: %d %i %u %x %X %s %c %p %% with optional '0', width and l/ll/z. */
void tprintf(const char *fmt, ...);
#endif
#endif
