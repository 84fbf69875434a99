import { describe, expect, it } from 'vitest';
import { checkDistinctMacs, parseNetSpec } from './net-spec.js';

describe('--net specs', () => {
  it('parses socket:PATH and socket:listen:PATH with default and explicit MACs', () => {
    expect(parseNetSpec('socket:/tmp/a.sock', 0)).toEqual({ kind: 'socket', path: '/tmp/a.sock', listen: false, forwards: [], mac: '52:54:00:12:34:56', text: 'socket:/tmp/a.sock' });
    expect(parseNetSpec('socket:/tmp/b', 2).mac).toBe('52:54:00:12:34:58');
    expect(parseNetSpec('socket:listen:/tmp/x,,y,mac=52:54:00:AA:00:01', 0)).toMatchObject({ path: '/tmp/x,y', listen: true, mac: '52:54:00:aa:00:01' });
  });
  it('parses switch:NAME and the rate options (k, M, G are binary)', () => {
    expect(parseNetSpec('switch:lab-1', 1)).toMatchObject({ kind: 'switch', path: 'lab-1', listen: false, mac: '52:54:00:12:34:57' });
    expect(parseNetSpec('switch:lab-1', 1).rate).toBeUndefined();
    expect(parseNetSpec('switch:a,rate=1M', 0).rate).toEqual({ bytesPerSecond: 1 << 20 });
    expect(parseNetSpec('socket:/x,rate=1.5k,burst=64k,pps=1000', 0).rate).toEqual({ bytesPerSecond: 1536, burstBytes: 65536, packetsPerSecond: 1000 });
    expect(parseNetSpec('switch:a,pps=10', 0).rate?.packetsPerSecond).toBe(10);
    expect(parseNetSpec('socket:listen:/x,rate=2G', 0)).toMatchObject({ listen: true, rate: { bytesPerSecond: 2 * 1024 ** 3 } });
  });
  it('parses user with hostfwd= options (QEMU syntax) and a MAC', () => {
    expect(parseNetSpec('user', 1)).toEqual({ kind: 'user', path: '', listen: false, forwards: [], mac: '52:54:00:12:34:57', text: 'user' });
    const spec = parseNetSpec('user,hostfwd=tcp::8080-:80,hostfwd=udp::5353-:53,mac=02:00:00:00:00:01', 0);
    expect(spec).toMatchObject({ kind: 'user', mac: '02:00:00:00:00:01' });
    expect(spec.forwards.map((f) => [f.protocol, f.hostPort, f.guestPort])).toEqual([['tcp', 8080, 80], ['udp', 5353, 53]]);
  });
  it('parses user with dns= resolvers, in order; without any the spec has no dns', () => {
    expect(parseNetSpec('user,dns=192.0.2.1,hostfwd=udp::5353-:53,dns=198.51.100.7', 0)).toMatchObject({ kind: 'user', dns: ['192.0.2.1', '198.51.100.7'] });
    expect(parseNetSpec('user', 0).dns).toBeUndefined();
  });
  it('refuses malformed dns= options with the whole --net in front', () => {
    expect(() => parseNetSpec('user,dns=10.0.2', 0)).toThrow(/^--net user,dns=10\.0\.2: dns=10\.0\.2: '10\.0\.2' is not an IPv4 address$/);
    expect(() => parseNetSpec('user,dns=', 0)).toThrow(/^--net user,dns=: dns=: no address$/);
    expect(() => parseNetSpec('user,dns', 0)).toThrow(/^--net user,dns: unknown option 'dns'$/);
    expect(() => parseNetSpec('user,dns=127.0.0.53', 0)).toThrow(/^--net user,dns=127\.0\.0\.53: dns=127\.0\.0\.53: 127\.0\.0\.53 is a loopback address/);
    expect(() => parseNetSpec('user,dns=192.0.2.1,dns=192.0.2.1', 0)).toThrow(/^--net user,dns=192\.0\.2\.1,dns=192\.0\.2\.1: dns=192\.0\.2\.1 is given twice$/);
    expect(() => parseNetSpec('user,dns=192.0.2.1,dns=192.0.2.2,dns=192.0.2.3,dns=192.0.2.4', 0)).toThrow(/4 dns= options; at most 3 are allowed/);
    expect(() => parseNetSpec('socket:/a,dns=192.0.2.1', 0)).toThrow(/unknown option 'dns=192\.0\.2\.1'/);
    expect(() => parseNetSpec('switch:a,dns=192.0.2.1', 0)).toThrow(/unknown option/);
  });
  it('refuses malformed user options, naming the --net and the option', () => {
    expect(() => parseNetSpec('user,hostfwd=tcp::70000-:80', 0)).toThrow(/^--net user,hostfwd=tcp::70000-:80: hostfwd=tcp::70000-:80: host port 70000 is out of range/);
    expect(() => parseNetSpec('user:foo', 0)).toThrow(/'user' takes options after a comma/);
    expect(() => parseNetSpec('user,hostfwd', 0)).toThrow(/unknown option 'hostfwd'/);
    expect(() => parseNetSpec('socket:/a,hostfwd=tcp::1-:1', 0)).toThrow(/unknown option 'hostfwd=tcp::1-:1'/);
    expect(() => checkDistinctMacs([parseNetSpec('user,hostfwd=tcp::8080-:80', 0), parseNetSpec('user,hostfwd=tcp::8080-:22', 1)])).toThrow(/both forward tcp host port 8080/);
  });
  it('refuses what it cannot use, saying how to fix it', () => {
    expect(() => parseNetSpec('socket:', 0)).toThrow(/no socket path/);
    expect(() => parseNetSpec('bogus:x', 0)).toThrow(/unknown network backend 'bogus'/);
    expect(() => parseNetSpec('socket:/a,mac=01:00:00:00:00:01', 0)).toThrow(/multicast/);
    expect(() => parseNetSpec('socket:/a,mac=52:54', 0)).toThrow(/not a MAC address/);
    expect(() => parseNetSpec('socket:/a,speed=5', 0)).toThrow(/unknown option 'speed=5'/);
    expect(parseNetSpec('tap:tap0', 0)).toMatchObject({ kind: 'tap', path: 'tap0' });
    expect(() => parseNetSpec('tap:', 0)).toThrow(/'' is not an interface name/);
    expect(() => parseNetSpec('tap:much-too-long-name0', 0)).toThrow(/is not an interface name/);
    expect(() => parseNetSpec('switch:', 0)).toThrow(/'' is not a switch name/);
    expect(() => parseNetSpec('switch:../x', 0)).toThrow(/not a switch name/);
    expect(() => parseNetSpec('switch:a,rate=0', 0)).toThrow(/rate=0 is not a positive number/);
    expect(() => parseNetSpec('switch:a,rate=1X', 0)).toThrow(/rate=1X/);
    expect(() => parseNetSpec('switch:a,burst=1M', 0)).toThrow(/burst= needs rate=/);
    expect(() => checkDistinctMacs([parseNetSpec('socket:/a', 0), parseNetSpec('socket:/b,mac=52:54:00:12:34:56', 1)])).toThrow(/same MAC/);
  });
});
