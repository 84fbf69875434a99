// The qcow2 image header and its extensions, parsed from untrusted bytes.
// Spec: QEMU docs/interop/qcow2.txt ("== Header ==", "=== Header extensions ===",
// "== Feature name table ==", "== String header extensions ==").
import { TypervisorError } from '../../core/errors.js';

/** "QFI\xfb" (qcow2.txt "== Header ==", bytes 0-3). */
export const QCOW2_MAGIC = 0x514649fb;
/** Smallest and largest cluster_bits we open: the spec's minimum (512-byte clusters) and QEMU's 2 MiB limit. */
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;
/** QEMU's implementation limits, which we share so no image QEMU refuses is read here: L1 ≤ 32 MiB, refcount table ≤ 8 MiB, 65536 snapshots. */
export const MAX_L1_BYTES = 32 * 1024 * 1024;
export const MAX_REFCOUNT_TABLE_BYTES = 8 * 1024 * 1024;
export const MAX_SNAPSHOTS = 65536;
/** The backing file name "must not be longer than 1023 bytes" (qcow2.txt, backing_file_size). */
export const MAX_BACKING_NAME = 1023;

/** incompatible_features bits (qcow2.txt "== Header ==", bytes 72-79). */
export const INCOMPAT_DIRTY = 1 << 0;
export const INCOMPAT_CORRUPT = 1 << 1;
export const INCOMPAT_DATA_FILE = 1 << 2;
export const INCOMPAT_COMPRESSION = 1 << 3;
export const INCOMPAT_EXTL2 = 1 << 4;
const INCOMPAT_KNOWN = 0x1f;
const INCOMPAT_NAMES = ['dirty', 'corrupt', 'external data file', 'compression type', 'extended L2 entries'];

/** Header extension types (qcow2.txt "=== Header extensions ==="). */
const EXT_END = 0x00000000;
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_FEATURE_NAMES = 0x6803f857;
const EXT_BITMAPS = 0x23852875;
const EXT_CRYPTO = 0x0537be77;
const EXT_DATA_FILE = 0x44415441;

/** A parsed, validated qcow2 header. Offsets and sizes are bytes. */
export interface Qcow2Header {
  readonly version: 2 | 3;
  readonly backingFileOffset: number;
  readonly backingFileSize: number;
  readonly clusterBits: number;
  readonly clusterSize: number;
  /** Virtual disk size. */
  readonly size: number;
  readonly cryptMethod: number;
  readonly l1Size: number;
  readonly l1TableOffset: number;
  readonly refcountTableOffset: number;
  readonly refcountTableClusters: number;
  readonly nbSnapshots: number;
  readonly snapshotsOffset: number;
  /** Feature bitmasks (64-bit; bits above 31 only matter as "unknown"). */
  readonly incompatibleFeatures: bigint;
  readonly compatibleFeatures: bigint;
  readonly autoclearFeatures: bigint;
  readonly refcountOrder: number;
  readonly headerLength: number;
  /** 0 zlib, 1 zstd (header byte 104, v3 with header_length > 104). */
  readonly compressionType: number;
  readonly backingFile: string | undefined;
  readonly backingFormat: string | undefined;
  readonly externalDataFile: string | undefined;
  /** Feature names from the feature name table, keyed `incompatible:N`, `compatible:N`, `autoclear:N`. */
  readonly featureNames: ReadonlyMap<string, string>;
  /** True with extended L2 entries (subclusters; incompatible bit 4). */
  readonly extendedL2: boolean;
}

/** The header's fixed part is at most this long before we know the cluster size. */
export const HEADER_PROBE_BYTES = 112;

function fail(name: string, message: string, hint?: string): never {
  throw new TypervisorError(`${name}: not a valid qcow2 image: ${message}`, hint === undefined ? {} : { hint });
}

/** Reads a big-endian u64 as a number; fails, naming `field`, when it does not fit in 2^53. */
function u64(view: DataView, at: number, name: string, field: string): number {
  const hi = view.getUint32(at);
  const lo = view.getUint32(at + 4);
  if (hi >= 0x200000) fail(name, `${field} is ${((BigInt(hi) << 32n) | BigInt(lo)).toString()}, beyond 2^53`);
  return hi * 0x1_0000_0000 + lo;
}

function u64big(view: DataView, at: number): bigint {
  return (BigInt(view.getUint32(at)) << 32n) | BigInt(view.getUint32(at + 4));
}

/** Reads `cluster_bits` from the first bytes, so the caller knows how much to read for {@link parseQcow2Header}. */
export function peekClusterBits(name: string, first: Uint8Array): number {
  if (first.length < 72) fail(name, `the file is ${first.length} bytes long, shorter than a qcow2 header (72 bytes)`);
  const view = new DataView(first.buffer, first.byteOffset, first.byteLength);
  if (view.getUint32(0) !== QCOW2_MAGIC) fail(name, 'bad magic (expected "QFI\\xfb")');
  const bits = view.getUint32(20);
  if (bits < MIN_CLUSTER_BITS || bits > MAX_CLUSTER_BITS) {
    fail(name, `cluster_bits is ${bits}; supported values are ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS} (512 B to 2 MiB clusters)`);
  }
  return bits;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(name: string, bytes: Uint8Array, field: string): string {
  let s: string;
  try {
    s = utf8.decode(bytes);
  } catch {
    fail(name, `${field} is not valid UTF-8`);
  }
  if (s.includes('\0')) fail(name, `${field} contains a NUL byte`);
  return s;
}

function describeUnknown(bits: bigint, names: ReadonlyMap<string, string>): string {
  const parts: string[] = [];
  for (let b = 0; b < 64; b++) {
    if ((bits >> BigInt(b)) & 1n) {
      const known = names.get(`incompatible:${b}`);
      parts.push(known === undefined ? `bit ${b}` : `bit ${b} (${known})`);
    }
  }
  return parts.join(', ');
}

/**
 * Parses and validates the header in `cluster0` (the image's first cluster, or the whole file
 * when shorter) of an image whose file is `fileSize` bytes. Throws a `TypervisorError` naming
 * the field and its value for anything malformed, unsupported or beyond QEMU's limits.
 * Checks that need the tables themselves (L1/L2 entries) are done where they are read.
 */
export function parseQcow2Header(name: string, cluster0: Uint8Array, fileSize: number): Qcow2Header {
  const clusterBits = peekClusterBits(name, cluster0);
  const clusterSize = 2 ** clusterBits;
  const view = new DataView(cluster0.buffer, cluster0.byteOffset, cluster0.byteLength);
  const version = view.getUint32(4);
  if (version !== 2 && version !== 3) {
    fail(name, `version is ${version}; only qcow2 versions 2 and 3 exist`, version === 1 ? 'qcow version 1 images are not supported; convert with qemu-img convert -O qcow2' : undefined);
  }
  if (version === 3 && cluster0.length < 104) fail(name, `the file is ${cluster0.length} bytes long, shorter than a version 3 header (104 bytes)`);

  const backingFileOffset = u64(view, 8, name, 'backing_file_offset');
  const backingFileSize = view.getUint32(16);
  const size = u64(view, 24, name, 'size');
  const cryptMethod = view.getUint32(32);
  const l1Size = view.getUint32(36);
  const l1TableOffset = u64(view, 40, name, 'l1_table_offset');
  const refcountTableOffset = u64(view, 48, name, 'refcount_table_offset');
  const refcountTableClusters = view.getUint32(56);
  const nbSnapshots = view.getUint32(60);
  const snapshotsOffset = u64(view, 64, name, 'snapshots_offset');

  let incompatibleFeatures = 0n;
  let compatibleFeatures = 0n;
  let autoclearFeatures = 0n;
  let refcountOrder = 4;
  let headerLength = 72;
  let compressionType = 0;
  if (version === 3) {
    incompatibleFeatures = u64big(view, 72);
    compatibleFeatures = u64big(view, 80);
    autoclearFeatures = u64big(view, 88);
    refcountOrder = view.getUint32(96);
    headerLength = view.getUint32(100);
    if (headerLength < 104 || headerLength % 8 !== 0 || headerLength > clusterSize || headerLength > cluster0.length) {
      fail(name, `header_length is ${headerLength}; it must be a multiple of 8, at least 104 and inside the first cluster (${clusterSize} bytes)`);
    }
    if (refcountOrder > 6) fail(name, `refcount_order is ${refcountOrder}; the maximum is 6 (64-bit refcounts)`);
    // "=== Additional fields ===": compression_type is present only when header_length > 104.
    if (headerLength > 104) compressionType = cluster0[104];
  }

  // Header extensions (v3 and also v2 images may carry them): from the end of the header to the
  // backing file name, or to the end of the first cluster.
  const extEnd = Math.min(backingFileOffset !== 0 && backingFileOffset < clusterSize ? backingFileOffset : clusterSize, cluster0.length);
  const seen = new Set<number>();
  const featureNames = new Map<string, string>();
  let backingFormat: string | undefined;
  let externalDataFile: string | undefined;
  let hasBitmaps = false;
  for (let at = headerLength; at + 8 <= extEnd; ) {
    const type = view.getUint32(at);
    const len = view.getUint32(at + 4);
    if (type === EXT_END) break;
    const dataAt = at + 8;
    if (len > extEnd - dataAt) {
      fail(name, `header extension 0x${type.toString(16).padStart(8, '0')} at byte ${at} has length ${len}, past the end of the header area (byte ${extEnd})`);
    }
    const data = cluster0.subarray(dataAt, dataAt + len);
    const known = type === EXT_BACKING_FORMAT || type === EXT_FEATURE_NAMES || type === EXT_BITMAPS || type === EXT_CRYPTO || type === EXT_DATA_FILE;
    if (known && seen.has(type)) fail(name, `header extension 0x${type.toString(16).padStart(8, '0')} appears twice`);
    seen.add(type);
    if (type === EXT_BACKING_FORMAT) {
      backingFormat = text(name, data, 'the backing file format extension');
    } else if (type === EXT_DATA_FILE) {
      externalDataFile = text(name, data, 'the external data file name extension');
    } else if (type === EXT_BITMAPS) {
      hasBitmaps = true;
    } else if (type === EXT_FEATURE_NAMES) {
      // "== Feature name table ==": 48-byte entries (type, bit, 46-byte name).
      for (let e = 0; e + 48 <= len; e += 48) {
        const kind = ['incompatible', 'compatible', 'autoclear'][data[e]];
        const end = data.subarray(e + 2, e + 48).indexOf(0);
        const label = new TextDecoder().decode(data.subarray(e + 2, end < 0 ? e + 48 : e + 2 + end));
        if (kind !== undefined && data[e + 1] < 64) featureNames.set(`${kind}:${data[e + 1]}`, label);
      }
    }
    at = dataAt + Math.ceil(len / 8) * 8;
  }
  void hasBitmaps; // bitmaps only matter to writers (autoclear bit 0)

  // incompatible_features: "An implementation must fail to open an image if an unknown bit is set."
  const unknown = incompatibleFeatures & ~BigInt(INCOMPAT_KNOWN);
  if (unknown !== 0n) {
    fail(name, `incompatible_features has unknown bits set: ${describeUnknown(unknown, featureNames)} (0x${incompatibleFeatures.toString(16)})`,
      'the image needs a newer qcow2 implementation; qemu-img convert can rewrite it without those features');
  }
  const incompat = Number(incompatibleFeatures);
  if (incompat & INCOMPAT_DATA_FILE) {
    throw new TypervisorError(`${name}: qcow2 images with an external data file${externalDataFile === undefined ? '' : ` (${externalDataFile})`} are not supported (incompatible_features bit 2)`, {
      hint: 'convert it with qemu-img convert -O qcow2 to an image that holds its own data',
    });
  }
  if (incompat & INCOMPAT_COMPRESSION) {
    if (compressionType === 0) fail(name, 'incompatible_features bit 3 (compression type) is set but compression_type is 0');
    if (compressionType === 1) {
      throw new TypervisorError(`${name}: zstd-compressed qcow2 images are not supported (compression_type 1)`, {
        hint: 'convert it with qemu-img convert -O qcow2 -o compression_type=zlib',
      });
    }
    fail(name, `compression_type is ${compressionType}; known values are 0 (zlib) and 1 (zstd)`);
  } else if (compressionType !== 0) {
    fail(name, `compression_type is ${compressionType} but incompatible_features bit 3 is clear (it must then be 0)`);
  }
  const extendedL2 = (incompat & INCOMPAT_EXTL2) !== 0;
  if (extendedL2 && clusterBits < 14) fail(name, `cluster_bits is ${clusterBits}; with extended L2 entries it must be at least 14`);

  if (cryptMethod !== 0) {
    throw new TypervisorError(`${name}: encrypted qcow2 images are not supported (crypt_method ${cryptMethod})`, {
      hint: 'decrypt it with qemu-img convert --object secret,... --image-opts',
    });
  }

  // Backing file name: inside the first cluster, after the header, at most 1023 bytes.
  let backingFile: string | undefined;
  if (backingFileOffset !== 0 && backingFileSize === 0) {
    // An empty name means no backing file (QEMU reads it as ""), but the offset must still be
    // inside the first cluster: QEMU refuses it otherwise ("Invalid backing file offset").
    if (backingFileOffset > clusterSize) fail(name, `backing_file_offset ${backingFileOffset} lies past the first cluster (${clusterSize} bytes)`);
  } else if (backingFileOffset !== 0) {
    if (backingFileSize > MAX_BACKING_NAME) {
      fail(name, `backing_file_size is ${backingFileSize}; it must be at most ${MAX_BACKING_NAME}`);
    }
    if (backingFileOffset < headerLength || backingFileOffset + backingFileSize > Math.min(clusterSize, cluster0.length)) {
      fail(name, `backing_file_offset ${backingFileOffset} with backing_file_size ${backingFileSize} is not inside the first cluster after the header`);
    }
    backingFile = text(name, cluster0.subarray(backingFileOffset, backingFileOffset + backingFileSize), 'the backing file name');
    if (backingFile.length === 0) fail(name, 'the backing file name is empty');
  } else if (backingFormat !== undefined) {
    // A format without a file is harmless; QEMU ignores it too.
  }

  // The L1 table ("== Cluster mapping =="): cluster-aligned, inside the file, big enough for `size`.
  const l2Entries = clusterSize / (extendedL2 ? 16 : 8);
  const bytesPerL1Entry = l2Entries * clusterSize;
  const neededL1 = Math.ceil(size / bytesPerL1Entry);
  if (neededL1 * 8 > MAX_L1_BYTES) {
    fail(name, `size is ${size} bytes, which needs ${neededL1} L1 entries with ${clusterSize}-byte clusters (more than the 32 MiB L1 limit)`);
  }
  if (l1Size * 8 > MAX_L1_BYTES) fail(name, `l1_size is ${l1Size} entries (${l1Size * 8} bytes), beyond the 32 MiB limit`);
  if (l1Size < neededL1) fail(name, `l1_size is ${l1Size} entries, too small for size ${size} (needs ${neededL1})`);
  const regions: Array<{ what: string; start: number; end: number }> = [{ what: 'the header cluster', start: 0, end: clusterSize }];
  if (l1Size > 0) {
    if (l1TableOffset % clusterSize !== 0) fail(name, `l1_table_offset 0x${l1TableOffset.toString(16)} is not aligned to the cluster size (${clusterSize})`);
    if (l1TableOffset + l1Size * 8 > fileSize) fail(name, `the L1 table (l1_table_offset 0x${l1TableOffset.toString(16)}, ${l1Size} entries) ends past the end of the file (${fileSize} bytes)`);
    regions.push({ what: 'the L1 table', start: l1TableOffset, end: l1TableOffset + l1Size * 8 });
  }
  // The refcount table ("== Host cluster management =="): read only to prove it does not overlap.
  if (refcountTableOffset % clusterSize !== 0) fail(name, `refcount_table_offset 0x${refcountTableOffset.toString(16)} is not aligned to the cluster size (${clusterSize})`);
  if (refcountTableClusters * clusterSize > MAX_REFCOUNT_TABLE_BYTES) {
    fail(name, `refcount_table_clusters is ${refcountTableClusters} (${refcountTableClusters * clusterSize} bytes), beyond the 8 MiB limit`);
  }
  if (refcountTableClusters === 0) fail(name, 'refcount_table_clusters is 0');
  if (refcountTableOffset + refcountTableClusters * clusterSize > fileSize) {
    fail(name, `the refcount table (refcount_table_offset 0x${refcountTableOffset.toString(16)}, ${refcountTableClusters} clusters) ends past the end of the file (${fileSize} bytes)`);
  }
  regions.push({ what: 'the refcount table', start: refcountTableOffset, end: refcountTableOffset + refcountTableClusters * clusterSize });
  if (nbSnapshots > MAX_SNAPSHOTS) fail(name, `nb_snapshots is ${nbSnapshots}; the limit is ${MAX_SNAPSHOTS}`);
  if (nbSnapshots > 0) {
    if (snapshotsOffset % clusterSize !== 0) fail(name, `snapshots_offset 0x${snapshotsOffset.toString(16)} is not aligned to the cluster size (${clusterSize})`);
    if (snapshotsOffset === 0 || snapshotsOffset >= fileSize) fail(name, `snapshots_offset 0x${snapshotsOffset.toString(16)} is not inside the file (${fileSize} bytes)`);
  }
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const a = regions[i];
      const b = regions[j];
      if (a.start < b.end && b.start < a.end) fail(name, `${b.what} (0x${b.start.toString(16)}..0x${b.end.toString(16)}) overlaps ${a.what} (0x${a.start.toString(16)}..0x${a.end.toString(16)})`);
    }
  }

  return {
    version, backingFileOffset, backingFileSize, clusterBits, clusterSize, size, cryptMethod, l1Size, l1TableOffset,
    refcountTableOffset, refcountTableClusters, nbSnapshots, snapshotsOffset, incompatibleFeatures, compatibleFeatures,
    autoclearFeatures, refcountOrder, headerLength, compressionType, backingFile, backingFormat, externalDataFile,
    featureNames, extendedL2,
  };
}

/** Names the set incompatible feature bits we know, for messages and `info`. */
export function incompatibleFeatureNames(bits: bigint): string[] {
  return INCOMPAT_NAMES.filter((_, i) => (bits >> BigInt(i)) & 1n);
}
