/* Polled UART output and a very small formatted printer. Deterministic: it never
 * reads time or counters. */
#include <stdarg.h>
#include <stdint.h>
#include "uart.h"

static inline void mmio_w8(uint64_t addr, uint8_t v) { *(volatile uint8_t *)addr = v; }
static inline uint8_t mmio_r8(uint64_t addr) { return *(volatile uint8_t *)addr; }

void uart_putc(char c)
{
    while (!(mmio_r8(UART_BASE + UART_LSR) & UART_LSR_THRE))
        ;
    mmio_w8(UART_BASE + UART_THR, (uint8_t)c);
}

void uart_puts(const char *s)
{
    while (*s)
        uart_putc(*s++);
}

void print_nl(void) { uart_putc('\n'); }

static const char hexdigits[] = "0123456789abcdef";

void print_hexn(uint64_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--)
        uart_putc(hexdigits[(v >> (i * 4)) & 0xf]);
}

void print_hex(uint64_t v) { print_hexn(v, 16); }
void print_hex32(uint64_t v) { print_hexn(v, 8); }

void print_udec(uint64_t v)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        uart_putc(buf[--n]);
}

void print_dec(int64_t v)
{
    if (v < 0) {
        uart_putc('-');
        print_udec(-(uint64_t)v);
    } else {
        print_udec((uint64_t)v);
    }
}

static void emit_padded(const char *s, int len, int width, char pad, int neg)
{
    int total = len + (neg ? 1 : 0);
    if (neg && pad == '0')
        uart_putc('-');
    for (int i = total; i < width; i++)
        uart_putc(pad);
    if (neg && pad != '0')
        uart_putc('-');
    for (int i = 0; i < len; i++)
        uart_putc(s[i]);
}

void tprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            uart_putc(*p);
            continue;
        }
        p++;
        char pad = ' ';
        int width = 0, longs = 0;
        if (*p == '0') {
            pad = '0';
            p++;
        }
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        while (*p == 'l' || *p == 'z') {
            longs++;
            p++;
        }
        char buf[24];
        int n = 0;
        switch (*p) {
        case 'd':
        case 'i': {
            int64_t v = longs ? va_arg(ap, int64_t) : (int64_t)va_arg(ap, int);
            uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
            char tmp[24];
            int m = 0;
            do {
                tmp[m++] = (char)('0' + u % 10);
                u /= 10;
            } while (u);
            while (m)
                buf[n++] = tmp[--m];
            emit_padded(buf, n, width, pad, v < 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'p': {
            uint64_t v;
            if (*p == 'p')
                v = (uint64_t)va_arg(ap, void *);
            else
                v = longs ? va_arg(ap, uint64_t) : (uint64_t)va_arg(ap, unsigned);
            unsigned base = (*p == 'u') ? 10 : 16;
            char tmp[24];
            int m = 0;
            do {
                tmp[m++] = hexdigits[v % base];
                v /= base;
            } while (v);
            while (m)
                buf[n++] = tmp[--m];
            emit_padded(buf, n, width, pad, 0);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            int len = 0;
            while (s[len])
                len++;
            emit_padded(s, len, width, ' ', 0);
            break;
        }
        case 'c':
            uart_putc((char)va_arg(ap, int));
            break;
        case '%':
            uart_putc('%');
            break;
        case 0:
            p--;
            break;
        default:
            uart_putc('%');
            uart_putc(*p);
            break;
        }
    }
    va_end(ap);
}
