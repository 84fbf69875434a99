// The NetBackend contract (src/network/net-backend.ts), run against every backend: each
// backend's test calls netBackendConformance() with a factory for two connected ends.
import { describe, expect, it } from 'vitest';
import type { NetBackend } from '../../src/network/net-backend.js';

/** Two backends joined so that what one sends the other receives. */
export interface ConnectedPair {
  readonly a: NetBackend;
  readonly b: NetBackend;
  /** Releases whatever the pair holds beyond the two backends (servers, files). */
  readonly dispose?: () => Promise<void> | void;
}

const frame = (length: number, seed: number) => Uint8Array.from({ length }, (_, i) => (i * 13 + seed) & 0xff);

/** Resolves once `count` frames arrived at `backend`'s sink (or rejects after `ms`). */
function collect(backend: NetBackend, count: number, ms = 5000): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const got: Uint8Array[] = [];
    const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${count} frames within ${ms} ms`)), ms);
    backend.attach({
      receive: (f) => {
        got.push(f);
        if (got.length === count) (clearTimeout(timer), resolve(got));
      },
    });
    if (count === 0) (clearTimeout(timer), resolve(got));
  });
}

export function netBackendConformance(label: string, make: () => Promise<ConnectedPair>): void {
  const withPair = (fn: (p: ConnectedPair) => Promise<void>) => async () => {
    const p = await make();
    try {
      await fn(p);
    } finally {
      p.a.close();
      p.b.close();
      await p.dispose?.();
    }
  };

  describe(`NetBackend conformance: ${label}`, () => {
    it('carries frames both ways, in order, whole, from minimum to maximum size', withPair(async ({ a, b }) => {
      const sizes = [14, 60, 1514, 9000, 65550];
      const atB = collect(b, sizes.length);
      const atA = collect(a, sizes.length);
      sizes.forEach((n, i) => a.send(frame(n, i)));
      sizes.forEach((n, i) => b.send(frame(n, 100 + i)));
      expect(await atB).toEqual(sizes.map((n, i) => frame(n, i)));
      expect(await atA).toEqual(sizes.map((n, i) => frame(n, 100 + i)));
    }));

    it('never delivers inside send (no re-entrancy)', withPair(async ({ a, b }) => {
      let inSend = false;
      let reentered = false;
      const done = new Promise<void>((resolve) => b.attach({ receive: () => ((reentered ||= inSend), resolve()) }));
      a.attach({ receive: () => undefined });
      inSend = true;
      a.send(frame(60, 1));
      inSend = false;
      await done;
      expect(reentered).toBe(false);
    }));

    it('a later attach replaces the sink', withPair(async ({ a, b }) => {
      b.attach({ receive: () => expect.fail('the old sink got a frame') });
      const got = collect(b, 1);
      a.send(frame(60, 2));
      expect(await got).toEqual([frame(60, 2)]);
    }));

    it('send after close drops without throwing; close is idempotent', withPair(async ({ a }) => {
      a.close();
      expect(() => a.send(frame(60, 3))).not.toThrow();
      expect(() => a.close()).not.toThrow();
      if (a.stats) expect(a.stats.txDropped).toBeGreaterThanOrEqual(1);
    }));
  });
}
