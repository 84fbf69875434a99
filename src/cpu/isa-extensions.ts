/**
 * What the CPU implements, in the names the device tree uses (Linux
 * Documentation/devicetree/bindings/riscv/extensions.yaml). The board builds `riscv,isa` and
 * `riscv,isa-extensions` from this list alone, so the tree never promises more than the core
 * does. Keep it in step with src/cpu/as (misa = RV64IMAFDC + S + U).
 */
export const ISA_BASE = 'rv64i';

/** Single-letter extensions first (in canonical order), then multi-letter ones by category. */
export const ISA_EXTENSIONS: readonly string[] = [
  'i', 'm', 'a', 'f', 'd', 'c',
  'zicbom', 'zicboz', 'zicntr', 'zicond', 'zicsr', 'zifencei', 'zihpm',
  'zba', 'zbb', 'zbc', 'zbs',
  'sstc',
];

/** The widest virtual-memory scheme satp accepts (Sv39, Sv48 and Sv57 all work). */
export const MMU_TYPE = 'riscv,sv57';

/** Cache-block size in bytes of cbo.clean/flush/inval/zero. */
export const CACHE_BLOCK_BYTES = 64;

/** The ISA string of the `riscv,isa` property: `rv64imafdc_zicbom_..._sstc`. */
export function isaString(): string {
  const single = ISA_EXTENSIONS.filter((e) => e.length === 1 && e !== 'i').join('');
  const multi = ISA_EXTENSIONS.filter((e) => e.length > 1);
  return [ISA_BASE + single, ...multi].join('_');
}
