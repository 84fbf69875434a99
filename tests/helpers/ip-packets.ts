// Ethernet/IP/TCP/UDP packets for the virtio-net offload tests, built field by field from the
// RFCs with their own checksum code (a plain loop over DataView words, kept apart from the
// device's internet-checksum.ts so the two can disagree).

export interface PacketSpec {
  readonly ipv6?: boolean;
  /** 802.1Q VLAN tag before the EtherType. */
  readonly vlan?: boolean;
  /** IPv6 only: a destination-options extension header of this many 8-byte units (≥ 1). */
  readonly ipv6DestOptions?: number;
  /** IPv4 only: option bytes (a multiple of 4, ≤ 40). */
  readonly ipv4Options?: number;
  readonly protocol?: 'tcp' | 'udp';
  /** TCP option bytes (a multiple of 4, ≤ 40). */
  readonly tcpOptions?: number;
  readonly payload: Uint8Array;
  readonly seq?: number;
  readonly tcpFlags?: number;
  readonly ipId?: number;
  /** Ethernet padding after the IP packet. */
  readonly trailer?: number;
}

export interface BuiltPacket {
  readonly frame: Uint8Array;
  readonly ip: number;
  readonly l4: number;
  readonly payloadAt: number;
}

/** Reference ones' complement sum of 16-bit big-endian words, folded. */
export function referenceSum(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = start; i < end; i += 2) sum += i + 1 < end ? v.getUint16(i) : v.getUint8(i) * 256;
  while (sum >>> 16) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The pseudo-header sum (RFC 793 §3.1, RFC 8200 §8.1) of the packet at `ip`. */
export function referencePseudoSum(frame: Uint8Array, ip: number, ipv6: boolean, protocol: number, length: number): number {
  const addr = ipv6 ? referenceSum(frame, ip + 8, ip + 40) : referenceSum(frame, ip + 12, ip + 20);
  return addr + protocol + (length >>> 16) + (length & 0xffff);
}

/** Whether the L4 checksum of a frame built here (or cut from one) is right. */
export function l4ChecksumOk(frame: Uint8Array, ip: number, l4: number, end: number, ipv6: boolean, protocol: number): boolean {
  return referenceSum(frame, l4, end, referencePseudoSum(frame, ip, ipv6, protocol, end - l4)) === 0xffff;
}

export function buildPacket(spec: PacketSpec): BuiltPacket {
  const ipv6 = spec.ipv6 ?? false;
  const tcp = (spec.protocol ?? 'tcp') === 'tcp';
  const l2 = spec.vlan ? 18 : 14;
  const ext = ipv6 && spec.ipv6DestOptions ? spec.ipv6DestOptions * 8 : 0;
  const ipHeader = ipv6 ? 40 + ext : 20 + (spec.ipv4Options ?? 0);
  const l4Header = tcp ? 20 + (spec.tcpOptions ?? 0) : 8;
  const l4Length = l4Header + spec.payload.length;
  const ipTotal = ipHeader + l4Length;
  const frame = new Uint8Array(l2 + ipTotal + (spec.trailer ?? 0));
  const v = new DataView(frame.buffer);
  frame.set([0x52, 0x54, 0, 0x12, 0x34, 0x57, 0x52, 0x54, 0, 0x12, 0x34, 0x56], 0);
  if (spec.vlan) {
    v.setUint16(12, 0x8100);
    v.setUint16(14, 42);
  }
  v.setUint16(l2 - 2, ipv6 ? 0x86dd : 0x0800);
  const ip = l2;
  const protocol = tcp ? 6 : 17;
  if (ipv6) {
    v.setUint32(ip, 0x6000_0000);
    v.setUint16(ip + 4, ipTotal - 40);
    frame[ip + 6] = ext ? 60 : protocol;
    frame[ip + 7] = 64;
    for (let i = 0; i < 32; i++) frame[ip + 8 + i] = (0xfd + i * 13) & 0xff;
    if (ext) {
      frame[ip + 40] = protocol;
      frame[ip + 41] = ext / 8 - 1;
      frame[ip + 42] = 1; // PadN option covering the rest
      frame[ip + 43] = ext - 4;
    }
  } else {
    frame[ip] = 0x40 | (ipHeader / 4);
    v.setUint16(ip + 2, ipTotal);
    v.setUint16(ip + 4, spec.ipId ?? 0x1234);
    v.setUint16(ip + 6, 0x4000); // DF
    frame[ip + 8] = 64;
    frame[ip + 9] = protocol;
    frame.set([10, 0, 2, 15, 10, 0, 2, 2], ip + 12);
    for (let i = 20; i < ipHeader; i++) frame[ip + i] = 1; // NOP options
    v.setUint16(ip + 10, ~referenceSum(frame, ip, ip + ipHeader) & 0xffff);
  }
  const l4 = ip + ipHeader;
  v.setUint16(l4, 40000);
  v.setUint16(l4 + 2, 5000);
  if (tcp) {
    v.setUint32(l4 + 4, spec.seq ?? 1000);
    v.setUint32(l4 + 8, 777);
    frame[l4 + 12] = (l4Header / 4) << 4;
    frame[l4 + 13] = spec.tcpFlags ?? 0x18; // PSH ACK
    v.setUint16(l4 + 14, 65535);
    for (let i = 20; i < l4Header; i++) frame[l4 + i] = 1;
  } else {
    v.setUint16(l4 + 4, l4Length);
  }
  frame.set(spec.payload, l4 + l4Header);
  const sumAt = l4 + (tcp ? 16 : 6);
  const check = ~referenceSum(frame, l4, l4 + l4Length, referencePseudoSum(frame, ip, ipv6, protocol, l4Length)) & 0xffff;
  v.setUint16(sumAt, check === 0 && !tcp ? 0xffff : check);
  return { frame, ip, l4, payloadAt: l4 + l4Header };
}
