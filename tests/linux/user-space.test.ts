// User programs in the default guest that depend on what the firmware hands Linux: a static
// riscv64 program (built here with Debian's cross compiler) reads `time` from U-mode and calls
// clock_gettime (the vDSO reads `time`). OpenSBI opens the counters to U-mode (scounteren); the
// built-in SBI must do the same, or every such program dies of SIGILL.
// Needs the build, the cached default guest and gcc-riscv64-linux-gnu.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCpioNewc } from '../../src/core/cpio-newc.js';
import { commandInitramfs } from '../../src/host/guest-image/command-initramfs.js';
import { ensureDefaultGuest } from '../../src/host/guest-image/default-guest.js';
import { OPENSBI_DIR, REPO_ROOT, runTool, runTypervisor, stripTerminalQueries, type RunResult } from './guest-harness.js';

const dir = mkdtempSync(path.join(tmpdir(), 'user-space-'));
const initrd = path.join(dir, 'initrd.cpio');
let kernel = '';

beforeAll(async () => {
  const guest = await ensureDefaultGuest();
  kernel = guest.kernelPath;
  const program = path.join(dir, 'user-counters');
  runTool('riscv64-linux-gnu-gcc', ['-static', '-O2', '-o', program, path.join(REPO_ROOT, 'tests/linux/programs/user-counters.c')]);
  const tool = writeCpioNewc([{ type: 'file', name: 'user-counters', data: new Uint8Array(readFileSync(program)), mode: 0o755, mtime: 0 }]);
  writeFileSync(initrd, Buffer.concat([readFileSync(guest.initramfsPath), tool, commandInitramfs(['/user-counters'])]));
}, 600_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shown = (r: RunResult) => `status ${r.status}\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-2000)}`;

describe('U-mode time and clock_gettime in the default guest', () => {
  for (const [label, bios] of [['built-in SBI', 'builtin'], ['OpenSBI fw_dynamic', path.join(OPENSBI_DIR, 'fw_dynamic.bin')]]) {
    it(`work with ${label}`, async () => {
      const r = await runTypervisor(['run', '--bios', bios, '--kernel', kernel, '--initrd', initrd, '--append', 'console=ttyS0 quiet loglevel=0']);
      expect(r.status, shown(r)).toBe(0);
      expect(stripTerminalQueries(r.stdout), shown(r)).toContain('time-advances=1 monotonic-ok=1\n');
    });
  }
});
