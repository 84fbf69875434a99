import { TypervisorError } from '../../core/errors.js';

/** What a kernel module says about itself in its `.modinfo` section. */
export interface KernelModuleInfo {
  /** The module's name as the kernel knows it (`virtio_rng` for virtio-rng.ko). */
  name: string;
  /** Modules that must be loaded first (from `depends=`, filled in by modpost). */
  depends: string[];
  /** Names or aliases that should be loaded first (`softdep=pre: …`), e.g. `crc32c`. */
  softPre: string[];
  /** Aliases the module answers to (`alias=`), e.g. `crypto-crc32c`. */
  aliases: string[];
}

/**
 * Reads `depends=`, `softdep=`, `alias=` and `name=` from an uncompressed kernel module (an ELF
 * relocatable file). The package's modules.dep is generated at install time by depmod, so it is
 * not in the .deb; this is the information depmod itself uses. Throws a TypervisorError for a
 * file that is not a 64- or 32-bit ELF with a .modinfo section inside its bounds.
 */
export function readKernelModuleInfo(elf: Uint8Array, what = 'kernel module'): KernelModuleInfo {
  const bad = (why: string) => new TypervisorError(`${what} is not a usable kernel module: ${why}`);
  if (elf.length < 52 || elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46) throw bad('not an ELF file');
  const is64 = elf[4] === 2;
  const little = elf[5] === 1;
  if (elf[4] !== 1 && !is64) throw bad('unknown ELF class');
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const inside = (off: number, len: number) => off >= 0 && len >= 0 && off + len <= elf.length;
  const u16 = (o: number) => view.getUint16(o, little);
  const u32 = (o: number) => view.getUint32(o, little);
  const word = (o: number) => (is64 ? Number(view.getBigUint64(o, little)) : u32(o));
  if (!inside(0, is64 ? 64 : 52)) throw bad('truncated header');
  const shoff = word(is64 ? 0x28 : 0x20);
  const shentsize = u16(is64 ? 0x3a : 0x2e);
  const shnum = u16(is64 ? 0x3c : 0x30);
  const shstrndx = u16(is64 ? 0x3e : 0x32);
  if (shentsize < (is64 ? 64 : 40) || !inside(shoff, shentsize * shnum) || shstrndx >= shnum) throw bad('bad section header table');
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return { name: u32(at), offset: word(at + (is64 ? 0x18 : 0x10)), size: word(at + (is64 ? 0x20 : 0x14)) };
  };
  const strtab = section(shstrndx);
  if (!inside(strtab.offset, strtab.size)) throw bad('section names out of bounds');
  const sectionName = (off: number) => {
    let end = strtab.offset + off;
    const stop = strtab.offset + strtab.size;
    while (end < stop && elf[end] !== 0) end++;
    return new TextDecoder().decode(elf.subarray(strtab.offset + Math.min(off, strtab.size), end));
  };
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (sectionName(s.name) !== '.modinfo') continue;
    if (!inside(s.offset, s.size)) throw bad('.modinfo out of bounds');
    return parseModinfo(new TextDecoder().decode(elf.subarray(s.offset, s.offset + s.size)));
  }
  throw bad('no .modinfo section');
}

function parseModinfo(text: string): KernelModuleInfo {
  const info: KernelModuleInfo = { name: '', depends: [], softPre: [], aliases: [] };
  for (const entry of text.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq < 0) continue;
    const key = entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    if (key === 'name') info.name = value;
    else if (key === 'depends') info.depends.push(...value.split(',').filter(Boolean));
    else if (key === 'alias') info.aliases.push(value);
    else if (key === 'softdep') {
      // "pre: a b post: c" (modinfo(8)); only "pre" affects the load order.
      let mode = '';
      for (const word of value.split(/\s+/).filter(Boolean)) {
        if (word.endsWith(':')) mode = word.slice(0, -1);
        else if (mode === 'pre') info.softPre.push(word);
      }
    }
  }
  return info;
}

/** Module names treat `-` and `_` alike (the kernel's and kmod's rule). */
export function normalizeModuleName(name: string): string {
  return name.replace(/-/g, '_');
}
