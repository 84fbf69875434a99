import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { TypervisorError } from '../../core/errors.js';
import { DebianApt } from './debian-apt.js';
import { withDownloadProgress } from './download-progress.js';
import { readGuestParts, type GuestModule } from './guest-parts.js';
import { DEFAULT_DEBIAN_MIRROR, hostDebianMirror } from './host-debian-mirror.js';
import { buildInitramfs, INITRAMFS_FORMAT } from './initramfs.js';
import { runCommand, type CommandRunner } from './run-command.js';
import { processAlive } from '../process-alive.js';

/** The files a VM boots from. */
export interface DefaultGuest {
  /** The kernel: a RISC-V Linux `Image` (flat binary with an EFI stub header, not ELF). */
  kernelPath: string;
  /** The base initramfs, an uncompressed cpio "newc" archive; commandInitramfs() output may follow it. */
  initramfsPath: string;
  /** `uname -r` in the guest, e.g. `6.12.107+deb13-riscv64`. */
  kernelVersion: string;
}

/** Receives one-line messages about a fetch in progress ("updating package lists …"). */
export type GuestProgress = (message: string) => void;

export interface EnsureDefaultGuestOptions {
  /** Default: defaultCacheDir(). */
  cacheDir?: string;
  /** Told what is happening during a fetch ("updating package lists", "downloading …"); silent by default. */
  progress?: GuestProgress;
  /** Ask Debian for its current kernel even when one is cached (and fetch it if it is newer). */
  refresh?: boolean;
  /** The Debian archive; default: the one the host's apt uses (hostDebianMirror()). */
  mirror?: string;
  /** Runs apt-get, apt-cache, dpkg-deb and xz (tests substitute one). */
  run?: CommandRunner;
}

const SUITE = 'trixie';
const ARCH = 'riscv64';
/** Debian's metapackage that depends on the current kernel of the suite. */
const KERNEL_METAPACKAGE = 'linux-image-riscv64';
const BUSYBOX_PACKAGE = 'busybox-static';
/** One folder per kernel version below this, in the cache. */
const GUEST_FAMILY = `debian-${SUITE}-${ARCH}`;
/** Version of the cache folder's layout and manifest; another layout is fetched again. */
const CACHE_LAYOUT = 1;
const MANIFEST = 'manifest.json';
const KERNEL_FILE = 'Image';
const BUSYBOX_FILE = 'busybox';
const INITRAMFS_FILE = 'initramfs.cpio';
const MODULES_DIR = 'modules';
const BUILD_PREFIX = '.build-';

/**
 * The modules the default guest loads at boot (DESIGN.md): virtio over MMIO and its block,
 * network, entropy and balloon drivers, 9p shares, ext4. Their dependencies come along; names
 * absent from the package are skipped.
 */
export const DEFAULT_GUEST_MODULES: readonly string[] = [
  'virtio_mmio', 'virtio_blk', 'failover', 'net_failover', 'virtio_net', 'virtio-rng', 'virtio_balloon',
  'netfs', '9pnet', '9pnet_virtio', '9p',
  'crc16', 'libcrc32c', 'crc32c_generic', 'mbcache', 'jbd2', 'ext4',
];

/** `$TYPERVISOR_CACHE`, else `$XDG_CACHE_HOME/typervisor`, else `~/.cache/typervisor`. */
export function defaultCacheDir(env: Record<string, string | undefined> = process.env, home: string = homedir()): string {
  if (env['TYPERVISOR_CACHE']) return path.resolve(env['TYPERVISOR_CACHE']);
  if (env['XDG_CACHE_HOME'] && path.isAbsolute(env['XDG_CACHE_HOME'])) return path.join(env['XDG_CACHE_HOME'], 'typervisor');
  return path.join(home, '.cache', 'typervisor');
}

interface Manifest {
  layout: number;
  source: { distribution: 'debian'; suite: string; architecture: string; mirror: string };
  kernelVersion: string;
  kernelPackage: string;
  kernelPackageVersion: string;
  busyboxPackageVersion: string;
  createdAt: string;
  /** Time stamp of the initramfs members (the kernel image's mtime), for reproducible archives. */
  mtime: number;
  wantedModules: string[];
  modules: { name: string; path: string; depends: string[]; size: number }[];
  missingModules: string[];
  files: { kernel: number; busybox: number };
  initramfs: { format: number; size: number };
}

/**
 * Makes sure the default guest — Debian trixie's riscv64 kernel and an initramfs typervisor
 * builds around Debian's busybox — is in the cache, and returns its files.
 *
 * A complete cached guest is used without any network access or child process (only a manifest
 * read and two stats). Otherwise it is fetched with a private apt state (DebianApt), which takes
 * a few seconds and ~115 MB of download; about 60 MB stays in the cache (kernel 31 MB, initramfs
 * 15 MB, and its busybox and modules, 14 MB, kept for offline rebuilds). Everything is built
 * in a temporary folder next to the final one and renamed into place, so an interrupted first
 * run never leaves a half-written guest. If only the initramfs format changed (a newer
 * typervisor), the initramfs is rebuilt from the cached busybox and modules, offline.
 */
export async function ensureDefaultGuest(options: EnsureDefaultGuestOptions = {}): Promise<DefaultGuest> {
  const family = path.join(options.cacheDir ?? defaultCacheDir(), 'guests', GUEST_FAMILY);
  const progress = options.progress ?? (() => {});
  const run = options.run ?? runCommand;

  if (!options.refresh) {
    const cached = await newestCached(family);
    if (cached) return finish(cached.dir, cached.manifest);
  }

  await mkdir(family, { recursive: true }).catch((error: unknown) => {
    throw new TypervisorError(`cannot create the cache folder ${family}: ${(error as Error).message}`, {
      hint: 'set TYPERVISOR_CACHE to a writable folder',
      cause: error,
    });
  });
  await removeStaleBuilds(family);
  const build = await mkdtemp(path.join(family, `${BUILD_PREFIX}${process.pid}-`));
  try {
    const { apt, mirror } = await updatedApt(build, options.mirror, run, progress);
    const kernelPackage = (await apt.depends(KERNEL_METAPACKAGE)).find((p) => /^linux-image-\d/.test(p));
    if (!kernelPackage) {
      throw new TypervisorError(`${KERNEL_METAPACKAGE} in ${apt.description} depends on no linux-image-<version> package`, {
        hint: 'Debian may be changing kernels right now; try again later, or pass your own kernel and initramfs',
      });
    }
    const kernelVersion = kernelPackage.slice('linux-image-'.length);
    const final = path.join(family, kernelVersion);
    const existing = await readComplete(final);
    if (existing) return await finish(final, existing);

    const pkgs = [kernelPackage, BUSYBOX_PACKAGE];
    const sizes = await apt.sizes(pkgs);
    const total = pkgs.reduce((sum, p) => sum + (sizes.get(p) ?? 0), 0);
    progress(`downloading ${pkgs.join(' and ')} (${Math.round(total / 1e6)} MB)`);
    const debDir = path.join(build, 'debs');
    const debs = await withDownloadProgress(debDir, total, (text) => progress(`downloading: ${text}`), apt.download(pkgs, debDir));

    progress('unpacking');
    const root = path.join(build, 'root');
    for (const deb of debs.values()) await apt.unpack(deb, root);
    const parts = await readGuestParts(root, DEFAULT_GUEST_MODULES, { kernelVersion, run });

    progress('building initramfs');
    const guest = path.join(build, 'guest');
    await mkdir(path.join(guest, MODULES_DIR), { recursive: true });
    await rename(parts.kernelImagePath, path.join(guest, KERNEL_FILE));
    await writeFile(path.join(guest, BUSYBOX_FILE), parts.busybox);
    for (const m of parts.modules) {
      await mkdir(path.dirname(path.join(guest, MODULES_DIR, m.path)), { recursive: true });
      await writeFile(path.join(guest, MODULES_DIR, m.path), m.data);
    }
    const initramfs = buildInitramfs(parts);
    await writeFile(path.join(guest, INITRAMFS_FILE), initramfs);
    const manifest: Manifest = {
      layout: CACHE_LAYOUT,
      source: { distribution: 'debian', suite: SUITE, architecture: ARCH, mirror },
      kernelVersion,
      kernelPackage,
      kernelPackageVersion: await apt.field(debs.get(kernelPackage)!, 'Version'),
      busyboxPackageVersion: await apt.field(debs.get(BUSYBOX_PACKAGE)!, 'Version'),
      createdAt: new Date().toISOString(),
      mtime: parts.mtime,
      wantedModules: [...DEFAULT_GUEST_MODULES],
      modules: parts.modules.map((m) => ({ name: m.name, path: m.path, depends: m.depends, size: m.data.length })),
      missingModules: parts.missingModules,
      files: { kernel: (await stat(path.join(guest, KERNEL_FILE))).size, busybox: parts.busybox.length },
      initramfs: { format: INITRAMFS_FORMAT, size: initramfs.length },
    };
    await writeFile(path.join(guest, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');

    for (let attempt = 1; ; attempt++) {
      try {
        await rename(guest, final);
        break;
      } catch (error) {
        // Another typervisor finished the same guest first: use theirs.
        const theirs = await readComplete(final);
        if (theirs) return await finish(final, theirs);
        if (attempt === 2) throw error;
        // A folder of an older layout (or a damaged one) is in the way: move it into the build
        // folder, which is deleted below, and try once more. Never deleted in place, so a
        // complete guest another process just renamed there is not lost half-way.
        await rename(final, path.join(build, 'replaced')).catch(() => {});
      }
    }
    return await finish(final, manifest);
  } catch (error) {
    if (error instanceof TypervisorError) throw error;
    throw new TypervisorError(`building the default guest in ${family} failed: ${(error as Error).message}`, {
      hint: 'check that the disk has ~300 MB free and the folder is writable (or set TYPERVISOR_CACHE to another folder)',
      cause: error,
    });
  } finally {
    await rm(build, { recursive: true, force: true });
  }
}

/** apt-get update with the host's mirror, falling back to deb.debian.org if that fails. */
async function updatedApt(build: string, mirror: string | undefined, run: CommandRunner, progress: GuestProgress): Promise<{ apt: DebianApt; mirror: string }> {
  const mirrors = mirror ? [mirror] : [...new Set([hostDebianMirror(), DEFAULT_DEBIAN_MIRROR])];
  let firstError: unknown;
  for (const [i, m] of mirrors.entries()) {
    const apt = new DebianApt({ stateDir: path.join(build, `apt-${i}`), mirror: m, suite: SUITE, architecture: ARCH, run });
    progress(`updating package lists (${apt.description})`);
    try {
      await apt.update();
      return { apt, mirror: m };
    } catch (error) {
      // A missing tool or keyring will not be fixed by another mirror.
      if (!(error instanceof TypervisorError) || !/^updating the package lists/.test(error.message)) throw error;
      firstError ??= error;
    }
  }
  throw firstError;
}

/** Returns the guest's paths, first rebuilding its initramfs (offline) if its format is outdated. */
async function finish(dir: string, manifest: Manifest): Promise<DefaultGuest> {
  const guest = { kernelPath: path.join(dir, KERNEL_FILE), initramfsPath: path.join(dir, INITRAMFS_FILE), kernelVersion: manifest.kernelVersion };
  if (manifest.initramfs.format === INITRAMFS_FORMAT) return guest;
  const modules: GuestModule[] = [];
  for (const m of manifest.modules) modules.push({ name: m.name, path: m.path, depends: m.depends, data: new Uint8Array(await readFile(path.join(dir, MODULES_DIR, m.path))) });
  const initramfs = buildInitramfs({ kernelVersion: manifest.kernelVersion, busybox: new Uint8Array(await readFile(path.join(dir, BUSYBOX_FILE))), modules, mtime: manifest.mtime });
  const updated: Manifest = { ...manifest, initramfs: { format: INITRAMFS_FORMAT, size: initramfs.length } };
  const tmp = `.${process.pid}-${Date.now()}.tmp`;
  await writeFile(path.join(dir, INITRAMFS_FILE + tmp), initramfs);
  await rename(path.join(dir, INITRAMFS_FILE + tmp), guest.initramfsPath);
  await writeFile(path.join(dir, MANIFEST + tmp), JSON.stringify(updated, null, 2) + '\n');
  await rename(path.join(dir, MANIFEST + tmp), path.join(dir, MANIFEST));
  return guest;
}

/** The most recently built complete guest in the family folder, if any. */
async function newestCached(family: string): Promise<{ dir: string; manifest: Manifest } | undefined> {
  let names: string[];
  try {
    names = await readdir(family);
  } catch {
    return undefined;
  }
  let best: { dir: string; manifest: Manifest } | undefined;
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const dir = path.join(family, name);
    const manifest = await readComplete(dir);
    if (manifest && (!best || manifest.createdAt > best.manifest.createdAt)) best = { dir, manifest };
  }
  return best;
}

/**
 * The folder's manifest if the folder holds a complete guest of the current layout: the files
 * the manifest lists exist with their recorded sizes (the modules only when the initramfs has to
 * be rebuilt from them). Anything else — missing, truncated, another layout — is undefined.
 */
async function readComplete(dir: string): Promise<Manifest | undefined> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
  if (!isManifest(manifest) || path.basename(dir) !== manifest.kernelVersion) return undefined;
  const sizeIs = async (file: string, size: number) => {
    try {
      const st = await stat(path.join(dir, file));
      return st.isFile() && st.size === size;
    } catch {
      return false;
    }
  };
  if (!(await sizeIs(KERNEL_FILE, manifest.files.kernel))) return undefined;
  if (manifest.initramfs.format === INITRAMFS_FORMAT) return (await sizeIs(INITRAMFS_FILE, manifest.initramfs.size)) ? manifest : undefined;
  if (!(await sizeIs(BUSYBOX_FILE, manifest.files.busybox))) return undefined;
  for (const m of manifest.modules) if (!(await sizeIs(path.join(MODULES_DIR, m.path), m.size))) return undefined;
  return manifest;
}

/** Checks the manifest's shape and that it was made for today's module list and layout. */
function isManifest(m: Manifest): boolean {
  const str = (v: unknown) => typeof v === 'string' && v !== '';
  const size = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  const safePath = (p: unknown) => str(p) && !(p as string).startsWith('/') && !(p as string).split('/').some((c) => c === '' || c === '.' || c === '..');
  return (
    typeof m === 'object' && m !== null &&
    m.layout === CACHE_LAYOUT &&
    str(m.kernelVersion) && /^[A-Za-z0-9._+~-]+$/.test(m.kernelVersion) &&
    str(m.createdAt) && size(m.mtime) &&
    Array.isArray(m.wantedModules) && m.wantedModules.join() === DEFAULT_GUEST_MODULES.join() &&
    Array.isArray(m.modules) && m.modules.every((x) => str(x?.name) && safePath(x.path) && Array.isArray(x.depends) && x.depends.every(str) && size(x.size)) &&
    typeof m.files === 'object' && m.files !== null && size(m.files.kernel) && size(m.files.busybox) &&
    typeof m.initramfs === 'object' && m.initramfs !== null && Number.isInteger(m.initramfs.format) && size(m.initramfs.size)
  );
}

/** Deletes build folders of runs that died (their process is gone) or are more than a day old. */
async function removeStaleBuilds(family: string): Promise<void> {
  for (const name of await readdir(family)) {
    if (!name.startsWith(BUILD_PREFIX)) continue;
    const pid = Number(/^\.build-(\d+)-/.exec(name)?.[1]);
    const dir = path.join(family, name);
    let stale = !Number.isInteger(pid) || !processAlive(pid);
    if (!stale) {
      try {
        stale = Date.now() - (await stat(dir)).mtimeMs > 24 * 3600 * 1000;
      } catch {
        continue;
      }
    }
    if (stale) await rm(dir, { recursive: true, force: true });
  }
}
