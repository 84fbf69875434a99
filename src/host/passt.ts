// `--net user`: user-mode networking through Debian's passt, which typervisor starts as a child
// in its QEMU mode and talks to with QEMU's stream framing (a 32-bit big-endian length before
// each frame; the socket backend's code, src/host/net-socket.ts).
//
// The connection is a socket pair made at spawn: passt gets one end as fd 3 (`-F 3`, "use FD as
// pre-opened connected socket"; Node creates `pipe` stdio entries with socketpair(2)). Unlike a
// socket path (`-s PATH`) there is no file, no folder passt must be able to write after it drops
// root, and no moment when passt runs but nobody is connected yet. passt (0.0~git20230309,
// Debian 12) answers DHCP/NDP, maps the gateway address to the host's loopback (unless
// --no-map-gw), tells the guest the host's DNS servers, and binds the forwarded host ports
// (-t/-u). No orphan may outlive typervisor:
// - passt exits by itself when its end of the pair reports the peer gone, which covers a
//   typervisor killed outright (SIGKILL): the kernel closes our end;
// - close() sends SIGTERM, then SIGKILL after a grace period; if typervisor's process exits
//   first, an exit hook sends SIGKILL at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { accessSync, constants } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import path from 'node:path';
import { TypervisorError } from '../core/errors.js';
import type { NetBackend, NetSink } from '../network/net-backend.js';
import { passtDnsArgs } from './dns-option.js';
import { passtForwardArgs, type HostForward } from './host-forward.js';
import { childRunning } from './process-alive.js';
import { StreamSocketBackend, type NetSocketOptions } from './net-socket.js';

export const PASST_INSTALL_HINT = 'install it: apt-get install passt (Debian, Ubuntu), dnf install passt (Fedora); or set TYPERVISOR_PASST to its path';

export interface PasstOptions extends NetSocketOptions {
  readonly forwards?: readonly HostForward[];
  /** Resolvers the guest is told by DHCP (passt's -D; src/host/dns-option.ts); default: the host's. */
  readonly dns?: readonly string[];
  /** The passt executable; default: $TYPERVISOR_PASST, else `passt` on $PATH. */
  readonly command?: string;
  /**
   * How long after its start a passt that exits counts as failing to start (default 300 ms): its
   * configuration errors (no default route, a bad option) end it at once. A later exit is told
   * through `onError`.
   */
  readonly startWindowMs?: number;
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
  private isClosed = false;
  private readonly killOnExit = () => this.signal('SIGKILL');

  constructor(
    private readonly socket: StreamSocketBackend,
    private readonly child: ChildProcess,
    /** Settles when passt has exited. */
    readonly exited: Promise<PasstExit>,
    private readonly graceMs: number,
  ) {
    process.once('exit', this.killOnExit);
    void exited.then(() => process.off('exit', this.killOnExit));
  }

  get closed(): boolean {
    return this.isClosed;
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
    if (this.isClosed) return;
    this.isClosed = true;
    this.socket.close();
    stopChild(this.child, this.graceMs);
  }

  private signal(sig: NodeJS.Signals): void {
    if (childRunning(this.child)) this.child.kill(sig);
  }
}

/**
 * SIGTERM now, SIGKILL after `graceMs`; if typervisor's process exits before then, SIGKILL at
 * once from an exit hook (a timer would never fire).
 */
function stopChild(child: ChildProcess, graceMs: number): void {
  if (!childRunning(child)) return;
  const kill = () => {
    if (childRunning(child)) child.kill('SIGKILL');
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
 * Starts passt for one NIC, connected through a socket pair. Rejects with a TypervisorError —
 * and leaves no process behind — when passt is missing, a host port is taken, or passt exits
 * at once.
 */
export async function startPasst(options: PasstOptions = {}): Promise<PasstBackend> {
  const name = options.name ?? '--net user';
  const forwards = options.forwards ?? [];
  const graceMs = options.graceMs ?? 2000;
  const command = options.command ?? process.env['TYPERVISOR_PASST'] ?? findOnPath('passt', options.searchPath ?? `${process.env['PATH'] ?? ''}${path.delimiter}/usr/bin${path.delimiter}/usr/sbin`);
  if (command === undefined) throw new TypervisorError(`${name} needs passt, which is not installed`, { hint: PASST_INSTALL_HINT });
  await checkHostPorts(forwards, name);

  // -f: stay in the foreground (our child, same pid: it execs its AVX2 build in place); -q:
  // quiet; -F 3: the connected socket is fd 3; -D: the guest's resolvers (dns=).
  const args = ['-f', '-q', '-F', '3', ...passtForwardArgs(forwards), ...passtDnsArgs(options.dns ?? [])];
  // detached: its own process group, so a Ctrl-C meant for the terminal's foreground job does
  // not kill it behind the VM's back (typervisor stops it).
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], detached: true });
  let output = '';
  const keep = (b: Buffer) => (output = (output + b.toString('utf8')).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  // Messages without the syslog noise of this passt version when /dev/log is missing.
  const said = () => output.split('\n').filter((l) => l.trim() && !/^Failed to send \d+ bytes to syslog/.test(l)).slice(-8).join('\n');
  const exited = new Promise<PasstExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const how = (e: PasstExit) => (e.signal ? `was killed by ${e.signal}` : `exited with status ${e.code}`);
  try {
    const started = await Promise.race([
      new Promise<'spawned'>((resolve) => child.once('spawn', () => resolve('spawned'))),
      new Promise<Error>((resolve) => child.once('error', resolve)),
    ]);
    if (started instanceof Error) {
      const code = (started as NodeJS.ErrnoException).code;
      throw new TypervisorError(`${name}: cannot start ${command}: ${code === 'ENOENT' ? 'not found' : started.message}`, {
        hint: code === 'ENOENT' ? PASST_INSTALL_HINT : `check that ${command} is passt and executable`,
        cause: started,
      });
    }
    const early = await Promise.race([exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), options.startWindowMs ?? 300))]);
    if (early) {
      // Let the pipes deliver what it said last.
      await new Promise((r) => setTimeout(r, 50));
      throw new TypervisorError(`${name}: passt ${how(early)} at start${said() ? `:\n${said()}` : ''}`, { hint: 'run it by hand to see why: passt -f -s /tmp/passt-test.sock' });
    }
  } catch (e) {
    stopChild(child, graceMs);
    throw e;
  }
  const backend = new StreamSocketBackend(`${name} (passt)`, options);
  backend.adopt(child.stdio[3] as Socket);
  const passt = new PasstBackend(backend, child, exited, graceMs);
  void exited.then((e) => {
    if (!passt.closed) options.onError?.(`${name}: passt ${how(e)}; the NIC is cut off${said() ? `:\n${said()}` : ''}`);
  });
  return passt;
}
