// `typervisor img resize|commit|rebase|map`: qemu-img's subcommands that change or map images
// with backing chains. The logic is in src/storage (image-map, image-commit, image-rebase,
// qcow2/qcow2-resize); this file parses arguments and prints what qemu-img 7.2 prints.
import type { Command } from 'commander';
import { Option } from 'commander';
import { TypervisorError } from '../core/errors.js';
import { NodeImageFile, nodeImageFileSystem } from '../host/storage-file.js';
import { commitImage } from '../storage/image-commit.js';
import { mapHuman, mapImage, mapJson } from '../storage/image-map.js';
import { rebaseImage } from '../storage/image-rebase.js';
import { resizeImage } from '../storage/image-resize.js';
import { openImage } from '../storage/open-image.js';
import { probeFormat } from '../storage/probe-format.js';
import { HEADER_PROBE_BYTES, parseQcow2Header, peekClusterBits } from '../storage/qcow2/qcow2-header.js';
import type { CliStreams } from './cli-streams.js';
import { parseImageSize } from './img-command.js';

const FORMATS = ['qcow2', 'raw'];

function formatOption(): Option {
  return new Option('-f <fmt>', 'image format (default: probed)').choices(FORMATS);
}

/** qemu's path_combine: a relative backing name is relative to the directory of the image naming it. */
function combine(base: string, name: string): string {
  if (name.startsWith('/')) return name;
  const slash = base.lastIndexOf('/');
  return slash < 0 ? name : base.slice(0, slash + 1) + name;
}

/** The file names of the chain as qemu-img prints them (the image as given, then combined backing names). */
async function chainNames(file: string, format: string | undefined): Promise<string[]> {
  const names = [file];
  let fmt = format;
  for (let i = 0; i < 64; i++) {
    const f = await NodeImageFile.open(names[names.length - 1]);
    try {
      fmt ??= await probeFormat(f);
      if (fmt !== 'qcow2') break;
      const size = await f.size();
      const probe = new Uint8Array(Math.min(HEADER_PROBE_BYTES, size));
      await f.pread(probe, 0);
      const cluster0 = new Uint8Array(Math.min(2 ** peekClusterBits(f.name, probe), size));
      await f.pread(cluster0, 0);
      const h = parseQcow2Header(f.name, cluster0, size);
      if (h.backingFile === undefined) break;
      names.push(combine(names[names.length - 1], h.backingFile));
      fmt = h.backingFormat;
    } finally {
      await f.close();
    }
  }
  return names;
}

/** qemu-img's progress line ("    (42.00/100%)\r"), at most every 1% or 100 ms. */
function progressPrinter(write: (text: string) => void): (done: number, total: number, final?: boolean) => void {
  let lastShown = -1;
  let lastTime = 0;
  return (done, total, final = false) => {
    const pct = total === 0 ? 100 : (100 * done) / total;
    const now = Date.now();
    if (!final && (Math.floor(pct) === lastShown || now - lastTime < 100)) return;
    lastShown = Math.floor(pct);
    lastTime = now;
    write(`    (${pct.toFixed(2)}/100%)${final ? '\n' : '\r'}`);
  };
}

/** Adds resize, commit, rebase and map to `typervisor img`. */
export function addImgOpsCommands(img: Command, streams: CliStreams, done: (status: number) => void): void {
  const out = (text: string) => void streams.stdout.write(new TextEncoder().encode(text));
  const progress = (on: boolean | undefined) => (on ? progressPrinter((t) => void streams.stderr.write(t)) : undefined);

  img
    .command('map')
    .description('show where each range of the disk is stored, along the backing chain (as qemu-img map)')
    .addOption(formatOption())
    .addOption(new Option('--output <fmt>', 'output format').choices(['human', 'json']).default('human'))
    .argument('<file>', 'the image')
    .action(async (file: string, opts: { f?: string; output: string }) => {
      const disk = await openImage(nodeImageFileSystem, file, { readOnly: true, ...(opts.f !== undefined ? { format: opts.f } : {}) });
      let entries;
      try {
        entries = await mapImage(disk);
      } finally {
        await disk.close();
      }
      if (opts.output === 'json') out(mapJson(entries));
      else out(mapHuman(entries, await chainNames(file, opts.f)));
      done(0);
    });

  img
    .command('resize')
    .description('change the virtual size of a raw or qcow2 image (shrinking needs --shrink)')
    .addOption(formatOption())
    .option('--shrink', 'allow making the image smaller')
    .option('-q', 'quiet')
    .argument('<file>', 'the image')
    .argument('<size>', 'new size, or +SIZE / -SIZE relative to the current one (k, M, G, T suffixes)')
    .argument('[options...]', '--shrink or -q after a negative size')
    // "-1G" is a size, not an option: commander passes what it does not know as arguments.
    .allowUnknownOption()
    .action(async (file: string, sizeText: string, more: string[], opts: { f?: string; shrink?: boolean; q?: boolean }) => {
      // Options after a negative size reach us as arguments (qemu-img's getopt takes them anywhere).
      for (const a of more) {
        if (a === '--shrink') opts.shrink = true;
        else if (a === '-q') opts.q = true;
        else throw new TypervisorError(`img resize: unexpected argument '${a}'`, { hint: 'typervisor img resize [-f FMT] [--shrink] FILE [+|-]SIZE' });
      }
      const m = /^([+-]?)(.*)$/.exec(sizeText)!;
      const amount = parseImageSize(m[2], 'size');
      await resizeImage(nodeImageFileSystem, file, {
        ...(opts.f !== undefined ? { format: opts.f } : {}),
        size: m[1] === '' ? { absolute: amount } : { relative: m[1] === '+' ? amount : -amount },
        shrink: opts.shrink === true,
      });
      if (!opts.q) out('Image resized.\n');
      done(0);
    });

  img
    .command('commit')
    .description('write the clusters an image allocates into its backing image, then empty it (as qemu-img commit)')
    .addOption(formatOption())
    .option('-d', 'keep the image\'s contents (do not empty it)')
    .option('-p', 'show progress on standard error')
    .option('-q', 'quiet')
    .argument('<file>', 'the image whose changes go down into its backing file')
    .action(async (file: string, opts: { f?: string; d?: boolean; p?: boolean; q?: boolean }) => {
      const show = progress(opts.p);
      await commitImage(nodeImageFileSystem, file, {
        ...(opts.f !== undefined ? { format: opts.f } : {}),
        empty: !opts.d,
        ...(show ? { progress: show } : {}),
      });
      if (!opts.q) out('Image committed.\n');
      done(0);
    });

  img
    .command('rebase')
    .description('change an image\'s backing file; without -u the image is made to read the same as before')
    .addOption(formatOption())
    .requiredOption('-b <backing>', 'the new backing file ("" for none)')
    .addOption(new Option('-F <fmt>', 'the new backing file\'s format').choices(FORMATS))
    .option('-u', 'unsafe: only rewrite the backing file name and format')
    .option('-p', 'show progress on standard error')
    .option('-q', 'quiet')
    .argument('<file>', 'the image')
    .action(async (file: string, opts: { f?: string; b: string; F?: string; u?: boolean; p?: boolean; q?: boolean }) => {
      if (opts.b !== '' && opts.F === undefined) {
        // qemu-img 7.2 refuses this too: probing the format of a backing file is unsafe.
        throw new TypervisorError(`Could not change the backing file to '${opts.b}': backing format must be specified`, { hint: 'add -F qcow2 or -F raw' });
      }
      const show = progress(opts.p);
      await rebaseImage(nodeImageFileSystem, file, {
        ...(opts.f !== undefined ? { format: opts.f } : {}),
        backing: opts.b === '' ? undefined : { name: opts.b, format: opts.F! },
        unsafe: opts.u === true,
        ...(show ? { progress: show } : {}),
      });
      done(0);
    });
}
