// The default guest's files, when an earlier run (or `typervisor run` without --kernel) has put
// them in the user's cache. Tests that use them skip when they are absent rather than download.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultCacheDir } from '../../src/host/guest-image/default-guest.js';

/** Path of a cached Debian trixie riscv64 kernel Image (<cache>/guests/debian-trixie-riscv64/<version>/Image), if any. */
export function cachedDebianImagePath(): string | undefined {
  const family = path.join(defaultCacheDir(), 'guests', 'debian-trixie-riscv64');
  if (!existsSync(family)) return undefined;
  for (const version of readdirSync(family).sort().reverse()) {
    const file = path.join(family, version, 'Image');
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** Reads a file for a test. */
export function readTestFile(file: string): Uint8Array {
  return new Uint8Array(readFileSync(file));
}
