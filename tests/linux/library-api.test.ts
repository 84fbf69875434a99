// The typed library API as the README shows it: a VM from a configuration object, its console
// streamed both ways, its exit awaited, and stopped from the host. Boots the real Debian guest.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { defaultGuestConfig } from '../../src/host/index.js';

const BOOT_MS = 180_000;

/** Resolves when `text` has appeared in what `read()` returns, or rejects with the output so far. */
function waitFor(read: () => string, text: string | RegExp, ms = BOOT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      const out = read();
      if (typeof text === 'string' ? out.includes(text) : text.test(out)) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > ms) {
        clearInterval(poll);
        reject(new Error(`timed out waiting for ${String(text)}; console so far:\n${out.slice(-2000)}`));
      }
    }, 50);
  });
}

/** Starts the default guest as the README does; `output()` is its console so far. */
async function start(command?: string[]) {
  const config = await defaultGuestConfig({ memBytes: 256 << 20, ...(command ? { command } : {}) });
  let out = '';
  const decoder = new TextDecoder('latin1');
  const machine = await Machine.create(config, { console: (bytes) => (out += decoder.decode(bytes)) });
  machine.start();
  return { machine, output: () => out };
}

describe('the library API with the default guest', () => {
  it('passes the host terminal size on the kernel command line, for /init to set', async () => {
    expect((await defaultGuestConfig({ terminalSize: { columns: 150, rows: 44 } })).append).toBe('console=ttyS0 typervisor.size=150x44');
    expect((await defaultGuestConfig({ terminalSize: { columns: 0, rows: 44 } })).append).toBe('console=ttyS0');
    expect((await defaultGuestConfig({ append: 'console=ttyS0 loglevel=7', terminalSize: { columns: 80, rows: 24 } })).append).toBe('console=ttyS0 loglevel=7');
  });

  it('runs one command and reports its exit status', async () => {
    const { machine, output } = await start(['sh', '-c', 'echo from-the-api; exit 5']);
    expect(await machine.exited).toEqual({ reason: 'finisher', code: 5 });
    expect(output()).toBe('from-the-api\n');
  }, BOOT_MS);

  it('streams the console both ways, then the guest powers off', async () => {
    const { machine, output } = await start();
    await waitFor(output, '# ');
    machine.consoleInput(new TextEncoder().encode('echo answer=$((6 * 7))\n'));
    await waitFor(output, 'answer=42');
    machine.consoleInput(new TextEncoder().encode('poweroff\n'));
    expect(await machine.exited).toEqual({ reason: 'finisher', code: 0 });
  }, BOOT_MS);

  it('stops from the host side with quit()', async () => {
    const { machine, output } = await start();
    await waitFor(output, 'Run /init');
    machine.quit(9);
    expect(await machine.exited).toEqual({ reason: 'quit', code: 9 });
  }, BOOT_MS);
});
