// `typervisor run -i -- CMD`: the host's standard input reaches the command through a
// virtio-console port that is not a tty (no echo, bytes unchanged) and ends in EOF, so
// `… | typervisor run -i -- wc -l` works like `docker run -i`. Needs the build and the cached
// default guest.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BOOT_TIMEOUT_MS, runTypervisor, stripTerminalQueries, type RunResult } from './guest-harness.js';

const shown = (r: RunResult) => `status ${r.status}\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-2000)}\n--- stderr ---\n${r.stderr.slice(-2000)}`;

describe('run -i: standard input for the command', () => {
  it('counts the lines piped in, and the command ends at EOF', async () => {
    const r = await runTypervisor(['run', '-i', '--', 'sh', '-c', 'wc -l; echo "after-eof"'], { input: new TextEncoder().encode('one\ntwo\nthree\n') });
    expect(r.status, shown(r)).toBe(0);
    expect(stripTerminalQueries(r.stdout), shown(r)).toMatch(/^3\nafter-eof\n$/);
  }, BOOT_TIMEOUT_MS);

  it('carries 3 MiB of random bytes unchanged (md5 inside the guest equals ours; the host pauses its reads meanwhile)', async () => {
    const data = randomBytes(3 << 20);
    const r = await runTypervisor(['run', '-i', '--', 'md5sum'], { input: data });
    expect(r.status, shown(r)).toBe(0);
    expect(stripTerminalQueries(r.stdout), shown(r)).toBe(`${createHash('md5').update(data).digest('hex')}  -\n`);
  }, BOOT_TIMEOUT_MS);

  it('empty input is EOF at once', async () => {
    const r = await runTypervisor(['run', '-i', '--', 'sh', '-c', 'n=$(cat | wc -c); echo "bytes=$n"'], { input: new Uint8Array(0) });
    expect(r.status, shown(r)).toBe(0);
    expect(stripTerminalQueries(r.stdout), shown(r)).toBe('bytes=0\n');
  }, BOOT_TIMEOUT_MS);

  it('refuses -i without a command, and with a custom kernel', async () => {
    const none = await runTypervisor(['run', '-i']);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('-i gives standard input to a command, and none was given');
    const kernel = await runTypervisor(['run', '-i', '--kernel', '/nonexistent', '--', 'true']);
    expect(kernel.status).toBe(1);
    expect(kernel.stderr).toContain('-i works with the default guest only');
  });
});
