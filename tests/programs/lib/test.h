/* Common helpers for the C test programs: CSR access, privilege constants,
 * trap recording and privilege-mode switching. See crt0.S and trap.c. */
#ifndef TEST_H
#define TEST_H

#include "uart.h"
#include "finisher.h"

#ifdef __ASSEMBLER__
#define _UL(x) x
#else
#include <stdint.h>
#include <stddef.h>
#define _UL(x) x##UL
#endif

#define STR_(x) #x
#define STR(x) STR_(x)

#define csr_read(csr) ({ uint64_t v_; __asm__ volatile("csrr %0, " STR(csr) : "=r"(v_) :: "memory"); v_; })
#define csr_write(csr, val) __asm__ volatile("csrw " STR(csr) ", %0" :: "rK"((uint64_t)(val)) : "memory")
#define csr_set(csr, val) __asm__ volatile("csrs " STR(csr) ", %0" :: "rK"((uint64_t)(val)) : "memory")
#define csr_clear(csr, val) __asm__ volatile("csrc " STR(csr) ", %0" :: "rK"((uint64_t)(val)) : "memory")
#define csr_swap(csr, val) ({ uint64_t v_; __asm__ volatile("csrrw %0, " STR(csr) ", %1" : "=r"(v_) : "rK"((uint64_t)(val)) : "memory"); v_; })

/* Privilege levels */
#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

/* mstatus fields */
#define MSTATUS_SIE  (_UL(1) << 1)
#define MSTATUS_MIE  (_UL(1) << 3)
#define MSTATUS_SPIE (_UL(1) << 5)
#define MSTATUS_UBE  (_UL(1) << 6)
#define MSTATUS_MPIE (_UL(1) << 7)
#define MSTATUS_SPP  (_UL(1) << 8)
#define MSTATUS_VS   (_UL(3) << 9)
#define MSTATUS_MPP  (_UL(3) << 11)
#define MSTATUS_FS   (_UL(3) << 13)
#define MSTATUS_XS   (_UL(3) << 15)
#define MSTATUS_MPRV (_UL(1) << 17)
#define MSTATUS_SUM  (_UL(1) << 18)
#define MSTATUS_MXR  (_UL(1) << 19)
#define MSTATUS_TVM  (_UL(1) << 20)
#define MSTATUS_TW   (_UL(1) << 21)
#define MSTATUS_TSR  (_UL(1) << 22)
#define MSTATUS_UXL  (_UL(3) << 32)
#define MSTATUS_SXL  (_UL(3) << 34)
#define MSTATUS_SBE  (_UL(1) << 36)
#define MSTATUS_MBE  (_UL(1) << 37)
#define MSTATUS_SD   (_UL(1) << 63)
#define MSTATUS_FS_OFF     (_UL(0) << 13)
#define MSTATUS_FS_INITIAL (_UL(1) << 13)
#define MSTATUS_FS_CLEAN   (_UL(2) << 13)
#define MSTATUS_FS_DIRTY   (_UL(3) << 13)

/* Interrupt bits (mip/mie) */
#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11
#define MIP_SSIP (_UL(1) << IRQ_SSI)
#define MIP_MSIP (_UL(1) << IRQ_MSI)
#define MIP_STIP (_UL(1) << IRQ_STI)
#define MIP_MTIP (_UL(1) << IRQ_MTI)
#define MIP_SEIP (_UL(1) << IRQ_SEI)
#define MIP_MEIP (_UL(1) << IRQ_MEI)
#define CAUSE_INTR (_UL(1) << 63)

/* Exception causes */
#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS 1
#define CAUSE_ILLEGAL 2
#define CAUSE_BREAKPOINT 3
#define CAUSE_MISALIGNED_LOAD 4
#define CAUSE_LOAD_ACCESS 5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS 7
#define CAUSE_ECALL_U 8
#define CAUSE_ECALL_S 9
#define CAUSE_ECALL_M 11
#define CAUSE_FETCH_PAGE 12
#define CAUSE_LOAD_PAGE 13
#define CAUSE_STORE_PAGE 15

/* CLINT */
#define CLINT_BASE _UL(0x2000000)
#define CLINT_MSIP (*(volatile uint32_t *)(CLINT_BASE + 0x0))
#define CLINT_MTIMECMP (*(volatile uint64_t *)(CLINT_BASE + 0x4000))
#define CLINT_MTIME (*(volatile uint64_t *)(CLINT_BASE + 0xbff8))

/* The ecall number (in a7) that lib code uses to get back to M-mode. */
#define RIM_MAGIC 0x52554e4d

#ifndef __ASSEMBLER__

/* Saved register state at trap entry: x[0..31] (x[2] = interrupted sp),
 * then the trap CSRs. Field offsets are used by crt0.S. */
struct trap_frame {
    uint64_t x[32];
    uint64_t epc;    /* mepc or sepc; written back on return */
    uint64_t cause;
    uint64_t tval;
    uint64_t status; /* mstatus or sstatus; written back on return */
};

/* A hook returns nonzero if it handled the trap (and may edit tf). */
typedef int (*trap_hook_t)(struct trap_frame *tf);
extern volatile trap_hook_t m_trap_hook;
extern volatile trap_hook_t s_trap_hook;

/* Record of the last trap taken while armed. */
struct trap_record {
    uint64_t count;   /* traps taken while armed */
    uint64_t cause;
    uint64_t tval;
    uint64_t epc;
    uint64_t level;   /* 'M' or 'S': which handler took it */
    uint64_t from;    /* privilege the trap came from (MPP/SPP) */
    uint64_t insn;    /* raw instruction at epc (16 or 32 bits), if read */
};
extern volatile struct trap_record trap_rec;
extern volatile uint64_t trap_armed;
/* When nonzero, a recorded trap resumes at this address instead of skipping
 * the faulting instruction. */
extern volatile uint64_t trap_resume_pc;

void trap_arm(void);             /* clear the record and arm */
void trap_disarm(void);
/* Print "  trap: cause=.. tval=.. [epc]" or "  no trap" and disarm. */
void trap_report(const char *what);
void trap_report_noepc(const char *what);
/* After an armed access: the recorded trap (without epc), or "what: ok value=v" and disarm. */
void trap_show(const char *what, long v);

/* Run fn(arg) in privilege `mode` (0=U,1=S,3=M) with pc/sp/fn shifted by
 * `offset` (for running through an alias mapping). Returns fn's result when it
 * returns (via ecall RIM_MAGIC). Comes back in M-mode with mstatus.MIE as at
 * the call; other mstatus fields as left by the trap. */
long run_in_mode(long mode, long (*fn)(long), long arg, long offset);
static inline long run_u(long (*fn)(long), long arg) { return run_in_mode(PRV_U, fn, arg, 0); }
static inline long run_s(long (*fn)(long), long arg) { return run_in_mode(PRV_S, fn, arg, 0); }

void test_exit(int code) __attribute__((noreturn));

/* Symbols from crt0.S / link.ld */
extern char _mtrap_entry[], _strap_entry[];
extern char _text_start[], _text_end[], _end[];
extern char _stack_top[], _mtrap_stack_top[], _strap_stack_top[];
extern uint64_t boot_a0, boot_a1;

/* The M-mode vector stubs written by tests put the vector number here. */
#define MTRAP_VEC_SLOT (((volatile uint64_t *)_mtrap_stack_top)[-1])

static inline void fence_i(void) { __asm__ volatile("fence.i" ::: "memory"); }
static inline void sfence_vma(void) { __asm__ volatile("sfence.vma" ::: "memory"); }

/* Simple FNV-1a style 64-bit checksum over memory. */
static inline uint64_t checksum64(const void *p, uint64_t n)
{
    const uint8_t *b = (const uint8_t *)p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (uint64_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
static inline uint64_t mix64(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

#endif /* __ASSEMBLER__ */
#endif
