/* Trap dispatch for the test runtime (called from crt0.S). */
#include "test.h"

volatile trap_hook_t m_trap_hook;
volatile trap_hook_t s_trap_hook;
volatile struct trap_record trap_rec;
volatile uint64_t trap_armed;
volatile uint64_t trap_resume_pc;
extern volatile uint64_t rim_active, rim_offset;
extern char __rim_back[], __rim_back_end[];

/* A trap raised by the way back from run_in_mode (see __rim_tramp in crt0.S). */
static int is_rim_return(struct trap_frame *tf)
{
    uint64_t pc = tf->epc - rim_offset;
    return rim_active && tf->x[17] == RIM_MAGIC && pc >= (uint64_t)__rim_back &&
           pc < (uint64_t)__rim_back_end;
}
void __rim_resume(long value) __attribute__((noreturn));

void test_exit(int code)
{
    finisher_exit((unsigned)code & 0xffff);
}

void trap_arm(void)
{
    trap_rec.count = 0;
    trap_rec.cause = 0;
    trap_rec.tval = 0;
    trap_rec.epc = 0;
    trap_rec.level = 0;
    trap_rec.from = 0;
    trap_rec.insn = 0;
    trap_resume_pc = 0;
    trap_armed = 1;
    __asm__ volatile("" ::: "memory");
}

void trap_disarm(void)
{
    trap_armed = 0;
    trap_resume_pc = 0;
}

static const char *mode_name(uint64_t m)
{
    switch (m) {
    case 0: return "U";
    case 1: return "S";
    case 3: return "M";
    default: return "?";
    }
}

static void report(const char *what, int with_epc)
{
    trap_disarm();
    if (what)
        tprintf("%s: ", what);
    if (trap_rec.count == 0) {
        tprintf("no trap\n");
        return;
    }
    tprintf("trap cause=%lx tval=%lx level=%c from=%s", trap_rec.cause, trap_rec.tval,
            (int)trap_rec.level, mode_name(trap_rec.from));
    if (with_epc)
        tprintf(" epc=%lx", trap_rec.epc);
    if (trap_rec.count != 1)
        tprintf(" count=%lu", trap_rec.count);
    tprintf("\n");
}

void trap_report(const char *what) { report(what, 1); }
void trap_report_noepc(const char *what) { report(what, 0); }

void trap_show(const char *what, long v)
{
    if (trap_rec.count)
        trap_report_noepc(what);
    else {
        trap_disarm();
        tprintf("%s: ok value=%016lx\n", what, (uint64_t)v);
    }
}

/* Read a 16-bit instruction parcel at pc. In the M-mode handler, a trap from a
 * lower mode with translation on is read through MPRV (MPP already holds the
 * previous mode), so that code running at a virtual alias can be skipped. In
 * the S-mode handler, SUM is set for the read so that U pages are readable. */
static uint16_t parcel(uint64_t pc, int level_m, uint64_t from)
{
    uint64_t v;
    if (level_m && from != PRV_M && (csr_read(satp) >> 60) != 0) {
        __asm__ volatile("csrs mstatus, %1\n\tlhu %0, 0(%2)\n\tcsrc mstatus, %1"
                         : "=&r"(v)
                         : "r"(MSTATUS_MPRV), "r"(pc)
                         : "memory");
    } else if (!level_m) {
        __asm__ volatile("csrs sstatus, %1\n\tlhu %0, 0(%2)\n\tcsrc sstatus, %1"
                         : "=&r"(v)
                         : "r"(MSTATUS_SUM), "r"(pc)
                         : "memory");
    } else {
        v = *(volatile uint16_t *)pc;
    }
    return (uint16_t)v;
}

/* The instruction at pc and its length. */
static uint64_t insn_at(uint64_t pc, int *len, int level_m, uint64_t from)
{
    uint16_t lo = parcel(pc, level_m, from);
    if ((lo & 3) != 3) {
        *len = 2;
        return lo;
    }
    uint16_t hi = parcel(pc + 2, level_m, from);
    *len = 4;
    return lo | ((uint64_t)hi << 16);
}

static int record(struct trap_frame *tf, char level, uint64_t from)
{
    if (!trap_armed || (tf->cause & CAUSE_INTR))
        return 0;
    trap_rec.count++;
    trap_rec.cause = tf->cause;
    trap_rec.tval = tf->tval;
    trap_rec.epc = tf->epc;
    trap_rec.level = (uint64_t)level;
    trap_rec.from = from;
    if (trap_resume_pc) {
        trap_rec.insn = 0;
        tf->epc = trap_resume_pc;
    } else {
        int len;
        /* Instruction fetch faults: the epc itself is not readable/executable;
         * return to the caller (ra) instead, as if the faulting call returned. */
        if (tf->cause == CAUSE_FETCH_ACCESS || tf->cause == CAUSE_FETCH_PAGE ||
            tf->cause == CAUSE_MISALIGNED_FETCH) {
            trap_rec.insn = 0;
            tf->epc = tf->x[1];
        } else {
            trap_rec.insn = insn_at(tf->epc, &len, level == 'M', from);
            tf->epc += len;
        }
    }
    return 1;
}

static void fatal(const char *lvl, struct trap_frame *tf)
{
    tprintf("*** unexpected %s-mode trap: cause=%lx epc=%lx tval=%lx\n", lvl, tf->cause, tf->epc,
            tf->tval);
    test_exit(1);
}

void trap_dispatch_m(struct trap_frame *tf)
{
    uint64_t from = (tf->status >> 11) & 3;
    if (is_rim_return(tf) &&
        (tf->cause == CAUSE_ECALL_U || tf->cause == CAUSE_ECALL_S || tf->cause == CAUSE_ECALL_M ||
         tf->cause == CAUSE_BREAKPOINT || tf->cause == CAUSE_ILLEGAL)) {
        __rim_resume((long)tf->x[10]);
    }
    if (m_trap_hook && m_trap_hook(tf))
        return;
    if (record(tf, 'M', from))
        return;
    fatal("M", tf);
}

void trap_dispatch_s(struct trap_frame *tf)
{
    uint64_t from = (tf->status >> 8) & 1;
    if (is_rim_return(tf) &&
        (tf->cause == CAUSE_ECALL_U || tf->cause == CAUSE_ECALL_S ||
         tf->cause == CAUSE_BREAKPOINT || tf->cause == CAUSE_ILLEGAL)) {
        /* A delegated step of the way back to M-mode: skip it (see __rim_tramp). */
        int len;
        insn_at(tf->epc, &len, 0, from);
        tf->epc += len;
        return;
    }
    if (s_trap_hook && s_trap_hook(tf))
        return;
    if (record(tf, 'S', from))
        return;
    fatal("S", tf);
}
