// openNetworks, the library's --net: two VMs in ONE Node process on one switch (the issue's
// "whether they run in one typervisor process or several"; tests/linux/net-switch.test.ts covers
// several processes) through the built package as a user imports it, plus the errors a
// program gets for a bad spec. Needs the build and the cached default guest.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { openNetworks } from '../../src/host/index.js';
import { BOOT_TIMEOUT_MS } from './guest-harness.js';

const dir = mkdtempSync(path.join(tmpdir(), 'libnet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openNetworks (the library API of --net)', () => {
  it('refuses bad specs and duplicate MACs with the --net wording, opening nothing', async () => {
    await expect(openNetworks(['bogus:x'])).rejects.toThrow(/unknown network backend 'bogus'/);
    await expect(openNetworks(['switch:a,mac=52:54:00:00:00:01', 'switch:b,mac=52:54:00:00:00:01'])).rejects.toThrow(TypervisorError);
    await expect(openNetworks([`socket:${path.join(dir, 'nobody-listens.sock')}`])).rejects.toThrow(TypervisorError);
  });

  it('two Machines in one process exchange traffic over switch:NAME', async () => {
    const fixture = path.join(import.meta.dirname, '..', 'fixtures', 'two-vms-one-switch.mjs');
    const child = spawn(process.execPath, [fixture, 'lib-one-process'], {
      env: { ...process.env, TYPERVISOR_RUNTIME_DIR: path.join(dir, 'run'), TYPERVISOR_SWITCH_GRACE_MS: '1000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const shown = `exit ${code}\n--- stdout ---\n${stdout.slice(-3000)}\n--- stderr ---\n${stderr.slice(-2000)}`;
    expect(code, shown).toBe(0);
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as Record<'a' | 'b', { exit: { code: number }; out: string }>;
    expect(result.a.exit.code, shown).toBe(0);
    expect(result.a.out, shown).toContain('a-done');
    expect(result.b.exit.code, shown).toBe(0);
    expect(result.b.out, shown).toContain('pings=2');
    expect(result.b.out, shown).toContain('got=hello-from-a');
    expect(result.b.out, shown).toContain('peer-mac=52:54:00:00:09:0a');
  }, 2 * BOOT_TIMEOUT_MS);
});
