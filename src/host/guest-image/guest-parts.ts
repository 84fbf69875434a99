import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { TypervisorError } from '../../core/errors.js';
import { normalizeModuleName, readKernelModuleInfo, type KernelModuleInfo } from './kernel-module-info.js';
import { moduleLoadOrder } from './module-load-order.js';
import { runChecked, runCommand, type CommandRunner } from './run-command.js';

/** A kernel module ready for the initramfs: uncompressed, with where it goes. */
export interface GuestModule {
  /** Normalized module name (`virtio_rng`). */
  name: string;
  /** Path below `lib/modules/<version>/`, as in the package but without the compression suffix: `kernel/fs/ext4/ext4.ko`. */
  path: string;
  /** Normalized names of the modules it needs loaded first (its `depends=`). */
  depends: string[];
  data: Uint8Array;
}

/** What the initramfs and the VM need from the unpacked kernel and busybox packages. */
export interface GuestParts {
  /** `uname -r` of the kernel, e.g. `6.12.107+deb13-riscv64`. */
  kernelVersion: string;
  /** The kernel image file inside the unpacked tree (`boot/vmlinux-<version>`). */
  kernelImagePath: string;
  /** The static busybox binary. */
  busybox: Uint8Array;
  /** Modules in load order. */
  modules: GuestModule[];
  /** Wanted modules that are not in the package (or need one that is not): left out. */
  missingModules: string[];
  /** Seconds since the epoch of the kernel image, used as the initramfs files' time for reproducible archives. */
  mtime: number;
}

const MODULE_FILE = /\.ko(\.xz|\.zst|\.gz)?$/;

/**
 * Collects the guest's parts from a tree where linux-image-<version> and busybox-static were
 * unpacked (`dpkg-deb -x` of both into `root`): the kernel image, busybox, and the `wanted`
 * modules plus what they depend on, decompressed (xz with the host's `xz`, as Debian compresses
 * them) and in load order. Wanted modules the package lacks are skipped, not an error.
 */
export async function readGuestParts(root: string, wanted: readonly string[], options: { kernelVersion?: string; run?: CommandRunner } = {}): Promise<GuestParts> {
  const run = options.run ?? runCommand;
  const kernelVersion = options.kernelVersion ?? (await onlyKernelVersion(root));
  const kernelImagePath = ['vmlinux', 'vmlinuz', 'Image'].map((n) => path.join(root, 'boot', `${n}-${kernelVersion}`)).find((p) => existsSync(p));
  if (!kernelImagePath) throw new TypervisorError(`the kernel package has no boot/vmlinux-${kernelVersion}`, { hint: 'the package layout changed; a newer typervisor may know it' });
  const busyboxPath = ['usr/bin/busybox', 'bin/busybox'].map((p) => path.join(root, p)).find((p) => existsSync(p));
  if (!busyboxPath) throw new TypervisorError('the busybox-static package has no usr/bin/busybox', { hint: 'the package layout changed; a newer typervisor may know it' });

  const modulesDir = ['usr/lib/modules', 'lib/modules'].map((p) => path.join(root, p, kernelVersion)).find((p) => existsSync(p));
  const files = new Map<string, string>(); // normalized name → path relative to modulesDir
  if (modulesDir) {
    for (const rel of await walk(modulesDir, '')) {
      const base = path.posix.basename(rel);
      if (MODULE_FILE.test(base)) {
        const name = normalizeModuleName(base.replace(MODULE_FILE, ''));
        if (!files.has(name)) files.set(name, rel);
      }
    }
  }

  // Read the wanted modules and, transitively, their hard dependencies.
  const infos = new Map<string, KernelModuleInfo>();
  const data = new Map<string, Uint8Array>();
  const queue = wanted.map(normalizeModuleName);
  while (queue.length > 0) {
    const batch = [...new Set(queue.splice(0))].filter((n) => !infos.has(n) && files.has(n));
    const read = await Promise.all(batch.map((n) => decompress(path.join(modulesDir!, files.get(n)!), run)));
    batch.forEach((n, i) => {
      const info = readKernelModuleInfo(read[i]!, files.get(n)!);
      infos.set(n, info);
      data.set(n, read[i]!);
      for (const dep of info.depends) queue.push(normalizeModuleName(dep));
    });
  }

  const plan = moduleLoadOrder(wanted, infos);
  const modules = plan.order.map((name) => ({
    name,
    path: files.get(name)!.replace(/\.(xz|zst|gz)$/, ''),
    depends: infos.get(name)!.depends.map(normalizeModuleName),
    data: data.get(name)!,
  }));
  return {
    kernelVersion,
    kernelImagePath,
    busybox: new Uint8Array(await readFile(busyboxPath)),
    modules,
    missingModules: plan.missing,
    mtime: Math.floor((await stat(kernelImagePath)).mtimeMs / 1000),
  };
}

async function onlyKernelVersion(root: string): Promise<string> {
  let names: string[] = [];
  try {
    names = await readdir(path.join(root, 'boot'));
  } catch {
    // reported below
  }
  const versions = [...new Set(names.map((n) => /^(?:vmlinux|vmlinuz|Image)-(.+)$/.exec(n)?.[1]).filter((v): v is string => !!v && !v.endsWith('.old')))];
  if (versions.length !== 1) {
    throw new TypervisorError(`expected one kernel in ${path.join(root, 'boot')}, found ${versions.length === 0 ? 'none' : versions.join(', ')}`);
  }
  return versions[0]!;
}

async function walk(dir: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await walk(dir, child)));
    else if (entry.isFile()) out.push(child);
  }
  return out.sort();
}

async function decompress(file: string, run: CommandRunner): Promise<Uint8Array> {
  if (file.endsWith('.ko')) return new Uint8Array(await readFile(file));
  if (file.endsWith('.gz')) return new Uint8Array(gunzipSync(await readFile(file)));
  const tool = file.endsWith('.zst') ? 'zstd' : 'xz';
  const result = await runChecked(run, `decompressing ${path.basename(file)}`, tool, ['-d', '-c', '-q', file], 'the kernel package may be damaged; delete the typervisor cache and try again');
  return result.stdout;
}
