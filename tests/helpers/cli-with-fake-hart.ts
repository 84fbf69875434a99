// The CLI's main() in process, with captured streams and a FakeHart instead of the real core:
// for tests of the command line and of how devices are wired, without booting anything.
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { RunExit } from '../../src/cpu/hart-api.js';
import type { MachineOptions } from '../../src/vmm/machine.js';
import { FakeHart } from './fake-hart.js';

/** Runs `typervisor ARGV…`; the hart runs `script`; `stdinText` arrives on stdin shortly after the start. */
export async function runCliWithFakeHart(
  argv: string[],
  script: (h: FakeHart) => RunExit = () => RunExit.Budget,
  stdinText?: string,
): Promise<{ status: number; stdout: string; stderr: string }> {
  const stdin = new PassThrough();
  const chunks: Uint8Array[] = [];
  const stdout = { write: (b: Uint8Array | string, cb?: () => void) => (chunks.push(typeof b === 'string' ? Buffer.from(b) : b), cb?.(), true) };
  let stderr = '';
  const options: MachineOptions = { createHart: async (o) => new FakeHart(o, script) };
  if (stdinText !== undefined) setTimeout(() => stdin.write(stdinText), 5);
  const status = await main(argv, { stdin, stdout, stderr: { write: (t: string) => (stderr += t) } }, options);
  return { status, stdout: Buffer.concat(chunks).toString(), stderr };
}
