// The default guest's initramfs booted by the reference machine, QEMU's virt board (Debian
// package qemu-system-misc with its OpenSBI): a command's output and exit status come out
// through the console and the test finisher, and the interactive shell has job control and
// powers off. This checks the initramfs, not typervisor's board.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandInitramfs } from '../../src/host/guest-image/command-initramfs.js';
import { ensureDefaultGuest, type DefaultGuest } from '../../src/host/guest-image/default-guest.js';

const work = mkdtempSync(path.join(tmpdir(), 'initramfs-qemu-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let guest: DefaultGuest;
beforeAll(async () => {
  guest = await ensureDefaultGuest();
});

interface Boot {
  output: () => string;
  write: (text: string) => void;
  waitFor: (pattern: RegExp | string, ms?: number) => Promise<void>;
  exited: Promise<number | null>;
}

function boot(initrd: Uint8Array, append: string, devices: string[] = []): Boot {
  const file = path.join(work, `initrd-${Math.random().toString(36).slice(2)}.cpio`);
  writeFileSync(file, initrd);
  const qemu = spawn('qemu-system-riscv64', ['-machine', 'virt', '-m', '512M', '-nographic', '-bios', 'default', '-kernel', guest.kernelPath, '-initrd', file, '-append', append, '-no-reboot', ...devices], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: (() => void)[] = [];
  qemu.stdout.on('data', (b: Buffer) => {
    out += b.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  qemu.stderr.on('data', (b: Buffer) => (out += b.toString('latin1')));
  const timer = setTimeout(() => qemu.kill('SIGKILL'), 90_000);
  const exited = new Promise<number | null>((resolve, reject) => {
    qemu.on('error', (e) => reject(new Error(`cannot start qemu-system-riscv64 (apt-get install qemu-system-misc): ${e.message}`)));
    qemu.on('close', (code) => {
      clearTimeout(timer);
      for (const w of waiters.splice(0)) w();
      resolve(code);
    });
  });
  const waitFor = (pattern: RegExp | string, ms = 60_000) =>
    new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; console so far:\n${out.slice(-2000)}`)), ms);
      const check = () => {
        if (typeof pattern === 'string' ? out.includes(pattern) : pattern.test(out)) {
          clearTimeout(deadline);
          resolve();
        } else if (qemu.exitCode !== null) {
          clearTimeout(deadline);
          reject(new Error(`QEMU exited before ${pattern}; console:\n${out.slice(-2000)}`));
        } else waiters.push(check);
      };
      check();
    });
  return { output: () => out, write: (t) => qemu.stdin.write(t), waitFor, exited };
}

const withCommand = (argv: string[]) => {
  const base = new Uint8Array(readFileSync(guest.initramfsPath));
  const cmd = commandInitramfs(argv);
  const both = new Uint8Array(base.length + cmd.length);
  both.set(base);
  both.set(cmd, base.length);
  return both;
};

describe('the default initramfs under QEMU', () => {
  it("runs a command: its bytes unchanged on the console, its status as QEMU's", async () => {
    const vm = boot(withCommand(['sh', '-c', 'printf "out\\nput\\n"; echo "$(hostname) $(lsmod | wc -l) $(tty)"; exit 7']), 'console=ttyS0 quiet loglevel=0');
    expect(await vm.exited).toBe(7);
    // After OpenSBI's banner (its lines end in \r\n), exactly the command's bytes: no \r added (stty -onlcr).
    expect(vm.output()).toMatch(/\r\nout\nput\ntypervisor (\d+) \/dev\/ttyS0\n$/);
    const modules = Number(/typervisor (\d+) /.exec(vm.output())![1]) - 1; // lsmod's header line
    expect(modules).toBe(1); // no virtio devices: only the virtio-mmio bus driver
  });

  it('loads the drivers of the virtio devices the board has, with their dependencies', async () => {
    const disk = path.join(work, 'disk.raw');
    writeFileSync(disk, new Uint8Array(1 << 20));
    const vm = boot(withCommand(['sh', '-c', 'lsmod | cut -d" " -f1 | sort | tr "\\n" " "']), 'console=ttyS0 quiet loglevel=0', [
      '-device', 'virtio-rng-device',
      '-drive', `if=none,id=d0,format=raw,file=${disk}`, '-device', 'virtio-blk-device,drive=d0',
    ]);
    expect(await vm.exited).toBe(0);
    const loaded = vm.output().slice(vm.output().lastIndexOf('\n') + 1).trim().split(' ');
    expect(loaded).toEqual(['Module', 'crc16', 'crc32c_generic', 'ext4', 'jbd2', 'libcrc32c', 'mbcache', 'virtio_blk', 'virtio_mmio', 'virtio_rng'].sort());
  });

  it('exits 0 through the finisher for a successful command', async () => {
    const vm = boot(withCommand(['true']), 'console=ttyS0 quiet loglevel=0');
    expect(await vm.exited).toBe(0);
  });

  it('gives a root shell with job control on the console; poweroff ends the machine', async () => {
    const vm = boot(new Uint8Array(readFileSync(guest.initramfsPath)), 'console=ttyS0 quiet');
    await vm.waitFor('root@typervisor:~# ');
    vm.write('echo $((6*7)) $(tty)\n');
    await vm.waitFor('42 /dev/ttyS0');
    vm.write('sleep 1000\n');
    await new Promise((r) => setTimeout(r, 500));
    vm.write('\x03'); // Ctrl-C reaches the foreground job only if the console is the controlling terminal
    vm.write('echo status=$?\n');
    await vm.waitFor('status=130');
    vm.write('poweroff\n');
    expect(await vm.exited).toBe(0);
    expect(vm.output()).toContain('reboot: Power down');
  });
});
