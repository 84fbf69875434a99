import { describe, expect, it } from 'vitest';
// @ts-ignore -- plain ESM helper without type declarations
import { compareWithDeviations, DEVIATIONS } from './qemu-deviations.mjs';

describe('QEMU deviation list', () => {
  it('accepts equal output and nothing else for a program without rules', () => {
    expect(compareWithDeviations('hello', 'a\nb\n', 'a\nb\n').ok).toBe(true);
    const r = compareWithDeviations('hello', 'a\nb\n', 'a\nc\n');
    expect(r.ok).toBe(false);
    expect(r.message).toContain('line 2');
  });

  it('accepts a listed deviation only for its program', () => {
    const q = 'x\nmisaligned amoadd.w: trap cause=4 tval=1\n';
    const o = 'x\nmisaligned amoadd.w: trap cause=6 tval=1\n';
    expect(compareWithDeviations('atomics', q, o).ok).toBe(true);
    expect(compareWithDeviations('traps', q, o).ok).toBe(false);
  });

  it('reports rules that were not exercised', () => {
    const r = compareWithDeviations('atomics', 'same\n', 'same\n');
    expect(r.ok).toBe(false);
    expect(r.message).toContain('not exercised');
  });

  it('gives every rule a reason', () => {
    for (const d of DEVIATIONS) expect(d.why.length).toBeGreaterThan(10);
  });
});
