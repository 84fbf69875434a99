// Host tools the guest-image tests compare against (Debian packages: cpio, xz-utils).
import { execFileSync } from 'node:child_process';

function run(tool: string, pkg: string, args: string[], input: Uint8Array | string, cwd?: string): Buffer {
  try {
    return execFileSync(tool, args, { cwd, input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 1 << 30 });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error(`${tool} is not installed: apt-get install ${pkg}`);
    throw new Error(`${tool} ${args.join(' ')} failed: ${err.stderr?.toString() ?? String(e)}`);
  }
}

/** Runs GNU cpio with `input` on stdin in `cwd`; returns its stdout. */
export function cpio(args: string[], input: Uint8Array, cwd: string): string {
  return run('cpio', 'cpio', args, input, cwd).toString('utf8');
}

/** xz-compresses `data` the way Debian's kernel modules are (CRC32 check, as kmod expects). */
export function xz(data: Uint8Array): Uint8Array {
  return new Uint8Array(run('xz', 'xz-utils', ['-c', '--check=crc32', '-T1'], data));
}
