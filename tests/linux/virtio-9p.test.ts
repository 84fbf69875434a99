// virtio-9p in the default Debian guest, end to end: a host folder is shared with `--share`,
// the guest mounts it (`mount -t 9p -o trans=virtio,version=9p2000.L TAG /mnt`), reads files the
// host made (md5sum on both sides), makes, renames, links and removes files; after power-off the
// host sees exactly those changes. Escape attempts from inside the guest (a symlink to / made by
// the guest, host-made symlinks pointing outside the share, ..) must show the guest's own files
// or fail, never the host's. Needs the build and the cached default guest.
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultGuest } from '../../src/host/guest-image/default-guest.js';
import { BOOT_TIMEOUT_MS, runTool, runTypervisor, stripTerminalQueries, type RunResult } from './guest-harness.js';

const top = mkdtempSync(path.join(tmpdir(), 'typervisor-9p-'));
const share = path.join(top, 'share');
const roShare = path.join(top, 'ro-share');
const outside = path.join(top, 'outside');
const secret = path.join(outside, 'secret.txt');
const SECRET = 'HOST-SECRET-4711';

const md5 = (file: string) => runTool('md5sum', [file]).split(' ')[0]!; // Debian's coreutils, not our code
const shown = (r: RunResult) => `status ${r.status} after ${(r.ms / 1000).toFixed(1)} s\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-4000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;
const MOUNT = 'mount -t 9p -o trans=virtio,version=9p2000.L';

beforeAll(async () => {
  await ensureDefaultGuest();
  mkdirSync(share);
  mkdirSync(roShare);
  mkdirSync(outside);
  writeFileSync(secret, `${SECRET}\n`);
  writeFileSync(path.join(share, 'host.bin'), randomBytes(3 << 20)); // 3 MiB
  writeFileSync(path.join(share, 'to-rename.txt'), 'rename me\n');
  writeFileSync(path.join(share, 'to-delete.txt'), 'delete me\n');
  mkdirSync(path.join(share, 'hostdir'));
  writeFileSync(path.join(share, 'hostdir', 'nested.txt'), 'nested on the host\n');
  symlinkSync(secret, path.join(share, 'hostlink')); // absolute, to a host file outside the share
  symlinkSync('../outside/secret.txt', path.join(share, 'hostlink-rel'));
  symlinkSync('/etc/hostname', path.join(share, 'hostlink-etc'));
  writeFileSync(path.join(roShare, 'ro.txt'), 'read only\n');
}, 600_000);

afterAll(() => rmSync(top, { recursive: true, force: true }));

describe('virtio-9p in the default guest', () => {
  it('shares a host folder read-write; the host sees exactly the guest\'s changes; nothing outside leaks', async () => {
    const hostMd5 = md5(path.join(share, 'host.bin'));
    const r = await runTypervisor([
      'run',
      '--share', share,
      '--share', `${roShare},tag=ro,readonly`,
      '--',
      'sh',
      '-c',
      [
        'set -e',
        `${MOUNT} share0 /mnt`,
        'mkdir -p /ro',
        `${MOUNT} ro /ro`,
        'echo "host-md5=$(md5sum /mnt/host.bin | cut -d" " -f1)"',
        'cat /mnt/hostdir/nested.txt',
        'echo "made by the guest" > /mnt/guest.txt',
        'mkdir -p /mnt/gdir/a/b',
        'echo deep > /mnt/gdir/a/b/deep.txt',
        'mv /mnt/to-rename.txt /mnt/gdir/renamed.txt',
        'ln -s guest.txt /mnt/gsym',
        'ln /mnt/guest.txt /mnt/ghard',
        'rm /mnt/to-delete.txt',
        'chmod 600 /mnt/guest.txt',
        'echo "via-gsym=$(cat /mnt/gsym)"',
        'dd if=/dev/urandom of=/tmp/big bs=1M count=6 2>/dev/null',
        'cp /tmp/big /mnt/big.bin',
        'echo "big-md5=$(md5sum /tmp/big | cut -d" " -f1)"',
        'echo "big-md5-share=$(md5sum /mnt/big.bin | cut -d" " -f1)"',
        'echo "--- ls"; ls -l /mnt; echo "--- end"',
        // Escapes: the guest's own symlink to / resolves in the guest; host links to outside the
        // share are resolved by the guest too, where their targets do not exist (or are the guest's).
        'ln -s / /mnt/root',
        'echo "root-hostname=$(cat /mnt/root/etc/hostname)"',
        'echo "hostlink=$(cat /mnt/hostlink 2>&1 || echo failed)"',
        'echo "hostlink-rel=$(cat /mnt/hostlink-rel 2>&1 || echo failed)"',
        'echo "hostlink-etc=$(cat /mnt/hostlink-etc)"',
        'echo "dotdot=$(ls /mnt/.. | tr "\\n" " ")"',
        `echo "outside=$(cat /mnt/../outside/secret.txt 2>&1 || echo failed)"`,
        'echo "ro=$(cat /ro/ro.txt)"',
        'echo x > /ro/new.txt 2>/dev/null && echo ro-write=ok || echo ro-write=refused',
        'rm /ro/ro.txt 2>/dev/null && echo ro-rm=ok || echo ro-rm=refused',
        'umount /ro',
        'umount /mnt',
        'echo done',
      ].join('; '),
    ]);
    const out = stripTerminalQueries(r.stdout);
    expect(r.status, shown(r)).toBe(0);
    expect(out, shown(r)).toContain('done\n');
    // What the guest read matches the host.
    expect(out).toContain(`host-md5=${hostMd5}\n`);
    expect(out).toContain('nested on the host\n');
    expect(out).toContain('via-gsym=made by the guest\n');
    // ls -l through the share: names, the symlink, the mode set by chmod.
    const ls = out.slice(out.indexOf('--- ls'), out.indexOf('--- end'));
    expect(ls).toMatch(/-rw------- +2 .* guest\.txt\n/);
    expect(ls).toMatch(/l[rwx-]{9} .* gsym -> guest\.txt\n/);
    expect(ls).toMatch(/d[rwx-]{9} .* gdir\n/);
    expect(ls).not.toContain('to-delete.txt');
    // The escapes showed the guest's files or failed, never the host's.
    expect(out).not.toContain(SECRET);
    expect(out).toContain('root-hostname=typervisor\n');
    expect(out).toMatch(/hostlink=.*(No such file|failed)/);
    expect(out).toMatch(/hostlink-rel=.*(No such file|failed)/);
    expect(out).toContain('hostlink-etc=typervisor\n');
    expect(out).toMatch(/outside=.*(No such file|failed)/);
    expect(out).toContain('ro=read only\n');
    expect(out).toContain('ro-write=refused\n');
    expect(out).toContain('ro-rm=refused\n');

    // The host sees exactly the guest's changes.
    const guestBig = /big-md5=([0-9a-f]{32})\n/.exec(out)![1];
    expect(md5(path.join(share, 'big.bin'))).toBe(guestBig);
    expect(out).toContain(`big-md5-share=${guestBig}\n`);
    expect(readdirSync(share).sort()).toEqual(['big.bin', 'gdir', 'ghard', 'gsym', 'guest.txt', 'host.bin', 'hostdir', 'hostlink', 'hostlink-etc', 'hostlink-rel', 'root']);
    expect(readFileSync(path.join(share, 'guest.txt'), 'utf8')).toBe('made by the guest\n');
    expect(statSync(path.join(share, 'guest.txt')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(share, 'guest.txt')).ino).toBe(statSync(path.join(share, 'ghard')).ino);
    expect(readFileSync(path.join(share, 'gdir/renamed.txt'), 'utf8')).toBe('rename me\n');
    expect(readFileSync(path.join(share, 'gdir/a/b/deep.txt'), 'utf8')).toBe('deep\n');
    expect(lstatSync(path.join(share, 'gsym')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path.join(share, 'gsym'))).toBe('guest.txt');
    expect(readlinkSync(path.join(share, 'root'))).toBe('/');
    expect(md5(path.join(share, 'host.bin'))).toBe(hostMd5);
    expect(readdirSync(roShare)).toEqual(['ro.txt']);
    expect(readdirSync(outside)).toEqual(['secret.txt']);
    expect(readFileSync(secret, 'utf8')).toBe(`${SECRET}\n`);
    expect(readdirSync(top).sort()).toEqual(['outside', 'ro-share', 'share']);
  }, BOOT_TIMEOUT_MS + 120_000);

  it('copies 64 MiB to and from the share intact (and reports the throughput)', async () => {
    const dir = path.join(top, 'speed');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'in.bin'), randomBytes(64 << 20));
    const inMd5 = createHash('md5').update(readFileSync(path.join(dir, 'in.bin'))).digest('hex');
    const r = await runTypervisor([
      'run',
      '--share', `${dir},tag=speed`,
      '--',
      'sh',
      '-c',
      [
        'set -e',
        `${MOUNT} speed /mnt`,
        'up() { cut -d" " -f1 /proc/uptime; }',
        't0=$(up); cp /mnt/in.bin /tmp/x; t1=$(up); cp /tmp/x /mnt/out.bin; sync; t2=$(up)',
        'echo "times $t0 $t1 $t2"',
        'echo "md5=$(md5sum /tmp/x | cut -d" " -f1)"',
        'umount /mnt',
        // The same with the guest's page cache between cp and the share (msize-sized requests).
        `${MOUNT},cache=loose speed /mnt`,
        'rm /tmp/x; t0=$(up); cp /mnt/in.bin /tmp/x; t1=$(up); cp /tmp/x /mnt/out2.bin; sync; t2=$(up)',
        'echo "loose $t0 $t1 $t2"',
        'echo "md5-loose=$(md5sum /tmp/x | cut -d" " -f1)"',
        'umount /mnt',
      ].join('; '),
    ], { timeoutMs: BOOT_TIMEOUT_MS + 300_000 });
    const out = stripTerminalQueries(r.stdout);
    expect(r.status, shown(r)).toBe(0);
    expect(out).toContain(`md5=${inMd5}\n`);
    expect(md5(path.join(dir, 'out.bin'))).toBe(inMd5);
    expect(out).toContain(`md5-loose=${inMd5}\n`);
    expect(md5(path.join(dir, 'out2.bin'))).toBe(inMd5);
    for (const [label, key] of [['cache=none', 'times'], ['cache=loose', 'loose']] as const) {
      const [t0, t1, t2] = new RegExp(`${key} (\\S+) (\\S+) (\\S+)`).exec(out)!.slice(1).map(Number) as [number, number, number];
      console.log(`virtio-9p ${label}: 64 MiB from the share in ${(t1 - t0).toFixed(1)} s (${(64 / (t1 - t0)).toFixed(1)} MiB/s), to the share in ${(t2 - t1).toFixed(1)} s (${(64 / (t2 - t1)).toFixed(1)} MiB/s), guest clock`);
    }
  }, BOOT_TIMEOUT_MS + 360_000);

  it('refuses a missing folder, a file, a bad tag and an unknown option before booting', async () => {
    const missing = await runTypervisor(['run', '--share', path.join(top, 'nope'), '--', 'true']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/--share .*nope: no such directory\nhint: give an existing host directory/);
    const file = await runTypervisor(['run', '--share', secret, '--', 'true']);
    expect(file.stderr).toMatch(/secret\.txt: not a directory/);
    const tag = await runTypervisor(['run', '--share', `${share},tag=a b`, '--', 'true']);
    expect(tag.stderr).toMatch(/mount tag 'a b' is not/);
    const option = await runTypervisor(['run', '--share', `${share},cache=loose`, '--', 'true']);
    expect(option.stderr).toMatch(/unknown option 'cache=loose'\nhint: use --share HOSTDIR\[,tag=TAG\]\[,readonly\]/);
    const dup = await runTypervisor(['run', '--share', share, '--share', `${roShare},tag=share0`, '--', 'true']);
    expect(dup.stderr).toMatch(/tag 'share0' is already used/);
  }, 60_000);
});
