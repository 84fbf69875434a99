import { describe, expect, it } from 'vitest';
import { checkDistinctMacs, parseNetSpec } from './net-spec.js';

describe('--net specs', () => {
  it('parses socket:PATH and socket:listen:PATH with default and explicit MACs', () => {
    expect(parseNetSpec('socket:/tmp/a.sock', 0)).toEqual({ kind: 'socket', path: '/tmp/a.sock', listen: false, mac: '52:54:00:12:34:56', text: 'socket:/tmp/a.sock' });
    expect(parseNetSpec('socket:/tmp/b', 2).mac).toBe('52:54:00:12:34:58');
    expect(parseNetSpec('socket:listen:/tmp/x,,y,mac=52:54:00:AA:00:01', 0)).toMatchObject({ path: '/tmp/x,y', listen: true, mac: '52:54:00:aa:00:01' });
  });
  it('parses user with hostfwd= options (QEMU syntax) and a MAC', () => {
    expect(parseNetSpec('user', 1)).toEqual({ kind: 'user', forwards: [], mac: '52:54:00:12:34:57', text: 'user' });
    const spec = parseNetSpec('user,hostfwd=tcp::8080-:80,hostfwd=udp::5353-:53,mac=02:00:00:00:00:01', 0);
    expect(spec).toMatchObject({ kind: 'user', mac: '02:00:00:00:00:01' });
    expect(spec.kind === 'user' && spec.forwards.map((f) => [f.protocol, f.hostPort, f.guestPort])).toEqual([['tcp', 8080, 80], ['udp', 5353, 53]]);
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
    expect(() => parseNetSpec('switch:x', 0)).toThrow(/'switch' \(not implemented yet\)/);
    expect(() => parseNetSpec('bogus:x', 0)).toThrow(/unknown network backend 'bogus'/);
    expect(() => parseNetSpec('socket:/a,mac=01:00:00:00:00:01', 0)).toThrow(/multicast/);
    expect(() => parseNetSpec('socket:/a,mac=52:54', 0)).toThrow(/not a MAC address/);
    expect(() => parseNetSpec('socket:/a,rate=5', 0)).toThrow(/unknown option 'rate=5'/);
    expect(() => checkDistinctMacs([parseNetSpec('socket:/a', 0), parseNetSpec('socket:/b,mac=52:54:00:12:34:56', 1)])).toThrow(/same MAC/);
  });
});
