import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../core/errors.js';
import { checkDistinctForwards, parseHostForward, passtForwardArgs } from './host-forward.js';

describe('hostfwd= (QEMU syntax) for --net user', () => {
  it('parses tcp and udp forwards, with an empty protocol meaning tcp as in QEMU', () => {
    expect(parseHostForward('tcp::8080-:80')).toEqual({ protocol: 'tcp', hostPort: 8080, guestPort: 80, text: 'hostfwd=tcp::8080-:80' });
    expect(parseHostForward('udp::5353-:53')).toMatchObject({ protocol: 'udp', hostPort: 5353, guestPort: 53 });
    expect(parseHostForward('::2222-:22')).toMatchObject({ protocol: 'tcp', hostPort: 2222, guestPort: 22 });
    expect(parseHostForward('TCP:127.0.0.1:1-:65535')).toMatchObject({ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 1, guestPort: 65535 });
  });

  it("maps to passt's -t/-u specs: [ADDR/]HOSTPORT:GUESTPORT (passt(1))", () => {
    const f = ['tcp::8080-:80', 'udp::5353-:53', 'tcp:127.0.0.1:2222-:22'].map(parseHostForward);
    expect(passtForwardArgs(f)).toEqual(['-t', '8080:80', '-u', '5353:53', '-t', '127.0.0.1/2222:22']);
    expect(passtForwardArgs([])).toEqual([]);
  });

  it('refuses bad ports and shapes with a precise message', () => {
    expect(() => parseHostForward('tcp::0-:80')).toThrow(/hostfwd=tcp::0-:80: host port 0 is out of range/);
    expect(() => parseHostForward('tcp::8080-:65536')).toThrow(/guest port 65536 is out of range/);
    expect(() => parseHostForward('tcp::99999-:80')).toThrow(/host port 99999 is out of range/);
    expect(() => parseHostForward('tcp::http-:80')).toThrow(/host port 'http' is not a number/);
    expect(() => parseHostForward('tcp::-:80')).toThrow(/no host port/);
    expect(() => parseHostForward('tcp::8080-:')).toThrow(/no guest port/);
    expect(() => parseHostForward('tcp::8080:80')).toThrow(/no '-' between the host and the guest side/);
    expect(() => parseHostForward('tcp:8080-:80')).toThrow(/host side 'tcp:8080' is not PROTOCOL:\[ADDRESS\]:PORT/);
    expect(() => parseHostForward('tcp::8080-80')).toThrow(/guest side '80' is not \[ADDRESS\]:PORT/);
    expect(() => parseHostForward('sctp::1-:1')).toThrow(/unknown protocol 'sctp'/);
    expect(() => parseHostForward('tcp:256.0.0.1:1-:1')).toThrow(/'256.0.0.1' is not an IPv4 address/);
    expect(() => parseHostForward('tcp::8080-10.0.2.15:80')).toThrow(/a guest address \('10.0.2.15'\) cannot be chosen/);
    expect(() => checkDistinctForwards(['tcp::8080-:80', 'udp::8080-:80', 'tcp:127.0.0.1:8080-:22'].map(parseHostForward))).toThrow(
      /hostfwd=tcp:127.0.0.1:8080-:22 and hostfwd=tcp::8080-:80 both forward tcp host port 8080/,
    );
  });

  it('never fails other than with a TypervisorError, and what it accepts has ports in 1..65535', () => {
    const piece = fc.constantFrom('tcp', 'udp', '', ':', '-', '0', '1', '80', '65535', '65536', '127.0.0.1', 'x', '/', '.');
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(piece, { maxLength: 8 }).map((a) => a.join(''))), (text) => {
        try {
          const f = parseHostForward(text);
          expect(f.hostPort).toBeGreaterThanOrEqual(1);
          expect(f.guestPort).toBeLessThanOrEqual(65535);
          expect(passtForwardArgs([f]).join(' ')).toMatch(/^-[tu] (\d+\.\d+\.\d+\.\d+\/)?\d+:\d+$/);
        } catch (e) {
          expect(e).toBeInstanceOf(TypervisorError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
