import { describe, expect, it } from 'vitest';
import { checkDistinctMacs, parseNetSpec } from './net-spec.js';

describe('--net specs', () => {
  it('parses socket:PATH and socket:listen:PATH with default and explicit MACs', () => {
    expect(parseNetSpec('socket:/tmp/a.sock', 0)).toEqual({ kind: 'socket', path: '/tmp/a.sock', listen: false, mac: '52:54:00:12:34:56', text: 'socket:/tmp/a.sock' });
    expect(parseNetSpec('socket:/tmp/b', 2).mac).toBe('52:54:00:12:34:58');
    expect(parseNetSpec('socket:listen:/tmp/x,,y,mac=52:54:00:AA:00:01', 0)).toMatchObject({ path: '/tmp/x,y', listen: true, mac: '52:54:00:aa:00:01' });
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
