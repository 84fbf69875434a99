/* fence-i: self-modifying code. Instructions are rewritten in memory and,
 * after fence.i, the new instructions execute: a patched function in .data,
 * an instruction later in the running code, a 16-bit instruction, and a loop
 * that re-patches an immediate on every iteration. */
#include "test.h"
#include "asm-macros.h"

    .option norvc

/* addi a0, x0, imm */
#define ADDI_A0(imm) (0x00000513 | (((imm) & 0xfff) << 20))

    .text
    .globl main
main:
    MAIN_ENTER

    /* 1. call a function living in .data, patch it, call again */
    la s0, patchfn
    jalr ra, 0(s0)
    mv a1, a0
    VAL "patchfn original"
    la s0, patchfn
    li t0, ADDI_A0(222)
    sw t0, 0(s0)
    fence.i
    jalr ra, 0(s0)
    mv a1, a0
    VAL "patchfn after patch"

    /* 2. patch an instruction ahead in the running code */
    la t1, 1f
    li t0, ADDI_A0(77)
    sw t0, 0(t1)
    fence.i
1:  addi a0, x0, 11
    mv a1, a0
    VAL "patched ahead"
    /* restore it so the program is re-runnable from a fresh load only */

    /* 3. patch a compressed instruction: c.li a0, 5 -> c.li a0, 9 */
    la t1, 2f
    li t0, 0x4525          /* c.li a0, 9 */
    sh t0, 0(t1)
    fence.i
    .option push
    .option rvc
2:  c.li a0, 5
    .option pop
    mv a1, a0
    VAL "patched c.li"

    /* 4. re-patch an immediate in a loop */
    li s1, 0
    li s2, 0
3:  la t1, 4f
    li t0, ADDI_A0(0)
    slli t2, s1, 20
    or t0, t0, t2
    sw t0, 0(t1)
    fence.i
4:  addi a0, x0, 0
    add s2, s2, a0
    addi s1, s1, 1
    li t0, 50
    blt s1, t0, 3b
    mv a1, s2
    VAL "loop sum of patched immediates"

    /* 5. patch a whole function body (several instructions) */
    la s0, patchfn
    la t1, newbody
    ld t0, 0(t1)
    sd t0, 0(s0)
    ld t0, 8(t1)
    sd t0, 8(s0)
    fence.i
    li a0, 5
    jalr ra, 0(s0)
    mv a1, a0
    VAL "patchfn new body (a0*3+1)"

    MAIN_LEAVE

    .section .rodata
    .balign 8
newbody:
    slli t0, a0, 1
    add a0, a0, t0
    addi a0, a0, 1
    ret

    .data
    .balign 8
patchfn:
    addi a0, x0, 111
    ret
    nop
    nop
