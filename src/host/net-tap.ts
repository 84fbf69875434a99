// `--net tap:IFNAME`: a NIC joined to a Linux TAP device. Attaching to a TAP device takes
// ioctl(TUNSETIFF, IFF_TAP | IFF_NO_PI) on /dev/net/tun (Linux Documentation/networking/
// tuntap.rst), which Node cannot issue without a native addon. So Debian's socat holds the device
// (its TUN address: `tun-type=tap,iff-no-pi`) and relays each Ethernet frame as one UDP datagram
// on the loopback interface — datagrams keep frame boundaries, and the two sockets are connected
// to each other, so no other local sender is accepted. socat runs under a small shell that kills
// it when typervisor's end of its stdin pipe closes: even a SIGKILLed typervisor leaves no
// socat holding the device.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { TypervisorError } from '../core/errors.js';
import { isFrameLength, type NetBackend, type NetSink } from '../network/net-backend.js';
import { newNetCounters } from '../network/net-pair.js';
import { childRunning } from './process-alive.js';

/** Linux interface names: at most 15 bytes (IFNAMSIZ − 1); we allow the usual characters. */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
/** How long socat may take to open the device before we call it failed. */
const START_TIMEOUT_MS = 5000;

export interface NetTapOptions {
  /** Told once when the relay stops while the VM runs (for the console's stderr). */
  readonly onError?: (message: string) => void;
  /** The relay program (tests); default `socat` from PATH. */
  readonly socat?: string;
}

/** Checks IFNAME; throws a TypervisorError naming `spec`. */
export function checkTapName(name: string, spec: string): string {
  if (!IFNAME.test(name)) {
    throw new TypervisorError(`--net ${spec}: '${name}' is not an interface name (1 to 15 letters, digits, '_', '.', '-')`, {
      hint: 'e.g. --net tap:tap0 (create it with: ip tuntap add dev tap0 mode tap user $USER)',
    });
  }
  return name;
}

/** A NetBackend on a TAP device, through a socat relay. */
export class TapBackend implements NetBackend {
  readonly stats = newNetCounters();
  private sink: NetSink | undefined;
  private closed = false;
  private reported = false;

  private constructor(
    readonly name: string,
    private readonly socket: Socket,
    private readonly relay: ChildProcess,
    private readonly options: NetTapOptions,
  ) {
    socket.on('message', (frame: Buffer) => {
      if (this.closed || !this.sink || !isFrameLength(frame.length)) {
        if (!isFrameLength(frame.length)) this.stats.malformed++;
        else this.stats.rxDropped++;
        return;
      }
      this.stats.rxFrames++;
      this.sink.receive(new Uint8Array(frame.buffer, frame.byteOffset, frame.length));
    });
    socket.on('error', (e) => this.report(`${name}: ${e.message}`));
    relay.on('exit', () => this.report(`${name}: the TAP relay (socat) stopped; frames are dropped from now on`));
  }

  /** Opens IFNAME through socat; rejects with what socat said when it cannot. */
  static async open(ifname: string, options: NetTapOptions = {}): Promise<TapBackend> {
    const spec = `tap:${ifname}`;
    const name = `--net ${spec}`;
    checkTapName(ifname, spec);
    const socat = options.socat ?? 'socat';
    if (!existsSync('/dev/net/tun')) {
      throw new TypervisorError(`${name}: this host has no /dev/net/tun`, { hint: 'load the tun module (modprobe tun), or use --net user or --net switch:NAME' });
    }
    if (spawnSync(socat, ['-V'], { stdio: 'ignore' }).error) {
      throw new TypervisorError(`${name}: socat is not installed (typervisor uses it to hold the TAP device)`, { hint: 'apt-get install socat' });
    }
    const socket = createSocket('udp4');
    const relayPort = await freeUdpPort();
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const ourPort = socket.address().port;
    // `read` returns when our end of stdin closes (exit, crash or SIGKILL); then socat goes too.
    const script = `"$0" "$@" & pid=$!; trap 'kill $pid 2>/dev/null' EXIT; read _ || true; kill $pid 2>/dev/null; wait $pid`;
    const relay = spawn('sh', ['-c', script, socat, '-d', '-d',
      `TUN,tun-type=tap,tun-name=${ifname},iff-no-pi,iff-up`,
      `UDP-DATAGRAM:127.0.0.1:${ourPort},bind=127.0.0.1:${relayPort}`], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    relay.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    relay.stdin!.on('error', () => undefined);
    try {
      await waitForRelay(relay, () => stderr, name);
    } catch (e) {
      relay.stdin!.end();
      socket.close();
      throw e;
    }
    socket.connect(relayPort, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    return new TapBackend(name, socket, relay, options);
  }

  send(frame: Uint8Array): void {
    if (this.closed || !isFrameLength(frame.length) || !childRunning(this.relay)) {
      this.stats.txDropped++;
      return;
    }
    this.stats.txFrames++;
    this.socket.send(frame);
  }

  attach(sink: NetSink): void {
    this.sink = sink;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sink = undefined;
    this.relay.stdin?.end();
    this.socket.close();
  }

  private report(message: string): void {
    if (this.reported || this.closed) return;
    this.reported = true;
    this.options.onError?.(message);
  }
}

/** A UDP port on 127.0.0.1 nobody holds right now (for socat's end). */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createSocket('udp4');
    probe.once('error', reject);
    probe.bind(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * socat reports nothing when it is ready; with `-d` it prints a notice as it starts to relay.
 * It fails fast when it cannot open the device: an exit within START_TIMEOUT_MS is a failure,
 * its notice (or the timeout, with no error) a start.
 */
function waitForRelay(relay: ChildProcess, stderr: () => string, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      relay.stderr!.off('data', check);
      relay.off('exit', exited);
    };
    const check = () => {
      if (/starting data transfer loop/.test(stderr())) {
        done();
        resolve();
      }
    };
    const exited = () => {
      done();
      const said = stderr().split('\n').filter((l) => / E /.test(l)).map((l) => l.replace(/^.* E /, '')).join('; ') || stderr().trim();
      const permission = /not permitted|permission denied/i.test(said);
      reject(new TypervisorError(`${name}: cannot attach to the TAP device: ${said || 'socat exited'}`, {
        hint: permission
          ? 'create the device for your user first: sudo ip tuntap add dev IFNAME mode tap user $USER (or run as root)'
          : 'check the interface name and that /dev/net/tun can be opened',
      }));
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, START_TIMEOUT_MS);
    relay.stderr!.on('data', check);
    relay.on('exit', exited);
    check();
  });
}
