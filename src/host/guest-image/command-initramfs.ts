import { writeCpioNewc } from '../../core/cpio-newc.js';
import { TypervisorError } from '../../core/errors.js';
import { shellQuote } from './shell-quote.js';

/** Where the default guest's /init looks for the command to run instead of a shell. */
export const GUEST_COMMAND_PATH = '/typervisor/command';

/**
 * The script /init runs for `typervisor run -- ARGV…`: `exec` of argv with every word single-quoted,
 * so spaces, quotes, `$`, backslashes and newlines reach the program exactly as given. The first
 * word is looked up in PATH like any shell command.
 */
export function commandScript(argv: readonly string[]): string {
  if (argv.length === 0) throw new TypervisorError('no command given to run in the guest');
  return `#!/bin/sh\nexec ${argv.map(shellQuote).join(' ')}\n`;
}

/**
 * A small cpio "newc" archive holding /typervisor/command for `argv`, to concatenate after the
 * base initramfs (Linux unpacks every archive of a concatenated initrd, later ones on top). Its
 * length is a multiple of 4, as the kernel needs for whatever follows it.
 */
export function commandInitramfs(argv: readonly string[], options: { mtime?: number } = {}): Uint8Array {
  const mtime = options.mtime ?? 0;
  return writeCpioNewc([
    { type: 'directory', name: 'typervisor', mode: 0o755, mtime },
    { type: 'file', name: GUEST_COMMAND_PATH.slice(1), data: new TextEncoder().encode(commandScript(argv)), mode: 0o755, mtime },
  ]);
}
