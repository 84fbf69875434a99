/* compressed: every RV64C instruction written with its explicit c.* mnemonic
 * (loads/stores incl. FP and sp-relative, ALU, shifts, branches, jumps, jalr
 * links, ebreak), HINT encodings that must act as no-ops, and reserved
 * encodings that must raise illegal instruction (mtval = the 16 bits). */
#include "test.h"
#include "asm-macros.h"

    .option rvc

/* run a raw 16-bit encoding and report the trap */
.macro RAW16 hw, name
    call trap_arm
    .hword \hw
    NAME_A0 "\name"
    call trap_report
.endm

    .text
    .globl main
main:
    addi sp, sp, -128
    sd ra, 120(sp)
    sd s0, 112(sp)
    sd s1, 104(sp)

    /* ---- CIW / CL / CS formats ---- */
    c.addi4spn s0, sp, 16
    sub a1, s0, sp
    VAL "c.addi4spn 16"
    c.addi4spn s1, sp, 1020
    sub a1, s1, sp
    VAL "c.addi4spn 1020"

    la s0, cdata
    c.lw a1, 0(s0)
    VAL "c.lw 0"
    la s0, cdata
    c.lw a1, 124(s0)
    VAL "c.lw 124"
    la s0, cdata
    c.ld a1, 8(s0)
    VAL "c.ld 8"
    la s0, cdata
    c.ld a1, 248(s0)
    VAL "c.ld 248"
    la s0, cdata
    c.fld fa5, 16(s0)
    fmv.x.d a1, fa5
    VAL "c.fld 16"
    la s0, cdata
    c.fld fa4, 248(s0)
    fmv.x.d a1, fa4
    VAL "c.fld 248"

    la s0, cbuf
    li a5, 0x1122334455667788
    c.sd a5, 0(s0)
    c.sd a5, 8(s0)
    li a4, 0x99aabbcc
    c.sw a4, 4(s0)
    c.sw a4, 124(s0)
    li a3, 0x0badf00ddeadbeef
    fmv.d.x fa3, a3
    c.fsd fa3, 16(s0)
    c.sd a3, 248(s0)
    ld a1, 0(s0)
    VAL "after c.sd/c.sw [0]"
    la s0, cbuf
    ld a1, 8(s0)
    VAL "after c.sd [8]"
    la s0, cbuf
    ld a1, 16(s0)
    VAL "after c.fsd [16]"
    la s0, cbuf
    ld a1, 120(s0)
    VAL "after c.sw [124]"
    la s0, cbuf
    ld a1, 248(s0)
    VAL "after c.sd [248]"

    /* ---- CI format ALU ---- */
    c.nop
    li a1, 100
    c.addi a1, 31
    VAL "c.addi +31"
    li a1, 100
    c.addi a1, -32
    VAL "c.addi -32"
    li a1, 0x7fffffff
    c.addiw a1, 1
    VAL "c.addiw overflow"
    li a1, 0x123456789
    c.addiw a1, 0
    VAL "c.addiw 0 (sext.w)"
    li a1, -1
    c.addiw a1, -32
    VAL "c.addiw -32"
    c.li a1, 31
    VAL "c.li 31"
    c.li a1, -32
    VAL "c.li -32"
    c.li a1, 0
    VAL "c.li 0"
    c.lui a1, 1
    VAL "c.lui 1"
    c.lui a1, 0x1f
    VAL "c.lui 0x1f"
    c.lui a1, 0xfffe0
    VAL "c.lui 0xfffe0"
    c.lui a1, 0xfffff
    VAL "c.lui 0xfffff"
    mv s1, sp
    c.addi16sp sp, -64
    sub a1, sp, s1
    c.addi16sp sp, 496
    c.addi16sp sp, -496
    c.addi16sp sp, 64
    sub a2, sp, s1
    add a1, a1, a2
    VAL "c.addi16sp net (-64 + 0)"
    mv s1, sp
    c.addi16sp sp, -512
    sub a1, sp, s1
    c.addi16sp sp, 496
    c.addi16sp sp, 16
    VAL "c.addi16sp -512"
    li a1, 0x8000000000000001
    c.slli a1, 1
    VAL "c.slli 1"
    li a1, 0x1
    c.slli a1, 63
    VAL "c.slli 63"
    li a1, 0x1234
    c.slli a1, 32
    VAL "c.slli 32"

    /* ---- CB format ALU (x8-x15) ---- */
    li s0, 0x8000000000000000
    c.srli s0, 1
    mv a1, s0
    VAL "c.srli 1"
    li s0, 0x8000000000000000
    c.srli s0, 63
    mv a1, s0
    VAL "c.srli 63"
    li s0, 0x8000000000000000
    c.srai s0, 1
    mv a1, s0
    VAL "c.srai 1"
    li s0, 0x8000000000000000
    c.srai s0, 63
    mv a1, s0
    VAL "c.srai 63"
    li s0, 0xffff0000ffff0000
    c.srai s0, 32
    mv a1, s0
    VAL "c.srai 32"
    li s0, 0x123456789abcdef
    c.andi s0, 0x1f
    mv a1, s0
    VAL "c.andi 31"
    li s0, 0x123456789abcdef
    c.andi s0, -16
    mv a1, s0
    VAL "c.andi -16"

    /* ---- CA format ---- */
    li s0, 0x00000000ffffffff
    li s1, 0x0000000000000001
    c.sub s0, s1
    mv a1, s0
    VAL "c.sub"
    li s0, 0x5555aaaa5555aaaa
    li s1, 0xffff0000ffff0000
    c.xor s0, s1
    mv a1, s0
    VAL "c.xor"
    li s0, 0x5555aaaa5555aaaa
    li s1, 0x0f0f0f0f0f0f0f0f
    c.or s0, s1
    mv a1, s0
    VAL "c.or"
    li s0, 0x5555aaaa5555aaaa
    li s1, 0x0f0f0f0f0f0f0f0f
    c.and s0, s1
    mv a1, s0
    VAL "c.and"
    li s0, 0x0000000080000000
    li s1, 0x0000000000000001
    c.subw s0, s1
    mv a1, s0
    VAL "c.subw"
    li s0, 0x000000007fffffff
    li s1, 0x0000000000000001
    c.addw s0, s1
    mv a1, s0
    VAL "c.addw"
    li s0, 0x1000000000000000
    li s1, -1
    c.subw s0, s1
    mv a1, s0
    VAL "c.subw upper bits"

    /* ---- CR format ---- */
    li a2, 0x1234567890
    c.mv a1, a2
    VAL "c.mv"
    li a1, 0x7fffffffffffffff
    li a2, 1
    c.add a1, a2
    VAL "c.add"

    /* ---- sp-relative loads/stores ---- */
    li a5, 0x0102030405060708
    c.sdsp a5, 0(sp)
    c.sdsp a5, 8(sp)
    li a4, 0xfffffff0
    c.swsp a4, 4(sp)
    li a3, 0x400921fb54442d18
    fmv.d.x fa2, a3
    c.fsdsp fa2, 16(sp)
    c.ldsp a1, 0(sp)
    VAL "c.ldsp 0"
    c.lwsp a1, 4(sp)
    VAL "c.lwsp 4"
    c.lwsp a1, 8(sp)
    VAL "c.lwsp 8"
    c.fldsp fa1, 16(sp)
    fmv.x.d a1, fa1
    VAL "c.fldsp 16"
    c.ldsp a1, 16(sp)
    VAL "c.ldsp 16"

    /* ---- control transfer ---- */
    li a1, 1
    c.j 1f
    li a1, 0xbad
1:  VAL "c.j forward"
    li s0, 0
    li a1, 0
2:  addi a1, a1, 3
    addi s0, s0, 1
    li t0, 5
    bne s0, t0, 3f
    c.j 4f
3:  c.j 2b
4:  VAL "c.j backward loop"
    li s0, 0
    li a1, 7
    c.beqz s0, 5f
    li a1, 0xbad
5:  VAL "c.beqz taken"
    li s0, 1
    li a1, 8
    c.beqz s0, 6f
    li a1, 9
6:  VAL "c.beqz not taken"
    li s0, -1
    li a1, 10
    c.bnez s0, 7f
    li a1, 0xbad
7:  VAL "c.bnez taken"
    li s0, 0
    li a1, 11
    c.bnez s0, 8f
    li a1, 12
8:  VAL "c.bnez not taken"
    la t1, 9f
    li a1, 13
    c.jr t1
    li a1, 0xbad
9:  VAL "c.jr"
    la t1, cfunc
    c.jalr t1
    VAL "c.jalr call result"
    la t1, 10f
    c.jalr t1
11: li a1, 0xbad
10: la t0, 11b
    sub a1, ra, t0
    VAL "c.jalr link - next"

    /* ---- c.ebreak ---- */
    call trap_arm
    c.ebreak
    NAME_A0 "c.ebreak"
    call trap_report
    call trap_arm
    ebreak
    NAME_A0 "ebreak (32-bit)"
    call trap_report

    /* ---- HINTs: must execute as no-ops ---- */
    li a1, 0x5a5a
    .hword 0x0005        /* c.nop with imm=1 */
    .hword 0x4001        /* c.li x0, 0 */
    .hword 0x8006        /* c.mv x0, ra */
    .hword 0x9006        /* c.add x0, ra */
    .hword 0x0002        /* c.slli x0, 0 (c.slli64 x0) */
    .hword 0x0582        /* c.slli a1, 0 (c.slli64) */
    .hword 0x0082        /* c.slli ra, 0 */
    VAL "after HINTs"
    li s0, 0x77
    .hword 0x8001        /* c.srli s0, 0 (c.srli64) */
    .hword 0x8401        /* c.srai s0, 0 (c.srai64) */
    mv a1, s0
    VAL "c.srli/srai by 0 (HINT)"

    /* ---- reserved / illegal 16-bit encodings ---- */
    RAW16 0x0000, "c.illegal 0x0000"
    RAW16 0x0004, "c.addi4spn nzuimm=0"
    RAW16 0x6281, "c.lui x5, 0"
    RAW16 0x6101, "c.addi16sp 0"
    RAW16 0x8002, "c.jr x0"
    RAW16 0x4002, "c.lwsp x0"
    RAW16 0x6002, "c.ldsp x0"
    RAW16 0x2001, "c.addiw x0"
    RAW16 0x9c41, "reserved CA 100111 funct2=10"
    RAW16 0x9c61, "reserved CA 100111 funct2=11"

    call report_csum
    ld ra, 120(sp)
    ld s0, 112(sp)
    ld s1, 104(sp)
    addi sp, sp, 128
    li a0, 0
    ret

cfunc:
    c.li a1, 21
    c.add a1, a1
    c.jr ra

    .section .rodata
    .balign 8
cdata:
    .set i, 0
    .rept 32
    .dword 0x0101010101010101 * (i + 1) + 0x8000000000000000 * (i & 1)
    .set i, i + 1
    .endr

    .data
    .balign 8
cbuf:
    .space 256
