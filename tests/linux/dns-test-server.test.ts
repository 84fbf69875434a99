// The tests' DNS server against Node's own resolver (c-ares), which parses its answers
// independently: A records, NXDOMAIN, NODATA; and garbage gets FORMERR, never a crash.
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerDnsQuery, DNS_TYPE_A, DNS_TYPE_AAAA, DnsTestServer } from './dns-test-server.js';

const names = new Map([['marker.typervisor-test.example', '198.51.100.42']]);
let server: DnsTestServer;
let resolver: Resolver;

beforeAll(async () => {
  server = await DnsTestServer.start(names);
  resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${server.port}`]);
});
afterAll(() => server?.close());

describe('the DNS test server (checked with c-ares)', () => {
  it('answers A for its names (case-insensitively), NXDOMAIN for others, no data for other types', async () => {
    expect(await resolver.resolve4('marker.typervisor-test.example')).toEqual(['198.51.100.42']);
    expect(await resolver.resolve4('MARKER.Typervisor-Test.Example')).toEqual(['198.51.100.42']);
    await expect(resolver.resolve4('missing.typervisor-test.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver.resolve6('marker.typervisor-test.example')).rejects.toMatchObject({ code: 'ENODATA' });
    const seen = server.queries.map((q) => [q.name, q.type, q.from]);
    expect(seen).toEqual([
      ['marker.typervisor-test.example', DNS_TYPE_A, '127.0.0.1'],
      ['marker.typervisor-test.example', DNS_TYPE_A, '127.0.0.1'],
      ['missing.typervisor-test.example', DNS_TYPE_A, '127.0.0.1'],
      ['marker.typervisor-test.example', DNS_TYPE_AAAA, '127.0.0.1'],
    ]);
  });

  it('answers a malformed query with FORMERR and its id', async () => {
    const socket = createSocket('udp4');
    const reply = new Promise<Buffer>((resolve) => socket.once('message', resolve));
    socket.send(Buffer.from([0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x3f]), server.port, '127.0.0.1');
    const r = await reply;
    socket.close();
    expect([...r]).toEqual([0xbe, 0xef, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('never throws on arbitrary bytes, and answers keep the id', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const reply = answerDnsQuery(Buffer.from(bytes), names);
        if (bytes.length < 2) expect(reply).toBeUndefined();
        else expect(reply!.readUInt16BE(0)).toBe((bytes[0]! << 8) | bytes[1]!);
      }),
      { numRuns: 3000 },
    );
  });
});
