// Helpers for the tests that boot the real Debian guest: the CLI as a child process (stdin not a
// terminal, a deadline, output collected), and the interactive console driven through tmux
// (a private tmux server per session, polled with `capture-pane` until a condition holds or a
// deadline passes; a timeout's error shows the last screen). Needs the build (bin/typervisor.js
// runs dist/) and, for the console, Debian's tmux.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO_ROOT, 'bin/typervisor.js');

/**
 * How long one boot of the default guest may take. About 15–20 s on an idle 2-core machine,
 * several times that when the machine is shared; TYPERVISOR_BOOT_TIMEOUT_MS overrides it.
 */
export const BOOT_TIMEOUT_MS = Number(process.env['TYPERVISOR_BOOT_TIMEOUT_MS']) || 240_000;

/** Debian's OpenSBI (package opensbi), the generic platform's firmware images. */
export const OPENSBI_DIR = '/usr/lib/riscv64-linux-gnu/opensbi/generic';

/** The shell prompt of the default guest (busybox ash as root in /root). */
export const GUEST_PROMPT = 'root@typervisor:~# ';

/**
 * Drops the terminal queries busybox's line editor sends after each prompt (ESC[6n, "where is
 * the cursor?"), which a pipe shows as noise.
 */
export function stripTerminalQueries(text: string): string {
  return text.replace(/\x1b\[6n/g, '');
}

/** The last `lines` lines of `text`, for failure messages. */
export function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

export interface RunResult {
  /** Exit status, or null when a signal ended the process. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time, milliseconds. */
  ms: number;
}

/**
 * Runs `node bin/typervisor.js ARGS…` with stdin /dev/null (not a terminal) and CI=true, and
 * resolves with its output and status. Past `timeoutMs` the process is killed and the promise
 * rejects with what it had printed.
 */
export function runTypervisor(args: readonly string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; wrap?: readonly string[]; input?: Uint8Array } = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? BOOT_TIMEOUT_MS;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    // `wrap`: a command that runs the CLI (its words, then node, the CLI and ARGS), e.g. in a network namespace.
    const [cmd, ...cmdArgs] = [...(options.wrap ?? []), process.execPath, CLI, ...args];
    const child = spawn(cmd!, cmdArgs, {
      cwd: REPO_ROOT,
      // `input`: piped to the CLI's standard input, then closed (run -i); otherwise none.
      stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, CI: 'true', ...options.env },
    });
    if (options.input) {
      child.stdin!.on('error', () => {}); // the CLI may exit without reading it all
      child.stdin!.end(options.input);
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const result: RunResult = {
        status,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Date.now() - started,
      };
      if (timedOut) {
        reject(
          new Error(
            `typervisor ${args.join(' ')} did not finish within ${timeoutMs / 1000} s (killed)\n` +
              `--- last stdout ---\n${tail(stripTerminalQueries(result.stdout))}\n--- stderr ---\n${tail(result.stderr)}`,
          ),
        );
      } else {
        resolve(result);
      }
    });
  });
}

/** Runs a host tool synchronously; throws with its stderr when it fails. */
export function runTool(cmd: string, args: readonly string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 60_000 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with status ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What a tmux session's pane shows. */
export interface Screen {
  /** The visible pane. */
  visible: string;
  /** Everything the pane has shown since it started (scrollback + visible, wrapped lines joined). */
  history: string;
}

/**
 * A shell command running in a detached tmux session of fixed size, on its own tmux server
 * (`tmux -S` with a socket in the session's scratch folder), so the test never touches the
 * user's sessions and kill() ends exactly what it started. The pane stays after the command
 * exits (remain-on-exit), so its last output can still be read.
 */
export class TmuxSession {
  private readonly socket: string;
  private readonly dir: string;
  private killed = false;

  private constructor(readonly name: string) {
    this.dir = mkdtempSync(path.join(tmpdir(), `tmux-${name}-`));
    this.socket = path.join(this.dir, 'socket'); // removed with the folder
  }

  /**
   * Starts `command` (run by /bin/sh) in a new detached session, `width`×`height` cells. A
   * function gets the session's scratch-file namer, for commands that leave files behind.
   */
  static start(
    name: string,
    command: string | ((file: (name: string) => string) => string),
    options: { width?: number; height?: number; cwd?: string } = {},
  ): TmuxSession {
    const session = new TmuxSession(`${name}-${process.pid}`);
    if (typeof command === 'function') command = command((n) => session.file(n));
    const conf = path.join(session.dir, 'tmux.conf');
    // history-limit must be set before the pane exists, hence a config file: two boot logs fit.
    writeFileSync(conf, 'set -g history-limit 100000\nset -g remain-on-exit on\nset -g status off\n');
    session.tmux(
      ['-f', conf, 'new-session', '-d', '-s', session.name, '-x', String(options.width ?? 160), '-y', String(options.height ?? 50), '-c', options.cwd ?? REPO_ROOT, command],
    );
    return session;
  }

  /** A file in the session's scratch folder (removed by kill()). */
  file(name: string): string {
    return path.join(this.dir, name);
  }

  /** The content of a scratch file, or undefined before it exists. */
  readFile(name: string): string | undefined {
    try {
      return readFileSync(this.file(name), 'utf8');
    } catch {
      return undefined;
    }
  }

  private tmux(args: readonly string[]): string {
    return runTool('tmux', ['-S', this.socket, ...args]);
  }

  screen(): Screen {
    return {
      visible: this.tmux(['capture-pane', '-p', '-t', this.name]),
      history: this.tmux(['capture-pane', '-p', '-J', '-S', '-', '-E', '-', '-t', this.name]),
    };
  }

  /** Whether the session's command has exited (the pane remains, showing its last output). */
  exited(): boolean {
    return this.tmux(['display-message', '-p', '-t', this.name, '#{pane_dead}']).trim() === '1';
  }

  /** Types `text` literally (no key names). */
  type(text: string): void {
    this.tmux(['send-keys', '-t', this.name, '-l', text]);
  }

  /** Sends tmux key names, e.g. 'Enter', 'C-c', 'C-a'. */
  keys(...keys: string[]): void {
    this.tmux(['send-keys', '-t', this.name, ...keys]);
  }

  /** Resizes the session's window (and so the pane, whose program gets SIGWINCH). */
  resize(width: number, height: number): void {
    this.tmux(['resize-window', '-t', this.name, '-x', String(width), '-y', String(height)]);
  }

  /** Types a line and presses Enter. */
  typeLine(text: string): void {
    this.type(text);
    this.keys('Enter');
  }

  /**
   * Polls the screen until `until` returns a truthy value and returns that value. Past the
   * deadline, or once the command has exited without the condition holding, it throws an error
   * naming `what` and showing the last screen.
   */
  async waitFor<T>(what: string, until: (screen: Screen) => T | undefined | false | null, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const dead = this.exited(); // before the capture: a dead pane's capture is final
      const screen = this.screen();
      const value = until(screen);
      if (value) return value;
      const why = dead ? 'the command exited' : Date.now() > deadline ? `timed out after ${timeoutMs / 1000} s` : undefined;
      if (why) throw new Error(`${why} while waiting for ${what}; last screen of tmux session ${this.name}:\n${screen.visible.replace(/\n+$/, '')}`);
      await sleep(250);
    }
  }

  /** Waits until the pane's history, after its `from`-th character, matches `pattern`. */
  waitForText(pattern: RegExp | string, timeoutMs: number, from = 0): Promise<RegExpMatchArray | string> {
    const what = typeof pattern === 'string' ? JSON.stringify(pattern) : String(pattern);
    return this.waitFor(what, ({ history }) => {
      const text = history.slice(from);
      if (typeof pattern === 'string') return text.includes(pattern) ? pattern : undefined;
      return text.match(pattern) ?? undefined;
    }, timeoutMs);
  }

  /** Ends the session's tmux server (and with it the command). Safe to call more than once. */
  kill(): void {
    if (this.killed) return;
    this.killed = true;
    spawnSync('tmux', ['-S', this.socket, 'kill-server'], { stdio: 'ignore', timeout: 10_000 });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Number of times `needle` occurs in `text`. */
export function count(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}
