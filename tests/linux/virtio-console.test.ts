// virtio-console (hvc0) as the default guest's console, end to end: `run --console hvc0` adds
// the device, passes console=hvc0 and connects stdin/stdout to it. A command's output and exit
// status are the same as over the UART (ttyS0, run side by side) and as on QEMU's virt board
// with its virtio-serial console (virtconsole, the reference), and the
// interactive shell works over hvc0 in a tmux pane: prompt, a command, Ctrl-C reaching the
// foreground job, the pane's size arriving through VIRTIO_CONSOLE_F_SIZE (also after a resize),
// and poweroff with status 0 and the terminal restored.
// Needs the build, the cached default guest (fetched on first use), Debian's tmux and
// qemu-system-riscv64.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandInitramfs } from '../../src/host/guest-image/command-initramfs.js';
import { ensureDefaultGuest } from '../../src/host/guest-image/default-guest.js';
import { BOOT_TIMEOUT_MS, CLI, count, GUEST_PROMPT, runTypervisor, stripTerminalQueries, TmuxSession, type RunResult } from './guest-harness.js';

const sessions: TmuxSession[] = [];
const work = mkdtempSync(path.join(tmpdir(), 'virtio-console-'));
afterAll(() => {
  for (const s of sessions) s.kill();
  rmSync(work, { recursive: true, force: true });
});

/**
 * The default guest's kernel and initramfs running `argv` on QEMU's virt board with hvc0 on a
 * virtio-serial console (virtconsole; the UART goes to null, the guest prints nothing there):
 * its stdout and exit status (the test finisher's).
 */
async function qemuHvc0(argv: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const guest = await ensureDefaultGuest();
  const initrd = path.join(work, 'initrd.cpio');
  writeFileSync(initrd, Buffer.concat([readFileSync(guest.initramfsPath), commandInitramfs(argv)]));
  const r = spawnSync('qemu-system-riscv64', [
    '-machine', 'virt', '-m', '512M', '-nographic', '-serial', 'null', '-monitor', 'none', '-bios', 'default',
    '-kernel', guest.kernelPath, '-initrd', initrd, '-append', 'console=hvc0 quiet loglevel=0', '-no-reboot',
    '-chardev', 'stdio,id=con', '-device', 'virtio-serial-device', '-device', 'virtconsole,chardev=con',
  ], { encoding: 'latin1', timeout: BOOT_TIMEOUT_MS, input: '' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  await ensureDefaultGuest();
}, 600_000);

const shown = (r: RunResult) => `status ${r.status} after ${(r.ms / 1000).toFixed(1)} s\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;

describe.sequential('virtio-console as the default guest\'s console', () => {
  it('runs a command over hvc0 with the same output and status as over ttyS0, and as QEMU\'s virtconsole', async () => {
    const command = ['--', 'sh', '-c', 'cat /proc/consoles; echo hi; exit 3'];
    const hvc = await runTypervisor(['run', '--console', 'hvc0', ...command]);
    const uart = await runTypervisor(['run', ...command]);
    const qemu = await qemuHvc0(command.slice(1));
    expect([qemu.status, qemu.stdout], qemu.stderr).toEqual([3, hvc.stdout]);
    for (const r of [hvc, uart]) {
      expect(r.status, shown(r)).toBe(3);
      expect(r.stderr, shown(r)).not.toMatch(/error|failed|cannot|hint:/i);
    }
    // /proc/consoles names the kernel's console: the one line that differs.
    const [hvcConsoles, ...hvcRest] = hvc.stdout.split('\n');
    const [uartConsoles, ...uartRest] = uart.stdout.split('\n');
    expect(hvcConsoles, shown(hvc)).toMatch(/^hvc0\s+-W-/);
    expect(uartConsoles, shown(uart)).toMatch(/^ttyS0\s+-W-/);
    expect(hvcRest.join('\n'), shown(hvc)).toBe('hi\n');
    expect(hvcRest).toEqual(uartRest);
  }, 3 * BOOT_TIMEOUT_MS + 10_000);

  it('with --device virtio-console alone, keeps ttyS0 as the console and still prints what goes to hvc0', async () => {
    const r = await runTypervisor(['run', '--device', 'virtio-console', '--', 'sh', '-c', 'echo "device=$(cat /sys/bus/virtio/devices/virtio0/device)"; echo to-hvc0 > /dev/hvc0; head -1 /proc/consoles']);
    expect(r.status, shown(r)).toBe(0);
    expect(r.stdout, shown(r)).toMatch(/^device=0x0003\nto-hvc0\r?\nttyS0\s+-W-/);
  }, BOOT_TIMEOUT_MS + 10_000);

  it('gives an interactive shell over hvc0: a command, Ctrl-C, the terminal size, poweroff', async () => {
    const s = TmuxSession.start('tv-hvc0', (f) => `stty -a > ${f('stty-before')}; ${process.execPath} ${CLI} run --console hvc0; echo TV_EXIT=$?; stty -a > ${f('stty-after')}`);
    sessions.push(s);
    const prompt = (n: number, ms: number) =>
      s.waitFor(`shell prompt #${n}`, ({ history }) => count(history, GUEST_PROMPT.trimEnd()) >= n && history.replace(/\s+$/, '').endsWith(GUEST_PROMPT.trimEnd()), ms);
    let prompts = 1;
    await prompt(prompts, BOOT_TIMEOUT_MS);

    s.typeLine('echo "tty=$(tty)"; cat /proc/consoles');
    await s.waitForText(/^tty=\/dev\/hvc0$/m, 30_000);
    await s.waitForText(/^hvc0\s+-W-/m, 30_000);
    await prompt(++prompts, 30_000);

    // The pane's size (160×50): /init sets it from typervisor.size, and the device announces it
    // in its configuration space (F_SIZE).
    s.typeLine('echo "size=$(stty size)"');
    await s.waitForText(/^size=50 160$/m, 30_000);
    await prompt(++prompts, 30_000);

    // Ctrl-C reaches the guest and interrupts the foreground job: status 130.
    s.typeLine('sleep 100');
    await s.waitForText(/# sleep 100\s*$/, 10_000);
    await new Promise((r) => setTimeout(r, 2000));
    s.keys('C-c');
    await prompt(++prompts, 30_000);
    s.typeLine('echo rc=$?');
    await s.waitForText(/^rc=130$/m, 30_000);
    await prompt(++prompts, 30_000);

    // A resize of the host terminal reaches the guest through a configuration change (§5.3.6.2).
    s.resize(100, 30);
    await new Promise((r) => setTimeout(r, 1000));
    const from = s.screen().history.length;
    s.typeLine('echo "resized=$(stty size)"');
    await s.waitForText(/^resized=30 100$/m, 30_000, Math.max(0, from - 200));
    await prompt(++prompts, 30_000);

    s.typeLine('poweroff');
    const status = await s.waitForText(/^TV_EXIT=(\d+)$/m, 60_000);
    const { history } = s.screen();
    expect(history).toContain('reboot: Power down');
    expect((status as RegExpMatchArray)[1], history.slice(-2000)).toBe('0');
    await s.waitFor('stty -a after the run', () => s.readFile('stty-after'), 10_000);
    // The pane was resized meanwhile: compare everything but the size.
    const settings = (t: string | undefined) => t?.replace(/rows \d+; columns \d+;/, '');
    expect(settings(s.readFile('stty-after'))).toBe(settings(s.readFile('stty-before')));
    s.kill();
  }, BOOT_TIMEOUT_MS + 240_000);
});

