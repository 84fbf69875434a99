// A learning Ethernet switch (IEEE 802.1D §7.7–7.8 in spirit: learn source addresses, forward
// known unicast to one port, flood the rest), pure and platform-neutral: ports are opaque
// values, time comes from an injected clock, the caller moves the bytes. The host's switch
// daemon (src/host/net-switch-daemon.ts) wraps it around UNIX-socket connections.
//
// Hostile input: a guest may send any source MAC. Multicast/broadcast source addresses (the I/G
// bit, low bit of the first octet) are never learned; the table holds at most `maxEntries`
// addresses and evicts the one seen longest ago, so a guest cycling random source MACs costs
// bounded memory (it can only evict other entries, which then flood until relearned, as on a
// real switch whose CAM table overflows).

/** Default ageing time: 802.1D's recommended 300 s. */
export const DEFAULT_AGEING_MS = 300_000;
/** Default table size. */
export const DEFAULT_MAX_ENTRIES = 4096;

export interface LearningSwitchOptions {
  /** Milliseconds, monotonic (e.g. performance.now). */
  readonly now: () => number;
  readonly ageingMs?: number;
  readonly maxEntries?: number;
}

export interface LearningSwitchStats {
  /** Frames handed to forward(). */
  frames: number;
  /** Frames sent to every other port (unknown unicast, broadcast, multicast). */
  flooded: number;
  /** Frames sent to exactly one learned port. */
  unicast: number;
  /** Frames with nowhere to go (destination learned on the source port itself, or too short). */
  filtered: number;
  /** Table entries dropped to make room. */
  evicted: number;
}

interface Entry<P> {
  port: P;
  seen: number;
}

/** 48-bit MAC at `at` as a number (exact in a double). */
function macKey(frame: Uint8Array, at: number): number {
  return frame[at]! * 2 ** 40 + frame[at + 1]! * 2 ** 32 + ((frame[at + 2]! << 24) >>> 0) + (frame[at + 3]! << 16) + (frame[at + 4]! << 8) + frame[at + 5]!;
}

export class LearningSwitch<P> {
  readonly stats: LearningSwitchStats = { frames: 0, flooded: 0, unicast: 0, filtered: 0, evicted: 0 };
  private readonly ports = new Set<P>();
  /** MAC → port; Map order is least recently learned first (an entry is re-inserted when seen). */
  private readonly table = new Map<number, Entry<P>>();
  private readonly ageingMs: number;
  private readonly maxEntries: number;

  constructor(private readonly options: LearningSwitchOptions) {
    this.ageingMs = options.ageingMs ?? DEFAULT_AGEING_MS;
    this.maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_MAX_ENTRIES);
  }

  get portCount(): number {
    return this.ports.size;
  }

  get tableSize(): number {
    return this.table.size;
  }

  addPort(port: P): void {
    this.ports.add(port);
  }

  /** Removes the port and forgets the addresses learned on it (they flood until seen again). */
  removePort(port: P): void {
    if (!this.ports.delete(port)) return;
    for (const [mac, e] of this.table) if (e.port === port) this.table.delete(mac);
  }

  /**
   * Learns the frame's source on `from` and returns the ports it must go to: never `from`,
   * only ports of this switch. A frame from an unknown port, or shorter than the two MACs, goes
   * nowhere.
   */
  forward(from: P, frame: Uint8Array): P[] {
    this.stats.frames++;
    if (!this.ports.has(from) || frame.length < 12) {
      this.stats.filtered++;
      return [];
    }
    const now = this.options.now();
    if ((frame[6]! & 1) === 0) this.learn(macKey(frame, 6), from, now);
    if ((frame[0]! & 1) === 0) {
      const dst = macKey(frame, 0);
      const e = this.table.get(dst);
      if (e !== undefined) {
        if (now - e.seen > this.ageingMs) this.table.delete(dst);
        else if (e.port === from) {
          // §7.7.1: the destination is on the segment it came from; a switch does not echo it.
          this.stats.filtered++;
          return [];
        } else {
          this.stats.unicast++;
          return [e.port];
        }
      }
    }
    const out: P[] = [];
    for (const p of this.ports) if (p !== from) out.push(p);
    this.stats.flooded++;
    return out;
  }

  private learn(mac: number, port: P, now: number): void {
    // Re-insert so that Map order stays "least recently seen first".
    this.table.delete(mac);
    this.table.set(mac, { port, seen: now });
    while (this.table.size > this.maxEntries) {
      const oldest = this.table.keys().next().value as number;
      this.table.delete(oldest);
      this.stats.evicted++;
    }
  }
}
