/* atomics: every A-extension AMO in .w and .d width with all four aq/rl
 * orderings, LR/SC success and failure cases, AMO/LR/SC register corner
 * cases, and misaligned AMO (cause 6) / LR (cause 4) traps. */
#include "test.h"
#include "asm-macros.h"

#define NPAIRS 8

    .option norvc

/* For each (initial memory, operand) pair: rd and the new memory (64-bit slot). */
.macro AMO_LOOP op
    li s0, 0
1:  la t0, amo_pairs
    slli t1, s0, 4
    add t1, t1, t0
    ld s2, 0(t1)
    ld s3, 8(t1)
    la s5, amo_slot
    sd s2, 0(s5)
    \op s4, s3, (s5)
    ld s6, 0(s5)
    NAME_A0 "\op"
    mv a1, s2
    mv a2, s3
    mv a3, s4
    mv a4, s6
    call report_rrr
    addi s0, s0, 1
    li t0, NPAIRS
    blt s0, t0, 1b
.endm

.macro AMO_ALL sfx
    AMO_LOOP amoswap\sfx
    AMO_LOOP amoadd\sfx
    AMO_LOOP amoxor\sfx
    AMO_LOOP amoand\sfx
    AMO_LOOP amoor\sfx
    AMO_LOOP amomin\sfx
    AMO_LOOP amomax\sfx
    AMO_LOOP amominu\sfx
    AMO_LOOP amomaxu\sfx
.endm

    .text
    .globl main
main:
    MAIN_ENTER

    .irp ord, , .aq, .rl, .aqrl
    AMO_ALL .w\ord
    AMO_ALL .d\ord
    .endr

    /* ---- AMO register corner cases ---- */
    la s5, amo_slot
    li t0, 40
    sd t0, 0(s5)
    li t1, 2
    amoadd.d x0, t1, (s5)       /* rd = x0: memory still updated */
    ld a1, 0(s5)
    VAL "amoadd.d rd=x0 mem"
    la s5, amo_slot
    li a1, 7
    amoswap.d a1, a1, (s5)      /* rd == rs2 */
    VAL "amoswap.d rd==rs2 old"
    la s5, amo_slot
    ld a1, 0(s5)
    VAL "amoswap.d rd==rs2 mem"

    /* ---- LR/SC ---- */
    la s5, amo_slot
    li t0, 0x1111222233334444
    sd t0, 0(s5)
    lr.d a1, (s5)
    VAL "lr.d value"
    la s5, amo_slot
    li t0, 0x5555
    sc.d a1, t0, (s5)
    VAL "sc.d after lr.d (0=success)"
    la s5, amo_slot
    ld a1, 0(s5)
    VAL "mem after successful sc.d"
    /* second sc without a new lr must fail and not write */
    la s5, amo_slot
    li t0, 0x6666
    sc.d a1, t0, (s5)
    VAL "sc.d again without lr"
    la s5, amo_slot
    ld a1, 0(s5)
    VAL "mem after failed sc.d"
    /* lr.w sign-extends; sc.w writes only 32 bits */
    la s5, amo_slot
    li t0, 0x01234567fedcba98
    sd t0, 0(s5)
    lr.w a1, (s5)
    VAL "lr.w value (sign-extended)"
    la s5, amo_slot
    li t0, 0x7777777788888888
    sc.w a1, t0, (s5)
    VAL "sc.w after lr.w"
    la s5, amo_slot
    ld a1, 0(s5)
    VAL "mem after sc.w"
    /* sc to a different address than the reservation fails; the
       reservation is then gone, so sc to the right address fails too */
    la s5, amo_slot
    lr.d t1, (s5)
    li t0, 0x99
    addi t2, s5, 8
    sc.d a1, t0, (t2)
    VAL "sc.d other address"
    la s5, amo_slot
    li t0, 0x99
    sc.d a1, t0, (s5)
    VAL "sc.d after failed sc"
    la s5, amo_slot
    ld a1, 0(s5)
    VAL "mem slot0 after"
    la s5, amo_slot
    ld a1, 8(s5)
    VAL "mem slot1 after"
    /* aq/rl forms of lr/sc */
    la s5, amo_slot
    lr.d.aq t1, (s5)
    li t0, 0xaa
    sc.d.rl a1, t0, (s5)
    VAL "lr.d.aq/sc.d.rl"
    la s5, amo_slot
    lr.w.aqrl t1, (s5)
    li t0, 0xbb
    sc.w.aqrl a1, t0, (s5)
    VAL "lr.w.aqrl/sc.w.aqrl"
    la s5, amo_slot
    ld a1, 0(s5)
    VAL "mem after aq/rl lr/sc"
    /* lr/sc retry loop implementing an atomic increment */
    la s5, amo_slot
    sd zero, 0(s5)
    li s0, 10
2:  lr.d t0, (s5)
    addi t0, t0, 3
    sc.d t1, t0, (s5)
    bnez t1, 2b
    addi s0, s0, -1
    bnez s0, 2b
    ld a1, 0(s5)
    VAL "lr/sc increment loop"

    /* ---- misaligned atomics trap ---- */
    call trap_arm
    la s5, amo_slot
    li t0, 1
    addi t2, s5, 2
    amoadd.w t1, t0, (t2)
    NAME_A0 "misaligned amoadd.w"
    call trap_report
    call trap_arm
    la s5, amo_slot
    li t0, 1
    addi t2, s5, 4
    amoswap.d t1, t0, (t2)
    NAME_A0 "misaligned amoswap.d"
    call trap_report
    call trap_arm
    la s5, amo_slot
    li t0, 1
    addi t2, s5, 1
    amomaxu.d.aqrl t1, t0, (t2)
    NAME_A0 "misaligned amomaxu.d.aqrl"
    call trap_report
    call trap_arm
    la s5, amo_slot
    addi t2, s5, 2
    lr.w t1, (t2)
    NAME_A0 "misaligned lr.w"
    call trap_report
    call trap_arm
    la s5, amo_slot
    addi t2, s5, 4
    lr.d t1, (t2)
    NAME_A0 "misaligned lr.d"
    call trap_report
    /* aligned 4-byte amo at a 4-aligned, non-8-aligned address is fine */
    call trap_arm
    la s5, amo_slot
    li t0, 5
    sw zero, 4(s5)
    addi t2, s5, 4
    amoadd.w t1, t0, (t2)
    lw a1, 4(s5)
    mv s1, a1
    NAME_A0 "amoadd.w at +4"
    call trap_report
    mv a1, s1
    VAL "amoadd.w at +4 mem"
    /* QEMU quirk: a misaligned sc with no matching reservation simply
       fails (rd=1) without trapping, since no memory access is made. */
    call trap_arm
    la s5, amo_slot
    li t0, 1
    li s1, 0x55
    addi t2, s5, 2
    sc.w s1, t0, (t2)
    NAME_A0 "quirk: misaligned sc.w without reservation"
    call trap_report
    mv a1, s1
    VAL "quirk: misaligned sc.w rd"

    MAIN_LEAVE

    .section .rodata
    .balign 16
amo_pairs:
    .dword 0, 0
    .dword 5, 3
    .dword 0x00000000ffffffff, 1
    .dword 0x7fffffffffffffff, 0x8000000000000000
    .dword 0x8000000080000000, 0x7fffffff7fffffff
    .dword 0xaaaaaaaa55555555, 0x0f0f0f0ff0f0f0f0
    .dword 0xffffffff00000001, 0xfffffffffffffffe
    .dword 0x123456789abcdef0, 0xfedcba9876543210

    .data
    .balign 64
amo_slot:
    .dword 0, 0, 0, 0
