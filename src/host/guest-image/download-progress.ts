import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** How often the download folder is measured. */
const POLL_MS = 1000;

/**
 * While `work` runs, reports how much of `total` bytes has arrived in `dir` (apt-get download
 * writes there; its own progress display needs a terminal): "42% (47 of 113 MB)", at most once
 * a second and only when the figure changed by 5 points. Returns what `work` returns.
 */
export async function withDownloadProgress<T>(dir: string, total: number, report: (text: string) => void, work: Promise<T>): Promise<T> {
  if (!(total > 0)) return work;
  let last = -5;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void bytesIn(dir)
      .then((got) => {
        const percent = Math.min(100, Math.floor((got / total) * 100));
        if (percent >= last + 5 && percent < 100) {
          last = percent;
          report(`${percent}% (${Math.round(got / 1e6)} of ${Math.round(total / 1e6)} MB)`);
        }
      })
      .finally(() => (busy = false));
  }, POLL_MS);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

/** Bytes of all files below `dir` (0 when it does not exist yet). */
async function bytesIn(dir: string): Promise<number> {
  let sum = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) sum += await bytesIn(p);
    else if (e.isFile()) sum += await stat(p).then((s) => s.size, () => 0);
  }
  return sum;
}
