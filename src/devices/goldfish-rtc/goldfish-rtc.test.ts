import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../core/errors.js';
import { GoldfishRtc, type GoldfishRtcState } from './goldfish-rtc.js';

const TIME_LOW = 0x00, TIME_HIGH = 0x04, ALARM_LOW = 0x08, ALARM_HIGH = 0x0c, IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14, ALARM_STATUS = 0x18, CLEAR_INTERRUPT = 0x1c;
const MS = 1_000_000n;
const START = 0x17a2_b3c4_d5e6_f708n; // host wall clock when the test begins (about 2023)

interface FakeTimer {
  at: bigint;
  ms: number;
  fire: () => void;
  cancelled: boolean;
  done: boolean;
}

/** An RTC on a fake host: a settable wall clock and timers that run when the clock passes them. */
const setup = (start = START) => {
  let ns = start;
  const timers: FakeTimer[] = [];
  const irq: boolean[] = [];
  const options = {
    nowNs: () => ns,
    irq: { set: (l: boolean) => irq.push(l) },
    setTimer: (ms: number, fire: () => void) => {
      expect(Number.isInteger(ms) && ms >= 0 && ms <= 0x7fff_ffff).toBe(true);
      const t: FakeTimer = { at: ns + BigInt(ms) * MS, ms, fire, cancelled: false, done: false };
      timers.push(t);
      return () => {
        t.cancelled = true;
      };
    },
  };
  const rtc = new GoldfishRtc(options);
  const active = () => timers.filter((t) => !t.cancelled && !t.done);
  /** Moves the host clock forward by `d` ns, running the timers that come due on the way. */
  const advance = (d: bigint) => {
    const end = ns + d;
    for (;;) {
      const next = active().sort((a, b) => (a.at < b.at ? -1 : 1))[0];
      if (!next || next.at > end) break;
      ns = next.at;
      next.done = true;
      next.fire();
    }
    ns = end;
  };
  const r = (o: number) => rtc.read(o, 4) as number;
  const w = (o: number, v: number) => rtc.write(o, 4, v);
  const time = () => (BigInt(r(TIME_LOW)) | (BigInt(r(TIME_HIGH)) << 32n));
  const setAlarm = (t: bigint) => {
    w(ALARM_HIGH, Number(t >> 32n));
    w(ALARM_LOW, Number(t & 0xffff_ffffn));
  };
  return {
    rtc, options, timers, active, advance, r, w, time, setAlarm,
    level: () => irq[irq.length - 1] ?? false,
    setHost: (v: bigint) => (ns = v),
  };
};

describe('GoldfishRtc registers (QEMU 7.2)', () => {
  it('decodes 4- and 8-byte accesses inside its 0x24-byte block only', () => {
    const { rtc } = setup();
    expect([1, 2, 4, 8].map((w) => rtc.accepts(0, w as 1))).toEqual([false, false, true, true]);
    expect([rtc.accepts(0x20, 4), rtc.accepts(0x24, 4), rtc.accepts(0xffc, 4)]).toEqual([true, false, false]);
    expect([rtc.accepts(0x18, 8), rtc.accepts(0x20, 8)]).toEqual([true, false]);
  });

  it('reads the host wall clock; TIME_HIGH holds what the last TIME_LOW read latched', () => {
    const { r, time, advance } = setup();
    expect(r(TIME_HIGH)).toBe(0); // nothing latched yet
    expect(time()).toBe(START);
    advance(5n << 32n);
    expect(r(TIME_HIGH)).toBe(Number(START >> 32n)); // still the old latch
    expect(time()).toBe(START + (5n << 32n));
  });

  it('reads 64 bits at once, low half first (so the high half is the one just latched)', () => {
    const { rtc, advance } = setup();
    expect(rtc.read(TIME_LOW, 8)).toBe(START);
    advance(123n);
    expect(rtc.read(TIME_LOW, 8)).toBe(START + 123n);
  });

  it('sets guest time by moving an offset, halves independently, modulo 2^64', () => {
    const { w, time, advance, options } = setup();
    w(TIME_HIGH, 0x10);
    expect(time()).toBe(0x10_0000_0000n | (START & 0xffff_ffffn));
    w(TIME_LOW, 0x20);
    expect(time()).toBe(0x10_0000_0020n);
    expect(options.nowNs()).toBe(START); // the host clock is untouched
    advance(1000n);
    expect(time()).toBe(0x10_0000_0020n + 1000n);
    w(TIME_HIGH, 0xffff_ffff);
    w(TIME_LOW, 0xffff_ffff);
    advance(2n);
    expect(time()).toBe(1n); // wrapped
  });

  it('writes 64 bits as two 32-bit writes, low half first', () => {
    const { rtc, r, time } = setup();
    rtc.write(TIME_LOW, 8, 0x10_0000_0000n);
    expect(time()).toBe(0x10_0000_0000n);
    // As on QEMU: ALARM_LOW (written first) arms with the old ALARM_HIGH, 0, so the alarm
    // is already due and fires; ALARM_HIGH then changes the register only.
    rtc.write(ALARM_LOW, 8, 0x7fff_ffff_0000_0005n);
    expect(rtc.read(ALARM_LOW, 8)).toBe(0x7fff_ffff_0000_0005n);
    expect(r(ALARM_STATUS)).toBe(0);
    rtc.write(IRQ_ENABLED, 8, 1n);
    expect(r(IRQ_ENABLED)).toBe(1);
  });

  it('reads 0 from write-only registers and holes, and ignores writes to read-only ones', () => {
    const { r, w, time } = setup();
    w(IRQ_ENABLED, 1);
    w(ALARM_STATUS, 1);
    w(0x20, 0xffff_ffff);
    expect([CLEAR_ALARM, ALARM_STATUS, CLEAR_INTERRUPT, 0x20].map(r)).toEqual([0, 0, 0, 0]);
    expect(time()).toBe(START);
    w(IRQ_ENABLED, 0xffff_fffe);
    expect(r(IRQ_ENABLED)).toBe(0);
  });

  it('never throws on odd values', () => {
    const { rtc } = setup();
    for (const v of [-1, 1.5, NaN, 2 ** 53, 2n ** 70n, -5n]) {
      for (const o of [0, 4, 8, 0xc, 0x10, 0x14, 0x18, 0x1c, 0x20]) rtc.write(o, 4, v);
      for (const o of [0, 8, 0x10, 0x18]) rtc.write(o, 8, v);
    }
  });
});

describe('GoldfishRtc alarm', () => {
  it('arms on ALARM_LOW, fires when guest time reaches it, interrupts while enabled', () => {
    const { r, w, setAlarm, advance, active, level } = setup();
    setAlarm(START + 2500n * MS + 1n);
    expect(r(ALARM_STATUS)).toBe(1);
    expect(active().map((t) => t.ms)).toEqual([2501]); // rounded up: never early
    advance(2500n * MS);
    expect(r(ALARM_STATUS)).toBe(1);
    advance(1n * MS);
    expect(r(ALARM_STATUS)).toBe(0);
    expect(level()).toBe(false); // IRQ_ENABLED is 0
    w(IRQ_ENABLED, 1);
    expect(level()).toBe(true);
    w(IRQ_ENABLED, 0);
    expect(level()).toBe(false);
    w(IRQ_ENABLED, 1);
    w(CLEAR_INTERRUPT, 0);
    expect(level()).toBe(false);
  });

  it('fires at once for an alarm at or before the current time', () => {
    const { r, w, setAlarm, active, level } = setup();
    w(IRQ_ENABLED, 1);
    setAlarm(START);
    expect(r(ALARM_STATUS)).toBe(0);
    expect(level()).toBe(true);
    expect(active()).toEqual([]);
  });

  it('arms only on ALARM_LOW; a new ALARM_LOW replaces the armed alarm', () => {
    const { r, w, setAlarm, advance, active } = setup();
    w(ALARM_HIGH, Number((START + 10n ** 12n) >> 32n));
    expect(r(ALARM_STATUS)).toBe(0);
    expect(active()).toEqual([]);
    setAlarm(START + 10n * MS);
    setAlarm(START + 20n * MS);
    expect(active().map((t) => t.ms)).toEqual([20]);
    advance(15n * MS);
    expect(r(ALARM_STATUS)).toBe(1);
    advance(5n * MS);
    expect(r(ALARM_STATUS)).toBe(0);
  });

  it('CLEAR_ALARM disarms; a late callback of a cancelled timer does nothing', () => {
    const { r, w, setAlarm, advance, timers, level } = setup();
    w(IRQ_ENABLED, 1);
    setAlarm(START + 5n * MS);
    w(CLEAR_ALARM, 0);
    expect(r(ALARM_STATUS)).toBe(0);
    expect(timers[0]!.cancelled).toBe(true);
    timers[0]!.fire(); // a host that fires anyway
    advance(10n * MS);
    expect(level()).toBe(false);
  });

  it('keeps the host-time deadline when the guest changes its time afterwards (as QEMU)', () => {
    const { r, w, setAlarm, advance } = setup();
    setAlarm(START + 100n * MS);
    w(TIME_HIGH, 0); // guest time jumps back ~50 years
    advance(100n * MS);
    expect(r(ALARM_STATUS)).toBe(0);
  });

  it('waits for alarms beyond a host timer range in steps', () => {
    const { r, setAlarm, advance, active } = setup();
    const far = 40n * 24n * 3600n * 1000n; // 40 days, in ms
    setAlarm(START + far * MS);
    expect(active().map((t) => t.ms)).toEqual([0x7fff_ffff]);
    advance(0x7fff_ffffn * MS);
    expect(r(ALARM_STATUS)).toBe(1);
    expect(active().map((t) => t.ms)).toEqual([Number(far - 0x7fff_ffffn)]);
    advance((far - 0x7fff_ffffn) * MS);
    expect(r(ALARM_STATUS)).toBe(0);
  });

  it('re-arms for the remainder when a timer fires before the wall clock reaches the deadline', () => {
    const { r, setAlarm, timers, active } = setup();
    setAlarm(START + 10n * MS);
    timers[0]!.done = true;
    timers[0]!.fire(); // early: the host clock has not moved
    expect(r(ALARM_STATUS)).toBe(1);
    expect(active().map((t) => t.ms)).toEqual([10]);
  });

  it('resets the alarm and interrupt but keeps guest time', () => {
    const { rtc, r, w, setAlarm, time, active, level } = setup();
    w(TIME_HIGH, 0x1234);
    w(IRQ_ENABLED, 1);
    setAlarm(0x1234_0000_0000n); // due: fires
    expect(level()).toBe(true);
    setAlarm(0x1234_ffff_0000n);
    rtc.reset();
    expect(level()).toBe(false);
    expect(active()).toEqual([]);
    expect([ALARM_LOW, ALARM_HIGH, IRQ_ENABLED, ALARM_STATUS].map(r)).toEqual([0, 0, 0, 0]);
    expect(time() >> 32n).toBe(0x1234n);
  });
});

describe('GoldfishRtc with hostile input', () => {
  const access = fc.oneof(
    fc.record({
      width: fc.constant(4 as const),
      offset: fc.nat({ max: 8 }).map((i) => 4 * i),
      value: fc.oneof(fc.integer({ min: 0, max: 0xffff_ffff }), fc.constantFrom(0, 1, -1, 0.5)),
    }),
    fc.record({
      width: fc.constant(8 as const),
      offset: fc.nat({ max: 3 }).map((i) => 8 * i),
      value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    }),
  );
  const step = fc.record({ read: fc.boolean(), access, elapse: fc.bigInt({ min: 0n, max: 10n ** 12n }) });

  it('never throws; the line is pending ∧ enabled; a running alarm always has a timer', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const s = setup();
        for (const { read, access: a, elapse } of steps) {
          if (read) s.rtc.read(a.offset, a.width);
          else s.rtc.write(a.offset, a.width, a.value);
          s.advance(elapse);
        }
        expect(s.active().length).toBe(s.r(ALARM_STATUS));
        const saved = JSON.parse(JSON.stringify(s.rtc.save())) as GoldfishRtcState;
        expect(s.level()).toBe(saved.irqPending && saved.irqEnabled);
        const other = setup();
        other.rtc.restore(saved);
        expect(other.rtc.save()).toEqual(s.rtc.save());
        expect(other.level()).toBe(s.level());
      }),
      { numRuns: 300 },
    );
  });
});

describe('GoldfishRtc saved state', () => {
  it('round-trips the offset, alarm and interrupt state', () => {
    const a = setup();
    a.w(TIME_HIGH, 0xabcd);
    a.w(IRQ_ENABLED, 1);
    a.setAlarm(0xabcd_0000_0000n); // due: pending
    a.setAlarm(0xabcd_f000_0000n); // armed
    a.w(ALARM_HIGH, 0xabce); // changes the register, not the armed alarm
    a.r(TIME_LOW);
    const saved = a.rtc.save();
    expect(saved).toEqual({
      version: 1,
      offsetHigh: Number(BigInt.asUintN(64, (0xabcdn << 32n) - (START & ~0xffff_ffffn)) >> 32n),
      offsetLow: 0,
      alarmHigh: 0xabce,
      alarmLow: 0xf000_0000,
      alarmRunning: true,
      deadlineHigh: Number((START + 0xf000_0000n - (START & 0xffff_ffffn)) >> 32n),
      deadlineLow: 0xf000_0000,
      irqPending: true,
      irqEnabled: true,
      timeHigh: 0xabcd,
    });
    const b = setup();
    b.rtc.restore(JSON.parse(JSON.stringify(saved)) as GoldfishRtcState);
    expect(b.rtc.save()).toEqual(saved);
    expect(b.level()).toBe(true);
    expect(b.time() >> 32n).toBe(0xabcdn);
    expect(b.active().length).toBe(1); // re-armed
    b.w(CLEAR_INTERRUPT, 0);
    b.advance(0xf000_0000n - (START & 0xffff_ffffn) - 1n);
    expect(b.r(ALARM_STATUS)).toBe(1);
    b.advance(MS); // host timers take whole milliseconds, rounded up
    expect(b.r(ALARM_STATUS)).toBe(0);
    expect(b.level()).toBe(true);
  });

  it('fires a running alarm at restore when its time passed while the VM was saved', () => {
    const a = setup();
    a.w(IRQ_ENABLED, 1);
    a.setAlarm(START + 1000n * MS);
    const saved = a.rtc.save();
    const b = setup(START + 5000n * MS); // restored later on the same wall clock
    b.rtc.restore(saved);
    expect(b.r(ALARM_STATUS)).toBe(0);
    expect(b.level()).toBe(true);
    expect(b.active()).toEqual([]);
  });

  it('does not arm an alarm that was not running', () => {
    const a = setup();
    a.setAlarm(START + 10n * MS);
    a.w(CLEAR_ALARM, 0);
    const b = setup(START + 20n * MS);
    b.rtc.restore(a.rtc.save());
    expect(b.active()).toEqual([]);
    expect(b.level()).toBe(false);
  });

  it('rejects malformed state and stays unchanged', () => {
    const s = setup();
    s.w(IRQ_ENABLED, 1);
    s.setAlarm(START + 10n * MS);
    const good = s.rtc.save();
    const bad: unknown[] = [
      undefined,
      'state',
      { ...good, version: 0 },
      { ...good, extra: true },
      (({ timeHigh: _t, ...rest }) => rest)(good),
      { ...good, offsetHigh: 2 ** 32 },
      { ...good, offsetLow: -1 },
      { ...good, alarmLow: 1.5 },
      { ...good, alarmHigh: '0' },
      { ...good, alarmRunning: 1 },
      { ...good, alarmRunning: false }, // a deadline while not running
      { ...good, deadlineLow: 2 ** 32 },
      { ...good, irqPending: 'yes' },
      { ...good, irqEnabled: null },
      { ...good, timeHigh: NaN },
    ];
    for (const state of bad) expect(() => s.rtc.restore(state as GoldfishRtcState)).toThrow(TypervisorError);
    expect(s.rtc.save()).toEqual(good);
    expect(s.active().length).toBe(1); // the armed timer was left alone
    s.advance(10n * MS);
    expect(s.level()).toBe(true);
  });

  it('survives random mutations of a saved state', () => {
    const s = setup();
    const good = s.rtc.save();
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(good)), fc.anything(), (key, value) => {
        const state = { ...good, [key]: value };
        try {
          setup().rtc.restore(state as GoldfishRtcState);
        } catch (e) {
          if (!(e instanceof TypervisorError)) throw e;
        }
      }),
      { numRuns: 300 },
    );
  });
});
