import { describe, expect, it } from 'vitest';
import { defaultMac, formatMac, parseMac } from './mac-address.js';

describe('MAC addresses', () => {
  it('defaults to QEMU\'s 52:54:00:12:34:56, one up per NIC', () => {
    expect([0, 1, 7].map(defaultMac)).toEqual(['52:54:00:12:34:56', '52:54:00:12:34:57', '52:54:00:12:34:5d']);
  });
  it('parses and formats', () => {
    expect(formatMac(parseMac('52:54:00:AB:cd:0f'))).toBe('52:54:00:ab:cd:0f');
    expect(formatMac(parseMac('02-00-00-00-00-01'))).toBe('02:00:00:00:00:01');
  });
  it('refuses malformed, multicast, broadcast and zero addresses', () => {
    for (const bad of ['', '52:54:00:12:34', '52:54:00:12:34:56:78', '52:54:00:12:34:5g', '52:54-00:12:34:56', '525400123456']) {
      expect(() => parseMac(bad), bad).toThrow(/not a MAC address/);
    }
    expect(() => parseMac('01:00:5e:00:00:01')).toThrow(/multicast/);
    expect(() => parseMac('ff:ff:ff:ff:ff:ff')).toThrow(/multicast/);
    expect(() => parseMac('00:00:00:00:00:00')).toThrow(/all zeros/);
  });
});
