// `typervisor img …` run in-process through the CLI's main(), with its exit status and output,
// for the storage tests that compare our img subcommands with qemu-img's.
import { main } from '../../src/cli/main.js';

export interface ImgResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `typervisor img ARGV…` and collects what it prints. */
export async function img(...argv: string[]): Promise<ImgResult> {
  const chunks: Uint8Array[] = [];
  const stdout = { write: (b: Uint8Array, cb?: () => void) => (chunks.push(b), cb?.(), true) };
  let stderr = '';
  const status = await main(['img', ...argv], { stdin: process.stdin, stdout, stderr: { write: (t: string) => (stderr += t) } } as never);
  return { status, stdout: Buffer.concat(chunks).toString(), stderr };
}
