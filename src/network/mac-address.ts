import { TypervisorError } from '../core/errors.js';

/**
 * QEMU's default MAC for the first NIC (52:54:00 is the locally administered prefix QEMU and
 * libvirt use; 12:34:56 its default suffix); NIC `i` of a VM gets the last octet 0x56 + i.
 */
export function defaultMac(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 0xff - 0x56) throw new TypervisorError(`no default MAC for NIC ${index}`);
  return formatMac(Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56 + index));
}

/**
 * Parses `aa:bb:cc:dd:ee:ff` (or with `-`) into 6 bytes, refusing what a NIC cannot own: a
 * multicast/broadcast address (I/G bit, the low bit of the first octet) or all zeros.
 */
export function parseMac(text: string): Uint8Array {
  const m = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(text);
  const hint = 'write six hex octets with colons, e.g. mac=52:54:00:12:34:57 (first octet even: unicast)';
  if (!m) throw new TypervisorError(`'${text}' is not a MAC address`, { hint });
  const bytes = Uint8Array.from([m[1], m[3], m[4], m[5], m[6], m[7]], (h) => parseInt(h!, 16));
  if (bytes[0]! & 1) throw new TypervisorError(`MAC address ${text} is a multicast address; a NIC needs a unicast one`, { hint });
  if (bytes.every((b) => b === 0)) throw new TypervisorError(`MAC address ${text} is all zeros`, { hint });
  return bytes;
}

/** `52:54:00:12:34:56`, lower case. */
export function formatMac(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
