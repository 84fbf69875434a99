/* Disk throughput inside a Linux guest, for bench/disk-io.mjs: sequential write and read of
 * SEQ_MIB MiB in 1 MiB requests, then RANDOM_OPS random 4 KiB writes and reads inside that
 * range, all with O_DIRECT on the block device (so the guest's page cache does not answer
 * reads: every request reaches the virtual disk). Writes end with fsync, so the time includes
 * the flush the virtual disk must make durable. Times come from CLOCK_MONOTONIC inside the
 * guest. Prints one line per test, "disk-io TEST bytes=N ns=N ops=N", and a checksum of the data
 * read back to prove both machines returned what was written.
 *
 * Static, Linux user space: riscv64-linux-gnu-gcc -static -O2 disk-io.c
 * Usage: disk-io DEVICE [SEQ_MIB [RANDOM_OPS]] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BIG (1 << 20)
#define SMALL 4096

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void die(const char *what) {
  perror(what);
  exit(2);
}

static void report(const char *test, uint64_t bytes, uint64_t ns, uint64_t ops) {
  printf("disk-io %s bytes=%llu ns=%llu ops=%llu\n", test, (unsigned long long)bytes, (unsigned long long)ns, (unsigned long long)ops);
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: disk-io DEVICE [SEQ_MIB [RANDOM_OPS]]\n");
    return 2;
  }
  const long seq_mib = argc > 2 ? atol(argv[2]) : 64;
  const long random_ops = argc > 3 ? atol(argv[3]) : 2000;
  const int fd = open(argv[1], O_RDWR | O_DIRECT);
  if (fd < 0) die(argv[1]);
  uint8_t *buf;
  if (posix_memalign((void **)&buf, 4096, BIG) != 0) die("posix_memalign");
  uint64_t sum = 0;

  uint64_t t = now_ns();
  for (long i = 0; i < seq_mib; i++) {
    for (int k = 0; k < BIG; k += 8) *(uint64_t *)(buf + k) = next();
    if (pwrite(fd, buf, BIG, (off_t)i * BIG) != BIG) die("sequential write");
  }
  if (fsync(fd) != 0) die("fsync");
  report("seq-write", (uint64_t)seq_mib * BIG, now_ns() - t, seq_mib);

  t = now_ns();
  for (long i = 0; i < seq_mib; i++) {
    if (pread(fd, buf, BIG, (off_t)i * BIG) != BIG) die("sequential read");
    sum += *(uint64_t *)buf + *(uint64_t *)(buf + BIG - 8);
  }
  report("seq-read", (uint64_t)seq_mib * BIG, now_ns() - t, seq_mib);

  const uint64_t blocks = (uint64_t)seq_mib * (BIG / SMALL);
  t = now_ns();
  for (long i = 0; i < random_ops; i++) {
    *(uint64_t *)buf = next();
    if (pwrite(fd, buf, SMALL, (off_t)(next() % blocks) * SMALL) != SMALL) die("random write");
  }
  if (fsync(fd) != 0) die("fsync");
  report("rand-write", (uint64_t)random_ops * SMALL, now_ns() - t, random_ops);

  t = now_ns();
  for (long i = 0; i < random_ops; i++) {
    if (pread(fd, buf, SMALL, (off_t)(next() % blocks) * SMALL) != SMALL) die("random read");
    sum += *(uint64_t *)buf;
  }
  report("rand-read", (uint64_t)random_ops * SMALL, now_ns() - t, random_ops);
  printf("disk-io checksum=%016llx\n", (unsigned long long)sum);
  return 0;
}
