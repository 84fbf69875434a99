// `--net socket:PATH`: QEMU's stream netdev over a UNIX socket (the peer runs
// `-netdev stream,id=n0,server=on,addr.type=unix,addr.path=PATH`), or `socket:listen:PATH`,
// where typervisor is the server and the peer connects (QEMU: server=off). One peer; no
// reconnection. Framing in src/network/stream-framing.ts.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { TypervisorError } from '../core/errors.js';
import { isFrameLength, type NetBackend, type NetSink } from '../network/net-backend.js';
import { newNetCounters } from '../network/net-pair.js';
import { encodeStreamFrame, StreamFrameDecoder } from '../network/stream-framing.js';

/**
 * Bytes the socket may hold unsent before `send` drops frames (as a NIC whose wire is busy): a
 * peer that stops reading costs bounded memory.
 */
export const SOCKET_SEND_BUFFER_BYTES = 4 << 20;

export interface NetSocketOptions {
  /** Told once when the peer goes away or breaks the framing (for the console's stderr). */
  readonly onError?: (message: string) => void;
}

/** A NetBackend over one stream socket (connected now, or accepted later by a listener). */
export class StreamSocketBackend implements NetBackend {
  readonly stats = newNetCounters();
  private socket: Socket | undefined;
  private sink: NetSink | undefined;
  /** close() was called: nothing is sent, received or reported any more. */
  protected closed = false;
  private paused = false;

  constructor(readonly name: string, private readonly options: NetSocketOptions = {}, private readonly server?: Server, private readonly unlinkPath?: string) {}

  /** Takes `socket` as the peer (the first one; the caller refuses others). */
  adopt(socket: Socket): void {
    this.socket = socket;
    // A new peer (a listener's next connection) starts a new stream: nothing of the old one's
    // partial frame carries over.
    const decoder = new StreamFrameDecoder();
    if (this.paused) socket.pause();
    this.reported = false;
    socket.on('data', (chunk: Buffer) => {
      const malformedBefore = decoder.malformed;
      const ok = decoder.push(chunk, (frame) => {
        if (this.closed || !this.sink) {
          this.stats.rxDropped++;
          return;
        }
        this.stats.rxFrames++;
        this.sink.receive(frame);
      });
      this.stats.malformed += decoder.malformed - malformedBefore;
      if (!ok) {
        this.report(`${this.name}: closing the connection: ${decoder.failure}`);
        socket.destroy();
      }
    });
    socket.on('error', (e) => this.report(`${this.name}: ${e.message}`));
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      if (!this.closed) this.peerClosed();
    });
  }

  /** The peer went away while the backend is open: said once; a subclass may reconnect instead. */
  protected peerClosed(): void {
    this.report(`${this.name}: the peer closed the connection; frames are dropped ${this.server ? 'until another connects' : 'from now on'}`);
  }

  get connected(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  send(frame: Uint8Array): void {
    const s = this.socket;
    if (this.closed || !s || s.destroyed || !isFrameLength(frame.length) || s.writableLength > SOCKET_SEND_BUFFER_BYTES) {
      this.stats.txDropped++;
      return;
    }
    this.stats.txFrames++;
    s.write(encodeStreamFrame(frame));
  }

  attach(sink: NetSink): void {
    this.sink = sink;
  }

  /** Stops reading the socket (the peer's writes back up in the kernel's buffers). */
  pause(): void {
    this.paused = true;
    this.socket?.pause();
  }

  resume(): void {
    this.paused = false;
    this.socket?.resume();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sink = undefined;
    this.socket?.destroy();
    this.server?.close();
    if (this.unlinkPath !== undefined) {
      try {
        unlinkSync(this.unlinkPath);
      } catch {
        // already gone
      }
    }
  }

  private reported = false;
  private report(message: string): void {
    if (this.reported || this.closed) return;
    this.reported = true;
    this.options.onError?.(message);
  }
}

const PEER_HINT = (path: string) =>
  `start the peer first, e.g. qemu-system-riscv64 … -netdev stream,id=n0,server=on,addr.type=unix,addr.path=${path} -device virtio-net-device,netdev=n0; or let typervisor listen with --net socket:listen:${path}`;

/** Connects to a UNIX stream socket where a peer (QEMU with server=on, another typervisor) listens. */
export function connectNetSocket(path: string, options: NetSocketOptions = {}): Promise<StreamSocketBackend> {
  const name = `--net socket:${path}`;
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    const fail = (e: NodeJS.ErrnoException) => {
      socket.destroy();
      const why = e.code === 'ENOENT' ? 'no such socket' : e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'ENOTSOCK' ? 'not a socket' : e.message;
      reject(new TypervisorError(`${name}: nothing listens at ${path} (${why})`, { hint: PEER_HINT(path), cause: e }));
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.off('error', fail);
      const backend = new StreamSocketBackend(name, options);
      backend.adopt(socket);
      resolve(backend);
    });
  });
}

/**
 * Listens on a UNIX socket at `path` and takes the first peer that connects (QEMU:
 * `-netdev stream,id=n0,server=off,addr.type=unix,addr.path=PATH`); frames sent before then are
 * dropped. Later connections are refused. The socket file is removed on close.
 */
export function listenNetSocket(path: string, options: NetSocketOptions = {}): Promise<StreamSocketBackend> {
  const name = `--net socket:listen:${path}`;
  return new Promise((resolve, reject) => {
    const server = createServer();
    const backend = new StreamSocketBackend(name, options, server, path);
    server.on('connection', (socket) => {
      if (backend.connected) socket.destroy();
      else backend.adopt(socket);
    });
    server.once('error', (e: NodeJS.ErrnoException) => {
      server.close();
      let exists = false;
      try {
        exists = lstatSync(path).isSocket();
      } catch {
        // not there
      }
      reject(
        new TypervisorError(`${name}: cannot listen at ${path}: ${e.code === 'EADDRINUSE' ? 'the path exists' : e.message}`, {
          hint: e.code === 'EADDRINUSE' ? (exists ? `another program may listen there; if not, remove the stale socket file ${path}` : `remove ${path} or choose another path`) : 'check that the folder exists and is writable',
          cause: e,
        }),
      );
    });
    server.listen(path, () => resolve(backend));
    server.unref();
  });
}
