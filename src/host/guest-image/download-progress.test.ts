import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withDownloadProgress } from './download-progress.js';

describe('withDownloadProgress', () => {
  it('reports the share of the total that has arrived while the work runs', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dl-progress-'));
    const seen: string[] = [];
    const work = new Promise<string>((resolve) => {
      setTimeout(() => writeFileSync(path.join(dir, 'a.deb'), new Uint8Array(40_000_000)), 200);
      setTimeout(() => resolve('done'), 1500);
    });
    expect(await withDownloadProgress(dir, 100_000_000, (t) => seen.push(t), work)).toBe('done');
    rmSync(dir, { recursive: true, force: true });
    expect(seen).toEqual(['40% (40 of 100 MB)']);
  });

  it('passes the work through untouched when the size is unknown', async () => {
    const seen: string[] = [];
    await expect(withDownloadProgress('/nonexistent', 0, (t) => seen.push(t), Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(seen).toEqual([]);
  });
});
