import { isFrameLength, type NetBackend, type NetBackendStats, type NetSink } from './net-backend.js';

/** Mutable counters behind a backend's read-only `stats`. */
export interface NetCounters {
  txFrames: number;
  rxFrames: number;
  txDropped: number;
  rxDropped: number;
  malformed: number;
}

export function newNetCounters(): NetCounters & NetBackendStats {
  return { txFrames: 0, rxFrames: 0, txDropped: 0, rxDropped: 0, malformed: 0 };
}

/**
 * Two NetBackends joined by a virtual cable, in memory: what one sends, the other's sink
 * receives (on a microtask, never inside `send`). For tests, and as the reference
 * implementation of the contract in net-backend.ts.
 */
export function createNetPair(): [NetBackend, NetBackend] {
  const a = new PairEnd();
  const b = new PairEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class PairEnd implements NetBackend {
  peer: PairEnd | undefined;
  readonly stats = newNetCounters();
  private sink: NetSink | undefined;
  private closed = false;

  send(frame: Uint8Array): void {
    const peer = this.peer;
    if (this.closed || !peer || peer.closed || !isFrameLength(frame.length)) {
      this.stats.txDropped++;
      return;
    }
    this.stats.txFrames++;
    queueMicrotask(() => peer.deliver(frame));
  }

  attach(sink: NetSink): void {
    this.sink = sink;
  }

  close(): void {
    this.closed = true;
    this.sink = undefined;
  }

  private deliver(frame: Uint8Array): void {
    if (this.closed || !this.sink) {
      this.stats.rxDropped++;
      return;
    }
    this.stats.rxFrames++;
    this.sink.receive(frame);
  }
}
