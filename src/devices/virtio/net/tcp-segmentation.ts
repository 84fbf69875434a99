import { checksumOf, fold, pseudoHeaderSum, storeChecksum, sumWords } from './internet-checksum.js';
import { IPPROTO_TCP, parseFrameHeaders } from './frame-headers.js';

// TCP segmentation offload on the device side (virtio 1.2 §5.1.6.2, VIRTIO_NET_F_HOST_TSO4/6):
// the driver hands over one TCP packet of up to 64 KiB with gso_size, the MSS; the device cuts
// it into segments of at most gso_size payload bytes, as a NIC would. Each segment repeats the
// Ethernet, IP and TCP headers with the fields a real TSO engine rewrites (Linux's
// tcp_gso_segment and inet_gso_segment do the same): IPv4 total length, identification
// (+1 per segment) and header checksum, IPv6 payload length, TCP sequence number (+ the payload
// before it), FIN and PSH only on the last segment, CWR only on the first (RFC 3168 §6.1.2:
// the sender sets CWR on the first new packet after a window reduction), and the TCP checksum
// over each segment. The guest's emulated kernel does one trip through its stack per 64 KiB
// instead of one per 1.5 KiB — the host's compiled JavaScript does the cutting.

/** What the driver's virtio_net_hdr says about the packet (§5.1.6). */
export interface TsoRequest {
  readonly ipv6: boolean;
  /** gso_size: the payload bytes per segment (the MSS). */
  readonly segmentSize: number;
  /** csum_start when NEEDS_CSUM is set: where the driver says the TCP header starts. */
  readonly tcpStart?: number;
}

/** The segments, or why the packet is malformed (for the drop counter; never thrown). */
export type TsoResult = { readonly segments: Uint8Array[] } | { readonly error: string };

const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/** Cuts a TSO packet into wire-sized TCP segments. Never throws on any bytes. */
export function segmentTcp(packet: Uint8Array, request: TsoRequest): TsoResult {
  const h = parseFrameHeaders(packet);
  if (!h || h.ipv6 !== request.ipv6) return { error: `not an ${request.ipv6 ? 'IPv6' : 'IPv4'} packet` };
  if (h.protocol !== IPPROTO_TCP || h.fragment) return { error: 'not an unfragmented TCP packet' };
  if (request.tcpStart !== undefined && request.tcpStart !== h.l4) return { error: `csum_start ${request.tcpStart} is not the TCP header (${h.l4})` };
  if (h.l4 + 20 > h.end) return { error: 'the TCP header is cut short' };
  const tcpHeaderBytes = (packet[h.l4 + 12]! >> 4) * 4;
  if (tcpHeaderBytes < 20 || h.l4 + tcpHeaderBytes > h.end) return { error: `bad TCP data offset (${tcpHeaderBytes} bytes)` };
  const mss = request.segmentSize;
  if (mss < 1) return { error: 'gso_size is 0' };
  const headerBytes = h.l4 + tcpHeaderBytes;
  const payloadBytes = h.end - headerBytes;
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const id = h.ipv6 ? 0 : view.getUint16(h.ip + 4);
  const seq = view.getUint32(h.l4 + 4);
  const flags = packet[h.l4 + 13]!;
  const ipHeaderBytes = h.l4 - h.ip; // IPv6: the fixed header and any extension headers
  const count = Math.max(1, Math.ceil(payloadBytes / mss));
  const segments: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const from = headerBytes + i * mss;
    const length = Math.min(mss, h.end - from);
    const seg = new Uint8Array(headerBytes + Math.max(0, length));
    seg.set(packet.subarray(0, headerBytes));
    if (length > 0) seg.set(packet.subarray(from, from + length), headerBytes);
    const sv = new DataView(seg.buffer);
    const l4Length = tcpHeaderBytes + Math.max(0, length);
    if (h.ipv6) {
      sv.setUint16(h.ip + 4, ipHeaderBytes - 40 + l4Length);
    } else {
      sv.setUint16(h.ip + 2, ipHeaderBytes + l4Length);
      sv.setUint16(h.ip + 4, (id + i) & 0xffff);
      sv.setUint16(h.ip + 10, 0); // RFC 791: the header checksum, computed with the field zero; 0 stays 0
      storeChecksum(seg, h.ip + 10, ~fold(sumWords(seg, h.ip, h.l4)) & 0xffff);
    }
    sv.setUint32(h.l4 + 4, (seq + i * mss) >>> 0);
    let f = flags;
    if (i !== count - 1) f &= ~(TCP_FIN | TCP_PSH);
    if (i !== 0) f &= ~TCP_CWR;
    seg[h.l4 + 13] = f;
    sv.setUint16(h.l4 + 16, 0);
    const sum = pseudoHeaderSum(seg, h.ip, h.ipv6, IPPROTO_TCP, l4Length) + sumWords(seg, h.l4, seg.length);
    storeChecksum(seg, h.l4 + 16, checksumOf(sum));
    segments.push(seg);
  }
  return { segments };
}

