/**
 * Writes a flattened device tree blob (Devicetree Specification v0.4, chapter 5: header,
 * memory reservation block, structure block, strings block; version 17), the form the board
 * hands the kernel in a1. The tree is described as plain objects; property values are encoded
 * by their JavaScript type (§2.2.4 property value types).
 */

/**
 * A property value: a number is one u32 cell, a number[] a list of cells, a bigint one u64 (two
 * cells), a string a NUL-terminated string, a string[] a string list, `true` an empty (boolean)
 * property, bytes are copied as they are.
 */
export type FdtValue = number | number[] | bigint | string | string[] | true | Uint8Array;

export interface FdtNode {
  /** Node name with unit address, e.g. "uart@10000000"; "" for the root. */
  name: string;
  props?: Record<string, FdtValue>;
  children?: FdtNode[];
}

export interface FdtOptions {
  bootCpuId?: number;
  /** /memreserve/ entries. */
  reservations?: { address: bigint; size: bigint }[];
}

const FDT_MAGIC = 0xd00dfeed;
const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_END = 9;
const HEADER_SIZE = 40;

/** Splits 64-bit values into the two-cell form of #address-cells = #size-cells = 2. */
export function cells64(...values: (bigint | number)[]): number[] {
  const out: number[] = [];
  for (const v of values) {
    const b = BigInt.asUintN(64, BigInt(v));
    out.push(Number(b >> 32n), Number(b & 0xffff_ffffn));
  }
  return out;
}

function encodeValue(name: string, v: FdtValue): Uint8Array {
  const enc = new TextEncoder();
  if (v === true) return new Uint8Array(0);
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return enc.encode(v + '\0');
  if (typeof v === 'bigint') return encodeCells(name, cells64(v));
  if (typeof v === 'number') return encodeCells(name, [v]);
  if (Array.isArray(v) && v.every((e) => typeof e === 'string')) return enc.encode((v as string[]).map((s) => s + '\0').join(''));
  return encodeCells(name, v as number[]);
}

function encodeCells(name: string, cells: number[]): Uint8Array {
  const out = new Uint8Array(cells.length * 4);
  const dv = new DataView(out.buffer);
  cells.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 0 || c > 0xffff_ffff) throw new RangeError(`fdt: property ${name}: cell ${c} is not a u32`);
    dv.setUint32(i * 4, c);
  });
  return out;
}

/** Serialises `root` into a DTB. */
export function writeFdt(root: FdtNode, options: FdtOptions = {}): Uint8Array {
  const struct: number[] = [];
  const strings: number[] = [];
  const stringOffsets = new Map<string, number>();
  const u32 = (v: number) => struct.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  const bytes = (b: Uint8Array) => {
    for (const x of b) struct.push(x);
    while (struct.length % 4) struct.push(0);
  };
  const nameOffset = (n: string) => {
    let off = stringOffsets.get(n);
    if (off === undefined) {
      off = strings.length;
      stringOffsets.set(n, off);
      for (const x of new TextEncoder().encode(n + '\0')) strings.push(x);
    }
    return off;
  };
  const node = (n: FdtNode) => {
    u32(FDT_BEGIN_NODE);
    bytes(new TextEncoder().encode(n.name + '\0'));
    for (const [k, v] of Object.entries(n.props ?? {})) {
      const value = encodeValue(k, v);
      u32(FDT_PROP);
      u32(value.length);
      u32(nameOffset(k));
      bytes(value);
    }
    for (const c of n.children ?? []) node(c);
    u32(FDT_END_NODE);
  };
  node(root);
  u32(FDT_END);

  const reservations = options.reservations ?? [];
  const rsvOff = HEADER_SIZE; // 40 is 8-aligned, as §5.3 requires
  const rsvSize = (reservations.length + 1) * 16;
  const structOff = rsvOff + rsvSize;
  const stringsOff = structOff + struct.length;
  const total = stringsOff + strings.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  [FDT_MAGIC, total, structOff, stringsOff, rsvOff, 17, 16, options.bootCpuId ?? 0, strings.length, struct.length]
    .forEach((v, i) => dv.setUint32(i * 4, v));
  reservations.forEach((r, i) => {
    dv.setBigUint64(rsvOff + i * 16, r.address);
    dv.setBigUint64(rsvOff + i * 16 + 8, r.size);
  });
  out.set(struct, structOff);
  out.set(strings, stringsOff);
  return out;
}
