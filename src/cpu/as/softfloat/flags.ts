// Accrued floating-point exception flags and rounding-mode encodings, in the RISC-V
// layout (ISA manual, "F" extension, "Floating-Point Control and Status Register":
// fflags = NV DZ OF UF NX from bit 4 down to bit 0; frm encodings RNE..RMM = 0..4).

/** Accrued exception flags. Operations only OR bits in; the caller reads and clears. */
export let fflags: u32 = 0;

export const NX: u32 = 1; // inexact
export const UF: u32 = 2; // underflow
export const OF: u32 = 4; // overflow
export const DZ: u32 = 8; // divide by zero
export const NV: u32 = 16; // invalid operation

export const RNE: u32 = 0; // round to nearest, ties to even
export const RTZ: u32 = 1; // round towards zero
export const RDN: u32 = 2; // round down (towards -inf)
export const RUP: u32 = 3; // round up (towards +inf)
export const RMM: u32 = 4; // round to nearest, ties to max magnitude

@inline export function raise(f: u32): void {
  fflags |= f;
}

/** Clears the accrued flags (the interpreter does so before each instruction's operation). */
@inline export function clearFlags(): void {
  fflags = 0;
}
