// A tiny authoritative DNS server over UDP for the tests (RFC 1035 §4.1): it answers A queries for
// the names it is given, NOERROR without answers for their other types, NXDOMAIN for every other
// name, FORMERR for what it cannot parse; and it records each query, so a test can tell that a
// guest's lookup really reached it. It binds one host address (loopback in the tests) and never
// sends anything but answers to whoever asked.
import { createSocket, type Socket } from 'node:dgram';

export interface DnsQuery {
  /** Lower-case, without the final dot; '' when the packet could not be parsed. */
  readonly name: string;
  readonly type: number;
  readonly from: string;
  readonly fromPort: number;
}

export const DNS_TYPE_A = 1;
export const DNS_TYPE_AAAA = 28;

const RCODE_FORMERR = 1;
const RCODE_NXDOMAIN = 3;

/** What a query asked, or undefined when the packet is not one question we can read. */
function parseQuestion(packet: Buffer): { id: number; flags: number; name: string; type: number; cls: number; end: number } | undefined {
  if (packet.length < 12) return undefined;
  const id = packet.readUInt16BE(0);
  const flags = packet.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response, not a query
  if (packet.readUInt16BE(4) !== 1) return undefined; // QDCOUNT: exactly one question
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= packet.length) return undefined;
    const len = packet[at]!;
    at++;
    if (len === 0) break;
    if (len > 63 || at + len > packet.length) return undefined; // no compression in a question
    labels.push(packet.toString('latin1', at, at + len).toLowerCase());
    at += len;
    if (labels.join('.').length > 253) return undefined;
  }
  if (at + 4 > packet.length) return undefined;
  return { id, flags, name: labels.join('.'), type: packet.readUInt16BE(at), cls: packet.readUInt16BE(at + 2), end: at + 4 };
}

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

/** The answer to `packet`, or undefined when it is too short to even carry an id. */
export function answerDnsQuery(packet: Buffer, names: ReadonlyMap<string, string>): Buffer | undefined {
  const q = parseQuestion(packet);
  if (!q) {
    if (packet.length < 2) return undefined;
    const reply = Buffer.alloc(12);
    reply.writeUInt16BE(packet.readUInt16BE(0), 0);
    reply.writeUInt16BE(0x8000 | RCODE_FORMERR, 2);
    return reply;
  }
  const address = names.get(q.name);
  const answer = address !== undefined && q.type === DNS_TYPE_A && q.cls === 1;
  // Header: QR, the query's opcode and RD, AA; one question echoed; an answer when we have one.
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  header.writeUInt16BE(0x8000 | (q.flags & 0x7900) | 0x0400 | (address === undefined ? RCODE_NXDOMAIN : 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answer ? 1 : 0, 6);
  const question = packet.subarray(12, q.end);
  if (!answer) return Buffer.concat([header, question]);
  const rr = Buffer.alloc(12);
  rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's (RFC 1035 §4.1.4)
  rr.writeUInt16BE(DNS_TYPE_A, 2);
  rr.writeUInt16BE(1, 4); // IN
  rr.writeUInt32BE(60, 6); // TTL
  rr.writeUInt16BE(4, 10);
  return Buffer.concat([header, question, rr, ipv4Bytes(address)]);
}

export class DnsTestServer {
  readonly queries: DnsQuery[] = [];

  private constructor(
    private readonly socket: Socket,
    readonly address: string,
    readonly port: number,
  ) {}

  /**
   * Listens on `address`:`port` (port 0: any free one). `names` maps lower-case names to the IPv4
   * address their A record holds. Rejects with the bind error (EACCES below port 1024 without
   * privileges, EADDRINUSE).
   */
  static async start(names: ReadonlyMap<string, string>, address = '127.0.0.1', port = 0): Promise<DnsTestServer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address, port, exclusive: true }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const server = new DnsTestServer(socket, address, socket.address().port);
    socket.on('message', (packet, rinfo) => {
      const q = parseQuestion(packet);
      server.queries.push({ name: q?.name ?? '', type: q?.type ?? 0, from: rinfo.address, fromPort: rinfo.port });
      const reply = answerDnsQuery(packet, names);
      if (reply) socket.send(reply, rinfo.port, rinfo.address);
    });
    socket.on('error', () => undefined); // e.g. ICMP errors for answers nobody waits for
    return server;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
