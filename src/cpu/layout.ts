// The one definition of where the hart's state lives in the WebAssembly.Memory that the
// AssemblyScript core (src/cpu/as) and the TypeScript host (src/cpu/*.ts) share.
// Both sides import this file, so it must stay valid AssemblyScript *and* TypeScript:
// plain integer constants only. Offsets are bytes from the start of the memory.
//
//   0x0000_0000  AssemblyScript static data (tiny; the core allocates nothing at run time)
//   0x0010_0000  hart state (registers, CSRs, flags)              STATE_BASE
//   0x0011_0000  TLBs: fetch, load, store                          TLB_BASE
//   0x0020_0000  translated-block map, hot-block counters          JITMAP_BASE, HOT_BASE
//   0x0040_0000  decoded-instruction cache                         DCACHE_BASE
//   0x0100_0000  code map: a 64-bit line mask per 4 KiB page of RAM CODEMAP_BASE
//   0x0180_0000  guest RAM (guest physical RAM_PADDR maps here)    RAM_OFFSET

export const STATE_BASE = 0x100000;

// Integer registers x0..x31 (i64 each). Slot 32 is a sink for writes to x0: the decoder
// redirects rd=0 there so x0 stays zero without a check on every write.
export const X_REGS = 0x100000;
export const X_SINK = 32;
// Floating-point registers f0..f31 (raw 64-bit patterns; singles are NaN-boxed).
export const F_REGS = 0x100200;

// Scalars (i64 unless noted).
export const S_PC = 0x100300;
export const S_PRIV = 0x100308; // i32: 0 = U, 1 = S, 3 = M
export const S_MSTATUS = 0x100310;
export const S_MISA = 0x100318;
export const S_MEDELEG = 0x100320;
export const S_MIDELEG = 0x100328;
export const S_MIE = 0x100330;
export const S_MIP = 0x100338;
export const S_MTVEC = 0x100340;
export const S_MSCRATCH = 0x100348;
export const S_MEPC = 0x100350;
export const S_MCAUSE = 0x100358;
export const S_MTVAL = 0x100360;
export const S_MCOUNTEREN = 0x100368;
export const S_MENVCFG = 0x100370;
export const S_STVEC = 0x100378;
export const S_SSCRATCH = 0x100380;
export const S_SEPC = 0x100388;
export const S_SCAUSE = 0x100390;
export const S_STVAL = 0x100398;
export const S_SCOUNTEREN = 0x1003a0;
export const S_SENVCFG = 0x1003a8;
export const S_SATP = 0x1003b0;
export const S_FCSR = 0x1003b8; // frm << 5 | fflags
export const S_MCYCLE = 0x1003c0; // value at the start of the current run() slice
export const S_MINSTRET = 0x1003c8;
export const S_STIMECMP = 0x1003d0;
export const S_MTIMECMP = 0x1003d8; // CLINT's mtimecmp for this hart
export const S_MTIME = 0x1003e0; // CLINT's mtime as the host last set it (10 MHz)
export const S_RES_ADDR = 0x1003e8; // LR reservation physical address, -1 when none
export const S_RES_VALUE = 0x1003f0;
export const S_MCOUNTINHIBIT = 0x1003f8;
export const S_MHARTID = 0x100400;
export const S_MSECCFG = 0x100408;
export const S_MCYCLE_WRITTEN = 0x100410; // reserved
export const S_MMIO_HI = 0x100418; // i32: high half of a 64-bit MMIO value in either direction
export const S_MMIO_FAULT = 0x10041c; // i32: the host sets 1 when an MMIO access hit no device
export const S_STOP = 0x100420; // i32: the host sets nonzero to end run() after this instruction
export const S_RAM_SIZE = 0x100428; // bytes of guest RAM
export const S_RAM_PADDR = 0x100430; // guest physical address of RAM (0x8000_0000 on virt)
export const S_EXIT_CAUSE = 0x100438; // i64: detail of the last run() exit (e.g. ecall a7)
export const S_FLAGS = 0x100440; // i32: FLAG_* below
export const S_RESERVED_X = 0x100444; // i32
export const S_MIP_HW = 0x100448; // i64: interrupt lines driven by devices (CLINT, PLIC, Sstc)
// PMP: 16 entries of pmpaddr (i64) and one byte of pmpcfg each.
export const S_PMPADDR = 0x100500; // 16 × i64
export const S_PMPCFG = 0x100580; // 16 × u8
// Hardware performance counters mhpmcounter3..31 and mhpmevent3..31 read as zero on virt;
// kept only as a place for a future implementation.
export const STATE_SIZE = 0x1000;

// Translator (src/cpu/jit) hand-off slots.
export const S_JIT_EXIT = 0x100460; // i32: set by jit_read/jit_write: 1 event after a completed access, 2 trapped
export const S_JIT_VPC = 0x100468; // i64: virtual pc of a block the interpreter found hot
export const S_JIT_HOST = 0x100470; // i32: its wasm address
export const S_DATAKEY = 0x100478; // i64: TLB key of data accesses (mirrors the core's global)
export const S_RAN = 0x100480; // i32: instructions the last run() executed
export const S_FETCHKEY = 0x100488; // i64: TLB key of instruction fetches (mirrors the core's global)
export const S_HOT_THRESHOLD = 0x100490; // u32: instructions run from a block entry before it is translated

/** S_FLAGS bits. */
export const FLAG_SBI_IN_HOST = 1; // S-mode ecall exits run() with EXIT_ECALL instead of trapping to M
export const FLAG_JIT = 2; // hot blocks are reported (EXIT_JIT) for translation

/** run() return values. */
export const EXIT_BUDGET = 0; // executed the requested number of instructions
export const EXIT_WFI = 1; // the hart is waiting for an interrupt
export const EXIT_STOP = 2; // the host asked to stop (S_STOP)
export const EXIT_ECALL = 3; // an S-mode ecall for the host (FLAG_SBI_IN_HOST)
export const EXIT_JIT = 4; // a block became hot: translate S_JIT_VPC/S_JIT_HOST and run again

// TLBs: three direct-mapped arrays (fetch, load, store) of TLB_ENTRIES entries of 32 bytes:
//   +0  tag  i64  virtual page | key (bits 0..3: privilege, SUM, MXR; bit 11: MMIO page;
//                 bit 10: page holds decoded code (store TLB only))
//   +8  hostDelta i64  wasm address = vaddr + hostDelta (RAM pages)
//   +16 physDelta i64  physical address = vaddr + physDelta
export const TLB_BASE = 0x110000;
export const TLB_ENTRIES = 256;
export const TLB_ENTRY_SIZE = 32;
export const TLB_FETCH = 0x110000;
export const TLB_LOAD = 0x112000;
export const TLB_STORE = 0x114000;

// Translated blocks, direct-mapped by wasm address: 16 bytes each:
//   +0 virtual pc i64, +8 wasm address u32 (0 = empty), +12 table index u32 (0 = not translatable)
// 64 Ki entries: a Linux boot translates ~8k distinct blocks, and 4 Ki entries made it translate
// ~5k of them again after conflicts evicted them.
export const JITMAP_BASE = 0x200000;
export const JITMAP_ENTRIES = 65536;
// Execution counters of block entries not yet translated: +0 wasm address u32, +4 count u32.
export const HOT_BASE = 0x300000;
export const HOT_ENTRIES = 65536;
// Default of S_HOT_THRESHOLD: instructions run from a block entry (credited when the next block
// starts) before the block is translated. Counting entries instead missed long unrolled code
// (hash rounds, bignum multiplies in the kernel's crypto self-tests) and translated thousands of
// lukewarm blocks. Measured on a Debian boot to its first command (quiet 2-core machine):
// counting entries, threshold 4096: 7.2 s; counting instructions, 8 Ki: 10.4 s, 128 Ki: 5.5 s,
// 256 Ki: 5.4 s, 512 Ki: 5.3 s, 2 Mi: 6.6 s. bench/cpu-mips.mjs went from ~470 to ~710 MIPS.
export const HOT_THRESHOLD = 262144;

// Per 4 KiB page of guest RAM, a u64 whose bit i is set when the decode cache may hold an
// instruction overlapping the page's 64-byte line i (so stores there must invalidate it).
// Line granularity keeps pages that mix code and data (small programs) fast.
export const CODEMAP_BASE = 0x1000000;
export const CODEMAP_SIZE = 0x800000;

// Decoded-instruction cache: direct-mapped by wasm address of the instruction, 16 bytes each:
//   +0 tag u32 (wasm address | 1), +4 op u16, +6 rd u8, +7 rs1 u8, +8 rs2 u8, +9 rs3/rm u8,
//   +10 len u8, +11 spare, +12 imm i32
export const DCACHE_BASE = 0x400000;
export const DCACHE_ENTRIES = 1 << 18;
export const DCACHE_ENTRY_SIZE = 16;

export const RAM_OFFSET = 0x1800000;
