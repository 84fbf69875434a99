/**
 * The bytes underneath an image format: a file on the host, a browser's OPFS handle, memory.
 * Formats reach storage only through this interface, so they stay platform-neutral.
 *
 * Contract:
 * - Offsets are non-negative safe integers; the file has no holes as far as callers can tell
 *   (unwritten bytes inside `size()` read as zeros).
 * - `pread` fills `dst` from `offset` and resolves with the number of bytes read, which is less
 *   than `dst.length` only when the file ends first (0 at or past the end); the rest of `dst` is
 *   left as it was. It never retains `dst`.
 * - `pwrite` writes all of `src` (growing the file when it ends past the end) or rejects.
 * - `flush` makes completed writes durable (fsync/fdatasync or equivalent).
 * - Errors are `TypervisorError`s that name the file.
 */
export interface ImageFile {
  /** A name for messages (a path, or `memory`). */
  readonly name: string;
  /** False when the file was opened read-only: `pwrite`/`truncate` reject. */
  readonly writable: boolean;
  /** Current size in bytes. */
  size(): Promise<number>;
  /** Reads into `dst` from `offset`; resolves with the count read (short only at end of file). */
  pread(dst: Uint8Array, offset: number): Promise<number>;
  /** Writes all of `src` at `offset`. */
  pwrite(src: Uint8Array, offset: number): Promise<void>;
  /** Sets the size to `size` bytes (new bytes read as zeros). */
  truncate(size: number): Promise<void>;
  /** Makes completed writes durable. */
  flush(): Promise<void>;
  /** Releases the file; later calls reject. */
  close(): Promise<void>;
}

/**
 * Where image files come from: resolves names (a disk's path, a backing-file name recorded in
 * an image) to a canonical identity, and opens them. The host provides it (src/host/storage-file.ts
 * for Node); `openImage` uses the identities to find loops in backing chains.
 */
export interface ImageFileSystem {
  /**
   * The canonical key of `name` — for files an absolute, symlink-free path. A relative `name`
   * is relative to the image `relativeTo` (the key of the image that names it), or to the
   * working directory when `relativeTo` is undefined. Rejects with a `TypervisorError` when the
   * file does not exist.
   */
  resolve(name: string, relativeTo?: string): Promise<string>;
  /** Opens the file with key `key` (from `resolve`). */
  open(key: string, options: { writable: boolean }): Promise<ImageFile>;
}
