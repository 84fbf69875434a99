/* rv64i-alu: every RV64I register-register and register-immediate ALU
 * instruction (incl. the *W forms) over a table of edge-case operands,
 * plus LUI/AUIPC and writes to x0. Uncompressed encodings only. */
#include "test.h"
#include "asm-macros.h"

#define NVALS 12 /* entries in vals[] */

    .option norvc

/* name string in .rodata, address into a0 */
/* For every pair (vals[i], vals[j]): r = op(vals[i], vals[j]); report. */
.macro RR_LOOP op
    li s0, 0
1:  li s1, 0
2:  la t0, vals
    slli t1, s0, 3
    add t1, t1, t0
    ld s2, 0(t1)
    slli t1, s1, 3
    add t1, t1, t0
    ld s3, 0(t1)
    \op s4, s2, s3
    NAME_A0 "\op"
    mv a1, s2
    mv a2, s3
    mv a3, s4
    call report_rr
    addi s1, s1, 1
    li t0, NVALS
    blt s1, t0, 2b
    addi s0, s0, 1
    blt s0, t0, 1b
.endm

/* For every vals[i]: r = op(vals[i], imm); report. */
.macro RI_LOOP op, imm
    li s0, 0
1:  la t0, vals
    slli t1, s0, 3
    add t1, t1, t0
    ld s2, 0(t1)
    \op s4, s2, \imm
    NAME_A0 "\op"
    li a1, \imm
    mv a2, s2
    mv a3, s4
    call report_imm
    addi s0, s0, 1
    li t0, NVALS
    blt s0, t0, 1b
.endm

.macro LUI_T imm
    lui a1, \imm
    NAME_A0 "lui \imm"
    call report_val
.endm

.macro AUIPC_T imm
1:  auipc a1, \imm
    la t0, 1b
    sub a1, a1, t0
    NAME_A0 "auipc-pc \imm"
    call report_val
.endm

    .text
    .globl main
main:
    MAIN_ENTER

    RR_LOOP add
    RR_LOOP sub
    RR_LOOP sll
    RR_LOOP slt
    RR_LOOP sltu
    RR_LOOP xor
    RR_LOOP srl
    RR_LOOP sra
    RR_LOOP or
    RR_LOOP and
    RR_LOOP addw
    RR_LOOP subw
    RR_LOOP sllw
    RR_LOOP srlw
    RR_LOOP sraw

    .irp imm, 0, 1, -1, 2047, -2048, 0x555, -0x556
    RI_LOOP addi, \imm
    RI_LOOP slti, \imm
    RI_LOOP sltiu, \imm
    RI_LOOP xori, \imm
    RI_LOOP ori, \imm
    RI_LOOP andi, \imm
    RI_LOOP addiw, \imm
    .endr
    .irp sh, 0, 1, 7, 31, 32, 33, 63
    RI_LOOP slli, \sh
    RI_LOOP srli, \sh
    RI_LOOP srai, \sh
    .endr
    .irp sh, 0, 1, 15, 31
    RI_LOOP slliw, \sh
    RI_LOOP srliw, \sh
    RI_LOOP sraiw, \sh
    .endr

    LUI_T 0
    LUI_T 1
    LUI_T 0x7ffff
    LUI_T 0x80000
    LUI_T 0xfffff
    LUI_T 0x12345
    AUIPC_T 0
    AUIPC_T 1
    AUIPC_T 0x7ffff
    AUIPC_T 0x80000
    AUIPC_T 0xfffff

    /* x0 is hard-wired to zero */
    li t0, 1234
    add x0, t0, t0
    addi x0, x0, 5
    lui x0, 0x12345
    auipc x0, 1
    mv a1, x0
    NAME_A0 "x0 after writes"
    call report_val
    /* rs = x0 reads zero, slt/sltu with x0 */
    li t0, -5
    sltu a1, x0, t0
    NAME_A0 "sltu x0,-5 (snez)"
    call report_val
    li t0, -5
    slt a1, t0, x0
    NAME_A0 "slt -5,x0 (sltz)"
    call report_val
    li t0, 0
    sltiu a1, t0, 1
    NAME_A0 "seqz 0"
    call report_val
    /* sext.w via addiw 0 of a large value */
    li t0, 0x00000000fffffff0
    addiw a1, t0, 0
    NAME_A0 "sext.w"
    call report_val
    /* nop / hint forms must not change anything */
    li a1, 0x1122334455667788
    nop
    addi x0, x0, 0
    slli x0, a1, 3
    NAME_A0 "after nop/hints"
    call report_val

    MAIN_LEAVE

    .section .rodata
    .balign 8
vals:
    .dword 0
    .dword 1
    .dword -1
    .dword 0x7fffffffffffffff
    .dword 0x8000000000000000
    .dword 0x0000000080000000
    .dword 0x000000007fffffff
    .dword 0x00000000ffffffff
    .dword 0x123456789abcdef0
    .dword 0xfedcba9876543241
    .dword 63
    .dword 0xffffffff80000001
vals_end:

