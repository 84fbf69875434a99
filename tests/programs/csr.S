/* csr: Zicsr instruction forms (csrrw/csrrs/csrrc and the immediate forms),
 * the x0 / uimm=0 "no write" rules, rd=x0 forms, the fcsr/frm/fflags views,
 * writes to read-only and non-existent CSRs (illegal instruction, mtval =
 * instruction bits). Uses mscratch/sscratch as plain read-write CSRs. */
#include "test.h"
#include "asm-macros.h"

    .option norvc

.macro TRAP name
    NAME_A0 "\name"
    call trap_report
.endm

    .text
    .globl main
main:
    MAIN_ENTER
    /* mscratch is the trap-stack pointer for the runtime: save it */
    csrr s1, mscratch

    /* ---- register forms ---- */
    li t0, 0x123456789abcdef0
    csrw mscratch, t0
    li t1, 0x0fedcba987654321
    csrrw a1, mscratch, t1
    VAL "csrrw old"
    csrr a1, mscratch
    VAL "csrrw new"
    li t1, 0xf0000000000000f0
    csrrs a1, mscratch, t1
    VAL "csrrs old"
    csrr a1, mscratch
    VAL "csrrs new"
    li t1, 0x00000000000000ff
    csrrc a1, mscratch, t1
    VAL "csrrc old"
    csrr a1, mscratch
    VAL "csrrc new"
    csrrs a1, mscratch, x0
    VAL "csrrs x0 (read only)"
    csrrc a1, mscratch, x0
    VAL "csrrc x0 (read only)"
    csrr a1, mscratch
    VAL "unchanged"
    /* rd = x0 */
    li t1, -1
    csrrw x0, mscratch, t1
    csrr a1, mscratch
    VAL "csrrw x0,-1"
    li t1, 0xff
    csrrc x0, mscratch, t1
    csrr a1, mscratch
    VAL "csrrc x0,0xff"
    /* rd == rs1 (swap) */
    li a1, 0x5555
    csrrw a1, mscratch, a1
    VAL "csrrw rd==rs1 old"
    csrr a1, mscratch
    VAL "csrrw rd==rs1 new"

    /* ---- immediate forms ---- */
    csrrwi a1, mscratch, 31
    VAL "csrrwi old"
    csrr a1, mscratch
    VAL "csrrwi 31 new"
    csrrsi a1, mscratch, 0x10
    csrr a1, mscratch
    VAL "csrrsi 0x10"
    csrrci a1, mscratch, 0x5
    VAL "csrrci old"
    csrr a1, mscratch
    VAL "csrrci 5 new"
    csrrsi a1, mscratch, 0
    VAL "csrrsi 0 (no write)"
    csrrci a1, mscratch, 0
    VAL "csrrci 0 (no write)"
    csrrwi a1, mscratch, 0
    csrr a1, mscratch
    VAL "csrrwi 0"
    csrw mscratch, s1           /* the runtime needs it back before any trap */
    /* pseudo-instructions */
    li t0, 0x3c
    csrw sscratch, t0
    csrs sscratch, 1
    csrc sscratch, 4
    csrsi sscratch, 0x10
    csrci sscratch, 0x8
    csrr a1, sscratch
    VAL "sscratch pseudo ops"
    csrwi sscratch, 7
    csrr a1, sscratch
    VAL "csrwi sscratch 7"

    /* ---- floating-point CSR views ---- */
    li t0, 0xff
    csrw fcsr, t0
    csrr a1, fcsr
    VAL "fcsr after write 0xff"
    csrr a1, frm
    VAL "frm"
    csrr a1, fflags
    VAL "fflags"
    li t0, 0xfffffffffffffff2
    csrrw a1, fflags, t0
    VAL "fflags swap old"
    csrr a1, fcsr
    VAL "fcsr after fflags write"
    li t0, 0x19
    csrrw a1, frm, t0
    VAL "frm swap old"
    csrr a1, fcsr
    VAL "fcsr after frm write 0x19"
    csrrsi a1, fflags, 0x1
    csrrci a1, frm, 0x1
    csrr a1, fcsr
    VAL "fcsr after fflags|=1, frm&=~1"
    li t0, 0xffffffffffffff00
    csrw fcsr, t0
    csrr a1, fcsr
    VAL "fcsr write upper bits only"
    csrw fcsr, zero

    /* ---- read-only CSRs ---- */
    csrr a1, mhartid
    VAL "mhartid"
    call trap_arm
    csrw mhartid, zero
    TRAP "csrw mhartid"
    call trap_arm
    csrrwi a1, mvendorid, 0
    TRAP "csrrwi mvendorid"
    call trap_arm
    csrrsi a1, mhartid, 1
    TRAP "csrrsi mhartid,1"
    call trap_arm
    csrrs a1, mhartid, x0
    TRAP "csrrs mhartid,x0 (read)"
    call trap_arm
    csrrci a1, marchid, 0
    TRAP "csrrci marchid,0 (read)"
    call trap_arm
    li t0, 1
    csrrc a1, mimpid, t0
    TRAP "csrrc mimpid,1"
    call trap_arm
    csrw cycle, zero
    TRAP "csrw cycle"
    call trap_arm
    csrw time, zero
    TRAP "csrw time"
    call trap_arm
    csrwi instret, 1
    TRAP "csrwi instret"
    /* QEMU quirk: csrrs/csrrc with rs1 != x0 holding 0 is treated as no write */
    call trap_arm
    li t0, 0
    csrrs a1, mhartid, t0
    TRAP "quirk: csrrs mhartid,(reg=0)"
    call trap_arm
    li t0, 0
    csrrc a1, cycle, t0
    TRAP "quirk: csrrc cycle,(reg=0)"

    /* ---- non-existent CSRs ---- */
    call trap_arm
    csrr a1, 0x7ff
    TRAP "csrr 0x7ff"
    call trap_arm
    csrw 0x5c0, zero
    TRAP "csrw 0x5c0"
    call trap_arm
    csrr a1, 0xfff
    TRAP "csrr 0xfff"
    call trap_arm
    csrr a1, 0xc80
    TRAP "csrr cycleh (RV32 only)"
    call trap_arm
    csrr a1, 0x3a1
    TRAP "csrr pmpcfg1 (RV32 only)"
    /* rd of a trapping csr instruction is not written */
    li a1, 0x1234
    call trap_arm
    li a1, 0x1234
    csrrw a1, 0x7ff, zero
    mv s0, a1
    TRAP "csrrw 0x7ff"
    mv a1, s0
    VAL "rd after trapping csrrw"

    MAIN_LEAVE
