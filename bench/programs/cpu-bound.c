/* CPU-bound bare-metal workload for bench/cpu-mips.mjs: a mix of integer kernels (CRC32,
 * sieve, quicksort, matrix multiply, a bytecode-style dispatch loop) that exercises ALU,
 * branches, loads and stores. Prints a checksum (to prove both engines computed the same),
 * the instructions retired (minstret, exact on typervisor) and the mtime ticks (10 MHz)
 * the kernels took. ROUNDS scales the run length. */
#include <stdint.h>
#include "uart.h"
#include "finisher.h"

#ifndef ROUNDS
#define ROUNDS 6
#endif

static uint8_t buf[65536];
static uint32_t arr[32768];
static uint8_t sieve[200000];
static int32_t ma[48][48], mb[48][48], mc[48][48];

static inline uint64_t rdtime(void) { uint64_t t; __asm__ volatile("rdtime %0" : "=r"(t)); return t; }
static inline uint64_t rdinstret(void) { uint64_t t; __asm__ volatile("rdinstret %0" : "=r"(t)); return t; }

static uint32_t lcg_state = 12345;
static uint32_t lcg(void) { lcg_state = lcg_state * 1103515245u + 12345u; return lcg_state >> 1; }

static uint32_t crc32(const uint8_t *p, int n) {
  uint32_t c = 0xffffffffu;
  for (int i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & -(c & 1));
  }
  return ~c;
}

static uint32_t primes(int n) {
  for (int i = 0; i < n; i++) sieve[i] = 1;
  uint32_t count = 0;
  for (int i = 2; i < n; i++) {
    if (!sieve[i]) continue;
    count++;
    for (int j = i + i; j < n; j += i) sieve[j] = 0;
  }
  return count;
}

static void quicksort(uint32_t *a, int lo, int hi) {
  while (lo < hi) {
    uint32_t p = a[(lo + hi) >> 1];
    int i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) { uint32_t t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (j - lo < hi - i) { quicksort(a, lo, j); lo = i; } else { quicksort(a, i, hi); hi = j; }
  }
}

static int64_t matmul(void) {
  for (int i = 0; i < 48; i++)
    for (int j = 0; j < 48; j++) { ma[i][j] = (int32_t)(lcg() % 100) - 50; mb[i][j] = (int32_t)(lcg() % 100) - 50; }
  for (int i = 0; i < 48; i++)
    for (int j = 0; j < 48; j++) {
      int32_t s = 0;
      for (int k = 0; k < 48; k++) s += ma[i][k] * mb[k][j];
      mc[i][j] = s;
    }
  int64_t t = 0;
  for (int i = 0; i < 48; i++) t += mc[i][i] * (i + 1);
  return t;
}

/* A tiny stack machine: the dispatch pattern of interpreters and parsers. */
static uint64_t bytecode(int steps) {
  static const uint8_t prog[] = {0, 1, 2, 3, 1, 4, 2, 5, 0, 3, 4, 1, 5, 2, 0, 4};
  uint64_t acc = 1, x = 7;
  for (int s = 0; s < steps; s++) {
    switch (prog[s & 15]) {
      case 0: acc += x; break;
      case 1: acc ^= acc << 7; break;
      case 2: acc = acc * 31 + 11; break;
      case 3: x = (x >> 1) | (acc & 1) << 62; break;
      case 4: acc -= x >> 3; break;
      default: acc = (acc >> 17) | (acc << 47); break;
    }
  }
  return acc ^ x;
}

int main(void) {
  uint64_t t0 = rdtime(), i0 = rdinstret();
  uint64_t sum = 0;
  for (int r = 0; r < ROUNDS; r++) {
    for (int i = 0; i < (int)sizeof buf; i++) buf[i] = (uint8_t)lcg();
    sum += crc32(buf, sizeof buf);
    sum += primes(sizeof sieve);
    for (int i = 0; i < 32768; i++) arr[i] = lcg();
    quicksort(arr, 0, 32767);
    for (int i = 1; i < 32768; i++) if (arr[i - 1] > arr[i]) sum += 1000000;
    sum += arr[100] + arr[30000];
    sum += (uint64_t)matmul();
    sum += bytecode(2000000);
  }
  uint64_t t1 = rdtime(), i1 = rdinstret();
  tprintf("checksum=%lx\n", sum);
  tprintf("instret=%lu\n", i1 - i0);
  tprintf("ticks=%lu\n", t1 - t0);
  return 0;
}
