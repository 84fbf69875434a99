import { P9_HEADER_BYTES, P9_QID_BYTES } from './p9-protocol.js';

// The 9P wire format (intro(5), little-endian): readers and writers of one message. Messages come
// from the guest, so the reader checks every length against the bytes it has and throws a
// P9DecodeError (the server answers Rlerror EPROTO) instead of reading past the end.

/** A message could not be decoded: too short, a string past the end, invalid UTF-8. */
export class P9DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'P9DecodeError';
  }
}

/** A qid: the server's unique id of a file (intro(5)). */
export interface Qid {
  readonly type: number;
  readonly version: number;
  readonly path: bigint;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Reads the fields of one message, in order, bounds-checked. */
export class P9Reader {
  private at = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.bytes.length - this.at;
  }

  private take(n: number, what: string): number {
    if (n > this.remaining) throw new P9DecodeError(`${what} at byte ${this.at} runs past the message end (${this.bytes.length} bytes)`);
    const at = this.at;
    this.at += n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.take(1, 'u8'));
  }

  u16(): number {
    return this.view.getUint16(this.take(2, 'u16'), true);
  }

  u32(): number {
    return this.view.getUint32(this.take(4, 'u32'), true);
  }

  u64(): bigint {
    return this.view.getBigUint64(this.take(8, 'u64'), true);
  }

  /** `len[2]` then that many bytes of UTF-8. */
  string(): string {
    const n = this.u16();
    const at = this.take(n, `a ${n}-byte string`);
    try {
      return utf8.decode(this.bytes.subarray(at, at + n));
    } catch {
      throw new P9DecodeError(`the string at byte ${at} is not valid UTF-8`);
    }
  }

  /** `n` raw bytes (a view into the message). */
  data(n: number): Uint8Array {
    const at = this.take(n, `${n} bytes of data`);
    return this.bytes.subarray(at, at + n);
  }
}

/** Builds one R-message: header first (size patched by finish()), then fields. */
export class P9Writer {
  private buf: Uint8Array;
  private view: DataView;
  private at = 0;

  /** `capacity`: the expected size, so that a big Rread is not copied while it grows. */
  constructor(type: number, tag: number, capacity = 256) {
    this.buf = new Uint8Array(Math.max(P9_HEADER_BYTES, capacity));
    this.view = new DataView(this.buf.buffer);
    this.u32(0);
    this.u8(type);
    this.u16(tag);
  }

  /** Bytes written so far, header included. */
  get length(): number {
    return this.at;
  }

  private room(n: number): number {
    if (this.at + n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.at + n));
      bigger.set(this.buf.subarray(0, this.at));
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
    }
    const at = this.at;
    this.at += n;
    return at;
  }

  // Each setter takes its offset from room() before touching the buffer: room() may replace it.

  u8(v: number): this {
    const at = this.room(1);
    this.view.setUint8(at, v);
    return this;
  }

  u16(v: number): this {
    const at = this.room(2);
    this.view.setUint16(at, v, true);
    return this;
  }

  u32(v: number): this {
    const at = this.room(4);
    this.view.setUint32(at, v >>> 0, true);
    return this;
  }

  u64(v: bigint | number): this {
    const at = this.room(8);
    this.view.setBigUint64(at, BigInt.asUintN(64, BigInt(v)), true);
    return this;
  }

  /** A string; longer than 65535 bytes of UTF-8 is a bug of the caller (names are checked before). */
  string(s: string): this {
    const bytes = utf8Encoder.encode(s);
    if (bytes.length > 0xffff) throw new RangeError(`a 9P string holds at most 65535 bytes, not ${bytes.length}`);
    this.u16(bytes.length);
    return this.data(bytes);
  }

  data(bytes: Uint8Array): this {
    const at = this.room(bytes.length);
    this.buf.set(bytes, at);
    return this;
  }

  qid(q: Qid): this {
    return this.u8(q.type).u32(q.version).u64(q.path);
  }

  /** The finished message, its size field set; the writer must not be used afterwards. */
  finish(): Uint8Array {
    this.view.setUint32(0, this.at, true);
    return this.buf.subarray(0, this.at); // the writer is done with it: no copy
  }
}

/** Bytes a string takes on the wire. */
export function stringBytes(s: string): number {
  return 2 + utf8Encoder.encode(s).length;
}

/** The header of a message: size, type and tag; undefined when fewer than 7 bytes are given. */
export function readHeader(bytes: Uint8Array): { size: number; type: number; tag: number } | undefined {
  if (bytes.length < P9_HEADER_BYTES) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { size: v.getUint32(0, true), type: v.getUint8(4), tag: v.getUint16(5, true) };
}

export { P9_QID_BYTES };
