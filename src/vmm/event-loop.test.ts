import { afterEach, describe, expect, it } from 'vitest';
import { monotonicMs, setHostTimer, yieldToEventLoop } from './event-loop.js';

const g = globalThis as { setImmediate?: unknown };
const saved = g.setImmediate;
afterEach(() => {
  g.setImmediate = saved;
});

describe('event loop helpers', () => {
  it('yields so that pending callbacks run, with setImmediate', async () => {
    let ran = false;
    setTimeout(() => (ran = true), 0);
    const t0 = monotonicMs();
    while (!ran && monotonicMs() - t0 < 1000) await yieldToEventLoop();
    expect(ran).toBe(true);
  });

  it('yields through MessageChannel where there is no setImmediate (browsers)', async () => {
    delete g.setImmediate;
    let n = 0;
    await Promise.all([yieldToEventLoop().then(() => n++), yieldToEventLoop().then(() => n++)]);
    expect(n).toBe(2);
  });

  it('timers fire and can be cancelled', async () => {
    let fired = 0;
    const cancel = setHostTimer(1, () => fired++);
    cancel();
    await new Promise<void>((resolve) => setHostTimer(5, () => resolve()));
    expect(fired).toBe(0);
  });
});
