// The switch daemon of `--net switch:NAME`: one process per NAME, listening on
// switch-NAME.sock in the runtime folder (net-switch-paths.ts). Each connection is one switch
// port speaking QEMU's stream framing (src/network/stream-framing.ts); frames go through a
// LearningSwitch. Started detached by the first VM (net-switch-client.ts), it exits a grace
// period after its last port left.
//
// A port cannot hurt the others: malformed framing closes that port only; each port's output is
// bounded (frames for a port whose socket already holds PORT_QUEUE_BYTES unsent are dropped and
// counted), so a guest that floods or stops reading costs bounded memory and never stalls the
// switch; the MAC table is bounded (LearningSwitch).
import { createServer, type Server, type Socket } from 'node:net';
import { closeSync, openSync, readFileSync, realpathSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isFrameLength } from '../network/net-backend.js';
import { encodeStreamFrame, StreamFrameDecoder } from '../network/stream-framing.js';
import { LearningSwitch } from '../network/switch/learning-switch.js';
import { connectIfListening, switchPaths, type SwitchPaths } from './net-switch-paths.js';

/** Unsent bytes a port's socket may hold before frames for it are dropped. */
export const PORT_QUEUE_BYTES = 1 << 20;
/** How long the daemon lingers after its last port left (a rebooting VM comes back). */
export const DEFAULT_GRACE_MS = 2000;
/** How long a fresh daemon waits for its first port (the VM that started it is still connecting). */
const FIRST_PORT_MS = 15_000;
/** A stale-socket recovery lock older than this was left by a crash. */
const STALE_LOCK_MS = 10_000;

export interface SwitchDaemonStats {
  ports: number;
  portsClosedMalformed: number;
  framesIn: number;
  /** Frame copies written to ports. */
  framesOut: number;
  /** Frame copies dropped because the port's output queue was full. */
  dropped: number;
  malformed: number;
}

interface Port {
  readonly socket: Socket;
  readonly id: number;
}

export interface SwitchDaemonOptions {
  readonly graceMs?: number;
  /** Called once when the daemon has shut down (last port gone and the grace period over, or close()). */
  readonly onExit?: (stats: SwitchDaemonStats) => void;
}

/** A running switch: the listening server and its ports. */
export class SwitchDaemon {
  readonly stats: SwitchDaemonStats = { ports: 0, portsClosedMalformed: 0, framesIn: 0, framesOut: 0, dropped: 0, malformed: 0 };
  readonly switch = new LearningSwitch<Port>({ now: () => performance.now() });
  private idle: NodeJS.Timeout | undefined;
  private nextId = 1;
  private readonly sockets = new Set<Socket>();
  private closed = false;

  constructor(private readonly server: Server, readonly paths: SwitchPaths, private readonly options: SwitchDaemonOptions = {}) {
    server.on('connection', (s) => this.addPort(s));
    this.armIdle(Math.max(FIRST_PORT_MS, options.graceMs ?? DEFAULT_GRACE_MS));
  }

  get portCount(): number {
    return this.switch.portCount;
  }

  private addPort(socket: Socket): void {
    if (this.closed) return void socket.destroy();
    if (this.idle) clearTimeout(this.idle);
    this.idle = undefined;
    const port: Port = { socket, id: this.nextId++ };
    this.switch.addPort(port);
    this.sockets.add(socket);
    this.stats.ports++;
    const decoder = new StreamFrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      const before = decoder.malformed;
      const ok = decoder.push(chunk, (frame) => this.forward(port, frame));
      this.stats.malformed += decoder.malformed - before;
      if (!ok) {
        this.stats.portsClosedMalformed++;
        socket.destroy();
      }
    });
    socket.on('error', () => undefined); // a port that vanished: 'close' follows
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.switch.removePort(port);
      if (this.switch.portCount === 0) this.armIdle();
    });
  }

  private forward(from: Port, frame: Uint8Array): void {
    this.stats.framesIn++;
    if (!isFrameLength(frame.length)) return;
    const out = this.switch.forward(from, frame);
    if (out.length === 0) return;
    const bytes = encodeStreamFrame(frame);
    for (const p of out) {
      if (p.socket.destroyed || p.socket.writableLength > PORT_QUEUE_BYTES) {
        this.stats.dropped++;
        continue;
      }
      this.stats.framesOut++;
      p.socket.write(bytes);
    }
  }

  private armIdle(ms = this.options.graceMs ?? DEFAULT_GRACE_MS): void {
    if (this.closed) return;
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      if (this.switch.portCount === 0) this.close();
    }, ms);
  }

  /** Stops listening, drops every port (VMs still attached reconnect to a new daemon), removes the socket and pid files. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idle) clearTimeout(this.idle);
    // Remove the socket file before closing, so a VM starting now sees no socket and starts a
    // new daemon instead of connecting to one that is going away.
    removeIfOurs(this.paths.socket, this.inode);
    removeFile(this.paths.pid);
    this.server.close();
    this.server.unref();
    for (const s of this.sockets) s.destroy();
    this.options.onExit?.(this.stats);
  }

  /** The socket file's inode once listening: another daemon's later socket is never removed. */
  inode: number | undefined;
}

function removeFile(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

function removeIfOurs(file: string, inode: number | undefined): void {
  try {
    if (inode === undefined || statSync(file).ino === inode) unlinkSync(file);
  } catch {
    // already gone
  }
}

const listen = (path: string) =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve(server);
    });
  });

/** Whether something accepts connections at `path`. */
async function isListening(path: string): Promise<boolean> {
  const socket = await connectIfListening(path);
  socket?.destroy();
  return socket !== undefined;
}

/**
 * Starts the switch NAME in this process, unless one is already running: returns undefined
 * then. Binding is the election: of two daemons starting at once, the one whose bind fails
 * finds the other listening and gives up. A socket file left by a crashed daemon (bind fails,
 * nothing listens) is removed under a lock file (created exclusively) so that two daemons
 * recovering at once cannot remove each other's fresh socket.
 */
export async function startSwitchDaemon(dir: string, name: string, options: SwitchDaemonOptions = {}): Promise<SwitchDaemon | undefined> {
  const paths = switchPaths(dir, name);
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const server = await listen(paths.socket);
      const daemon = new SwitchDaemon(server, paths, options);
      daemon.inode = statSync(paths.socket).ino;
      writeFileSync(paths.pid, `${process.pid}\n`);
      return daemon;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    }
    if (await isListening(paths.socket)) return undefined;
    let fd: number | undefined;
    try {
      fd = openSync(paths.lock, 'wx');
    } catch {
      try {
        if (Date.now() - statSync(paths.lock).mtimeMs > STALE_LOCK_MS) removeFile(paths.lock);
      } catch {
        // gone meanwhile
      }
    }
    if (fd !== undefined) {
      try {
        writeSync(fd, `${process.pid}\n`);
        // Under the lock, nobody else removes or creates the socket file: check again, then clear it.
        if (await isListening(paths.socket)) return undefined;
        removeFile(paths.socket);
      } finally {
        closeSync(fd);
        removeFile(paths.lock);
      }
    } else {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`switch ${name}: could not claim ${paths.socket}`);
}

/** `node net-switch-daemon.js DIR NAME`: runs the switch until its ports are gone, then exits. */
async function main(argv: string[]): Promise<void> {
  const [dir, name] = argv;
  if (!dir || !name) {
    process.stderr.write('usage: net-switch-daemon DIR NAME (started by typervisor run --net switch:NAME)\n');
    process.exit(2);
  }
  const graceMs = Number(process.env['TYPERVISOR_SWITCH_GRACE_MS']) || DEFAULT_GRACE_MS;
  const daemon = await startSwitchDaemon(dir, name, {
    graceMs,
    onExit: (stats) => {
      // The counters, for whoever wonders what crossed the switch (tests read them).
      process.stdout.write(`${JSON.stringify({ exit: new Date().toISOString(), pid: process.pid, ...stats, switch: daemon?.switch.stats })}\n`);
      setTimeout(() => process.exit(0), 50).unref();
    },
  });
  if (!daemon) process.exit(0); // another daemon won the race
  process.stdout.write(`${JSON.stringify({ start: new Date().toISOString(), pid: process.pid, name })}\n`);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => daemon.close());
}

const self = fileURLToPath(import.meta.url);
let invoked: string | undefined;
try {
  invoked = process.argv[1] ? realpathSync(process.argv[1]) : undefined;
} catch {
  invoked = undefined;
}
if (invoked === self) void main(process.argv.slice(2));

/** Reads a pid file; undefined when absent or garbled. */
export function readPidFile(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
