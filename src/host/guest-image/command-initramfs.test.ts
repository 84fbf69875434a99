import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../core/errors.js';
import { commandInitramfs, commandScript } from './command-initramfs.js';
import { shellQuote } from './shell-quote.js';

describe('commandScript', () => {
  it('execs the words single-quoted', () => {
    expect(commandScript(['ls', '-l', "it's", 'a b'])).toBe(`#!/bin/sh\nexec 'ls' '-l' 'it'\\''s' 'a b'\n`);
  });

  it('refuses an empty command and NUL characters', () => {
    expect(() => commandScript([])).toThrow(TypervisorError);
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });

  it('archives the script as an executable /typervisor/command, 4-byte aligned', () => {
    const bytes = commandInitramfs(['uname', '-a']);
    const text = new TextDecoder().decode(bytes);
    expect(text).toContain('typervisor/command\0');
    expect(text).toContain("exec 'uname' '-a'\n");
    expect(text).toContain('TRAILER!!!');
    expect(bytes.length % 4).toBe(0);
  });
});
