/* Reads `time` from U-mode as the vDSO's clock_gettime does, and calls clock_gettime; prints
 * what it saw. Built static for the guest by tests/linux/user-space.test.ts. If the firmware or
 * kernel left `time` closed to U-mode (scounteren.TM) the program dies of SIGILL instead.
 * (cycle and instret are not read: with the SBI PMU extension Linux closes them to U-mode by
 * default, sysctl kernel.perf_user_access.) */
#include <stdio.h>
#include <time.h>

int main(void) {
  unsigned long t0, t1;
  struct timespec ts;
  __asm__ volatile("rdtime %0" : "=r"(t0));
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 1;
  __asm__ volatile("rdtime %0" : "=r"(t1));
  printf("time-advances=%d monotonic-ok=%d\n", t1 > t0, ts.tv_sec > 0 || ts.tv_nsec > 0);
  return 0;
}
