/* board-mmio: how the virt board's devices answer MMIO accesses of every width: the CLINT
 * (msip 32-bit only; mtimecmp/mtime 32/64-bit; nothing above 0xbfff), the NS16550A (eight byte
 * registers, any width reads one), the test finisher (16- and 32-bit) and unmapped holes (access
 * faults). QEMU's answers are the reference.  expect-exit: 5 */
#include "test.h"

#define CLINT 0x2000000UL
#define UART 0x10000000UL
#define TEST 0x100000UL

#define PROBE_R(what, T, addr)                                                                     \
    do {                                                                                           \
        trap_arm();                                                                                \
        uint64_t v_ = *(volatile T *)(addr);                                                       \
        if (trap_rec.count)                                                                        \
            trap_report_noepc(what);                                                               \
        else {                                                                                     \
            trap_disarm();                                                                         \
            tprintf("%s: %lx\n", what, v_);                                                        \
        }                                                                                          \
    } while (0)

#define PROBE_W(what, T, addr, value)                                                              \
    do {                                                                                           \
        trap_arm();                                                                                \
        *(volatile T *)(addr) = (T)(value);                                                        \
        trap_report_noepc(what);                                                                   \
    } while (0)

int main(void)
{
    tprintf("a0 (hart id): %lu\n", boot_a0);

    PROBE_R("clint msip lw", uint32_t, CLINT);
    PROBE_R("clint msip lb", uint8_t, CLINT);
    PROBE_R("clint msip lh", uint16_t, CLINT);
    PROBE_R("clint msip ld", uint64_t, CLINT);
    PROBE_R("clint msip[1] lw", uint32_t, CLINT + 4);
    PROBE_R("clint 0x3ffc lw", uint32_t, CLINT + 0x3ffc);
    PROBE_R("clint mtimecmp ld (reset value)", uint64_t, CLINT + 0x4000);
    PROBE_R("clint mtimecmp lb", uint8_t, CLINT + 0x4000);
    PROBE_R("clint mtimecmp lh", uint16_t, CLINT + 0x4000);
    PROBE_R("clint mtimecmp[1] ld", uint64_t, CLINT + 0x4008);
    PROBE_R("clint 0xbff0 ld", uint64_t, CLINT + 0xbff0);
    PROBE_R("clint mtime lb", uint8_t, CLINT + 0xbff8);
    PROBE_R("clint mtime lh", uint16_t, CLINT + 0xbffa);
    PROBE_R("clint 0xc000 lw", uint32_t, CLINT + 0xc000);
    PROBE_R("clint 0xfff8 ld", uint64_t, CLINT + 0xfff8);

    PROBE_W("clint mtimecmp sw lo", uint32_t, CLINT + 0x4000, 0x11223344);
    PROBE_W("clint mtimecmp sw hi", uint32_t, CLINT + 0x4004, 0x55667788);
    PROBE_R("clint mtimecmp ld", uint64_t, CLINT + 0x4000);
    PROBE_R("clint mtimecmp lw lo", uint32_t, CLINT + 0x4000);
    PROBE_R("clint mtimecmp lw hi", uint32_t, CLINT + 0x4004);
    PROBE_W("clint mtimecmp sb", uint8_t, CLINT + 0x4000, 0x99);
    PROBE_W("clint mtimecmp sd", uint64_t, CLINT + 0x4000, 0xffffffffffffffffUL);
    PROBE_R("clint mtimecmp ld", uint64_t, CLINT + 0x4000);

    PROBE_W("clint mtime sd", uint64_t, CLINT + 0xbff8, 0x123456789000UL);
    tprintf("mtime counts on from the value written: %d\n",
            *(volatile uint64_t *)(CLINT + 0xbff8) >= 0x123456789000UL);
    PROBE_R("clint mtime lw hi", uint32_t, CLINT + 0xbffc);
    PROBE_W("clint mtime sw hi", uint32_t, CLINT + 0xbffc, 0);
    tprintf("mtime below 2^32 after clearing its high half: %d\n",
            *(volatile uint64_t *)(CLINT + 0xbff8) < 0x100000000UL);

    PROBE_W("clint msip sb", uint8_t, CLINT, 1);
    tprintf("mip: %lx\n", csr_read(mip));
    PROBE_W("clint msip sw 3", uint32_t, CLINT, 3);
    tprintf("mip: %lx\n", csr_read(mip));
    PROBE_R("clint msip lw", uint32_t, CLINT);
    PROBE_W("clint msip sd 0", uint64_t, CLINT, 0);
    PROBE_W("clint msip sw 2", uint32_t, CLINT, 2);
    tprintf("mip: %lx\n", csr_read(mip));
    PROBE_W("clint msip[1] sw", uint32_t, CLINT + 4, 1);
    tprintf("mip: %lx\n", csr_read(mip));

    PROBE_R("uart rbr lb", uint8_t, UART + 0);
    PROBE_R("uart ier lb", uint8_t, UART + 1);
    PROBE_R("uart iir lb", uint8_t, UART + 2);
    PROBE_R("uart lcr lb", uint8_t, UART + 3);
    PROBE_R("uart mcr lb", uint8_t, UART + 4);
    PROBE_R("uart lsr lb", uint8_t, UART + 5);
    PROBE_R("uart msr lb", uint8_t, UART + 6);
    PROBE_R("uart scr lb", uint8_t, UART + 7);
    PROBE_R("uart mcr lw", uint32_t, UART + 4);
    PROBE_R("uart msr lh", uint16_t, UART + 6);
    PROBE_R("uart rbr ld", uint64_t, UART + 0);
    PROBE_R("uart lsr lw (misaligned)", uint32_t, UART + 5);
    PROBE_R("uart +8 lb", uint8_t, UART + 8);
    PROBE_R("uart +0xff lb", uint8_t, UART + 0xff);
    PROBE_W("uart thr sw", uint32_t, UART, 0x0a41);
    PROBE_W("uart thr sd", uint64_t, UART, 0x0a42);
    PROBE_W("uart scr sb", uint8_t, UART + 7, 0xa5);
    PROBE_R("uart scr lb", uint8_t, UART + 7);
    PROBE_W("uart ier sb 0xff", uint8_t, UART + 1, 0xff);
    PROBE_R("uart ier lb", uint8_t, UART + 1);
    PROBE_W("uart fcr sb 0xc7", uint8_t, UART + 2, 0xc7);
    PROBE_R("uart iir lb", uint8_t, UART + 2);
    PROBE_W("uart ier sb 0", uint8_t, UART + 1, 0);
    PROBE_R("uart iir lb", uint8_t, UART + 2);
    PROBE_W("uart lcr sb 0x83", uint8_t, UART + 3, 0x83);
    PROBE_R("uart dll lb", uint8_t, UART + 0);
    PROBE_R("uart dlm lb", uint8_t, UART + 1);
    PROBE_W("uart lcr sb 0x03", uint8_t, UART + 3, 0x03);

    PROBE_R("test lw", uint32_t, TEST);
    PROBE_R("test lb", uint8_t, TEST);
    PROBE_R("test lh", uint16_t, TEST);
    PROBE_R("test ld", uint64_t, TEST);
    PROBE_R("test +0xffc lw", uint32_t, TEST + 0xffc);
    PROBE_W("test sw +4 pass", uint32_t, TEST + 4, 0x5555);
    PROBE_W("test sb pass", uint8_t, TEST, 0x55);
    PROBE_W("test sh junk", uint16_t, TEST, 0x1234);
    PROBE_W("test sd pass", uint64_t, TEST, 0x5555);
    PROBE_W("test sw junk", uint32_t, TEST, 0x1234);

    PROBE_R("0x10 lw", uint32_t, 0x10UL);
    PROBE_R("0xfff00 lw", uint32_t, 0xfff00UL);
    PROBE_R("ram end lw", uint64_t, 0x80000000UL + (128UL << 20));
    PROBE_W("0x10 sw", uint32_t, 0x10UL, 1);

    /* mtimecmp resets to 0 on QEMU, so MTIP is pending until software raises it. */
    PROBE_W("clint mtimecmp sd 0", uint64_t, CLINT + 0x4000, 0);
    tprintf("mip.MTIP with mtimecmp 0: %lu\n", (csr_read(mip) >> 7) & 1);
    PROBE_W("clint mtimecmp sd max", uint64_t, CLINT + 0x4000, 0xffffffffffffffffUL);
    tprintf("mip.MTIP with mtimecmp max: %lu\n", (csr_read(mip) >> 7) & 1);
    return 5;
}
