/* rv64i-mem-branch: RV64I loads/stores of every width (sign/zero extension,
 * positive/negative offsets), all six branches over signed/unsigned edge
 * pairs (taken and not taken, forward and backward), JAL/JALR link values,
 * JALR with odd targets and rd == rs1, and FENCE variants. */
#include "test.h"
#include "asm-macros.h"

#define NVALS 8

    .option norvc

.macro LOAD_T op, off
    la s5, ldata
    \op a1, \off(s5)
    NAME_A0 "\op \off"
    call report_val
.endm

/* For each pair: bit set when the branch is taken. */
.macro BR_LOOP op
    li s0, 0
    li s6, 0
1:  li s1, 0
2:  la t0, bvals
    slli t1, s0, 3
    add t1, t1, t0
    ld s2, 0(t1)
    slli t1, s1, 3
    add t1, t1, t0
    ld s3, 0(t1)
    slli s6, s6, 1
    \op s2, s3, 3f
    j 4f
3:  ori s6, s6, 1
4:  addi s1, s1, 1
    li t0, NVALS
    blt s1, t0, 2b
    addi s0, s0, 1
    blt s0, t0, 1b
    mv a1, s6
    NAME_A0 "\op taken-mask"
    call report_val
.endm

    .text
    .globl main
main:
    MAIN_ENTER

    /* ---- loads ---- */
    .irp off, 0, 1, 7, 8, 15
    LOAD_T lb, \off
    LOAD_T lbu, \off
    .endr
    .irp off, 0, 2, 6, 14
    LOAD_T lh, \off
    LOAD_T lhu, \off
    .endr
    .irp off, 0, 4, 12
    LOAD_T lw, \off
    LOAD_T lwu, \off
    .endr
    .irp off, 0, 8
    LOAD_T ld, \off
    .endr
    /* negative offsets */
    la s5, ldata + 16
    lb a1, -1(s5)
    NAME_A0 "lb -1"
    call report_val
    la s5, ldata + 16
    lw a1, -8(s5)
    NAME_A0 "lw -8"
    call report_val
    la s5, ldata + 16
    ld a1, -16(s5)
    NAME_A0 "ld -16"
    call report_val
    la s5, ldata + 2048
    ld a1, -2048(s5)
    NAME_A0 "ld -2048"
    call report_val

    /* ---- stores ---- */
    la s5, sdata
    li t0, 0x0123456789abcdef
    sd t0, 0(s5)
    sd t0, 8(s5)
    sd t0, 16(s5)
    sd t0, 24(s5)
    li t1, 0xfedcba9876543210
    sb t1, 0(s5)
    sb t1, 3(s5)
    sh t1, 8(s5)
    sh t1, 14(s5)
    sw t1, 16(s5)
    sw t1, 28(s5)
    sd t1, 32(s5)
    sb zero, 7(s5)
    sd t1, 40(s5)
    sw zero, 44(s5)
    li s0, 0
5:  la s5, sdata
    slli t0, s0, 3
    add t0, t0, s5
    ld a1, 0(t0)
    NAME_A0 "store dword"
    call report_val
    addi s0, s0, 1
    li t0, 6
    blt s0, t0, 5b
    /* store then load back through a different width */
    la s5, sdata
    li t0, -2
    sw t0, 48(s5)
    lwu a1, 48(s5)
    NAME_A0 "sw -2 / lwu"
    call report_val
    la s5, sdata
    lw a1, 48(s5)
    NAME_A0 "sw -2 / lw"
    call report_val
    /* load into x0 does not change x0 */
    la s5, ldata
    ld x0, 8(s5)
    mv a1, x0
    NAME_A0 "ld x0"
    call report_val

    /* ---- branches ---- */
    BR_LOOP beq
    BR_LOOP bne
    BR_LOOP blt
    BR_LOOP bge
    BR_LOOP bltu
    BR_LOOP bgeu
    /* backward branch loop: sum 1..100 */
    li t0, 100
    li a1, 0
6:  add a1, a1, t0
    addi t0, t0, -1
    bnez t0, 6b
    NAME_A0 "backward loop sum"
    call report_val

    /* ---- jal / jalr ---- */
    jal t1, 7f
7:  la t0, 7b
    sub a1, t1, t0
    NAME_A0 "jal link - target"
    call report_val
    la t0, 8f
    jalr t2, 0(t0)
    li a1, 0xbad
    j 9f
8:  la t0, 8b
    sub a1, t2, t0
9:  NAME_A0 "jalr link - target"
    call report_val
    /* jalr clears bit 0 of the target: target+1 lands on the target */
    la t0, 10f
    addi t0, t0, 1
    jalr ra, 0(t0)
    li a1, 0xbad
    j 11f
10: li a1, 0x600d
11: NAME_A0 "jalr odd target"
    call report_val
    /* jalr with rd == rs1: target from the old value */
    la t0, 12f - 8
    jalr t0, 8(t0)
    li a1, 0xbad
    j 13f
12: la t1, 12b
    sub a1, t0, t1
13: NAME_A0 "jalr rd==rs1 link - target"
    call report_val
    /* jalr with negative offset */
    la t0, 14f + 64
    jalr t3, -64(t0)
    li a1, 0xbad
    j 15f
14: li a1, 0x1234
15: NAME_A0 "jalr negative offset"
    call report_val
    /* jal with rd = x0 (plain jump), forward */
    li a1, 1
    jal x0, 16f
    li a1, 0xbad
16: NAME_A0 "jal x0"
    call report_val
    /* call/ret through a real function */
    li a0, 20
    call leaf_double
    mv a1, a0
    NAME_A0 "call leaf_double(20)"
    call report_val

    /* ---- fences (must simply execute) ---- */
    fence
    fence rw, rw
    fence r, r
    fence w, w
    fence iorw, iorw
    fence.tso
    .word 0x0100000f    /* pause (fence w,0) hint */
    li a1, 0xfe
    NAME_A0 "fences executed"
    call report_val

    MAIN_LEAVE

leaf_double:
    add a0, a0, a0
    ret

    .section .rodata
    .balign 16
ldata:
    .byte 0x80, 0x7f, 0x01, 0xfe, 0x00, 0xff, 0x55, 0xaa
    .byte 0x11, 0x22, 0x33, 0x44, 0x85, 0x96, 0xa7, 0xf8
    .fill 2048, 1, 0x5a
bvals:
    .dword 0
    .dword 1
    .dword -1
    .dword 0x7fffffffffffffff
    .dword 0x8000000000000000
    .dword 0x00000000ffffffff
    .dword -2
    .dword 0x0000000080000000

    .data
    .balign 16
sdata:
    .space 64
