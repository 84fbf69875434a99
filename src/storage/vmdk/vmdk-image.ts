// Reading VMDK disks (VMware Virtual Disk Format 5.0): a single hosted sparse extent file
// (monolithicSparse, streamOptimized), or a text descriptor naming flat, sparse and zero extents
// (monolithicFlat, twoGbMaxExtentFlat/Sparse, vmfs), laid end to end.
import { TypervisorError } from '../../core/errors.js';
import { type BlockBackend, checkRange } from '../block-backend.js';
import type { ImageFile } from '../image-file.js';
import { readExact } from '../read-exact.js';
import { readOnlyError } from '../read-only-format.js';
import { looksLikeVmdkDescriptor, MAX_DESCRIPTOR_BYTES, parseVmdkDescriptor, SUPPORTED_CREATE_TYPES, type VmdkDescriptor } from './vmdk-descriptor.js';
import { SECTOR, SPARSE_MAGIC } from './vmdk-header.js';
import { SparseExtent } from './vmdk-sparse-extent.js';

/** Opens an extent file named in a descriptor (relative to it), read-only. */
export type OpenExtentFile = (fileName: string) => Promise<ImageFile>;
/** Opens the parent of a delta disk (parentFileNameHint, relative to the image), read-only. */
export type OpenParent = (fileName: string) => Promise<BlockBackend>;

/** Facts for `img info` (qemu-img's format-specific "extents" list). */
export interface VmdkExtentInfo {
  /** The extent file's key (resolved path); "" for a ZERO extent. */
  readonly filename: string;
  /** The file as the descriptor names it (relative to the descriptor); undefined for the image file itself and ZERO extents. */
  readonly namedFile?: string;
  /** Bytes of the virtual disk the extent holds. */
  readonly virtualSize: number;
  /** "" for a sparse extent file opened directly (as qemu-img shows it), else the descriptor's type. */
  readonly format: string;
  readonly clusterSize?: number;
  readonly compressed?: boolean;
}

export interface VmdkInfo {
  readonly createType: string;
  /** A delta disk's parent as the descriptor names it. */
  readonly parentFileNameHint?: string;
  readonly cid: number | undefined;
  readonly parentCid: number | undefined;
  readonly extents: readonly VmdkExtentInfo[];
}

interface Extent {
  /** Where the extent starts on the virtual disk, and its length, in bytes. */
  readonly start: number;
  readonly bytes: number;
  read(offset: number, dst: Uint8Array): Promise<void>;
}

const HINT_CONVERT = 'convert it with qemu-img convert -O qcow2 (or -O raw) and use the result';

/**
 * A VMDK disk as a read-only {@link BlockBackend}. Every structure is validated before use —
 * headers and tables at open, grains when read — with a `TypervisorError` naming the field, its
 * value and the file.
 */
export class VmdkImage implements BlockBackend {
  readonly capacity: number;
  readonly readOnly = true;
  private closed = false;

  private constructor(
    private readonly file: ImageFile,
    private readonly files: readonly ImageFile[],
    private readonly extents: readonly Extent[],
    readonly info: VmdkInfo,
    /** The sparse extents, in order (for tests: their grain lookup counts). */
    readonly sparseExtents: readonly SparseExtent[],
    /** A delta disk's opened parent. */
    readonly parent: BlockBackend | undefined,
  ) {
    const last = extents[extents.length - 1];
    this.capacity = last === undefined ? 0 : last.start + last.bytes;
  }

  /**
   * Opens `file` (a sparse extent or a descriptor). Extent files named by a descriptor are
   * opened with `openExtent`; without it, descriptors are refused. On failure every file this
   * opened is closed (the caller closes `file`).
   */
  static async open(file: ImageFile, options: { openExtent?: OpenExtentFile; openParent?: OpenParent } = {}): Promise<VmdkImage> {
    const name = file.name;
    const fileSize = await file.size();
    const head = new Uint8Array(Math.min(4, fileSize));
    await file.pread(head, 0);
    if (head.length === 4 && new DataView(head.buffer).getUint32(0, true) === SPARSE_MAGIC) {
      const sparse = await SparseExtent.open(file);
      const d = sparse.descriptorText === undefined ? undefined : parseVmdkDescriptor(name, sparse.descriptorText);
      const createType = d?.createType ?? (sparse.compressed ? 'streamOptimized' : 'monolithicSparse');
      const info: VmdkInfo = {
        createType,
        cid: d?.cid,
        parentCid: d?.parentCid,
        ...(d?.parentFileNameHint !== undefined ? { parentFileNameHint: d.parentFileNameHint } : {}),
        extents: [{ filename: name, virtualSize: sparse.bytes, format: '', clusterSize: sparse.grainBytes, ...(sparse.compressed ? { compressed: true } : {}) }],
      };
      const parent = d === undefined ? undefined : await openParent(name, d, options.openParent);
      if (parent) sparse.unallocated = parentReader(parent, 0);
      return new VmdkImage(file, [], [{ start: 0, bytes: sparse.bytes, read: (o, d) => sparse.read(o, d) }], info, [sparse], parent);
    }
    if (fileSize > MAX_DESCRIPTOR_BYTES) {
      throw new TypervisorError(`${name}: not a VMDK image: no "KDMV" magic, and at ${fileSize} bytes too big to be a text descriptor (at most ${MAX_DESCRIPTOR_BYTES})`, { hint: 'check the file and its format (-f)' });
    }
    const raw = new Uint8Array(fileSize);
    await readExact(file, raw, 0, 'the descriptor', 'VMDK');
    const text = new TextDecoder('utf-8').decode(raw);
    if (!looksLikeVmdkDescriptor(text)) {
      throw new TypervisorError(`${name}: not a VMDK image: neither "KDMV" magic nor a text descriptor (whose first line other than comments is version=1, 2 or 3)`, { hint: 'check the file and its format (-f)' });
    }
    const d = parseVmdkDescriptor(name, text);
    if (d.createType === undefined) throw new TypervisorError(`${name}: bad VMDK descriptor: no createType`, { hint: HINT_CONVERT });
    if (!SUPPORTED_CREATE_TYPES.includes(d.createType)) {
      throw new TypervisorError(`${name}: VMDK createType "${d.createType}" is not supported (supported: ${SUPPORTED_CREATE_TYPES.join(', ')})`, { hint: HINT_CONVERT });
    }
    if (d.extents.length === 0) throw new TypervisorError(`${name}: bad VMDK descriptor: it describes no extents`, { hint: HINT_CONVERT });
    if (options.openExtent === undefined) throw new TypervisorError(`${name}: VMDK descriptor files need their extent files, and none can be opened here`, { hint: HINT_CONVERT });
    const files: ImageFile[] = [];
    const extents: Extent[] = [];
    const infos: VmdkExtentInfo[] = [];
    const sparseExtents: SparseExtent[] = [];
    const sparseStarts: number[] = [];
    let parent: BlockBackend | undefined;
    let start = 0;
    try {
      for (const line of d.extents) {
        const bytes = line.sectors * SECTOR;
        if (start + bytes > Number.MAX_SAFE_INTEGER) throw new TypervisorError(`${name}: bad VMDK descriptor: line ${line.line}: the extents add up to more than 2^53 bytes`, { hint: HINT_CONVERT });
        const at = start;
        if (line.type === 'ZERO') {
          extents.push({ start: at, bytes, read: async (_o, dst) => void dst.fill(0) });
          infos.push({ filename: '', virtualSize: bytes, format: 'ZERO' });
        } else {
          const f = await options.openExtent(line.fileName!);
          files.push(f);
          if (line.type === 'SPARSE') {
            const sparse = await SparseExtent.open(f);
            if (sparse.bytes < bytes) {
              throw new TypervisorError(`${name}: line ${line.line}: the SPARSE extent ${line.fileName} holds ${sparse.header.capacity} sectors, fewer than the ${line.sectors} the descriptor gives it`, { hint: HINT_CONVERT });
            }
            extents.push({ start: at, bytes, read: (o, dst) => sparse.read(o, dst) });
            sparseExtents.push(sparse);
            sparseStarts.push(at);
            infos.push({ filename: f.name, namedFile: line.fileName, virtualSize: bytes, format: 'SPARSE', clusterSize: sparse.grainBytes, ...(sparse.compressed ? { compressed: true } : {}) });
          } else {
            const base = line.offset * SECTOR;
            const size = await f.size();
            if (base + bytes > size) {
              throw new TypervisorError(
                `${name}: line ${line.line}: the ${line.type} extent ${line.fileName} is ${size} bytes, too short for ${line.sectors} sectors from sector ${line.offset} (${base + bytes} bytes)`,
                { hint: 'the extent file is truncated or the descriptor names the wrong file' },
              );
            }
            extents.push({ start: at, bytes, read: (o, dst) => flatRead(f, base + o, dst) });
            infos.push({ filename: f.name, namedFile: line.fileName, virtualSize: bytes, format: line.type });
          }
        }
        start += bytes;
      }
      parent = await openParent(name, d, options.openParent);
      if (parent) for (const [i, e] of sparseExtents.entries()) e.unallocated = parentReader(parent, sparseStarts[i]);
    } catch (e) {
      for (const f of files) await f.close().catch(() => undefined);
      await parent?.close().catch(() => undefined);
      throw e;
    }
    const info: VmdkInfo = {
      createType: d.createType,
      cid: d.cid,
      parentCid: d.parentCid,
      ...(d.parentFileNameHint !== undefined ? { parentFileNameHint: d.parentFileNameHint } : {}),
      extents: infos,
    };
    return new VmdkImage(file, files, extents, info, sparseExtents, parent);
  }

  async read(offset: number, dst: Uint8Array): Promise<void> {
    this.check('read', offset, dst.length);
    let done = 0;
    let i = this.extentAt(offset);
    while (done < dst.length) {
      const e = this.extents[i];
      const pos = offset + done;
      const n = Math.min(e.start + e.bytes - pos, dst.length - done);
      await e.read(pos - e.start, dst.subarray(done, done + n));
      done += n;
      i++;
    }
  }

  async write(offset: number, src: Uint8Array): Promise<void> {
    this.check('write', offset, src.length);
    throw readOnlyError(this.file.name, 'vmdk');
  }

  async flush(): Promise<void> {
    if (this.closed) throw new TypervisorError(`${this.file.name}: flush after close`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.files) await f.close().catch(() => undefined);
    await this.parent?.close().catch(() => undefined);
    await this.file.close();
  }

  /** The index of the extent holding byte `offset` (< capacity). */
  private extentAt(offset: number): number {
    let lo = 0;
    let hi = this.extents.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.extents[mid].start <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private check(what: string, offset: number, length: number): void {
    if (this.closed) throw new TypervisorError(`${this.file.name}: ${what} after close`);
    checkRange(`${this.file.name}: ${what}`, offset, length, this.capacity);
  }
}

async function flatRead(f: ImageFile, at: number, dst: Uint8Array): Promise<void> {
  const n = await f.pread(dst, at);
  if (n < dst.length) throw new TypervisorError(`${f.name}: the flat extent file shrank while open (read past its end at offset ${at})`, { hint: 'do not modify an image while it is in use' });
}

/**
 * Opens a delta disk's parent (VMware Virtual Disk Format 5.0, § "Delta Links"): the
 * descriptor's parentFileNameHint, whose CID must be the delta's parentCID — a parent changed
 * since the delta was made would show the guest a mix of two disks.
 */
async function openParent(name: string, d: VmdkDescriptor, open: OpenParent | undefined): Promise<BlockBackend | undefined> {
  const hint = d.parentFileNameHint;
  if (hint === undefined) return undefined;
  if (open === undefined) {
    throw new TypervisorError(`${name}: this VMDK delta disk needs its parent "${hint}", and none can be opened here`, { hint: 'open it through openImage, or convert the chain with qemu-img convert -O qcow2' });
  }
  const parent = await open(hint);
  if (parent instanceof VmdkImage && d.parentCid !== undefined && parent.info.cid !== undefined && parent.info.cid !== d.parentCid) {
    await parent.close().catch(() => undefined);
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    throw new TypervisorError(`${name}: parentCID is ${hex(d.parentCid)} but the parent ${hint} has CID ${hex(parent.info.cid)}: the parent changed after this delta disk was made`, {
      hint: 'use the parent the delta was made from (writing to a parent invalidates its deltas)',
    });
  }
  return parent;
}

/** Reads the parent's bytes for an extent starting at `start`; past the parent's end: zeros. */
function parentReader(parent: BlockBackend, start: number): (offset: number, dst: Uint8Array) => Promise<void> {
  return async (offset, dst) => {
    const at = start + offset;
    const inside = Math.max(0, Math.min(dst.length, parent.capacity - at));
    if (inside > 0) await parent.read(at, dst.subarray(0, inside));
    dst.fill(0, inside);
  };
}
