// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of
// big-endian 16-bit words, an odd last byte padded with zero. virtio-net needs it three ways:
// completing a transmit checksum the driver left partial (§5.1.6.2), filling in the checksums of
// the segments it cuts from a TSO packet, and checking a received frame before it tells the
// driver the checksum was verified (VIRTIO_NET_HDR_F_DATA_VALID, §5.1.6.4).

import { IPPROTO_TCP, IPPROTO_UDP, parseFrameHeaders, u16 } from './frame-headers.js';

/**
 * Adds the bytes [start, end) of `bytes` as big-endian 16-bit words to `sum` (which may already
 * hold a partial sum, e.g. a pseudo-header's) and returns the unfolded total. Safe for any frame
 * virtio-net handles: 32 Ki words of at most 0xffff stay far below 2^53.
 */
export function sumWords(bytes: Uint8Array, start: number, end: number, sum = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) sum += bytes[i]! << 8;
  return sum;
}

/** Folds a sum of 16-bit words into 16 bits (end-around carry). */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * The ones' complement of the folded sum, as stored in a header. A result of 0 is stored as
 * 0xffff, as Linux's skb_checksum_help and csum_fold users do (both mean zero in ones'
 * complement; UDP reserves 0 for "no checksum").
 */
export function checksumOf(sum: number): number {
  return ~fold(sum) & 0xffff || 0xffff;
}

/**
 * The sum of the TCP/UDP pseudo-header (RFC 793 §3.1 for IPv4, RFC 8200 §8.1 for IPv6): source
 * and destination addresses, the protocol and the L4 length. `ip` is the offset of the IP header.
 */
export function pseudoHeaderSum(frame: Uint8Array, ip: number, ipv6: boolean, protocol: number, l4Length: number): number {
  const addresses = ipv6 ? sumWords(frame, ip + 8, ip + 40) : sumWords(frame, ip + 12, ip + 20);
  return addresses + protocol + (l4Length >>> 16) + (l4Length & 0xffff);
}

/** Stores a 16-bit checksum big-endian at `at`. */
export function storeChecksum(frame: Uint8Array, at: number, check: number): void {
  frame[at] = check >> 8;
  frame[at + 1] = check & 0xff;
}

/**
 * §5.1.6.2 checksum completion: the checksum of the bytes from `start` to the end of the frame,
 * stored at `start + offset`. The driver has put the sum of what lies outside that range (the
 * pseudo-header) in the field, so it is summed along. Returns false when the field is not
 * inside the frame.
 */
export function completeChecksum(frame: Uint8Array, start: number, offset: number): boolean {
  const at = start + offset;
  if (start >= frame.length || at + 2 > frame.length) return false;
  storeChecksum(frame, at, checksumOf(sumWords(frame, start, frame.length)));
  return true;
}

/**
 * Whether a received frame is an unfragmented TCP or UDP packet whose checksum is right, so the
 * device may set VIRTIO_NET_HDR_F_DATA_VALID and spare the guest the sum (§5.1.6.4). A UDP
 * checksum of 0 over IPv4 means "none" (RFC 768) and passes; over IPv6 it is invalid (RFC 8200 §8.1).
 */
export function l4ChecksumValid(frame: Uint8Array): boolean {
  const h = parseFrameHeaders(frame);
  if (!h || h.fragment || (h.protocol !== IPPROTO_TCP && h.protocol !== IPPROTO_UDP)) return false;
  const l4Length = h.end - h.l4;
  if (l4Length < (h.protocol === IPPROTO_TCP ? 20 : 8)) return false;
  if (h.protocol === IPPROTO_UDP) {
    if (u16(frame, h.l4 + 4) !== l4Length) return false; // padded or cut: the guest sorts it out
    if (u16(frame, h.l4 + 6) === 0) return !h.ipv6;
  }
  return fold(pseudoHeaderSum(frame, h.ip, h.ipv6, h.protocol, l4Length) + sumWords(frame, h.l4, h.end)) === 0xffff;
}
