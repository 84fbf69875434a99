import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../core/errors.js';
import { closeDisks, openDisks, parseDiskSpec } from './disk-image.js';

const thrown = (f: () => unknown): TypervisorError => {
  try {
    f();
  } catch (e) {
    if (e instanceof TypervisorError) return e;
    throw e;
  }
  throw new Error('did not throw');
};

describe('--disk PATH[,format=…][,readonly][,serial=…]', () => {
  it('parses the path and the options, with ",," for a comma', () => {
    expect(parseDiskSpec('a.qcow2')).toEqual({ path: 'a.qcow2', readOnly: false });
    expect(parseDiskSpec('a.img,format=raw,readonly,serial=abc')).toEqual({ path: 'a.img', format: 'raw', readOnly: true, serial: 'abc' });
    expect(parseDiskSpec('x,,y.qcow2,ro=on,format=qcow2')).toEqual({ path: 'x,y.qcow2', format: 'qcow2', readOnly: true });
    expect(parseDiskSpec('a,readonly=off').readOnly).toBe(false);
  });

  it('refuses an unknown format, an unknown option, a long serial and no path, with hints', () => {
    const f = thrown(() => parseDiskSpec('a,format=qed'));
    expect([f.message, f.hint]).toEqual(["--disk a: unknown format 'qed'", 'formats: qcow2, raw, vpc, vmdk, vdi; leave format= out to detect it (other formats: qemu-img convert -O qcow2)']);
    const o = thrown(() => parseDiskSpec('a,cache=none'));
    expect(o.message).toBe("--disk a: unknown option 'cache=none'");
    expect(o.hint).toMatch(/^use --disk PATH\[,format=qcow2\|raw\|vpc\|vmdk\|vdi\]\[,readonly\]/);
    expect(thrown(() => parseDiskSpec('a,readonly=maybe')).message).toBe("--disk a: unknown option 'readonly=maybe'");
    expect(thrown(() => parseDiskSpec('a,serial=' + 'x'.repeat(21))).message).toMatch(/longer than 20 bytes/);
    expect(thrown(() => parseDiskSpec(',readonly')).message).toBe("--disk ',readonly' names no file");
  });

  it('opens images (format probed), reports a missing one precisely, and closes what it opened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'typervisor-disk-'));
    writeFileSync(join(dir, 'a.img'), new Uint8Array(8192).fill(7));
    const disks = await openDisks([parseDiskSpec(join(dir, 'a.img')), parseDiskSpec(`${join(dir, 'a.img')},readonly`)]);
    expect(disks.map((d) => [d.backend.capacity, d.backend.readOnly, d.readOnly])).toEqual([[8192, false, false], [8192, true, true]]);
    await closeDisks(disks);
    await expect(disks[0]!.backend.read(0, new Uint8Array(1))).rejects.toThrow(TypervisorError);
    const missing = join(dir, 'missing.qcow2');
    const refused = (disks: Promise<unknown>) => disks.then(() => { throw new Error('expected a refusal'); }, (x: unknown) => x as TypervisorError);
    const e = await refused(openDisks([parseDiskSpec(missing)]));
    expect(e.message).toBe(`--disk ${missing}: cannot open: no such file`);
    expect(e.hint).toBe('check the path, or create an image first: qemu-img create -f qcow2 disk.qcow2 1G');
    const bad = await refused(openDisks([parseDiskSpec(`${join(dir, 'a.img')},format=qcow2`)]));
    expect(bad.message).toMatch(/^--disk .*a\.img: not a valid qcow2 image/);
  });
});
