// Builds small ELF64 little-endian images for tests (System V gABI layouts).

export interface ElfSegmentSpec {
  paddr: number;
  data: Uint8Array;
  /** Defaults to data.length. */
  memSize?: number;
  /** Defaults to PT_LOAD (1). */
  type?: number;
}

export interface ElfSpec {
  entry: number;
  segments: ElfSegmentSpec[];
  machine?: number;
  elfClass?: number;
  type?: number;
}

/** An executable with each segment's bytes after the headers, in order. */
export function makeElf(spec: ElfSpec): Uint8Array {
  const phoff = 64;
  const headers = phoff + 56 * spec.segments.length;
  const size = headers + spec.segments.reduce((n, s) => n + s.data.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, spec.elfClass ?? 2, 1, 1]);
  v.setUint16(16, spec.type ?? 2, true);
  v.setUint16(18, spec.machine ?? 243, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(24, BigInt(spec.entry), true);
  v.setBigUint64(32, BigInt(phoff), true);
  v.setUint16(52, 64, true);
  v.setUint16(54, 56, true);
  v.setUint16(56, spec.segments.length, true);
  let offset = headers;
  spec.segments.forEach((s, i) => {
    const ph = phoff + 56 * i;
    v.setUint32(ph, s.type ?? 1, true);
    v.setUint32(ph + 4, 5, true);
    v.setBigUint64(ph + 8, BigInt(offset), true);
    v.setBigUint64(ph + 16, BigInt(s.paddr), true);
    v.setBigUint64(ph + 24, BigInt(s.paddr), true);
    v.setBigUint64(ph + 32, BigInt(s.data.length), true);
    v.setBigUint64(ph + 40, BigInt(s.memSize ?? s.data.length), true);
    v.setBigUint64(ph + 48, 4096n, true);
    out.set(s.data, offset);
    offset += s.data.length;
  });
  return out;
}
