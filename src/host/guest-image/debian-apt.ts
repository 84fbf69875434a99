import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TypervisorError } from '../../core/errors.js';
import { runChecked, runCommand, type CommandRunner } from './run-command.js';

/** Where Debian's archive signing keys live on Debian and Ubuntu hosts (package debian-archive-keyring). */
export const DEBIAN_ARCHIVE_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

export interface DebianAptOptions {
  /** A private apt directory (created if missing): sources, lists and caches live here, never in /etc or /var. */
  stateDir: string;
  /** The archive, e.g. `http://deb.debian.org/debian`. */
  mirror: string;
  /** e.g. `trixie`. */
  suite: string;
  /** Debian architecture name, e.g. `riscv64`. */
  architecture: string;
  components?: readonly string[];
  keyring?: string;
  run?: CommandRunner;
}

/**
 * apt-get, apt-cache and dpkg-deb for packages of another Debian release and architecture, with
 * their own state directory, so the host's apt configuration, package lists and installed
 * packages are neither used nor touched (DESIGN.md, "Guest software from Debian without touching
 * the host's apt"). Nothing is installed: packages are downloaded and unpacked into folders.
 * The host's apt.conf.d is still read, so its proxy settings apply.
 */
export class DebianApt {
  private readonly run: CommandRunner;
  private readonly dir: string;
  private prepared = false;

  constructor(private readonly options: DebianAptOptions) {
    this.run = options.run ?? runCommand;
    this.dir = path.resolve(options.stateDir);
  }

  /** What the archive is called in messages: `Debian trixie (riscv64) at <mirror>`. */
  get description(): string {
    return `Debian ${this.options.suite} (${this.options.architecture}) at ${this.options.mirror}`;
  }

  /** `apt-get update` into the private lists; fails if any index could not be fetched. */
  async update(): Promise<void> {
    await this.prepare();
    await runChecked(this.run, `updating the package lists of ${this.description}`, 'apt-get', [...this.aptOptions(), '-q', '--error-on=any', 'update'],
      `check that ${this.options.mirror} is reachable from this machine (apt honours http_proxy and the host's apt proxy settings), then try again`);
  }

  /** The packages `pkg` depends on (first alternative of each), from the updated lists. */
  async depends(pkg: string): Promise<string[]> {
    const result = await runChecked(this.run, `looking up ${pkg} in ${this.description}`, 'apt-cache',
      [...this.aptOptions(), 'depends', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', pkg],
      `the package may have been renamed or removed from ${this.options.suite}; a newer typervisor may know its new name`);
    const deps: string[] = [];
    for (const line of utf8(result.stdout).split('\n')) {
      const m = /^\s+\|?(?:Pre)?Depends:\s+(\S+)/.exec(line);
      if (m && !m[1]!.startsWith('<')) deps.push(m[1]!);
    }
    return deps;
  }

  /** The download size in bytes of each package (the candidate version), from the `Size:` fields. */
  async sizes(pkgs: readonly string[]): Promise<Map<string, number>> {
    const result = await runChecked(this.run, `looking up ${pkgs.join(', ')} in ${this.description}`, 'apt-cache', [...this.aptOptions(), 'show', '--no-all-versions', ...pkgs],
      `the package may have been removed from ${this.options.suite}; a newer typervisor may know its new name`);
    const sizes = new Map<string, number>();
    for (const stanza of utf8(result.stdout).split(/\n\s*\n/)) {
      const name = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
      const size = /^Size:\s*(\d+)/m.exec(stanza)?.[1];
      if (name && size) sizes.set(name, Number(size));
    }
    return sizes;
  }

  /** Downloads the packages' .deb files into `dir`; returns each package's file. */
  async download(pkgs: readonly string[], dir: string): Promise<Map<string, string>> {
    await this.prepare();
    await mkdir(dir, { recursive: true });
    await runChecked(this.run, `downloading ${pkgs.join(', ')} from ${this.description}`, 'apt-get', [...this.aptOptions(), '-q', 'download', ...pkgs],
      `check that ${this.options.mirror} is reachable and that the disk holding ${dir} has room, then try again`, { cwd: dir });
    const files = await readdir(dir);
    const debs = new Map<string, string>();
    for (const pkg of pkgs) {
      const file = files.find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
      if (!file) throw new TypervisorError(`apt-get download reported success but left no .deb file for ${pkg} in ${dir}`);
      debs.set(pkg, path.join(dir, file));
    }
    return debs;
  }

  /** Unpacks a .deb's files (not its maintainer scripts) under `dir`, as `dpkg-deb -x`. */
  async unpack(deb: string, dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await runChecked(this.run, `unpacking ${path.basename(deb)}`, 'dpkg-deb', ['-x', deb, dir],
      `the file may be damaged (delete it and try again) or the disk holding ${dir} may be full`);
  }

  /** One control field of a .deb (e.g. `Version`), as `dpkg-deb -f`. */
  async field(deb: string, name: string): Promise<string> {
    const result = await runChecked(this.run, `reading ${path.basename(deb)}`, 'dpkg-deb', ['-f', deb, name], 'the file may be damaged; delete it and try again');
    return utf8(result.stdout).trim();
  }

  /** The -o options that point apt at the private directory and the foreign architecture. */
  private aptOptions(): string[] {
    const d = this.dir;
    const opts = [
      `Dir=${d}/`,
      `Dir::State::status=${d}/var/lib/dpkg/status`,
      `APT::Architecture=${this.options.architecture}`,
      `APT::Architectures=${this.options.architecture}`,
      // Translations are not needed to download, and would double the lists fetched.
      'Acquire::Languages=none',
    ];
    // As root, apt drops to the _apt user to download, which cannot write into a root-owned
    // private directory and warns; the directory is the user's own, so stay who we are.
    if (process.getuid?.() === 0) opts.push('APT::Sandbox::User=root');
    return opts.flatMap((o) => ['-o', o]);
  }

  /** Creates the private directory layout and the sources entry (once per instance; idempotent). */
  private async prepare(): Promise<void> {
    if (this.prepared) return;
    const keyring = this.options.keyring ?? DEBIAN_ARCHIVE_KEYRING;
    if (!existsSync(keyring)) {
      throw new TypervisorError(`Debian's archive keyring ${keyring} is missing, so packages from Debian cannot be verified`, {
        hint: 'install it (apt-get install debian-archive-keyring), or pass your own kernel and initramfs',
      });
    }
    const d = this.dir;
    for (const sub of ['etc/apt/sources.list.d', 'etc/apt/preferences.d', 'etc/apt/apt.conf.d', 'var/lib/apt/lists/partial', 'var/cache/apt/archives/partial', 'var/lib/dpkg']) {
      await mkdir(path.join(d, sub), { recursive: true });
    }
    await writeFile(path.join(d, 'var/lib/dpkg/status'), '');
    await writeFile(
      path.join(d, 'etc/apt/sources.list.d', `${this.options.suite}.sources`),
      [
        'Types: deb',
        `URIs: ${this.options.mirror}`,
        `Suites: ${this.options.suite}`,
        `Components: ${(this.options.components ?? ['main']).join(' ')}`,
        `Architectures: ${this.options.architecture}`,
        `Signed-By: ${keyring}`,
        '',
      ].join('\n'),
    );
    this.prepared = true;
  }
}

function utf8(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
