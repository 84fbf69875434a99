// Guest-side TCP round-trip timer for bench/net-throughput.mjs --backend user: connects to
// HOST:PORT (an echo server on the host's loopback, reached through passt), then COUNT times
// writes one byte and waits for it to come back; prints the mean and the median in
// microseconds. TCP_NODELAY so each byte leaves at once (no Nagle wait).
//   tcp-rtt HOST PORT COUNT
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: tcp-rtt HOST PORT COUNT\n");
    return 2;
  }
  int count = atoi(argv[3]);
  if (count < 1 || count > 100000) {
    fprintf(stderr, "tcp-rtt: COUNT must be 1..100000\n");
    return 2;
  }
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    fprintf(stderr, "tcp-rtt: bad address %s\n", argv[1]);
    return 2;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    perror("tcp-rtt: connect");
    return 1;
  }
  double *rtt = malloc(sizeof(double) * count);
  double total = 0;
  for (int i = 0; i < count; i++) {
    char c = (char)i, back;
    double t0 = now_us();
    if (write(fd, &c, 1) != 1 || read(fd, &back, 1) != 1 || back != c) {
      fprintf(stderr, "tcp-rtt: round %d failed\n", i);
      return 1;
    }
    rtt[i] = now_us() - t0;
    total += rtt[i];
  }
  qsort(rtt, count, sizeof(double), cmp);
  printf("tcp-rtt mean_us=%.1f median_us=%.1f count=%d\n", total / count, rtt[count / 2], count);
  close(fd);
  return 0;
}
