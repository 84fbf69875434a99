// Debian's qemu-utils (qemu-img, qemu-io) as the reference that makes and reads test images.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Runs a qemu-utils tool; throws with its stderr when it fails. Returns stdout. */
export function qemu(tool: 'qemu-img' | 'qemu-io', args: string[], cwd?: string): string {
  const r = spawnSync(tool, args, { encoding: 'utf8', cwd });
  if (r.error) throw new Error(`cannot run ${tool} (apt-get install qemu-utils): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** `qemu-io -c CMD ... FILE` (the image's format is probed; -f may be passed in `extra`). */
export function qemuIo(file: string, commands: string[], extra: string[] = []): void {
  qemu('qemu-io', [...extra, ...commands.flatMap((c) => ['-c', c]), file]);
}

/** The disk's bytes as qemu-img sees them (`qemu-img convert -O raw`). */
export function qemuRaw(file: string, dir: string): Uint8Array {
  const out = path.join(dir, `${path.basename(file)}.reference.raw`);
  qemu('qemu-img', ['convert', '-O', 'raw', file, out]);
  const bytes = new Uint8Array(readFileSync(out));
  rmSync(out);
  return bytes;
}

/** A temporary directory, removed by the returned function. */
export function tempDir(prefix = 'storage-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Index and values of the first difference, for readable failures on large buffers. */
export function firstDifference(a: Uint8Array, b: Uint8Array): string | undefined {
  if (a.length !== b.length) return `lengths differ: ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `byte ${i}: ${a[i]} vs ${b[i]}`;
  return undefined;
}
