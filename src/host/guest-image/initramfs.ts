import { writeCpioNewc, type CpioEntry } from '../../core/cpio-newc.js';
import { TypervisorError } from '../../core/errors.js';
import { shellQuote } from './shell-quote.js';

/**
 * Version of what buildInitramfs produces (/init, /etc, layout). A cached initramfs of another
 * format is rebuilt from the cached parts; bump it whenever the archive's content changes.
 */
export const INITRAMFS_FORMAT = 8;

/** The virt board's test finisher (DESIGN.md, the `virt` board): writing here ends the VM. */
export const FINISHER_ADDRESS = 0x10_0000;

/** The hostname the guest gives itself. */
export const GUEST_HOSTNAME = 'typervisor';

/** A module to put in the initramfs; `modules` are given in load order. */
export interface InitramfsModule {
  name: string;
  /** Below lib/modules/<version>/, e.g. `kernel/fs/ext4/ext4.ko`. */
  path: string;
  /** Names of the modules it needs (written to modules.dep for busybox modprobe). */
  depends: readonly string[];
  /** The uncompressed .ko. */
  data: Uint8Array;
}

export interface InitramfsInput {
  kernelVersion: string;
  /** A static busybox for the guest's architecture. */
  busybox: Uint8Array;
  /** Loaded by /init in this order. */
  modules: readonly InitramfsModule[];
  /** Time stamp of every member, seconds since the epoch (default 0), so equal inputs give equal bytes. */
  mtime?: number;
}

/**
 * Applets linked in the archive because /init and the scripts it starts use them before (or
 * without) `busybox --install -s`, which links all the others at boot. In bin/ unless noted.
 */
const EARLY_APPLETS = ['sh', 'mount', 'mkdir', 'ln', 'insmod', 'hostname', 'stty', 'setsid', 'cttyhack', 'devmem', 'poweroff', 'reboot', 'halt', 'sync', 'umount', 'ip', 'cat'];

/**
 * Builds the default guest's base initramfs: an uncompressed cpio "newc" archive (the kernel
 * unpacks it faster than gzip on an emulated CPU) with busybox, /init, the modules and a minimal
 * /etc. What /init does is described in initScript(). A command archive from commandInitramfs()
 * may be concatenated after it.
 */
export function buildInitramfs(input: InitramfsInput): Uint8Array {
  const { kernelVersion } = input;
  if (!/^[A-Za-z0-9._+~-]+$/.test(kernelVersion)) throw new TypervisorError(`unexpected kernel version '${kernelVersion}'`);
  const mtime = input.mtime ?? 0;
  const text = (s: string) => new TextEncoder().encode(s);
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const dir = (name: string, mode = 0o755) => {
    const parent = name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '';
    if (parent && !dirs.has(parent)) dir(parent);
    if (dirs.has(name)) return;
    dirs.add(name);
    entries.push({ type: 'directory', name, mode, mtime });
  };
  const file = (name: string, data: Uint8Array | string, mode = 0o644) => {
    if (name.includes('/')) dir(name.slice(0, name.lastIndexOf('/')));
    entries.push({ type: 'file', name, data: typeof data === 'string' ? text(data) : data, mode, mtime });
  };
  const link = (name: string, target: string) => entries.push({ type: 'symlink', name, target, mtime });

  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'dev', 'etc', 'proc', 'sys', 'run', 'mnt', 'lib']) dir(d);
  dir('root', 0o700);
  dir('tmp', 0o1777);
  // The kernel opens /dev/console for /init's stdin/out/err before anything is mounted.
  entries.push({ type: 'char-device', name: 'dev/console', major: 5, minor: 1, mode: 0o600, mtime });

  file('bin/busybox', input.busybox, 0o755);
  for (const applet of EARLY_APPLETS) link(`bin/${applet}`, 'busybox');
  link('sbin/init', '../bin/busybox');

  file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  file('etc/group', 'root:x:0:\n');
  file('etc/hostname', `${GUEST_HOSTNAME}\n`);
  link('etc/mtab', '/proc/self/mounts');
  file('etc/profile', PROFILE);
  file('etc/inittab', INITTAB);
  file('etc/typervisor/console-shell', CONSOLE_SHELL, 0o755);
  // busybox udhcpc runs this script (its built-in default path) on each lease event.
  file('etc/udhcpc/default.script', UDHCPC_SCRIPT, 0o755);

  const base = `lib/modules/${kernelVersion}`;
  for (const m of input.modules) file(`${base}/${m.path}`, m.data);
  file(`${base}/modules.dep`, modulesDep(input.modules));

  file('init', initScript(kernelVersion, input.modules.map((m) => m.path)), 0o755);
  return writeCpioNewc(entries);
}

/**
 * The guest's /init (PID 1), a busybox sh script:
 *
 * 1. mounts /proc, /sys, /dev (devtmpfs), /dev/pts; links every busybox applet; keeps the serial
 *    ports out of runtime suspend (so the tail of the output is never still queued when the command
 *    exits, see the script); loads virtio_mmio, then only the drivers of the virtio devices the
 *    board has (DEVICE_MODULES), in dependency order, saying only which failed; sets the hostname;
 *    brings up `lo`. Loading every module (ext4 alone is 7 MB) cost a fifth of a boot without any
 *    device to use them; `modprobe` finds the others later (modules.dep). Sets the console's size
 *    from `typervisor.size=COLSxROWS` on the kernel command line when present. When the kernel had
 *    no console for /init (console=hvc0: virtio-console appears with virtio_mmio), opens
 *    /dev/console for stdin/out/err once the modules are loaded.
 * 2. If /typervisor/command exists (a command archive was appended): turns off the console's
 *    NL→CRNL translation so the command's output bytes arrive unchanged; with
 *    `typervisor.stdin=1` (run -i) finds the virtio-console port named typervisor.stdin and makes
 *    it the command's standard input (EOF when the host's input ends); runs the command in its
 *    own session with the console as controlling terminal (so Ctrl-C and /dev/tty work), waits
 *    for the UART to drain (stty's TCSADRAIN), and ends the VM through the test finisher with
 *    the command's status: 0x5555 for 0, (status << 16) | 0x3333 otherwise. If the board has no
 *    finisher it powers off (the status is then lost).
 * 3. Otherwise execs busybox init (see INITTAB), so that `poweroff`, `reboot` and `halt` — which
 *    signal PID 1 — work: a shell script as PID 1 would run its traps only after the foreground
 *    shell exits, and a background shell would have Ctrl-C ignored.
 */
export function initScript(kernelVersion: string, modulePaths: readonly string[]): string {
  const finisher = `0x${FINISHER_ADDRESS.toString(16)}`;
  return `#!/bin/sh
# /init of typervisor's default guest (written by typervisor, initramfs format ${INITRAMFS_FORMAT}).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
{ ln -s /proc/self/fd /dev/fd; ln -s fd/0 /dev/stdin; ln -s fd/1 /dev/stdout; ln -s fd/2 /dev/stderr; } 2>/dev/null
/bin/busybox --install -s
# Keep the serial ports out of runtime suspend. Linux (6.5+) suspends a serial port 500 ms after
# its last output; a write then only queues the bytes and leaves the transmitter to a kworker
# that resumes the port. If the command exits first, the hangup that its exit (as session
# leader) does to its terminal flushes that queue: the output was lost yet the exit status came.
for c in /sys/class/tty/ttyS*/device/power/control; do echo on >"$c"; done 2>/dev/null

load() { insmod "/lib/modules/${kernelVersion}/$1" 2>/dev/null || echo "typervisor: could not load module $1" >&2; }
# The virtio-mmio bus first: its devices then appear in /sys/bus/virtio/devices.
wanted=" virtio_mmio "
${modulePaths.filter((p) => moduleName(p) === 'virtio_mmio').map((p) => `load ${shellQuote(p)}`).join('\n')}
for d in /sys/bus/virtio/devices/*; do
  [ -r "$d/device" ] || continue
  case "$(cat "$d/device")" in
${Object.entries(DEVICE_MODULES).map(([id, mods]) => `    ${id}) wanted="\${wanted}${mods.join(' ')} " ;;`).join('\n')}
  esac
done
for p in ${modulePaths.filter((p) => moduleName(p) !== 'virtio_mmio').map(shellQuote).join(' ')}; do
  n=\${p##*/}; n=\${n%.ko}
  case "$wanted" in *" $n "*) load "$p" ;; esac
done

# With console=hvc0 (virtio-console) the console exists only once virtio_mmio is loaded, so the
# kernel had none to give /init ("unable to open an initial console"): open it now.
[ -t 0 ] || exec </dev/console >/dev/console 2>&1
hostname ${GUEST_HOSTNAME}
ip link set lo up 2>/dev/null
cd /root
# The host terminal's size, when typervisor passed it (typervisor.size=COLSxROWS): a serial
# console cannot report it, and 0x0 makes the shell wrap at 80 columns.
for word in $(cat /proc/cmdline); do
  case "$word" in
    typervisor.size=*x*) size=\${word#typervisor.size=}; stty cols "\${size%x*}" rows "\${size#*x}" </dev/console 2>/dev/null ;;
    # NICs on passt (--net user), which answers DHCP at once: configure them before the command
    # or shell starts. -n -t 3 -T 1: give up after ~3 s instead of holding the boot.
    typervisor.dhcp=*)
      for nic in $(echo "\${word#typervisor.dhcp=}" | tr , ' '); do
        udhcpc -i "$nic" -n -q -t 3 -T 1 >/dev/null 2>&1 || echo "typervisor: no DHCP lease on $nic (try: udhcpc -i $nic)" >&2
      done ;;
    # run -i: the host's standard input arrives on a virtio-console port named typervisor.stdin
    # (not a tty: no echo, and EOF when the host's input ends). The driver names the port a moment
    # after virtio_mmio probed it: wait for it (at most ~10 s).
    typervisor.stdin=1)
      i=0
      while [ -z "$stdin_port" ] && [ $i -lt 100 ]; do
        for n in /sys/class/virtio-ports/*/name; do
          d=\${n%/name}
          [ "$(cat "$n" 2>/dev/null)" = typervisor.stdin ] && [ -e "/dev/\${d##*/}" ] && stdin_port=/dev/\${d##*/}
        done
        [ -n "$stdin_port" ] || { sleep 0.1; i=$((i+1)); }
      done
      [ -n "$stdin_port" ] || echo "typervisor: the standard input port did not appear; the command reads nothing" >&2 ;;
  esac
done

if [ -f /typervisor/command ]; then
  stty -onlcr </dev/console
  if [ -n "$stdin_port" ]; then
    # cttyhack points 0, 1 and 2 at the console: the port replaces stdin inside the new session.
    setsid cttyhack sh -c 'exec sh /typervisor/command <"$0"' "$stdin_port"
  else
    setsid cttyhack sh /typervisor/command
  fi
  status=$?
  # stty sets the terminal with TCSADRAIN: it returns once the UART has sent every byte. (What
  # the command left queued was already flushed by the hangup when it exited: see power/control.)
  stty -onlcr </dev/console 2>/dev/null
  if [ "$status" -eq 0 ]; then code=0x5555; else code=$(( (status << 16) | 0x3333 )); fi
  devmem ${finisher} 32 "$code"
  echo "typervisor: no test finisher at ${finisher}; powering off (exit status $status is lost)" >&2
  sync
  exec poweroff -f
fi

exec init
`;
}

/** A module's name from its path: `kernel/fs/ext4/ext4.ko` → `ext4`. */
function moduleName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1).replace(/\.ko$/, '');
}

/**
 * Modules each virtio device type needs (virtio 1.2 §5: device ids as sysfs shows them),
 * dependencies included; /init loads them in the global dependency order.
 */
const DEVICE_MODULES: Record<string, readonly string[]> = {
  '0x0001': ['failover', 'net_failover', 'virtio_net'],
  // 0x0003 virtio-console: built into Debian's kernel (drivers/char/virtio_console.c is in the
  // Image, CONFIG_VIRTIO_CONSOLE=y), so there is nothing to load.
  '0x0002': ['virtio_blk', 'crc16', 'crc32c_generic', 'libcrc32c', 'jbd2', 'mbcache', 'ext4'],
  '0x0004': ['virtio-rng'],
  '0x0005': ['virtio_balloon'],
  '0x0009': ['netfs', '9pnet', '9pnet_virtio', '9p'],
};

/**
 * busybox udhcpc's event script (/etc/udhcpc/default.script, its compiled-in default): udhcpc
 * passes the event as $1 and the lease in the environment (interface, ip, mask as a prefix
 * length, broadcast, router, dns, domain, mtu). `deconfig` only brings the link up — it must not
 * flush addresses a user set by hand.
 */
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig)
    ip link set "$interface" up ;;
  bound|renew)
    if ! ip -4 addr show dev "$interface" | grep -q "inet $ip/"; then
      ip -4 addr flush dev "$interface" scope global
      ip addr add "$ip/\${mask:-24}" \${broadcast:+broadcast "$broadcast"} dev "$interface"
    fi
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    if [ -n "$router" ]; then
      while ip route del default dev "$interface" 2>/dev/null; do :; done
      for r in $router; do ip route add default via "$r" dev "$interface" && break; done
    fi
    if [ -n "$dns" ]; then
      { [ -n "$domain" ] && echo "search $domain"; for d in $dns; do echo "nameserver $d"; done; } >/etc/resolv.conf
    fi ;;
esac
exit 0
`;

/** busybox init's table: one root shell on the console, nothing respawned. */
const INITTAB = `# typervisor's default guest: one root shell on the console (busybox init, see /init).
# poweroff, reboot and halt signal init, which stops everything and then powers off or resets.
::once:/etc/typervisor/console-shell
::ctrlaltdel:/bin/reboot
::shutdown:/bin/umount -a -r -t ext4,ext3,ext2,vfat,9p
`;

/** Started once by init: a login shell owning the console, and power off when it exits. */
const CONSOLE_SHELL = `#!/bin/sh
# A root login shell with the console as its controlling terminal (setsid + cttyhack: job
# control and Ctrl-C work), started once by init; when it exits, the machine powers off at once.
cd /root
HOME=/root setsid cttyhack sh -l
umount -a -r -t ext4,ext3,ext2,vfat,9p 2>/dev/null
sync
exec poweroff -f
`;

const PROFILE = `export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
export PS1='\\u@\\h:\\w\\$ '
`;

/** modules.dep in depmod's form: each module's transitive dependencies, the one to load first last. */
function modulesDep(modules: readonly InitramfsModule[]): string {
  const byName = new Map(modules.map((m) => [m.name, m]));
  const lines: string[] = [];
  for (const m of modules) {
    const closure: string[] = [];
    const seen = new Set<string>();
    const visit = (name: string) => {
      for (const dep of byName.get(name)?.depends ?? []) {
        if (seen.has(dep) || !byName.has(dep)) continue;
        seen.add(dep);
        visit(dep);
        closure.push(byName.get(dep)!.path);
      }
    };
    visit(m.name);
    lines.push(`${m.path}:${closure.reverse().map((p) => ` ${p}`).join('')}\n`);
  }
  return lines.join('');
}
