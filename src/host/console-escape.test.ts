import { describe, expect, it } from 'vitest';
import { ConsoleEscape, type EscapeCommand } from './console-escape.js';

const run = (...chunks: string[]) => {
  const escape = new ConsoleEscape();
  let data = '';
  const commands: EscapeCommand[] = [];
  for (const chunk of chunks) {
    escape.feed(
      new TextEncoder().encode(chunk),
      (b) => (data += new TextDecoder().decode(b)),
      (c) => commands.push(c),
    );
  }
  return { data, commands };
};

describe('ConsoleEscape (QEMU -nographic Ctrl-A escapes)', () => {
  it('passes ordinary input through, Ctrl-C included', () => {
    expect(run('ls -l\r', '\x03')).toEqual({ data: 'ls -l\r\x03', commands: [] });
  });
  it('quits on Ctrl-A x', () => {
    expect(run('ab\x01xcd')).toEqual({ data: 'abcd', commands: ['quit'] });
  });
  it('prints help on Ctrl-A h and ?', () => {
    expect(run('\x01h\x01?')).toEqual({ data: '', commands: ['help', 'help'] });
  });
  it('sends one Ctrl-A for Ctrl-A Ctrl-A', () => {
    expect(run('\x01\x01z')).toEqual({ data: '\x01z', commands: [] });
    expect(run('\x01\x01\x01x')).toEqual({ data: '\x01', commands: ['quit'] });
  });
  it('swallows unknown escapes', () => {
    expect(run('a\x01qb')).toEqual({ data: 'ab', commands: [] });
  });
  it('carries an escape across chunks', () => {
    expect(run('a\x01', 'x', 'b')).toEqual({ data: 'ab', commands: ['quit'] });
  });
});
