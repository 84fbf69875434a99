/* Start-up code and trap entry for the typervisor test programs.
 *
 * _start (M-mode, hart 0): stack, trap vectors, bss, PMP entry 15 = allow all,
 * FPU on (FS=Initial),
 * then main(); main's return value is the exit status (via the test finisher).
 *
 * Trap entry (M and S): registers are saved in a struct trap_frame on a
 * dedicated trap stack (found through mscratch/sscratch, which hold the trap
 * stack top while not in a handler), then trap_dispatch_m / trap_dispatch_s
 * (trap.c) is called; epc/status are written back from the frame on return.
 */
#include "test.h"

#define FRAME 288          /* 32 regs + epc, cause, tval, status */

/* Save / restore x1 and x3..x31 (sp is handled by the callers) at 8*n(sp) in a trap frame. */
.macro SAVE_GPRS
    sd x1, 8(sp)
    .irp n, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    sd x\n, (\n * 8)(sp)
    .endr
.endm
.macro RESTORE_GPRS
    ld x1, 8(sp)
    .irp n, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    ld x\n, (\n * 8)(sp)
    .endr
.endm

#define F_EPC 256
#define F_CAUSE 264
#define F_TVAL 272
#define F_STATUS 280

    .section .text.init, "ax"
    .option norvc
    .globl _start
_start:
    csrr t0, mhartid
    bnez t0, .Lpark
    la t0, boot_a0
    sd a0, 0(t0)
    la t0, boot_a1
    sd a1, 0(t0)
    la sp, _stack_top
    la t0, _mtrap_stack_top
    addi t0, t0, -16
    csrw mscratch, t0
    la t0, _strap_stack_top
    addi t0, t0, -16
    csrw sscratch, t0
    la t0, _mtrap_entry
    csrw mtvec, t0
    la t0, _strap_entry
    csrw stvec, t0
    /* clear bss */
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:
    /* PMP entry 15: NAPOT over the whole address space, RWX, so that S/U-mode
     * can run (QEMU refuses mret/sret to a lower mode while no PMP entry is set).
     * Entries 0..14 are free for the tests and take priority. */
    li t0, -1
    csrw pmpaddr15, t0
    li t0, 0x1f
    slli t0, t0, 56
    csrw pmpcfg2, t0
    /* FPU on (Initial), fcsr = 0 */
    li t0, MSTATUS_FS_INITIAL
    csrs mstatus, t0
    csrw fcsr, zero
    li a0, 0
    li a1, 0
    call main
    call test_exit
.Lpark:
    wfi
    j .Lpark

    .text
    .option norvc
/* ---------------- M-mode trap entry ---------------- */
    .balign 64
    .globl _mtrap_entry
_mtrap_entry:
    csrrw sp, mscratch, sp
    addi sp, sp, -FRAME
    SAVE_GPRS
    sd zero, 0(sp)
    csrr t0, mscratch
    sd t0, 16(sp)
    csrr t0, mepc
    sd t0, F_EPC(sp)
    csrr t0, mcause
    sd t0, F_CAUSE(sp)
    csrr t0, mtval
    sd t0, F_TVAL(sp)
    csrr t0, mstatus
    sd t0, F_STATUS(sp)
    mv a0, sp
    call trap_dispatch_m
    ld t0, F_EPC(sp)
    csrw mepc, t0
    ld t0, F_STATUS(sp)
    csrw mstatus, t0
    ld t0, 16(sp)
    csrw mscratch, t0
    RESTORE_GPRS
    addi sp, sp, FRAME
    csrrw sp, mscratch, sp
    mret

/* ---------------- S-mode trap entry ---------------- */
    .balign 64
    .globl _strap_entry
_strap_entry:
    csrrw sp, sscratch, sp
    addi sp, sp, -FRAME
    SAVE_GPRS
    sd zero, 0(sp)
    csrr t0, sscratch
    sd t0, 16(sp)
    csrr t0, sepc
    sd t0, F_EPC(sp)
    csrr t0, scause
    sd t0, F_CAUSE(sp)
    csrr t0, stval
    sd t0, F_TVAL(sp)
    csrr t0, sstatus
    sd t0, F_STATUS(sp)
    mv a0, sp
    call trap_dispatch_s
    ld t0, F_EPC(sp)
    csrw sepc, t0
    ld t0, F_STATUS(sp)
    csrw sstatus, t0
    ld t0, 16(sp)
    csrw sscratch, t0
    RESTORE_GPRS
    addi sp, sp, FRAME
    csrrw sp, sscratch, sp
    sret

/* ---------------- privilege switching ----------------
 * long run_in_mode(long mode, long (*fn)(long), long arg, long offset)
 */
    .globl run_in_mode
run_in_mode:
    la t0, rim_ctx
    sd ra, 0(t0)
    sd sp, 8(t0)
    sd s0, 16(t0)
    sd s1, 24(t0)
    sd s2, 32(t0)
    sd s3, 40(t0)
    sd s4, 48(t0)
    sd s5, 56(t0)
    sd s6, 64(t0)
    sd s7, 72(t0)
    sd s8, 80(t0)
    sd s9, 88(t0)
    sd s10, 96(t0)
    sd s11, 104(t0)
    sd gp, 112(t0)
    sd tp, 120(t0)
    csrr t1, mstatus
    andi t1, t1, MSTATUS_MIE
    sd t1, 128(t0)
    la t0, rim_active
    li t1, 1
    sd t1, 0(t0)
    la t0, rim_offset
    sd a3, 0(t0)
    li t1, MSTATUS_MPP
    csrc mstatus, t1
    andi t2, a0, 3
    slli t2, t2, 11
    csrs mstatus, t2
    la t1, __rim_tramp
    add t1, t1, a3
    csrw mepc, t1
    add a1, a1, a3
    add sp, sp, a3
    mv a0, a2
    li a7, 0
    mret
    .balign 4
__rim_tramp:
    jalr a1
    /* Back to M-mode: the first of these that is not delegated to S reaches
     * the M-mode handler, which resumes the run_in_mode caller. The S-mode
     * handler skips the delegated ones. */
    li a7, RIM_MAGIC
    .globl __rim_back, __rim_back_end
__rim_back:
    ecall
    ebreak
    unimp
__rim_back_end:
1:  j 1b

/* void __rim_resume(long value): called from the M-mode trap handler to go back
 * to the run_in_mode caller (in M-mode). Resets both trap stacks. */
    .globl __rim_resume
__rim_resume:
    la t0, _mtrap_stack_top
    addi t0, t0, -16
    csrw mscratch, t0
    la t0, _strap_stack_top
    addi t0, t0, -16
    csrw sscratch, t0
    la t0, rim_active
    sd zero, 0(t0)
    la t0, rim_ctx
    ld ra, 0(t0)
    ld sp, 8(t0)
    ld s0, 16(t0)
    ld s1, 24(t0)
    ld s2, 32(t0)
    ld s3, 40(t0)
    ld s4, 48(t0)
    ld s5, 56(t0)
    ld s6, 64(t0)
    ld s7, 72(t0)
    ld s8, 80(t0)
    ld s9, 88(t0)
    ld s10, 96(t0)
    ld s11, 104(t0)
    ld gp, 112(t0)
    ld tp, 120(t0)
    ld t1, 128(t0)
    csrs mstatus, t1
    ret

    .data
    .balign 8
    .globl boot_a0, boot_a1, rim_active
boot_a0: .dword 0
boot_a1: .dword 0
rim_active: .dword 0
    .globl rim_offset
rim_offset: .dword 0
rim_ctx: .space 136
