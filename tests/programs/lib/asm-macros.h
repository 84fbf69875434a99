/* Macros shared by the assembly test programs (included after test.h). */
#ifndef ASM_MACROS_H
#define ASM_MACROS_H
#ifdef __ASSEMBLER__

/* a0 <- address of the string \str, placed in .rodata. */
.macro NAME_A0 str
    .pushsection .rodata
77: .asciz "\str"
    .popsection
    la a0, 77b
.endm

/* Prints "\name = a1" through report_val (which also folds a1 into the checksum). */
.macro VAL name
    NAME_A0 "\name"
    call report_val
.endm

/* main's frame: ra and s0..s6, the registers the programs use across calls. */
.macro MAIN_ENTER
    addi sp, sp, -64
    sd ra, 0(sp)
    .irp n, 0, 1, 2, 3, 4, 5, 6
    sd s\n, (8 + \n * 8)(sp)
    .endr
.endm

/* Prints the checksum and returns 0 from main. */
.macro MAIN_LEAVE
    call report_csum
    ld ra, 0(sp)
    .irp n, 0, 1, 2, 3, 4, 5, 6
    ld s\n, (8 + \n * 8)(sp)
    .endr
    addi sp, sp, 64
    li a0, 0
    ret
.endm

#endif
#endif
