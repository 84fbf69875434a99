/* UDP in the guest, for tests/linux/net-user-dns-udp.test.ts (busybox's nc speaks only TCP).
 * Built static for the guest by that test.
 *
 *   udp-probe serve PORT       waits (up to 120 s) for one datagram on 0.0.0.0:PORT, prints
 *                              "udp-served=HEX from=ADDR:PORT", answers the sender with the
 *                              bytes reversed, and exits
 *   udp-probe send ADDR PORT HEX   sends the bytes HEX from an ephemeral port (again each second
 *                              until answered, at most 30 times), prints
 *                              "udp-sent-from=LOCALPORT" and "udp-answer=HEX from=ADDR:PORT"
 *
 * Bytes are printed as lower-case hex, so the test can compare them exactly. Exit status 1 on
 * any failure, with a message on stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BYTES 1024

static void print_hex(const char *label, const unsigned char *b, size_t n, const struct sockaddr_in *from) {
  printf("%s=", label);
  for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
  printf(" from=%s:%u\n", inet_ntoa(from->sin_addr), ntohs(from->sin_port));
  fflush(stdout);
}

static int parse_port(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  return (*s && !*end && v > 0 && v < 65536) ? (int)v : -1;
}

static int parse_hex(const char *s, unsigned char *out) {
  size_t n = strlen(s);
  if (n % 2 || n / 2 > MAX_BYTES) return -1;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
    out[i] = (unsigned char)v;
  }
  return (int)(n / 2);
}

static int fail(const char *what) {
  fprintf(stderr, "udp-probe: %s: %s\n", what, strerror(errno));
  return 1;
}

static int serve(int port) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) return fail("socket");
  struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
  if (bind(s, (struct sockaddr *)&me, sizeof me) < 0) return fail("bind");
  struct pollfd p = { .fd = s, .events = POLLIN };
  if (poll(&p, 1, 120000) != 1) return fail("no datagram within 120 s");
  unsigned char buf[MAX_BYTES], rev[MAX_BYTES];
  struct sockaddr_in from;
  socklen_t len = sizeof from;
  ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
  if (n < 0) return fail("recvfrom");
  print_hex("udp-served", buf, (size_t)n, &from);
  for (ssize_t i = 0; i < n; i++) rev[i] = buf[n - 1 - i];
  if (sendto(s, rev, (size_t)n, 0, (struct sockaddr *)&from, len) != n) return fail("sendto");
  return 0;
}

static int send_and_wait(const char *addr, int port, const unsigned char *bytes, int n) {
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
  if (inet_aton(addr, &to.sin_addr) == 0) {
    fprintf(stderr, "udp-probe: bad address %s\n", addr);
    return 1;
  }
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) return fail("socket");
  struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
  if (bind(s, (struct sockaddr *)&me, sizeof me) < 0) return fail("bind");
  socklen_t melen = sizeof me;
  if (getsockname(s, (struct sockaddr *)&me, &melen) < 0) return fail("getsockname");
  printf("udp-sent-from=%u\n", ntohs(me.sin_port));
  fflush(stdout);
  for (int tries = 0; tries < 30; tries++) {
    if (sendto(s, bytes, (size_t)n, 0, (struct sockaddr *)&to, sizeof to) != n) return fail("sendto");
    struct pollfd p = { .fd = s, .events = POLLIN };
    if (poll(&p, 1, 1000) != 1) continue;
    unsigned char buf[MAX_BYTES];
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t got = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
    if (got < 0) return fail("recvfrom");
    print_hex("udp-answer", buf, (size_t)got, &from);
    return 0;
  }
  errno = ETIMEDOUT;
  return fail("no answer after 30 tries");
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "serve") && parse_port(argv[2]) > 0) return serve(parse_port(argv[2]));
  unsigned char bytes[MAX_BYTES];
  int n;
  if (argc == 5 && !strcmp(argv[1], "send") && parse_port(argv[3]) > 0 && (n = parse_hex(argv[4], bytes)) > 0)
    return send_and_wait(argv[2], parse_port(argv[3]), bytes, n);
  fprintf(stderr, "usage: udp-probe serve PORT | udp-probe send ADDR PORT HEX\n");
  return 2;
}
