// The library's way to the `--net` backends: a TypeScript program gets the same NICs as
// `typervisor run --net SPEC…` — passt for `user`, the switch daemon for `switch:NAME`, stream
// sockets, TAP — already opened, ready to put in a MachineConfig's devices, and closes them
// (stopping passt) once the machine has exited.
import type { NicConfig } from '../vmm/machine-config.js';
import type { NetSocketOptions } from './net-socket.js';
import { checkDistinctMacs, closeNets, dhcpInterfaces, openNets, parseNetSpec } from './net-spec.js';

export interface OpenedNetworks {
  /** virtio-net devices, in the order of the specs: the guest names them eth0, eth1, … when they are its only NICs. */
  readonly devices: readonly NicConfig[];
  /** The guest interfaces to configure by DHCP (the `user` NICs), for defaultGuestConfig's `dhcp`. */
  readonly dhcp: readonly string[];
  /** Closes every backend; resolves once the processes behind them (passt) have exited. */
  close(): Promise<void>;
}

/**
 * Opens NICs from `--net` specs (`user[,hostfwd=…]`, `socket:PATH`, `socket:listen:PATH`,
 * `switch:NAME`, `tap:IFNAME`, each with `mac=`, `rate=`, `burst=`, `pps=`). Spec i gets the
 * default MAC 52:54:00:12:34:(56 + i) unless it names one — give VMs that share a segment
 * their own `mac=`. A bad spec or a backend that cannot open throws a TypervisorError and
 * leaves nothing open.
 */
export async function openNetworks(specs: readonly string[], options: NetSocketOptions = {}): Promise<OpenedNetworks> {
  const parsed = specs.map((text, i) => parseNetSpec(text, i));
  checkDistinctMacs(parsed);
  const devices = await openNets(parsed, options);
  return {
    devices,
    dhcp: dhcpInterfaces(parsed),
    close: () => closeNets(devices),
  };
}
