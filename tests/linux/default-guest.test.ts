// The default Debian guest booted by the CLI, end to end: a command's output and exit status,
// what the guest sees of the board (CPU, device tree, RTC), the same guest through Debian's
// OpenSBI, the interactive console driven through tmux (job control, reboot, power-off, Ctrl-A x
// and the terminal restored), errors for bad input, and the generated device tree read back by
// dtc. Each boot takes ~15–20 s on an idle 2-core machine (more when it is shared), so the tests
// run one after the other with generous timeouts (TYPERVISOR_BOOT_TIMEOUT_MS per boot).
// Needs the build, the cached default guest (fetched on first use), and Debian's tmux, opensbi
// and device-tree-compiler.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultGuest } from '../../src/host/guest-image/default-guest.js';
import {
  BOOT_TIMEOUT_MS,
  CLI,
  count,
  GUEST_PROMPT,
  OPENSBI_DIR,
  runTool,
  runTypervisor,
  stripTerminalQueries,
  TmuxSession,
  type RunResult,
} from './guest-harness.js';

const work = mkdtempSync(path.join(tmpdir(), 'linux-guest-'));
const sessions: TmuxSession[] = [];
afterAll(() => {
  for (const s of sessions) s.kill();
  rmSync(work, { recursive: true, force: true });
});

beforeAll(async () => {
  await ensureDefaultGuest(); // fetched once (network) so no test's deadline includes the download
}, 600_000);

/** The result's stderr must hold no error from typervisor (progress lines are fine). */
function expectNoError(r: RunResult): void {
  expect(r.stderr).not.toMatch(/typervisor: .*(error|failed|cannot)|hint:|internal/i);
}

/** A failure message with the run's output, for expect(…, message). */
const shown = (r: RunResult) => `status ${r.status} after ${(r.ms / 1000).toFixed(1)} s\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;

describe.sequential('the default guest, one command', () => {
  it('prints exactly what the command prints and exits with its status', async () => {
    const r = await runTypervisor(['run', '--', 'sh', '-c', 'echo hi; exit 3']);
    expect(r.stdout, shown(r)).toBe('hi\n');
    expect(r.status, shown(r)).toBe(3);
    expectNoError(r);
  }, BOOT_TIMEOUT_MS + 10_000);

  it('sees a riscv64 CPU with our ISA string, our device tree and the host wall clock', async () => {
    const before = new Date();
    const r = await runTypervisor([
      'run', '--', 'sh', '-c',
      'cat /proc/cpuinfo; echo "machine=$(uname -m)"; echo "model=$(cat /sys/firmware/devicetree/base/model)"; echo "year=$(date +%Y) epoch=$(date +%s)"',
    ]);
    const after = new Date();
    expect(r.status, shown(r)).toBe(0);
    expectNoError(r);
    const out = r.stdout;
    expect(out, shown(r)).toMatch(/^machine=riscv64$/m);
    // The kernel's view of riscv,isa-extensions (arch/riscv/kernel/cpu.c prints it as "isa").
    const isa = out.match(/^isa\s*:\s*(\S+)$/m)?.[1];
    expect(isa, shown(r)).toMatch(/^rv64imafdc_/);
    for (const ext of ['zicsr', 'zifencei', 'zba', 'zbb', 'zbs', 'sstc']) expect(isa!.split('_')).toContain(ext);
    expect(out).toMatch(/^mmu\s*:\s*sv(39|48|57)$/m);
    expect(out).toMatch(/^processor\s*:\s*0$/m);
    // /sys/firmware/devicetree/base/model holds the property with its NUL.
    expect(out).toMatch(/^model=riscv-virtio,typervisor\0?$/m);
    // The goldfish RTC gives the guest the host's wall clock at boot.
    const year = Number(out.match(/year=(\d+)/)?.[1]);
    expect([before.getUTCFullYear(), after.getUTCFullYear()], shown(r)).toContain(year);
    const epoch = Number(out.match(/epoch=(\d+)/)?.[1]);
    expect(epoch).toBeGreaterThanOrEqual(Math.floor(before.getTime() / 1000) - 120);
    expect(epoch).toBeLessThanOrEqual(Math.ceil(after.getTime() / 1000) + 120);
  }, BOOT_TIMEOUT_MS + 10_000);
});

describe.sequential('the default guest through Debian\'s OpenSBI', () => {
  for (const firmware of ['fw_dynamic.bin', 'fw_jump.bin']) {
    it(`boots with --bios ${firmware}`, async () => {
      const r = await runTypervisor(['run', '--bios', path.join(OPENSBI_DIR, firmware), '--', 'sh', '-c', 'echo via-opensbi']);
      expect(r.status, shown(r)).toBe(0);
      expect(r.stdout, shown(r)).toContain('OpenSBI v');
      expect(r.stdout).toMatch(/Platform Name\s*: riscv-virtio,typervisor/);
      expect(r.stdout).toMatch(/^via-opensbi$/m);
      expect(r.stdout.trimEnd().endsWith('via-opensbi')).toBe(true); // nothing after the command
      expectNoError(r);
    }, BOOT_TIMEOUT_MS + 10_000);
  }
});

describe.sequential('the interactive console through tmux', () => {
  /**
   * `typervisor run` in a 160×50 tmux session, with `stty -a` taken before and after (in the
   * session's scratch folder) and the exit status printed as TV_EXIT=….
   */
  function startConsole(name: string): TmuxSession {
    const s = TmuxSession.start(name, (f) => `stty -a > ${f('stty-before')}; ${process.execPath} ${CLI} run; echo TV_EXIT=$?; stty -a > ${f('stty-after')}`);
    sessions.push(s);
    return s;
  }

  /** Waits for the n-th shell prompt at the end of the screen and returns the history length then. */
  async function prompt(s: TmuxSession, n: number, timeoutMs: number): Promise<number> {
    return s.waitFor(`shell prompt #${n}`, ({ history }) => {
      const text = history.replace(/\s+$/, '');
      return count(history, GUEST_PROMPT.trimEnd()) >= n && text.endsWith(GUEST_PROMPT.trimEnd()) ? history.length : 0;
    }, timeoutMs);
  }

  it('runs a shell with job control, reboots, and powers off with status 0 leaving the terminal as it was', async () => {
    const s = startConsole('tv-console');
    await s.waitForText('Run /init', BOOT_TIMEOUT_MS);
    let prompts = 1;
    await prompt(s, prompts, BOOT_TIMEOUT_MS);

    s.typeLine('uname -a');
    await s.waitForText(/Linux typervisor \S+ .*riscv64/, 30_000);
    await prompt(s, ++prompts, 30_000);

    // Ctrl-C reaches the guest (raw mode), which interrupts the foreground job: status 130.
    s.typeLine('sleep 100');
    await s.waitForText(/# sleep 100\s*$/, 10_000);
    await new Promise((r) => setTimeout(r, 2000)); // let the shell start it
    s.keys('C-c');
    await prompt(s, ++prompts, 30_000);
    s.typeLine('echo rc=$?');
    await s.waitForText(/^rc=130$/m, 30_000);
    await prompt(s, ++prompts, 30_000);

    // Ctrl-Z stops it, fg resumes it, Ctrl-C ends it: the shell has a controlling terminal.
    s.typeLine('sleep 100');
    await s.waitForText(/# sleep 100\s*$/, 10_000);
    await new Promise((r) => setTimeout(r, 2000));
    s.keys('C-z');
    await s.waitForText(/\[1\]\+\s+Stopped\s+sleep 100/, 30_000);
    await prompt(s, ++prompts, 30_000);
    s.typeLine('fg');
    await s.waitForText(/# fg\s/, 30_000);
    await new Promise((r) => setTimeout(r, 2000));
    s.keys('C-c');
    await prompt(s, ++prompts, 30_000);
    s.typeLine('echo rc2=$?');
    await s.waitForText(/^rc2=130$/m, 30_000);
    await prompt(s, ++prompts, 30_000);

    // reboot: the board is rebuilt and the guest boots a second time, on the same terminal.
    s.typeLine('reboot');
    await s.waitFor('a second boot ("Run /init" twice)', ({ history }) => count(history, 'Run /init') >= 2, BOOT_TIMEOUT_MS);
    await prompt(s, ++prompts, BOOT_TIMEOUT_MS);
    expect(s.exited()).toBe(false);

    s.typeLine('poweroff');
    const status = await s.waitForText(/^TV_EXIT=(\d+)$/m, 60_000);
    const { history } = s.screen();
    expect(history).toContain('reboot: Power down');
    expect((status as RegExpMatchArray)[1], history.slice(-2000)).toBe('0');
    await s.waitFor('stty -a after the run', () => s.readFile('stty-after'), 10_000);
    expect(s.readFile('stty-after')).toBe(s.readFile('stty-before'));
    expect(s.readFile('stty-before')).toMatch(/rows 50; columns 160/);
    s.kill();
  }, 3 * BOOT_TIMEOUT_MS + 120_000);

  it('quits on Ctrl-A x with status 0 and restores the terminal', async () => {
    const s = startConsole('tv-quit');
    // The console is in raw mode from the moment the machine exists, so mid-boot is fine.
    await s.waitForText(/Linux version \S+/, BOOT_TIMEOUT_MS);
    s.keys('C-a', 'x');
    const status = await s.waitForText(/^TV_EXIT=(\d+)$/m, 30_000);
    const { history } = s.screen();
    expect(history).toMatch(/^typervisor: terminated$/m);
    expect((status as RegExpMatchArray)[1], history.slice(-2000)).toBe('0');
    await s.waitFor('stty -a after the run', () => s.readFile('stty-after'), 10_000);
    expect(s.readFile('stty-after')).toBe(s.readFile('stty-before'));
    expect(s.readFile('stty-before')).toMatch(/rows 50; columns 160/); // a real snapshot of the pane
    s.kill();
  }, BOOT_TIMEOUT_MS + 60_000);
});

describe('bad input', () => {
  it('refuses a file that is not a kernel, with a hint', async () => {
    const r = await runTypervisor(['run', '--kernel', '/etc/passwd'], { timeoutMs: 60_000 });
    expect(r.status, shown(r)).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^typervisor: \/etc\/passwd: not a kernel\b.*$/m);
    expect(r.stderr).toMatch(/^hint: .*Image.*$/m);
  });

  it('refuses more RAM than wasm32 can hold', async () => {
    const r = await runTypervisor(['run', '--mem', '5G'], { timeoutMs: 60_000 });
    expect(r.status, shown(r)).toBe(1);
    expect(r.stderr).toMatch(/^typervisor: RAM size 5 GiB is above the maximum of 3\.5 GiB: .*wasm32.*$/m);
    expect(r.stderr).toMatch(/^hint: use --mem 3584M or less$/m);
  });

  it('names a missing --initrd precisely', async () => {
    const missing = path.join(work, 'no-such-initrd.cpio');
    const r = await runTypervisor(['run', '--initrd', missing], { timeoutMs: 60_000 });
    expect(r.status, shown(r)).toBe(1);
    expect(r.stderr).toContain(`typervisor: cannot read initrd '${missing}': no such file\n`);
    expect(r.stderr).toMatch(/^hint: check the path given to --initrd$/m);
  });
});

describe('typervisor dtb', () => {
  it('writes the device tree the guest gets, which dtc reads back', async () => {
    const file = path.join(work, 'virt.dtb');
    const r = await runTypervisor(['dtb', '-o', file], { timeoutMs: 60_000 });
    expect(r.status, shown(r)).toBe(0);
    expect(r.stdout).toBe('');
    const dts = runTool('dtc', ['-q', '-I', 'dtb', '-O', 'dts', file]);
    expect(dts).toContain('model = "riscv-virtio,typervisor";');
    expect(dts).toMatch(/riscv,isa-extensions = "i\\0m\\0a\\0f\\0d\\0c\\0[^"]*zicsr\\0zifencei[^"]*";/);
    expect(dts).toMatch(/riscv,isa = "rv64imafdc_[^"]*";/);
    expect(dts).toMatch(/plic@c000000 \{[^}]*compatible = "sifive,plic-1\.0\.0\\0riscv,plic0";/);
    expect(dts).toMatch(/serial@10000000 \{[^}]*compatible = "ns16550a";/);
    expect(dts).toMatch(/rtc@101000 \{[^}]*compatible = "google,goldfish-rtc";/);
    expect(dts).toMatch(/poweroff \{[^}]*value = <0x5555>;[^}]*compatible = "syscon-poweroff";/);
    expect(dts).toMatch(/reboot \{[^}]*value = <0x7777>;[^}]*compatible = "syscon-reboot";/);
    expect(dts).toMatch(/memory@80000000 \{[^}]*reg = <0x00 0x80000000 0x00 0x20000000>;/);
    expect(dts).toMatch(/bootargs = "console=ttyS0";/);
    expect(dts).toMatch(/linux,initrd-start = /);
  });

  it('puts --append into /chosen/bootargs', async () => {
    const file = path.join(work, 'append.dtb');
    const r = await runTypervisor(['dtb', '--append', 'x y', '-o', file], { timeoutMs: 60_000 });
    expect(r.status, shown(r)).toBe(0);
    expect(runTool('dtc', ['-q', '-I', 'dtb', '-O', 'dts', file])).toMatch(/chosen \{[^}]*bootargs = "x y";/);
  });
});
