import { describe, expect, it } from 'vitest';
import { ConsoleBuffer } from './console-buffer.js';

describe('ConsoleBuffer', () => {
  it('batches pushes into one sink call per flush, copying the caller’s bytes', () => {
    const batches: number[][] = [];
    const buf = new ConsoleBuffer((b) => batches.push([...b]));
    const reused = new Uint8Array(1);
    for (const byte of [1, 2, 3]) {
      reused[0] = byte;
      buf.push(reused);
    }
    buf.flush();
    buf.flush(); // nothing new: no call
    buf.push(new Uint8Array(10_000).fill(7)); // grows past its first allocation
    buf.flush();
    expect(batches.length).toBe(2);
    expect(batches[0]).toEqual([1, 2, 3]);
    expect(batches[1]!.length).toBe(10_000);
  });
});
