import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { TypervisorError } from '../core/errors.js';
import { NodeImageFile, nodeImageFileSystem } from '../host/storage-file.js';
import { probeFormat } from '../storage/probe-format.js';
import { checkExitStatus, checkQcow2, type Qcow2CheckResult } from '../storage/qcow2/qcow2-check.js';
import { createQcow2 } from '../storage/qcow2/qcow2-create.js';
import { parseQcow2Header, peekClusterBits, HEADER_PROBE_BYTES, INCOMPAT_CORRUPT, INCOMPAT_DIRTY } from '../storage/qcow2/qcow2-header.js';
import type { CliStreams } from './cli-streams.js';
import { compareImages } from './img-compare.js';
import { convertImage } from './img-convert.js';
import { createNewFile } from './img-files.js';
import { addImgOpsCommands } from './img-ops-commands.js';
import { addImgSnapshotCommand, listSnapshots, snapshotJson, snapshotListText } from './img-snapshot.js';
import type { Qcow2Snapshot } from '../storage/qcow2/qcow2-snapshot-table.js';
import { parseVpcOption, type VpcCreateOptions, vhdInfoFacts, vpcCreateText } from './img-vhd.js';
import { createVhd } from '../storage/vhd/vhd-create.js';

import { readOnlyFormatInfo } from './img-info-read-only-formats.js';

const FORMATS = ['qcow2', 'raw', 'vpc'];
/** Formats typervisor reads (img info, compare, convert -f, backing files): the output formats and the read-only ones. */
const INPUT_FORMATS = [...FORMATS, 'vmdk', 'vdi'];

/**
 * Parses a size as qemu-img does: a non-negative number, optionally with a fraction, and an
 * optional binary suffix (b/B bytes, k/K, M, G, T, P, E). Throws a TypervisorError naming `what`.
 */
export function parseImageSize(text: string, what = 'image size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgtpe]?)\s*$/i.exec(text);
  const bad = () =>
    new TypervisorError(`invalid ${what} '${text}'`, { hint: 'give bytes, or a number with a k, M, G, T, P or E suffix (powers of 1024), e.g. 10G or 1.5M' });
  if (!m) throw bad();
  const bytes = Number(m[1]) * 1024 ** Math.max(0, 'bkmgtpe'.indexOf(m[2].toLowerCase()));
  if (!Number.isSafeInteger(bytes)) throw bad();
  return bytes;
}

/** Parses `-o key=value,...` (qemu-img's option strings; the options we know). */
function parseCreateOptions(list: string[]): { clusterSize?: number; vpc: VpcCreateOptions } {
  const out: { clusterSize?: number; vpc: VpcCreateOptions } = { vpc: {} };
  for (const item of list.flatMap((o) => o.split(','))) {
    if (item === '') continue;
    const [key, value] = item.split('=', 2);
    if (key === 'cluster_size' && value !== undefined) out.clusterSize = parseImageSize(value, 'cluster size');
    else if (parseVpcOption(key, value, out.vpc)) continue;
    else {
      throw new TypervisorError(`unsupported image option '${item}'`, { hint: 'supported: -o cluster_size=SIZE (qcow2), -o subformat=dynamic|fixed,force_size=on|off (vpc); set the backing file with -b and -F' });
    }
  }
  return out;
}

function checkFormat(fmt: string, flag: string, formats = INPUT_FORMATS): string {
  if (!formats.includes(fmt)) {
    throw new TypervisorError(`unknown or unsupported image format '${fmt}' (${flag})`, { hint: `supported formats: ${formats.join(', ')}` });
  }
  return fmt;
}


/** qemu's size_to_str: three significant digits and a binary unit ("1 GiB", "196 KiB"). */
export function humanSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  const e = bytes <= 0 ? 0 : Math.floor(Math.log2((bytes * 1024) / 1000)) + 1;
  const i = Math.max(0, Math.min(units.length - 1, Math.floor((e - 1) / 10)));
  return `${parseFloat((bytes / 2 ** (10 * i)).toPrecision(3))} ${units[i]}`;
}

/** Image facts with qemu-img's `--output json` field names. */
export interface ImageInfo {
  /** qcow2 internal snapshots (present only when there are some, as qemu-img prints them). */
  snapshots?: Record<string, unknown>[];
  'virtual-size': number;
  filename: string;
  format: string;
  'actual-size'?: number;
  'cluster-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'backing-filename-format'?: string;
  'dirty-flag': boolean;
  'format-specific'?: { type: string; data: Record<string, unknown> };
}

async function imageInfo(filename: string, format: string | undefined): Promise<ImageInfo> {
  const file = await NodeImageFile.open(filename);
  try {
    const fmt = format ?? (await probeFormat(file));
    const size = await file.size();
    const st = await stat(filename);
    const actual = st.blocks * 512;
    if (fmt === 'raw') return { 'virtual-size': size, filename, format: 'raw', 'actual-size': actual, 'dirty-flag': false };
    if (fmt === 'vpc') {
      const v = await vhdInfoFacts(file);
      return { 'virtual-size': v.virtualSize, filename, ...(v.clusterSize !== undefined ? { 'cluster-size': v.clusterSize } : {}), format: 'vpc', 'actual-size': actual, 'dirty-flag': false };
    }
    if (fmt === 'vmdk' || fmt === 'vdi') return await readOnlyFormatInfo(filename, fmt);
    if (fmt !== 'qcow2') throw new TypervisorError(`${filename}: the ${fmt} image format is not supported yet`, { hint: 'convert it with qemu-img convert -O qcow2' });
    const probe = new Uint8Array(Math.min(HEADER_PROBE_BYTES, size));
    await file.pread(probe, 0);
    const cluster0 = new Uint8Array(Math.min(2 ** peekClusterBits(filename, probe), size));
    await file.pread(cluster0, 0);
    const h = parseQcow2Header(filename, cluster0, size);
    const snaps: Qcow2Snapshot[] = h.nbSnapshots > 0 ? await listSnapshots(filename) : [];
    const info: ImageInfo = { ...(snaps.length > 0 ? { snapshots: snapshotJson(snaps) } : {}), 'virtual-size': h.size, filename, 'cluster-size': h.clusterSize, format: 'qcow2', 'actual-size': actual, 'dirty-flag': (h.incompatibleFeatures & BigInt(INCOMPAT_DIRTY)) !== 0n };
    const data: Record<string, string | number | boolean> = { compat: h.version === 3 ? '1.1' : '0.10' };
    // Field order and presence as QEMU 7.2's qcow2_get_specific_info.
    data['compression-type'] = h.compressionType === 1 ? 'zstd' : 'zlib';
    if (h.version === 3) data['lazy-refcounts'] = (h.compatibleFeatures & 1n) !== 0n;
    data['refcount-bits'] = 2 ** h.refcountOrder;
    if (h.version === 3) {
      data['corrupt'] = (h.incompatibleFeatures & BigInt(INCOMPAT_CORRUPT)) !== 0n;
      data['extended-l2'] = h.extendedL2;
    }
    info['format-specific'] = { type: 'qcow2', data };
    if (snaps.length > 0) snapshotLists.set(info, snapshotListText(snaps));
    if (h.backingFile !== undefined) {
      info['backing-filename'] = h.backingFile;
      info['full-backing-filename'] = path.isAbsolute(h.backingFile) ? h.backingFile : path.join(path.dirname(filename), h.backingFile);
      if (h.backingFormat !== undefined) info['backing-filename-format'] = h.backingFormat;
    }
    return info;
  } finally {
    await file.close();
  }
}

/** The text form of an info's snapshot list (the JSON form drops what the text needs: local dates). */
const snapshotLists = new WeakMap<ImageInfo, string>();

function infoText(i: ImageInfo): string {
  const lines = [`image: ${i.filename}`, `file format: ${i.format}`, `virtual size: ${humanSize(i['virtual-size'])} (${i['virtual-size']} bytes)`];
  if (i['actual-size'] !== undefined) lines.push(`disk size: ${humanSize(i['actual-size'])}`);
  if (i['cluster-size'] !== undefined) lines.push(`cluster_size: ${i['cluster-size']}`);
  if (i['backing-filename'] !== undefined) {
    const full = i['full-backing-filename'];
    lines.push(`backing file: ${i['backing-filename']}${full !== undefined && full !== i['backing-filename'] ? ` (actual path: ${full})` : ''}`);
    if (i['backing-filename-format'] !== undefined) lines.push(`backing file format: ${i['backing-filename-format']}`);
  }
  if (i['dirty-flag']) lines.push('cleanly shut down: no');
  const snaps = snapshotLists.get(i);
  if (snaps !== undefined) lines.push(snaps.trimEnd());
  if (i['format-specific']) {
    lines.push('Format specific information:');
    specificText(i['format-specific'].data, '    ', lines);
  }
  return `${lines.join('\n')}\n`;
}

/** qemu-img's layout of format-specific data: `key: value`, nested lists as `[i]:` one level deeper. */
function specificText(data: Record<string, unknown>, indent: string, lines: string[]): void {
  for (const [k, v] of Object.entries(data)) {
    const key = k.replace(/-/g, ' ');
    if (Array.isArray(v)) {
      lines.push(`${indent}${key}:`);
      v.forEach((item, n) => {
        lines.push(`${indent}    [${n}]:`);
        specificText(item as Record<string, unknown>, `${indent}        `, lines);
      });
    } else lines.push(`${indent}${key}: ${v}`);
  }
}

function checkText(r: Qcow2CheckResult, out: string[]): void {
  if (r.leaksFixed > 0 || r.corruptionsFixed > 0) {
    out.push(`The following inconsistencies were found and repaired:\n\n    ${r.leaksFixed} leaked clusters\n    ${r.corruptionsFixed} corruptions\n\nDouble checking the fixed image now...`);
  }
  if (r.corruptions === 0 && r.leaks === 0 && r.checkErrors === 0) out.push('No errors were found on the image.');
  if (r.corruptions > 0) out.push(`\n${r.corruptions} errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it.`);
  if (r.leaks > 0) out.push(`\n${r.leaks} leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data.`);
  if (r.checkErrors > 0) out.push(`\n${r.checkErrors} internal errors have occurred during the check.`);
  if (r.totalClusters !== 0 && r.allocatedClusters !== 0) {
    const pct = (n: number) => ((100 * n) / r.totalClusters).toFixed(2);
    const of = (n: number) => ((100 * n) / r.allocatedClusters).toFixed(2);
    out.push(`${r.allocatedClusters}/${r.totalClusters} = ${pct(r.allocatedClusters)}% allocated, ${of(r.fragmentedClusters)}% fragmented, ${of(r.compressedClusters)}% compressed clusters`);
  }
  if (r.imageEndOffset > 0) out.push(`Image end offset: ${r.imageEndOffset}`);
}

function checkJson(r: Qcow2CheckResult, filename: string): Record<string, unknown> {
  const j: Record<string, unknown> = { 'image-end-offset': r.imageEndOffset, 'total-clusters': r.totalClusters, 'check-errors': r.checkErrors };
  if (r.leaks) j['leaks'] = r.leaks;
  if (r.corruptions) j['corruptions'] = r.corruptions;
  if (r.leaksFixed) j['leaks-fixed'] = r.leaksFixed;
  if (r.corruptionsFixed) j['corruptions-fixed'] = r.corruptionsFixed;
  // qemu-img leaves out counts that are zero.
  if (r.allocatedClusters) j['allocated-clusters'] = r.allocatedClusters;
  if (r.fragmentedClusters) j['fragmented-clusters'] = r.fragmentedClusters;
  if (r.compressedClusters) j['compressed-clusters'] = r.compressedClusters;
  j['filename'] = filename;
  j['format'] = 'qcow2';
  return j;
}

function outputOption(): Option {
  return new Option('--output <fmt>', 'output format').choices(['human', 'json']).default('human');
}

/**
 * `typervisor img`: qemu-img's everyday subcommands on raw and qcow2 images — create, info,
 * compare (exit 0 identical, 1 different, 2 error, as qemu-img), check (qemu-img's exit codes: 0 clean, 2 corruptions, 3 leaks only, 1 not completed, 63 a format without checks), convert.
 */
export function addImgCommand(program: Command, streams: CliStreams, done: (status: number) => void): void {
  const out = (text: string) => void streams.stdout.write(new TextEncoder().encode(text));
  const img = program.command('img').description('create, inspect, check and convert disk images (raw, qcow2, vpc/VHD; vmdk and vdi read-only) like qemu-img');

  img
    .command('create')
    .description('create a disk image: qcow2 (v3, thin), raw (sparse) or vpc (VHD, dynamic or fixed)')
    .addOption(new Option('-f <fmt>', 'image format').choices(FORMATS).default('raw'))
    .option('-b <backing>', 'backing file (qcow2); SIZE defaults to its size')
    .option('-F <fmt>', 'backing file format (default: probed)')
    .option('-o <options>', 'format options: cluster_size=SIZE (qcow2); subformat=dynamic|fixed, force_size=on|off (vpc)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('-q', 'quiet')
    .argument('<file>', 'the image to create (must not exist)')
    .argument('[size]', 'virtual size in bytes, or with a k, M, G, T suffix')
    .action(async (file: string, sizeText: string | undefined, opts: { f: string; b?: string; F?: string; o: string[]; q?: boolean }) => {
      const o = parseCreateOptions(opts.o);
      if (opts.f !== 'qcow2' && (opts.b !== undefined || o.clusterSize !== undefined)) {
        throw new TypervisorError(`${opts.f} images have no backing file or cluster size`, { hint: 'use -f qcow2' });
      }
      if (opts.f !== 'vpc' && (o.vpc.subformat !== undefined || o.vpc.forceSize !== undefined)) {
        throw new TypervisorError('subformat and force_size are options of vpc images', { hint: 'use -f vpc' });
      }
      let size = sizeText === undefined ? undefined : parseImageSize(sizeText);
      let backingFormat = opts.F === undefined ? undefined : checkFormat(opts.F, '-F');
      if (opts.b !== undefined) {
        const key = await nodeImageFileSystem.resolve(opts.b, path.resolve(file)).catch((e: unknown) => {
          throw new TypervisorError(`backing file ${opts.b}: ${(e as Error).message.replace(/^.*: cannot open: /, '')}`, {
            hint: 'a relative backing name is relative to the new image\'s directory',
          });
        });
        const bf = await NodeImageFile.open(key);
        try {
          backingFormat ??= checkFormat(await probeFormat(bf), 'probed backing format');
          if (size === undefined) size = (await imageInfo(key, backingFormat))['virtual-size'];
        } finally {
          await bf.close();
        }
      }
      if (size === undefined) throw new TypervisorError('no image size given', { hint: 'e.g. typervisor img create -f qcow2 disk.qcow2 10G' });
      const f = await createNewFile(file);
      try {
        if (opts.f === 'qcow2') {
          size = await createQcow2(f, { size, ...(o.clusterSize ? { clusterSize: o.clusterSize } : {}), ...(opts.b !== undefined ? { backingFile: opts.b, backingFormat } : {}) });
        } else if (opts.f === 'vpc') {
          await createVhd(f, { size, ...o.vpc });
        } else {
          await f.truncate(size);
        }
      } catch (e) {
        await f.close();
        const { rm } = await import('node:fs/promises');
        await rm(file, { force: true });
        throw e;
      }
      await f.close();
      if (!opts.q) {
        const extra = opts.f === 'qcow2' ? ` cluster_size=${o.clusterSize ?? 65536}` : opts.f === 'vpc' ? vpcCreateText(o.vpc) : '';
        const back = opts.b !== undefined ? ` backing_file=${opts.b} backing_fmt=${backingFormat}` : '';
        // qemu-img prints vpc's options after the size (and the size as requested).
        const line = opts.f === 'vpc' ? ` size=${sizeText === undefined ? size : parseImageSize(sizeText)}${extra}` : `${extra} size=${size}`;
        out(`Formatting '${file}', fmt=${opts.f}${line}${back}\n`);
      }
      done(0);
    });

  img
    .command('info')
    .description('show an image\'s format, sizes, cluster size, backing file and flags')
    .option('-f <fmt>', 'image format (default: probed)')
    .addOption(outputOption())
    .option('--backing-chain', 'also show every image in the backing chain')
    .argument('<file>', 'the image')
    .action(async (file: string, opts: { f?: string; output: string; backingChain?: boolean }) => {
      const fmt = opts.f === undefined ? undefined : checkFormat(opts.f, '-f');
      const infos = [await imageInfo(file, fmt)];
      const seen = new Set([path.resolve(file)]);
      while (opts.backingChain && infos[infos.length - 1]['full-backing-filename'] !== undefined) {
        const last = infos[infos.length - 1];
        const next = last['full-backing-filename']!;
        if (seen.has(path.resolve(next))) throw new TypervisorError(`backing chain loop at ${next}`, { hint: 'fix the backing file with qemu-img rebase -u' });
        seen.add(path.resolve(next));
        infos.push(await imageInfo(next, last['backing-filename-format']));
      }
      if (opts.output === 'json') out(`${JSON.stringify(opts.backingChain ? infos : infos[0], null, 4)}\n`);
      else out(infos.map(infoText).join('\n'));
      done(0);
    });

  img
    .command('compare')
    .description('compare two images\' contents (exit 0 identical, 1 different, 2 error)')
    .option('-f <fmt>', 'first image\'s format (default: probed)')
    .option('-F <fmt>', 'second image\'s format (default: probed)')
    .option('-s', 'strict: images of different sizes differ')
    .option('-q', 'quiet')
    .argument('<image1>', 'the first image')
    .argument('<image2>', 'the second image')
    .action(async (a: string, b: string, opts: { f?: string; F?: string; s?: boolean; q?: boolean }) => {
      const say = (text: string) => {
        if (!opts.q) out(text);
      };
      try {
        const r = await compareImages({
          a,
          b,
          ...(opts.f !== undefined ? { formatA: checkFormat(opts.f, '-f') } : {}),
          ...(opts.F !== undefined ? { formatB: checkFormat(opts.F, '-F') } : {}),
          ...(opts.s ? { strict: true } : {}),
        });
        if (r.sizeMismatch) say(opts.s ? 'Strict mode: Image size mismatch!\n' : 'Warning: Image size mismatch!\n');
        if (r.identical) say('Images are identical.\n');
        else if (r.mismatchAt !== undefined) say(`Content mismatch at offset ${r.mismatchAt}!\n`);
        done(r.identical ? 0 : 1);
      } catch (e) {
        // qemu-img compare reserves 1 for "different": errors exit 2.
        if (!(e instanceof TypervisorError)) throw e;
        streams.stderr.write(`typervisor: ${e.message}\n${e.hint ? `hint: ${e.hint}\n` : ''}`);
        done(2);
      }
    });

  img
    .command('check')
    .description('check a qcow2 image\'s refcounts and tables (exit 0 clean, 2 corrupt, 3 leaks only, 1 not completed, 63 not qcow2)')
    .option('-f <fmt>', 'image format (default: probed)')
    .addOption(new Option('-r <what>', 'repair leaked clusters, or all refcount errors').choices(['leaks', 'all']))
    .addOption(outputOption())
    .option('-q', 'quiet')
    .argument('<file>', 'the image')
    .action(async (file: string, opts: { f?: string; r?: 'leaks' | 'all'; output: string; q?: boolean }) => {
      const probeFile = await NodeImageFile.open(file);
      let fmt: string;
      try {
        fmt = opts.f === undefined ? await probeFormat(probeFile) : checkFormat(opts.f, '-f');
      } finally {
        await probeFile.close();
      }
      if (fmt !== 'qcow2') {
        // qemu-img's status for "This image format does not support checks".
        const what = fmt === 'raw' ? `the ${fmt} format has no metadata to check` : `checking ${fmt} images is not supported (typervisor reads them, validating as it goes)`;
        streams.stderr.write(`typervisor: ${file}: ${what}\nhint: img check examines qcow2 images${fmt === 'raw' ? '' : '; qemu-img check can check this one'}\n`);
        done(63);
        return;
      }
      const f = await NodeImageFile.open(file, { writable: opts.r !== undefined });
      let result: Qcow2CheckResult;
      try {
        result = await checkQcow2(f, opts.r ? { repair: opts.r } : {});
      } finally {
        await f.close();
      }
      if (opts.output === 'json') out(`${JSON.stringify(checkJson(result, file), null, 4)}\n`);
      else if (!opts.q) {
        for (const m of result.messages) streams.stderr.write(`${m}\n`);
        const lines: string[] = [];
        checkText(result, lines);
        out(`${lines.join('\n')}\n`);
      }
      done(checkExitStatus(result));
    });

  img
    .command('convert')
    .description('copy an image (raw, qcow2, vpc, vmdk, vdi) into a new one, in raw, qcow2 or vpc, leaving zero regions unallocated')
    .option('-f <fmt>', 'source format (default: probed)')
    .addOption(new Option('-O <fmt>', 'output format').choices(FORMATS).default('raw'))
    .option('-o <options>', 'output format options: cluster_size=SIZE (qcow2); subformat=dynamic|fixed, force_size=on|off (vpc)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('-p', 'show progress on standard error')
    .option('-c', 'compress the clusters of a qcow2 output (deflate, as qemu-img convert -c)')
    .argument('<src>', 'the source image')
    .argument('<dst>', 'the new image (must not exist)')
    .action(async (src: string, dst: string, opts: { f?: string; O: string; o: string[]; p?: boolean; c?: boolean }) => {
      if (opts.c && opts.O !== 'qcow2') throw new TypervisorError('compression (-c) needs a qcow2 output', { hint: 'add -O qcow2' });
      const o = parseCreateOptions(opts.o);
      if (opts.O !== 'qcow2' && o.clusterSize !== undefined) throw new TypervisorError(`${opts.O} images have no cluster size`, { hint: 'use -O qcow2' });
      if (opts.O !== 'vpc' && (o.vpc.subformat !== undefined || o.vpc.forceSize !== undefined)) throw new TypervisorError('subformat and force_size are options of vpc images', { hint: 'use -O vpc' });
      await convertImage({
        src,
        dst,
        ...(opts.f !== undefined ? { srcFormat: checkFormat(opts.f, '-f') } : {}),
        dstFormat: opts.O as 'raw' | 'qcow2' | 'vpc',
        ...(opts.O === 'vpc' ? { vpc: o.vpc } : {}),
        ...(o.clusterSize !== undefined ? { clusterSize: o.clusterSize } : {}),
        ...(opts.c ? { compress: true } : {}),
        ...(opts.p ? { progress: (text: string) => void streams.stderr.write(text) } : {}),
      });
      done(0);
    });

  addImgOpsCommands(img, streams, done);
  addImgSnapshotCommand(img, streams, done);
}
