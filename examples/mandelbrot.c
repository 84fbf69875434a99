/* The bare-metal demo `npm run main` boots: draws the Mandelbrot set with double-precision
 * arithmetic on the UART, reports the instructions it took, and powers off through the test
 * finisher. Built with Debian's riscv64 cross compiler and the test programs' tiny runtime. */
#include <stdint.h>
#include "uart.h"

static inline uint64_t rdinstret(void) { uint64_t v; __asm__ volatile("rdinstret %0" : "=r"(v)); return v; }

int main(void) {
  static const char shades[] = " .:-=+*#%@";
  uint64_t start = rdinstret();
  uart_puts("typervisor: a RISC-V 64 machine in WebAssembly, drawing z = z^2 + c\n\n");
  for (int row = 0; row < 24; row++) {
    for (int col = 0; col < 72; col++) {
      double cr = -2.2 + col * (3.2 / 72), ci = -1.2 + row * (2.4 / 24);
      double zr = 0, zi = 0;
      int n = 0;
      while (n < 200 && zr * zr + zi * zi < 4.0) {
        double t = zr * zr - zi * zi + cr;
        zi = 2 * zr * zi + ci;
        zr = t;
        n++;
      }
      uart_putc(n == 200 ? '@' : shades[n % 9]);
    }
    uart_putc('\n');
  }
  tprintf("\n%lu instructions retired; powering off.\n", rdinstret() - start);
  return 0;
}
