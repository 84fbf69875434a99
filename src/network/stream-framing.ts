// QEMU's stream-socket framing (`-netdev stream` / `-netdev socket`, net/stream.c): every
// Ethernet frame is sent as a 32-bit big-endian length followed by that many bytes. passt uses
// the same framing on its UNIX socket. Pure functions over bytes; the socket lives in src/host.
//
// Decision on bad lengths: the stream has no markers to find a frame boundary again, so
// - a length of 0 … 13 (smaller than an Ethernet header) is counted as malformed and its bytes
//   skipped: the boundary is still known, the stream stays in sync;
// - a length above the maximum cannot be told apart from a peer that lost sync or speaks
//   another protocol: the decoder counts it, stops for good (`failure` says why) and the owner
//   closes the connection, as QEMU does (net_fill_rstate's error disconnects). Nothing beyond
//   one frame (≤ the maximum) plus a 4-byte header is ever buffered.
import { TypervisorError } from '../core/errors.js';
import { MAX_FRAME_BYTES, MIN_FRAME_BYTES } from './net-backend.js';

/** Bytes of the length prefix. */
export const STREAM_LENGTH_BYTES = 4;

/** The frame with its length prefix, ready for the socket. */
export function encodeStreamFrame(frame: Uint8Array): Uint8Array {
  if (frame.length < MIN_FRAME_BYTES || frame.length > MAX_FRAME_BYTES) {
    throw new TypervisorError(`cannot send a ${frame.length}-byte frame (frames are ${MIN_FRAME_BYTES} to ${MAX_FRAME_BYTES} bytes)`);
  }
  const out = new Uint8Array(STREAM_LENGTH_BYTES + frame.length);
  new DataView(out.buffer).setUint32(0, frame.length, false);
  out.set(frame, STREAM_LENGTH_BYTES);
  return out;
}

/**
 * Incremental decoder: feed it the socket's chunks as they come (any split), get whole frames.
 * Never throws on input; memory is bounded by one maximal frame.
 */
export class StreamFrameDecoder {
  private readonly header = new Uint8Array(STREAM_LENGTH_BYTES);
  private headerFill = 0;
  /** The frame being filled (undefined while reading a header). */
  private frame: Uint8Array | undefined;
  private frameFill = 0;
  /** Bytes still to skip of a too-short frame. */
  private skip = 0;
  private malformedCount = 0;
  private failed: string | undefined;

  constructor(private readonly maxFrame = MAX_FRAME_BYTES) {}

  /** Frames refused: too short (skipped) or too long (the stream stops). */
  get malformed(): number {
    return this.malformedCount;
  }

  /** Why the decoder stopped (a length above the maximum), or undefined while it works. */
  get failure(): string | undefined {
    return this.failed;
  }

  /** Bytes held for a frame not yet complete. */
  get buffered(): number {
    return this.headerFill + this.frameFill;
  }

  /**
   * Decodes `chunk`, calling `deliver` for each complete frame (a fresh array the callee owns).
   * Returns false once the decoder has failed; later chunks are ignored.
   */
  push(chunk: Uint8Array, deliver: (frame: Uint8Array) => void): boolean {
    let at = 0;
    while (at < chunk.length && this.failed === undefined) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        this.skip -= n;
        at += n;
      } else if (this.frame === undefined) {
        const n = Math.min(STREAM_LENGTH_BYTES - this.headerFill, chunk.length - at);
        this.header.set(chunk.subarray(at, at + n), this.headerFill);
        this.headerFill += n;
        at += n;
        if (this.headerFill < STREAM_LENGTH_BYTES) break;
        this.headerFill = 0;
        const length = new DataView(this.header.buffer).getUint32(0, false);
        if (length > this.maxFrame) {
          this.malformedCount++;
          this.failed = `a frame of ${length} bytes announced (at most ${this.maxFrame}): the peer is out of sync or not speaking the stream protocol`;
        } else if (length < MIN_FRAME_BYTES) {
          this.malformedCount++;
          this.skip = length;
        } else {
          this.frame = new Uint8Array(length);
          this.frameFill = 0;
        }
      } else {
        const n = Math.min(this.frame.length - this.frameFill, chunk.length - at);
        this.frame.set(chunk.subarray(at, at + n), this.frameFill);
        this.frameFill += n;
        at += n;
        if (this.frameFill === this.frame.length) {
          const done = this.frame;
          this.frame = undefined;
          this.frameFill = 0;
          deliver(done);
        }
      }
    }
    return this.failed === undefined;
  }
}
