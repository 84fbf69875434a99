import { TypervisorError } from '../core/errors.js';

/**
 * A virtual disk as a device model sees it: `capacity` bytes addressed by byte offset.
 *
 * Contract (every implementation, checked by tests/storage/conformance.ts):
 * - Offsets and lengths are non-negative safe integers. A request must lie wholly inside
 *   `[0, capacity)`: a read or write that starts or ends past the end is rejected with a
 *   `TypervisorError` (RangeError-like, nothing transferred, `dst` left untouched) — it is never
 *   truncated, zero-filled or grown. A zero-length request at any offset `<= capacity` succeeds.
 * - No alignment is required: any byte offset and length work (formats do the read-modify-write
 *   themselves). Requests aligned to 512 bytes — and to the image's cluster/block size — are
 *   the fast path; device models should forward the guest's sectors as they are.
 * - `read` fills all of `dst` or rejects. Bytes never written read as zeros, or as the backing
 *   image's bytes when a format has a backing file.
 * - The promise settles before the backend touches `dst`/`src` again: it never retains them.
 *   Several requests may be in flight at once; reads concurrent with a write to the same bytes
 *   see the old or the new data, and two overlapping in-flight writes land in either order.
 * - `write` on a `readOnly` backend rejects with a `TypervisorError`; a completed write is
 *   visible to later reads but durable only after `flush` resolves.
 * - `discard` (optional) tells the backend a range is no longer needed; afterwards the range
 *   reads as its old contents or as zeros (each implementation says which). Backends without it
 *   make device models leave discard support out.
 * - `blockStatus` (optional) describes how bytes from `offset` are stored in THIS image only
 *   (not its backing chain): see {@link BlockStatus}. It covers at least one byte and at most
 *   `length` (which must be > 0 and inside the disk); callers loop. `backing` is the opened
 *   backing image, if any, so a caller can continue below where a range is not allocated.
 * - After `close` resolves, every method rejects. Problems a user can act on (malformed image
 *   metadata, I/O errors) reject with `TypervisorError`; anything else is a bug.
 */
export interface BlockBackend {
  /** Size of the virtual disk in bytes. */
  readonly capacity: number;
  /** True when writes, discards and flushes of data are refused. */
  readonly readOnly: boolean;
  /** Reads `dst.length` bytes from `offset`. */
  read(offset: number, dst: Uint8Array): Promise<void>;
  /** Writes `src` at `offset`. */
  write(offset: number, src: Uint8Array): Promise<void>;
  /** Makes every completed write durable. Resolves at once on a read-only backend. */
  flush(): Promise<void>;
  /** Forgets `length` bytes from `offset` (see the contract above). */
  discard?(offset: number, length: number): Promise<void>;
  /** Releases the backend and what it opened (backing images included). */
  close(): Promise<void>;
  /** How the first bytes of `[offset, offset + length)` are stored in this image (see the contract). */
  blockStatus?(offset: number, length: number): Promise<BlockStatus>;
  /** The backing image the unallocated ranges read from (undefined: they read as zeros). */
  readonly backing?: BlockBackend | undefined;
}

/**
 * The allocation status of a range in one image of a chain, as qemu's block status flags
 * (BDRV_BLOCK_DATA, _ZERO, _OFFSET_VALID; "allocated" is _DATA or _ZERO): what `img map` prints.
 */
export interface BlockStatus {
  /** Bytes from the asked offset with this status: 1 ≤ length ≤ the asked length. */
  readonly length: number;
  /** The bytes are stored as data in this image's file. */
  readonly data: boolean;
  /** The bytes read as zeros because this image says so (a zero cluster, a hole). */
  readonly zero: boolean;
  /**
   * Where the range starts in this image's file, when it has one place there (absent for
   * compressed data). Unallocated ranges may have one too (a host cluster reserved for them).
   */
  readonly offset?: number;
}

/**
 * Checks a request against the contract of {@link BlockBackend}: throws a `TypervisorError`
 * naming the request when `offset`/`length` are not safe non-negative integers or the range
 * leaves `[0, capacity]`.
 */
export function checkRange(what: string, offset: number, length: number, capacity: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new TypervisorError(`${what}: bad request (offset ${offset}, length ${length})`);
  }
  if (offset > capacity || length > capacity - offset) {
    throw new TypervisorError(
      `${what}: request at offset ${offset} of ${length} bytes ends past the end of the disk (capacity ${capacity} bytes)`,
    );
  }
}
