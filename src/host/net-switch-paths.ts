// Where the switch daemons of `--net switch:NAME` live: a per-user runtime folder that only its
// owner can enter (0700), so another user can neither join nor spy on a switch. Order:
// $TYPERVISOR_RUNTIME_DIR (tests), $XDG_RUNTIME_DIR/typervisor, ~/.cache/typervisor/run.
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';
import { TypervisorError } from '../core/errors.js';

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Refuses switch names that could leave the runtime folder or surprise a shell. */
export function checkSwitchName(name: string): string {
  if (!NAME.test(name) || name === '.' || name === '..') {
    throw new TypervisorError(`'${name}' is not a switch name`, { hint: 'use 1 to 64 letters, digits, and _ . - (e.g. switch:lab1)' });
  }
  return name;
}

export function switchRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['TYPERVISOR_RUNTIME_DIR']) return env['TYPERVISOR_RUNTIME_DIR'];
  if (env['XDG_RUNTIME_DIR']) return path.join(env['XDG_RUNTIME_DIR'], 'typervisor');
  return path.join(homedir(), '.cache', 'typervisor', 'run');
}

/**
 * Creates the runtime folder (0700) if needed and checks that it is a real folder owned by this
 * user and closed to others: a socket there is trusted as "our switch".
 */
export function ensureRuntimeDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory()) throw new TypervisorError(`the switch runtime folder ${dir} is not a folder`, { hint: `remove it, or set TYPERVISOR_RUNTIME_DIR to another folder` });
  if (uid !== undefined && st.uid !== uid) throw new TypervisorError(`the switch runtime folder ${dir} belongs to another user (uid ${st.uid})`, { hint: 'set TYPERVISOR_RUNTIME_DIR to a folder of your own' });
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  return dir;
}

export interface SwitchPaths {
  readonly socket: string;
  readonly pid: string;
  readonly lock: string;
  readonly log: string;
}

export function switchPaths(dir: string, name: string): SwitchPaths {
  checkSwitchName(name);
  const base = path.join(dir, `switch-${name}`);
  return { socket: `${base}.sock`, pid: `${base}.pid`, lock: `${base}.lock`, log: `${base}.log` };
}

/** A connection to the daemon listening at `socketPath`, or undefined when none answers there. */
export function connectIfListening(socketPath: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = createConnection({ path: socketPath });
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', () => (s.destroy(), resolve(undefined)));
  });
}
