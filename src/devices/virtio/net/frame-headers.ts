// Where the IP and TCP/UDP headers of an Ethernet frame lie, for the offloads virtio-net offers
// (segmentation, §5.1.6.2, and receive checksum validation, §5.1.6.4). The frame is guest or
// network input: every offset is bounds-checked and anything unexpected gives `undefined`.

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
/** 802.1Q and 802.1ad VLAN tags: 4 bytes each between the MAC addresses and the EtherType. */
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** IPv6 extension headers walked to reach the L4 header (RFC 8200 §4). */
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_AUTH = 51;
const IPV6_DEST_OPTS = 60;
/** More extension headers than this and the frame is not worth parsing. */
const MAX_IPV6_EXTENSIONS = 8;

export interface FrameHeaders {
  /** Offset of the IP header. */
  readonly ip: number;
  readonly ipv6: boolean;
  /** The L4 protocol (after IPv6 extension headers). */
  readonly protocol: number;
  /** Offset of the L4 header. */
  readonly l4: number;
  /** Where the IP packet ends (Ethernet padding may follow it). */
  readonly end: number;
  /** A fragment (IPv4 MF or offset, an IPv6 fragment header): its L4 checksum covers other frames too. */
  readonly fragment: boolean;
}

/** A big-endian (network order) 16-bit field. */
export const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;

/** Locates the IP and L4 headers of an IPv4 or IPv6 frame, at most two VLAN tags deep. */
export function parseFrameHeaders(frame: Uint8Array): FrameHeaders | undefined {
  let at = 12;
  if (frame.length < at + 2) return undefined;
  let type = u16(frame, at);
  for (let tags = 0; (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) && tags < 2; tags++) {
    at += 4;
    if (frame.length < at + 2) return undefined;
    type = u16(frame, at);
  }
  const ip = at + 2;
  if (type === ETHERTYPE_IPV4) return parseIpv4(frame, ip);
  if (type === ETHERTYPE_IPV6) return parseIpv6(frame, ip);
  return undefined;
}

/** RFC 791 §3.1: version 4, IHL ≥ 5 words, total length covering the header and inside the frame. */
function parseIpv4(frame: Uint8Array, ip: number): FrameHeaders | undefined {
  if (frame.length < ip + 20 || frame[ip]! >> 4 !== 4) return undefined;
  const headerBytes = (frame[ip]! & 0x0f) * 4;
  const total = u16(frame, ip + 2);
  if (headerBytes < 20 || total < headerBytes || ip + total > frame.length) return undefined;
  const flagsAndOffset = u16(frame, ip + 6);
  const fragment = (flagsAndOffset & 0x3fff) !== 0; // MF or a fragment offset
  return { ip, ipv6: false, protocol: frame[ip + 9]!, l4: ip + headerBytes, end: ip + total, fragment };
}

/** RFC 8200 §3–4: the fixed header, then extension headers until an upper-layer header. */
function parseIpv6(frame: Uint8Array, ip: number): FrameHeaders | undefined {
  if (frame.length < ip + 40 || frame[ip]! >> 4 !== 6) return undefined;
  const payload = u16(frame, ip + 4);
  const end = ip + 40 + payload;
  if (payload === 0 || end > frame.length) return undefined; // 0 would be a jumbogram (RFC 2675)
  let next = frame[ip + 6]!;
  let at = ip + 40;
  let fragment = false;
  for (let n = 0; n <= MAX_IPV6_EXTENSIONS; n++) {
    if (next !== IPV6_HOP_BY_HOP && next !== IPV6_ROUTING && next !== IPV6_DEST_OPTS && next !== IPV6_AUTH && next !== IPV6_FRAGMENT) {
      return { ip, ipv6: true, protocol: next, l4: at, end, fragment };
    }
    if (at + 8 > end) return undefined;
    const length = next === IPV6_FRAGMENT ? 8 : next === IPV6_AUTH ? (frame[at + 1]! + 2) * 4 : (frame[at + 1]! + 1) * 8;
    if (next === IPV6_FRAGMENT) fragment = true;
    next = frame[at]!;
    at += length;
    if (at > end) return undefined;
  }
  return undefined;
}
