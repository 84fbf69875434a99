import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../core/errors.js';
import { TestFinisher } from './test-finisher.js';

describe('TestFinisher (QEMU sifive,test1)', () => {
  const make = () => {
    const events: string[] = [];
    const dev = new TestFinisher({ onExit: (c) => events.push(`exit ${c}`), onReset: () => events.push('reset') });
    return { dev, events };
  };

  it('passes, fails with a code, resets', () => {
    const { dev, events } = make();
    dev.write(0, 4, 0x5555);
    dev.write(0, 4, (3 << 16) | 0x3333);
    dev.write(0, 4, 0xffff_3333);
    dev.write(0, 4, 0x3333); // fail with code 0 exits 0, as QEMU's exit(0)
    dev.write(0, 4, 0x7777);
    expect(events).toEqual(['exit 0', 'exit 3', 'exit 65535', 'exit 0', 'reset']);
  });

  it('ignores other values and offsets, reads 0', () => {
    const { dev, events } = make();
    dev.write(0, 4, 0x1234);
    dev.write(4, 4, 0x5555);
    dev.write(0xffc, 4, 0x5555);
    expect(events).toEqual([]);
    expect(dev.read()).toBe(0);
  });

  it('decodes 16- and 32-bit accesses only (others fault on QEMU)', () => {
    const { dev, events } = make();
    expect([1, 2, 4, 8].map((w) => dev.accepts(0, w as 1))).toEqual([false, true, true, false]);
    dev.write(0, 2, 0x5555); // a 16-bit write of PASS ends QEMU too
    expect(events).toEqual(['exit 0']);
  });

  it('saves and restores its (empty) state strictly', () => {
    const { dev } = make();
    dev.restore(dev.save());
    expect(() => dev.restore({ version: 2 } as never)).toThrow(TypervisorError);
    expect(() => dev.restore({ version: 1, extra: 1 } as never)).toThrow(TypervisorError);
  });
});
