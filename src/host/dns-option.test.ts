import { isIPv4 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../core/errors.js';
import { checkDnsServers, parseDnsServer, passtDnsArgs } from './dns-option.js';

describe('dns= for --net user', () => {
  it('takes unicast IPv4 addresses and maps them to passt -D options in order', () => {
    expect(parseDnsServer('192.0.2.1')).toBe('192.0.2.1');
    expect(parseDnsServer('10.0.2.3')).toBe('10.0.2.3');
    expect(parseDnsServer('223.255.255.255')).toBe('223.255.255.255');
    expect(passtDnsArgs(['192.0.2.1', '198.51.100.7'])).toEqual(['-D', '192.0.2.1', '-D', '198.51.100.7']);
    expect(passtDnsArgs([])).toEqual([]);
  });

  it('refuses what is no usable resolver address, saying which and why', () => {
    const cases: [string, RegExp][] = [
      ['', /^dns=: no address$/],
      ['1.2.3', /^dns=1\.2\.3: '1\.2\.3' is not an IPv4 address$/],
      ['1.2.3.4.5', /is not an IPv4 address/],
      ['256.1.1.1', /'256\.1\.1\.1' is not an IPv4 address/],
      ['01.2.3.4', /'01\.2\.3\.4' is not an IPv4 address/],
      ['::1', /'::1' is not an IPv4 address/],
      ['example.org', /is not an IPv4 address/],
      [' 1.2.3.4', /is not an IPv4 address/],
      ['127.0.0.1', /^dns=127\.0\.0\.1: 127\.0\.0\.1 is a loopback address, which in the guest is the guest itself$/],
      ['127.1.2.3', /loopback/],
      ['0.0.0.0', /0\.0\.0\.0 is not a resolver address/],
      ['0.1.2.3', /"this network"/],
      ['224.0.0.251', /multicast/],
      ['255.255.255.255', /reserved or broadcast/],
    ];
    for (const [value, message] of cases) {
      let error: unknown;
      try {
        parseDnsServer(value);
      } catch (e) {
        error = e;
      }
      expect(error, value).toBeInstanceOf(TypervisorError);
      expect((error as TypervisorError).message, value).toMatch(message);
      expect((error as TypervisorError).hint, value).toBeTruthy();
    }
    expect(() => parseDnsServer('127.0.0.1')).toThrow(expect.objectContaining({ hint: expect.stringMatching(/gateway address/) }));
  });

  it('refuses more than three resolvers and the same one twice', () => {
    expect(() => checkDnsServers(['192.0.2.1', '192.0.2.2', '192.0.2.3'])).not.toThrow();
    expect(() => checkDnsServers(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'])).toThrow(/^4 dns= options; at most 3 are allowed$/);
    expect(() => checkDnsServers(['192.0.2.1', '192.0.2.1'])).toThrow(/^dns=192\.0\.2\.1 is given twice$/);
  });

  it('never fails other than with a TypervisorError, and accepts only what Node takes for IPv4 (differential)', () => {
    const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('', '00', '01', '-1', 'x', '1e2'));
    const quadish = fc.array(octet, { minLength: 1, maxLength: 6 }).map((p) => p.join('.'));
    fc.assert(
      fc.property(fc.oneof(quadish, fc.string()), (value) => {
        let accepted: string | undefined;
        try {
          accepted = parseDnsServer(value);
        } catch (e) {
          expect(e).toBeInstanceOf(TypervisorError);
          return;
        }
        expect(accepted).toBe(value);
        expect(isIPv4(value)).toBe(true);
        const first = Number(value.split('.')[0]);
        expect(first !== 0 && first !== 127 && first < 224).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
