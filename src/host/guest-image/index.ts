// The default guest: Debian's riscv64 kernel and busybox, fetched with a private apt state into
// the user's cache, and the initramfs typervisor builds around them. Node only (apt, files).
export { ensureDefaultGuest, defaultCacheDir, DEFAULT_GUEST_MODULES, type DefaultGuest, type EnsureDefaultGuestOptions, type GuestProgress } from './default-guest.js';
export { commandInitramfs, commandScript, GUEST_COMMAND_PATH } from './command-initramfs.js';
export { buildInitramfs, initScript, INITRAMFS_FORMAT, FINISHER_ADDRESS, GUEST_HOSTNAME, type InitramfsInput, type InitramfsModule } from './initramfs.js';
export { readGuestParts, type GuestParts, type GuestModule } from './guest-parts.js';
export { DebianApt, DEBIAN_ARCHIVE_KEYRING, type DebianAptOptions } from './debian-apt.js';
export { hostDebianMirror, DEFAULT_DEBIAN_MIRROR } from './host-debian-mirror.js';
export { readKernelModuleInfo, normalizeModuleName, type KernelModuleInfo } from './kernel-module-info.js';
export { moduleLoadOrder, type ModuleLoadPlan } from './module-load-order.js';
export { runCommand, type CommandRunner, type CommandResult } from './run-command.js';
export { shellQuote } from './shell-quote.js';
