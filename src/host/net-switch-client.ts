// `--net switch:NAME`: joins the VM's NIC to the switch daemon of NAME (net-switch-daemon.ts),
// starting the daemon if none runs. The port is an ordinary stream-socket connection, so the NIC's
// backend is net-socket.ts's StreamSocketBackend.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { TypervisorError } from '../core/errors.js';
import { StreamSocketBackend, type NetSocketOptions } from './net-socket.js';
import { checkSwitchName, connectIfListening, ensureRuntimeDir, switchPaths, switchRuntimeDir } from './net-switch-paths.js';

/** How long a VM waits for a daemon it started to listen. */
const START_TIMEOUT_MS = 15_000;

export interface SwitchClientOptions extends NetSocketOptions {
  /** The runtime folder (default: switchRuntimeDir()). */
  readonly dir?: string;
  /** Starts the daemon for (dir, name); default: a detached `node net-switch-daemon.js DIR NAME`. */
  readonly startDaemon?: (dir: string, name: string) => void;
}

/** Spawns the daemon detached (its own session, stdio to the switch's log file) and lets it go. */
export function spawnSwitchDaemon(dir: string, name: string): void {
  const script = fileURLToPath(new URL('./net-switch-daemon.js', import.meta.url));
  const log = openSync(switchPaths(dir, name).log, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [script, dir, name], { detached: true, stdio: ['ignore', log, log], env: process.env, cwd: dir });
    child.on('error', () => undefined); // reported as "did not start listening"
    child.unref();
  } finally {
    closeSync(log);
  }
}

/** Reconnection attempts after the switch went away (a crashed daemon, or one that was just exiting). */
const RECONNECTS = 5;

/**
 * A switch port: a stream-socket backend that, when the daemon goes away while the VM still
 * runs, connects again (starting a new daemon) instead of leaving the NIC on a dead wire. The
 * learning switch relearns the VM's MAC from its next frame.
 */
export class SwitchPortBackend extends StreamSocketBackend {
  private failures = 0;

  constructor(private readonly switchName: string, private readonly connectOptions: SwitchClientOptions) {
    super(`--net switch:${switchName}`, connectOptions);
  }

  /** The daemon went away: connect again (starting a new one) rather than report a dead wire. */
  protected override peerClosed(): void {
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    while (!this.closed) {
      if (this.failures >= RECONNECTS) {
        this.connectOptions.onError?.(`--net switch:${this.switchName}: the switch went away and could not be restarted; frames are dropped from now on`);
        return;
      }
      this.failures++;
      await new Promise((r) => setTimeout(r, 100 * this.failures));
      try {
        const socket = await openSwitchSocket(this.switchName, this.connectOptions);
        if (this.closed) return void socket.destroy();
        this.adopt(socket);
        return;
      } catch {
        // try again
      }
    }
  }
}

/** Connects to switch `name`'s daemon, starting it when nothing listens yet. */
async function openSwitchSocket(name: string, options: SwitchClientOptions): Promise<Socket> {
  checkSwitchName(name);
  const label = `--net switch:${name}`;
  const dir = ensureRuntimeDir(options.dir ?? switchRuntimeDir());
  const paths = switchPaths(dir, name);
  if (Buffer.byteLength(paths.socket) > 107) {
    throw new TypervisorError(`${label}: the socket path ${paths.socket} is too long for a UNIX socket`, { hint: 'set TYPERVISOR_RUNTIME_DIR (or XDG_RUNTIME_DIR) to a shorter folder' });
  }
  let socket = await connectIfListening(paths.socket);
  if (!socket) {
    (options.startDaemon ?? spawnSwitchDaemon)(dir, name);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!socket && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      socket = await connectIfListening(paths.socket);
    }
  }
  if (!socket) {
    throw new TypervisorError(`${label}: the switch daemon did not start listening at ${paths.socket}`, { hint: `see its log ${paths.log}` });
  }
  return socket;
}

/** Connects a new port of switch `name`, starting its daemon when nothing listens yet. */
export async function connectSwitch(name: string, options: SwitchClientOptions = {}): Promise<SwitchPortBackend> {
  const socket = await openSwitchSocket(name, options);
  const backend = new SwitchPortBackend(name, options);
  backend.adopt(socket);
  return backend;
}
