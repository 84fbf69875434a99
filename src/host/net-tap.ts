// `--net tap:IFNAME`: not available yet. Attaching to a TAP device means opening /dev/net/tun
// and issuing ioctl(TUNSETIFF, IFF_TAP | IFF_NO_PI) on it (Linux Documentation/networking/
// tuntap.rst); Node has no ioctl, so it takes a native addon, and typervisor has none (it
// installs with no compiler). A helper process (`ip tuntap` only creates the device; some
// program must still hold it open with the ioctl) would be a native program of its own.
import { TypervisorError } from '../core/errors.js';

export function tapNotSupported(text: string): TypervisorError {
  return new TypervisorError(
    `--net ${text}: not supported yet: attaching to a TAP device needs the TUNSETIFF ioctl on /dev/net/tun, which Node.js cannot issue without a native addon`,
    { hint: 'join VMs with --net switch:NAME, or bridge to a QEMU VM that owns the TAP device with --net socket:PATH (QEMU -netdev stream)' },
  );
}
