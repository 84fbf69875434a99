// `typervisor img snapshot`: qemu-img snapshot's -l, -c, -a, -d on qcow2 images, and the
// snapshot list that `img info` shows (text and JSON as QEMU 7.2 prints them:
// block/qapi.c bdrv_snapshot_dump, qapi SnapshotInfo).
import type { Command } from 'commander';
import { TypervisorError } from '../core/errors.js';
import { NodeImageFile } from '../host/storage-file.js';
import { probeFormat } from '../storage/probe-format.js';
import type { Qcow2Snapshot } from '../storage/qcow2/qcow2-snapshot-table.js';
import { applySnapshot, createSnapshot, deleteSnapshot, readQcow2Snapshots } from '../storage/qcow2/qcow2-snapshots.js';
import type { CliStreams } from './cli-streams.js';

/** qemu's size_to_str (as img-command's humanSize; repeated to keep this file's imports one-way). */
function sizeText(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  const e = bytes <= 0 ? 0 : Math.floor(Math.log2((bytes * 1024) / 1000)) + 1;
  const i = Math.max(0, Math.min(units.length - 1, Math.floor((e - 1) / 10)));
  return `${parseFloat((bytes / 2 ** (10 * i)).toPrecision(3))} ${units[i]}`;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** The list as `qemu-img snapshot -l` prints it (dates in local time, as QEMU does). */
export function snapshotListText(snapshots: readonly Qcow2Snapshot[]): string {
  if (snapshots.length === 0) return ''; // qemu-img prints nothing at all then
  const lines = ['Snapshot list:', `${'ID'.padEnd(10)}${'TAG'.padEnd(17)}${'VM SIZE'.padStart(8)}${'DATE'.padStart(20)}${'VM CLOCK'.padStart(13)}${'ICOUNT'.padStart(11)}`];
  for (const s of snapshots) {
    const d = new Date(s.dateSec * 1000);
    const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
    const secs = s.vmClockNsec / 1_000_000_000n;
    const ms = (s.vmClockNsec / 1_000_000n) % 1000n;
    const clock = `${pad2(Number(secs / 3600n))}:${pad2(Number((secs / 60n) % 60n))}:${pad2(Number(secs % 60n))}.${String(ms).padStart(3, '0')}`;
    const icount = s.icount === -1n || s.icount === 0xffffffffffffffffn ? '' : String(BigInt.asIntN(64, s.icount));
    lines.push(`${s.id.padEnd(9)} ${s.name.padEnd(16)} ${sizeText(s.vmStateSize).padStart(8)}${date.padStart(20)}${clock.padStart(13)}${icount.padStart(11)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The JSON objects of `qemu-img info --output json` ("snapshots"), in QEMU's field order. */
export function snapshotJson(snapshots: readonly Qcow2Snapshot[]): Record<string, unknown>[] {
  return snapshots.map((s) => {
    const o: Record<string, unknown> = {};
    if (s.icount !== -1n && s.icount !== 0xffffffffffffffffn) o['icount'] = Number(s.icount);
    o['vm-clock-nsec'] = Number(s.vmClockNsec % 1_000_000_000n);
    o['name'] = s.name;
    o['date-sec'] = s.dateSec;
    o['date-nsec'] = s.dateNsec;
    o['vm-clock-sec'] = Number(s.vmClockNsec / 1_000_000_000n);
    o['id'] = s.id;
    o['vm-state-size'] = s.vmStateSize;
    return o;
  });
}

/** The snapshots of a qcow2 image file (for `img info`). */
export async function listSnapshots(filename: string): Promise<Qcow2Snapshot[]> {
  const file = await NodeImageFile.open(filename);
  try {
    return (await readQcow2Snapshots(file)).snapshots;
  } finally {
    await file.close();
  }
}

export function addImgSnapshotCommand(img: Command, streams: CliStreams, done: (status: number) => void): void {
  const out = (text: string) => void streams.stdout.write(new TextEncoder().encode(text));
  img
    .command('snapshot')
    .description('list, create, apply or delete internal snapshots of a qcow2 image (as qemu-img snapshot)')
    .option('-l', 'list the snapshots')
    .option('-c <name>', 'create a snapshot of the disk as it is now')
    .option('-a <snapshot>', 'apply a snapshot (ID or name): the disk reverts to it')
    .option('-d <snapshot>', 'delete a snapshot (ID or name)')
    .option('-f <fmt>', 'image format (only qcow2 has snapshots)')
    .option('-q', 'quiet')
    .argument('<file>', 'the qcow2 image')
    .action(async (filename: string, opts: { l?: boolean; c?: string; a?: string; d?: string; f?: string; q?: boolean }) => {
      const ops = [opts.l ? 'l' : '', opts.c !== undefined ? 'c' : '', opts.a !== undefined ? 'a' : '', opts.d !== undefined ? 'd' : ''].filter((x) => x !== '');
      if (ops.length !== 1) throw new TypervisorError('img snapshot needs exactly one of -l, -c NAME, -a SNAPSHOT, -d SNAPSHOT', { hint: 'e.g. typervisor img snapshot -c before-upgrade disk.qcow2' });
      const file = await NodeImageFile.open(filename, { writable: !opts.l });
      try {
        const fmt = opts.f ?? (await probeFormat(file));
        if (fmt !== 'qcow2') throw new TypervisorError(`${filename}: ${fmt} images have no internal snapshots`, { hint: 'convert it to qcow2 first (img convert -O qcow2)' });
        if (opts.l) out(snapshotListText((await readQcow2Snapshots(file)).snapshots));
        else if (opts.c !== undefined) {
          if (opts.c === '') throw new TypervisorError('the snapshot name is empty', { hint: 'give -c a name' });
          await createSnapshot(file, opts.c);
        } else if (opts.a !== undefined) await applySnapshot(file, opts.a);
        else if (opts.d !== undefined) await deleteSnapshot(file, opts.d);
      } finally {
        await file.close();
      }
      done(0);
    });
}
