// `--net user`: user-mode networking through Debian's passt, which typervisor starts as a child
// in its QEMU mode (a UNIX stream socket with QEMU's framing: a 32-bit big-endian length before
// each frame), connects to with the socket backend's code, and stops with the VM.
//
// passt (0.0~git20230309, Debian 12) gives the guest its DHCP/NDP answers, maps the gateway
// address to the host's loopback (unless --no-map-gw), tells the guest the host's DNS servers,
// and binds the forwarded host ports (-t/-u). No orphan may outlive typervisor:
// - passt runs with -1 (--one-off): it quits by itself once our connection closes, which covers
//   a typervisor that is killed outright;
// - close() sends SIGTERM, then SIGKILL after a grace period; and if typervisor's process exits
//   first, an exit hook sends SIGKILL at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { accessSync, chownSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TypervisorError } from '../core/errors.js';
import type { NetBackend, NetSink } from '../network/net-backend.js';
import { passtForwardArgs, type HostForward } from './host-forward.js';
import { connectStreamSocket, type NetSocketOptions, type StreamSocketBackend } from './net-socket.js';

export const PASST_INSTALL_HINT = 'install it: apt-get install passt (Debian, Ubuntu), dnf install passt (Fedora); or set TYPERVISOR_PASST to its path';

export interface PasstOptions extends NetSocketOptions {
  readonly forwards?: readonly HostForward[];
  /** The passt executable; default: $TYPERVISOR_PASST, else `passt` on $PATH. */
  readonly command?: string;
  /** How long passt may take to accept the connection (default 10 s). */
  readonly startTimeoutMs?: number;
  /** Between SIGTERM and SIGKILL when stopping it (default 2 s). */
  readonly graceMs?: number;
  /** For messages (default `--net user`). */
  readonly name?: string;
  /** Where to look for `passt` (default: $PATH, then /usr/bin and /usr/sbin). */
  readonly searchPath?: string;
}

/** How a supervised passt ended. */
export interface PasstExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The first executable `name` on $PATH, or undefined. */
export function findOnPath(name: string, searchPath = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * passt refuses to keep root and drops to `nobody` (passt(1), --runas), who must then be able to
 * create the socket in our private folder: as root, the folder is given to nobody, and passt is
 * told that user explicitly. Another user keeps its own identity and owns the folder already.
 */
function runasArgs(dir: string): string[] {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return [];
  let line: string | undefined;
  try {
    line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'));
  } catch {
    // no passwd file: stay root below
  }
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid !== undefined && gid !== undefined && /^\d+$/.test(uid) && /^\d+$/.test(gid)) {
    chownSync(dir, Number(uid), Number(gid));
    return ['--runas', `${uid}:${gid}`];
  }
  return ['--runas', '0:0'];
}

/** Fails with a precise message when a forwarded host port cannot be bound (passt itself would go on silently). */
export async function checkHostPorts(forwards: readonly HostForward[], name: string): Promise<void> {
  for (const f of forwards) {
    const host = f.hostAddress ?? '0.0.0.0';
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      if (f.protocol === 'tcp') {
        const server = createServer();
        server.once('error', resolve);
        server.listen({ port: f.hostPort, host, exclusive: true }, () => server.close(() => resolve(undefined)));
      } else {
        const socket = createSocket('udp4');
        socket.once('error', (e) => (socket.close(), resolve(e)));
        socket.bind({ port: f.hostPort, address: host, exclusive: true }, () => socket.close(() => resolve(undefined)));
      }
    });
    if (!error) continue;
    const where = `${f.protocol} port ${f.hostPort}${f.hostAddress !== undefined ? ` on ${f.hostAddress}` : ''}`;
    if (error.code === 'EADDRINUSE') throw new TypervisorError(`${name}: ${f.text}: host ${where} is already in use`, { hint: 'choose another host port, or stop the program listening there', cause: error });
    if (error.code === 'EACCES') throw new TypervisorError(`${name}: ${f.text}: binding host ${where} needs privileges`, { hint: 'use a host port from 1024 up', cause: error });
    if (error.code === 'EADDRNOTAVAIL') throw new TypervisorError(`${name}: ${f.text}: ${f.hostAddress} is not an address of this host`, { hint: 'give one of the host\'s addresses, e.g. 127.0.0.1, or none', cause: error });
    throw new TypervisorError(`${name}: ${f.text}: cannot bind host ${where}: ${error.message}`, { cause: error });
  }
}

/** A NetBackend whose peer is a passt process typervisor started and owns. */
export class PasstBackend implements NetBackend {
  private closed = false;
  private readonly killOnExit = () => this.signal('SIGKILL');

  constructor(
    private readonly socket: StreamSocketBackend,
    private readonly child: ChildProcess,
    private readonly dir: string,
    /** Settles when passt has exited. */
    readonly exited: Promise<PasstExit>,
    private readonly graceMs: number,
  ) {
    process.once('exit', this.killOnExit);
    void exited.then(() => process.off('exit', this.killOnExit));
  }

  /** passt's process id (for monitors and tests). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  get stats() {
    return this.socket.stats;
  }

  send(frame: Uint8Array): void {
    this.socket.send(frame);
  }

  attach(sink: NetSink): void {
    this.socket.attach(sink);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Closes the connection and stops passt: SIGTERM, SIGKILL after the grace period. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    stopChild(this.child, this.graceMs);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private signal(sig: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig);
  }
}

/**
 * SIGTERM now, SIGKILL after `graceMs`; if typervisor's process exits before then, SIGKILL at
 * once from an exit hook (a timer would never fire).
 */
function stopChild(child: ChildProcess, graceMs: number): void {
  const alive = () => child.exitCode === null && child.signalCode === null;
  if (!alive()) return;
  const kill = () => {
    if (alive()) child.kill('SIGKILL');
  };
  const timer = setTimeout(kill, graceMs);
  timer.unref();
  process.once('exit', kill);
  child.once('exit', () => {
    clearTimeout(timer);
    process.off('exit', kill);
  });
  child.kill('SIGTERM');
}

/**
 * Starts passt for one NIC and connects to it. Rejects with a TypervisorError — and leaves no
 * process or folder behind — when passt is missing, a host port is taken, passt exits early or
 * does not listen in time.
 */
export async function startPasst(options: PasstOptions = {}): Promise<PasstBackend> {
  const name = options.name ?? '--net user';
  const forwards = options.forwards ?? [];
  const command = options.command ?? process.env['TYPERVISOR_PASST'] ?? findOnPath('passt', options.searchPath ?? `${process.env['PATH'] ?? ''}${path.delimiter}/usr/bin${path.delimiter}/usr/sbin`);
  if (command === undefined) throw new TypervisorError(`${name} needs passt, which is not installed`, { hint: PASST_INSTALL_HINT });
  await checkHostPorts(forwards, name);

  const dir = mkdtempSync(path.join(tmpdir(), 'typervisor-passt-'));
  const socketPath = path.join(dir, 'passt.sock');
  let child: ChildProcess | undefined;
  try {
    // -f: stay in the foreground (our child, same pid); -q: quiet; -1: quit when we disconnect.
    const args = ['-f', '-q', '-1', ...runasArgs(dir), '-s', socketPath, ...passtForwardArgs(forwards)];
    // detached: its own process group, so a Ctrl-C meant for the terminal's foreground job
    // does not kill it behind the VM's back (typervisor stops it).
    child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const proc = child;
    let output = '';
    const keep = (b: Buffer) => (output = (output + b.toString('utf8')).slice(-4000));
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const exited = new Promise<PasstExit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    const spawnError = new Promise<Error>((resolve) => proc.once('error', resolve));
    // Messages without the syslog noise of this passt version when /dev/log is missing.
    const said = () => output.split('\n').filter((l) => l.trim() && !/^Failed to send \d+ bytes to syslog/.test(l)).slice(-8).join('\n');

    const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
    let socket: StreamSocketBackend | undefined;
    let ended: PasstExit | Error | undefined;
    void exited.then((e) => (ended ??= e));
    void spawnError.then((e) => (ended ??= e));
    while (!socket) {
      if (ended instanceof Error) {
        const code = (ended as NodeJS.ErrnoException).code;
        throw new TypervisorError(`${name}: cannot start ${command}: ${code === 'ENOENT' ? 'not found' : ended.message}`, { hint: code === 'ENOENT' ? PASST_INSTALL_HINT : `check that ${command} is passt and executable`, cause: ended });
      }
      if (ended) {
        const how = ended.signal ? `was killed by ${ended.signal}` : `exited with status ${ended.code}`;
        throw new TypervisorError(`${name}: passt ${how} before accepting the connection${said() ? `:\n${said()}` : ''}`, { hint: 'run the passt command by hand to see why (`passt -f -s /tmp/x.sock`)' });
      }
      if (Date.now() > deadline) throw new TypervisorError(`${name}: passt did not listen at ${socketPath} within ${(options.startTimeoutMs ?? 10_000) / 1000} s${said() ? `:\n${said()}` : ''}`, { hint: 'the machine may be overloaded; try again' });
      try {
        socket = await connectStreamSocket(socketPath, `${name} (passt)`, 'passt did not create its socket', options);
      } catch (e) {
        const code = ((e as Error).cause as NodeJS.ErrnoException | undefined)?.code;
        if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    return new PasstBackend(socket, proc, dir, exited, options.graceMs ?? 2000);
  } catch (e) {
    if (child) stopChild(child, options.graceMs ?? 2000);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
