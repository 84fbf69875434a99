// Minimal kernel-module-shaped ELF files for tests: an ELF64 relocatable with a .modinfo section
// (NUL-separated key=value strings) and the section-name table, nothing else.

/** Returns an ELF64 little-endian file whose .modinfo holds `info` (e.g. ['name=x', 'depends=a,b']). */
export function fakeModule(info: readonly string[], padding = 0): Uint8Array {
  const enc = new TextEncoder();
  const modinfo = enc.encode(info.map((s) => `${s}\0`).join(''));
  const shstrtab = enc.encode('\0.modinfo\0.shstrtab\0.text\0');
  const text = new Uint8Array(padding).fill(0x13); // riscv `nop` bytes, to vary the size
  const ehdr = 64;
  const textAt = ehdr;
  const modinfoAt = textAt + text.length;
  const strAt = modinfoAt + modinfo.length;
  const shoff = Math.ceil((strAt + shstrtab.length) / 8) * 8;
  const shnum = 4; // null, .text, .modinfo, .shstrtab
  const out = new Uint8Array(shoff + shnum * 64);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(16, 1, true); // ET_REL
  v.setUint16(18, 243, true); // EM_RISCV
  v.setUint32(20, 1, true);
  v.setBigUint64(0x28, BigInt(shoff), true);
  v.setUint16(0x34, ehdr, true);
  v.setUint16(0x3a, 64, true);
  v.setUint16(0x3c, shnum, true);
  v.setUint16(0x3e, 3, true);
  out.set(text, textAt);
  out.set(modinfo, modinfoAt);
  out.set(shstrtab, strAt);
  const section = (i: number, name: number, type: number, offset: number, size: number) => {
    const at = shoff + i * 64;
    v.setUint32(at, name, true);
    v.setUint32(at + 4, type, true);
    v.setBigUint64(at + 0x18, BigInt(offset), true);
    v.setBigUint64(at + 0x20, BigInt(size), true);
    v.setBigUint64(at + 0x30, 1n, true);
  };
  section(1, 20, 1, textAt, text.length); // .text, PROGBITS
  section(2, 1, 1, modinfoAt, modinfo.length); // .modinfo, PROGBITS
  section(3, 10, 3, strAt, shstrtab.length); // .shstrtab, STRTAB
  return out;
}
