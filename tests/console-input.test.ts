// Console input end to end: text piped into `typervisor run` reaches the guest through the
// NS16550A receiver exactly as it does on QEMU (-nographic, stdin a pipe). Needs the build
// (bin/typervisor.js runs dist/) like the differential tests.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
// @ts-ignore -- plain ESM helper without type declarations
import { buildPrograms } from './programs/build.mjs';
// @ts-ignore -- plain ESM helper without type declarations
import { QEMU, REPO_ROOT, qemuArgs, typervisorArgs } from './differential/qemu.mjs';

const [elf] = (await buildPrograms({ names: ['uart-echo'] })) as string[];

/**
 * Runs a command and types `input` once the guest has printed its prompt (QEMU drops input
 * that arrives before the guest set up the UART, and stops reading at end of file), keeping
 * stdin open until the command exits. Resolves with its stdout and exit status.
 */
function runWithInput(cmd: string, args: string[], input: string, timeoutMs = 30000) {
  return new Promise<{ stdout: string; code: number | null }>((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    let typed = false;
    child.stdout.on('data', (d: Buffer) => {
      out.push(d);
      if (!typed && Buffer.concat(out).includes('type a line:\n')) {
        typed = true;
        child.stdin.write(input);
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ stdout: Buffer.concat(out).toString('latin1'), code });
    });
  });
}

describe('console input', () => {
  it('delivers piped stdin to the guest like QEMU', async () => {
    const input = 'hello, World\nmore\n';
    const q = await runWithInput(QEMU, qemuArgs(elf), input);
    expect(q.stdout).toBe('type a line:\nHELLO, WORLD\nread 13 bytes\n');
    const t = await runWithInput(process.execPath, typervisorArgs(elf), input);
    expect(t).toEqual(q);
  }, 60000);

  it('runs with no input at all like QEMU', async () => {
    const q = await runWithInput(QEMU, qemuArgs(elf), '');
    const t = await runWithInput(process.execPath, typervisorArgs(elf), '');
    expect(q.stdout).toMatch(/no more input/);
    expect(t).toEqual(q);
  }, 60000);
});
