import { spawn } from 'node:child_process';
import { TypervisorError } from '../../core/errors.js';

/** What a finished command left behind. `status` is null when a signal ended it. */
export interface CommandResult {
  status: number | null;
  signal: string | null;
  stdout: Uint8Array;
  stderr: string;
}

/**
 * Runs a host program to completion without a shell. Rejects only when the program could not be
 * started at all (a TypervisorError naming the Debian package for a missing tool); a non-zero
 * exit is a result, for the caller to judge. Tests substitute their own runner to see or forbid
 * what would run.
 */
export type CommandRunner = (command: string, args: readonly string[], options?: { cwd?: string; env?: Record<string, string | undefined> }) => Promise<CommandResult>;

/** The Debian package that provides each host tool the guest-image code runs. */
const TOOL_PACKAGES: Record<string, string> = {
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-deb': 'dpkg',
  xz: 'xz-utils',
};

/** The default CommandRunner: node:child_process.spawn, output collected in memory. */
export const runCommand: CommandRunner = (command, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        const pkg = TOOL_PACKAGES[command];
        reject(new TypervisorError(`'${command}' is not installed (or not on PATH)`, {
          hint: pkg
            ? `typervisor uses it to fetch its default guest from Debian: install it (apt-get install ${pkg}), or pass your own kernel and initramfs`
            : `install ${command}`,
          cause: error,
        }));
      } else {
        reject(new TypervisorError(`cannot run '${command}': ${error.message}`, { cause: error }));
      }
    });
    child.on('close', (status, signal) => {
      const stdout = Buffer.concat(out);
      resolve({ status, signal, stdout: new Uint8Array(stdout.buffer, stdout.byteOffset, stdout.length), stderr: Buffer.concat(err).toString('utf8') });
    });
  });

/** The last `lines` non-empty lines of a program's error output, for an error message. */
export function stderrTail(stderr: string, lines = 6): string {
  const kept = stderr.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  return kept.slice(-lines).join('\n');
}

/**
 * Runs `command` and returns its result if it exited with status 0; otherwise throws a
 * TypervisorError saying what was being done, the command line, its exit status and the tail of
 * its error output, with `hint`.
 */
export async function runChecked(run: CommandRunner, doing: string, command: string, args: readonly string[], hint: string, options?: { cwd?: string }): Promise<CommandResult> {
  const result = await run(command, args, options);
  if (result.status === 0) return result;
  const how = result.status === null ? `was killed by ${result.signal}` : `exited with status ${result.status}`;
  const tail = stderrTail(result.stderr);
  throw new TypervisorError(`${doing} failed: \`${[command, ...args].join(' ')}\` ${how}${tail ? `:\n${tail}` : ''}`, { hint });
}
