// The contract between a virtual NIC and whatever carries its Ethernet frames (DESIGN.md
// "Interfaces": NetBackend). Platform-neutral: host sockets, a switch or passt implement it in
// src/host or here; the NIC (src/devices/virtio/net) sees only this shape.

/** Largest Ethernet frame (destination MAC through payload, no FCS) any backend carries. */
export const MAX_FRAME_BYTES = 65550;
/** Smallest: an Ethernet header (two MACs and the EtherType). */
export const MIN_FRAME_BYTES = 14;

/** Where a backend delivers the frames it receives. */
export interface NetSink {
  /**
   * One Ethernet frame from the network. The sink owns `frame` from then on (the backend never
   * touches it again) and must not throw for any frame content: frames are hostile.
   */
  receive(frame: Uint8Array): void;
  /**
   * Optional: the backend's `canSend()` had said false and now takes frames again (a rate
   * limiter's tokens came back). Called from the event loop.
   */
  resumeTx?(): void;
}

/**
 * A network attachment for one NIC.
 *
 * Contract:
 * - `send(frame)` hands one Ethernet frame (14 … {@link MAX_FRAME_BYTES} bytes) to the network.
 *   It never blocks and never throws for a frame within those bounds: a backend that cannot
 *   take the frame now (peer gone, output buffer full) drops it and counts it in `stats`. The
 *   backend owns `frame` after the call.
 * - `attach(sink)` says where received frames go; a later call replaces the sink (a rebooted
 *   board attaches its new NIC). Frames arriving with no sink attached are dropped and counted.
 *   Delivery happens from the event loop, never re-entrantly from inside `send`.
 * - `close()` stops delivery at once and releases host resources; idempotent. `send` after close
 *   drops.
 */
export interface NetBackend {
  send(frame: Uint8Array): void;
  attach(sink: NetSink): void;
  close(): void;
  /**
   * Optional flow control for point-to-point backends (a socket stops reading so the peer's
   * TCP backs off): deliver nothing more until `resume()`, apart from frames already read. A
   * shared medium (a switch) must not offer it: one slow port would stall the others.
   */
  pause?(): void;
  resume?(): void;
  /**
   * Optional transmit back-pressure (a rate limiter): when it returns false the NIC should stop
   * taking frames from the guest until the sink's `resumeTx()`. `send` still accepts frames
   * meanwhile (within the backend's own bound), so ignoring it is safe.
   */
  canSend?(): boolean;
  /** Counters for monitors and tests (plain numbers, never reset). */
  readonly stats?: NetBackendStats;
}

export interface NetBackendStats {
  /** Frames handed to the network. */
  readonly txFrames: number;
  /** Frames delivered to the sink. */
  readonly rxFrames: number;
  /** Frames `send` could not pass on (peer gone, buffer full, closed). */
  readonly txDropped: number;
  /** Frames received with no sink attached, or after close. */
  readonly rxDropped: number;
  /** Malformed input from the network side (bad framing, frames out of bounds). */
  readonly malformed: number;
}

/** Whether `length` is the size of a frame a backend must carry. */
export function isFrameLength(length: number): boolean {
  return length >= MIN_FRAME_BYTES && length <= MAX_FRAME_BYTES;
}
