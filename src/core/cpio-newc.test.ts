import { describe, expect, it } from 'vitest';
import { writeCpioNewc, type CpioEntry } from './cpio-newc.js';
import { TypervisorError } from './errors.js';

const ascii = (bytes: Uint8Array, from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));

/** Splits an archive back into entries, checking the padding rules on the way. */
function parse(bytes: Uint8Array) {
  const out: { fields: number[]; name: string; data: Uint8Array; start: number }[] = [];
  let at = 0;
  for (;;) {
    expect(at % 4).toBe(0);
    expect(ascii(bytes, at, at + 6)).toBe('070701');
    const fields = Array.from({ length: 13 }, (_, i) => parseInt(ascii(bytes, at + 6 + 8 * i, at + 14 + 8 * i), 16));
    const namesize = fields[11]!;
    const name = ascii(bytes, at + 110, at + 110 + namesize - 1);
    expect(bytes[at + 110 + namesize - 1]).toBe(0);
    const dataAt = Math.ceil((at + 110 + namesize) / 4) * 4;
    for (let i = at + 110 + namesize; i < dataAt; i++) expect(bytes[i]).toBe(0);
    const size = fields[6]!;
    const data = bytes.subarray(dataAt, dataAt + size);
    const next = Math.ceil((dataAt + size) / 4) * 4;
    for (let i = dataAt + size; i < next; i++) expect(bytes[i]).toBe(0);
    out.push({ fields, name, data, start: at });
    at = next;
    if (name === 'TRAILER!!!') break;
  }
  expect(at).toBe(bytes.length);
  return out;
}

describe('writeCpioNewc', () => {
  it('writes the exact bytes of a one-file archive', () => {
    const bytes = writeCpioNewc([{ type: 'file', name: 'ab', data: new Uint8Array([1, 2, 3]), mode: 0o644, uid: 1, gid: 2, mtime: 0x1234 }]);
    const header =
      '070701' + // magic
      '00000001' + // ino
      '000081a4' + // mode: S_IFREG | 0644
      '00000001' + '00000002' + // uid gid
      '00000001' + // nlink
      '00001234' + // mtime
      '00000003' + // filesize
      '00000000' + '00000000' + // devmajor devminor
      '00000000' + '00000000' + // rdevmajor rdevminor
      '00000003' + // namesize, with the NUL
      '00000000'; // check
    expect(ascii(bytes, 0, 110)).toBe(header);
    // 110 + 3 = 113 → name padded to 116; data 3 → padded to 4.
    expect(Array.from(bytes.subarray(110, 120))).toEqual([0x61, 0x62, 0, 0, 0, 0, 1, 2, 3, 0]);
    expect(ascii(bytes, 120, 126)).toBe('070701');
    const trailer = parse(bytes)[1]!;
    expect(trailer.name).toBe('TRAILER!!!');
    expect(trailer.fields[1]).toBe(0);
    expect(bytes.length).toBe(120 + 110 + 11 + 3);
  });

  it('encodes every type with its mode bits, devices and link targets', () => {
    const entries: CpioEntry[] = [
      { type: 'directory', name: '.' },
      { type: 'directory', name: 'dev', mode: 0o755 },
      { type: 'char-device', name: 'dev/console', major: 5, minor: 1 },
      { type: 'block-device', name: 'dev/vda', major: 254, minor: 0, mode: 0o660, gid: 6 },
      { type: 'symlink', name: 'sh', target: 'bin/busybox' },
      { type: 'file', name: 'empty', data: new Uint8Array(0), mode: 0o4755 },
      { type: 'file', name: 'héllo', data: new Uint8Array(5).fill(7) },
    ];
    const parsed = parse(writeCpioNewc(entries));
    expect(parsed.map((e) => e.name)).toEqual(['.', 'dev', 'dev/console', 'dev/vda', 'sh', 'empty', 'h\xc3\xa9llo', 'TRAILER!!!']);
    const mode = parsed.map((e) => e.fields[1]!.toString(8));
    expect(mode.slice(0, 7)).toEqual(['40755', '40755', '20600', '60660', '120777', '104755', '100644']);
    expect(parsed.map((e) => e.fields[0])).toEqual([1, 2, 3, 4, 5, 6, 7, 0]);
    expect(parsed.map((e) => e.fields[4])).toEqual([2, 2, 1, 1, 1, 1, 1, 1]); // nlink
    expect(parsed[2]!.fields.slice(9, 11)).toEqual([5, 1]);
    expect(parsed[3]!.fields.slice(9, 11)).toEqual([254, 0]);
    expect(parsed[3]!.fields[3]).toBe(6);
    expect(ascii(parsed[4]!.data, 0, parsed[4]!.data.length)).toBe('bin/busybox');
    expect(parsed[6]!.data).toEqual(new Uint8Array(5).fill(7));
  });

  it('pads so that every header starts on a 4-byte boundary, for every name and size length', () => {
    const entries: CpioEntry[] = [];
    for (let n = 1; n <= 8; n++) {
      for (let size = 0; size <= 5; size++) entries.push({ type: 'file', name: `${'x'.repeat(n)}${size}`, data: new Uint8Array(size).fill(size) });
    }
    const parsed = parse(writeCpioNewc(entries));
    expect(parsed.length).toBe(entries.length + 1);
    for (const [i, e] of entries.entries()) expect(parsed[i]!.data).toEqual((e as { data: Uint8Array }).data);
  });

  it('an empty list is just the trailer', () => {
    const bytes = writeCpioNewc([]);
    expect(parse(bytes).map((e) => e.name)).toEqual(['TRAILER!!!']);
    expect(bytes.length % 4).toBe(0);
  });

  it.each([
    ['empty', ''],
    ['absolute', '/bin/sh'],
    ['with ..', 'a/../b'],
    ['just ..', '..'],
    ['with a . part', 'a/./b'],
    ['with an empty part', 'a//b'],
    ['with a trailing slash', 'a/'],
    ['with NUL', 'a\0b'],
    ['the trailer', 'TRAILER!!!'],
  ])('rejects a name that is %s', (_what, name) => {
    expect(() => writeCpioNewc([{ type: 'directory', name }])).toThrow(TypervisorError);
  });

  it('rejects duplicates, out-of-range fields and bad link targets', () => {
    expect(() => writeCpioNewc([{ type: 'directory', name: 'a' }, { type: 'directory', name: 'a' }])).toThrow(/twice/);
    expect(() => writeCpioNewc([{ type: 'directory', name: 'a', mode: 0o10000 }])).toThrow(/mode/);
    expect(() => writeCpioNewc([{ type: 'directory', name: 'a', uid: -1 }])).toThrow(/uid/);
    expect(() => writeCpioNewc([{ type: 'directory', name: 'a', mtime: 2 ** 32 }])).toThrow(/mtime/);
    expect(() => writeCpioNewc([{ type: 'directory', name: 'a', gid: 1.5 }])).toThrow(/gid/);
    expect(() => writeCpioNewc([{ type: 'char-device', name: 'c', major: 2 ** 32, minor: 0 }])).toThrow(/major/);
    expect(() => writeCpioNewc([{ type: 'symlink', name: 'l', target: '' }])).toThrow(/target/);
    expect(() => writeCpioNewc([{ type: 'symlink', name: 'l', target: 'a\0' }])).toThrow(/target/);
  });
});
