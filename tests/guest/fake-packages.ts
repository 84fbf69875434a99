// Fake unpacked (and packed) Debian packages for the guest-image tests: a kernel package tree
// whose modules carry the .modinfo of Debian 6.12's (virtio_blk and virtio_balloon left out, one
// unrelated module added), and a busybox-static tree. Small files, no download.
import { execFileSync } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fakeModule } from './fake-module.js';
import { xz } from './host-tools.js';

/** The fake package tree: module files and their .modinfo as Debian 6.12's (virtio_blk and virtio_balloon left out). */
export const FAKE_MODULES: Record<string, string[]> = {
  'kernel/drivers/virtio/virtio_mmio.ko.xz': ['name=virtio_mmio', 'depends='],
  'kernel/net/core/failover.ko.xz': ['name=failover', 'depends='],
  'kernel/drivers/net/net_failover.ko.xz': ['name=net_failover', 'depends=failover'],
  'kernel/drivers/net/virtio_net.ko.xz': ['name=virtio_net', 'depends=net_failover', 'alias=virtio:d00000001v*'],
  'kernel/drivers/char/hw_random/virtio-rng.ko.xz': ['name=virtio_rng', 'depends='],
  'kernel/fs/netfs/netfs.ko.xz': ['name=netfs', 'depends='],
  'kernel/net/9p/9pnet.ko.xz': ['name=9pnet', 'depends=netfs'],
  'kernel/net/9p/9pnet_virtio.ko.xz': ['name=9pnet_virtio', 'depends=9pnet'],
  'kernel/fs/9p/9p.ko.xz': ['name=9p', 'depends=9pnet,netfs'],
  'kernel/lib/crc16.ko.xz': ['name=crc16', 'depends='],
  'kernel/lib/libcrc32c.ko.xz': ['softdep=pre: crc32c', 'name=libcrc32c', 'depends='],
  'kernel/crypto/crc32c_generic.ko.xz': ['alias=crypto-crc32c', 'alias=crc32c', 'name=crc32c_generic', 'depends='],
  'kernel/fs/mbcache.ko.xz': ['name=mbcache', 'depends='],
  'kernel/fs/jbd2/jbd2.ko.xz': ['softdep=pre: crypto-crc32c', 'name=jbd2', 'depends='],
  'kernel/fs/ext4/ext4.ko.xz': ['softdep=pre: crypto-crc32c', 'name=ext4', 'depends=jbd2,mbcache,crc16'],
  'kernel/drivers/unrelated/unrelated.ko.xz': ['name=unrelated', 'depends='],
};
export const EXPECTED_ORDER = [
  'kernel/drivers/virtio/virtio_mmio.ko',
  'kernel/net/core/failover.ko',
  'kernel/drivers/net/net_failover.ko',
  'kernel/drivers/net/virtio_net.ko',
  'kernel/drivers/char/hw_random/virtio-rng.ko',
  'kernel/fs/netfs/netfs.ko',
  'kernel/net/9p/9pnet.ko',
  'kernel/net/9p/9pnet_virtio.ko',
  'kernel/fs/9p/9p.ko',
  'kernel/lib/crc16.ko',
  'kernel/crypto/crc32c_generic.ko',
  'kernel/lib/libcrc32c.ko',
  'kernel/fs/mbcache.ko',
  'kernel/fs/jbd2/jbd2.ko',
  'kernel/fs/ext4/ext4.ko',
];

/** The uncompressed module file for a FAKE_MODULES key. */
export const elfOf = (rel: string) => fakeModule(FAKE_MODULES[rel]!, rel.length);

export const FAKE_BUSYBOX = new TextEncoder().encode('\x7fELF fake busybox');

/** The kernel image's mtime in the fake tree (seconds). */
export const FAKE_KERNEL_MTIME = 1_700_000_000;

/** Writes what `dpkg-deb -x linux-image-<version>` would leave under `root`. */
export function writeFakeKernelTree(root: string, version: string): void {
  mkdirSync(path.join(root, 'boot'), { recursive: true });
  writeFileSync(path.join(root, 'boot', `vmlinux-${version}`), `fake kernel ${version}`);
  writeFileSync(path.join(root, 'boot', `config-${version}`), 'CONFIG_VIRTIO_MMIO=m\n');
  utimesSync(path.join(root, 'boot', `vmlinux-${version}`), FAKE_KERNEL_MTIME, FAKE_KERNEL_MTIME);
  const mods = path.join(root, 'usr/lib/modules', version);
  for (const rel of Object.keys(FAKE_MODULES)) {
    mkdirSync(path.dirname(path.join(mods, rel)), { recursive: true });
    writeFileSync(path.join(mods, rel), xz(elfOf(rel)));
  }
  writeFileSync(path.join(mods, 'modules.order'), '');
}

/** Writes what `dpkg-deb -x busybox-static` would leave under `root`. */
export function writeFakeBusyboxTree(root: string): void {
  mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  writeFileSync(path.join(root, 'usr/bin/busybox'), FAKE_BUSYBOX, { mode: 0o755 });
}

/** Packs `tree` as a .deb of `pkg` (dpkg-deb --build), as `apt-get download` would leave it. */
export function buildDeb(tree: string, pkg: string, version: string, out: string): void {
  mkdirSync(path.join(tree, 'DEBIAN'), { recursive: true });
  writeFileSync(path.join(tree, 'DEBIAN/control'), `Package: ${pkg}\nVersion: ${version}\nArchitecture: riscv64\nMaintainer: Test <test@example.invalid>\nDescription: fake ${pkg} for tests\n`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', tree, out], { stdio: ['ignore', 'ignore', 'pipe'] });
}
