// The few event-loop services the run loop needs, reached through globalThis so that vmm/
// compiles without Node or DOM type declarations and runs on both (setTimeout, clearTimeout,
// performance and MessageChannel are common to Node ≥ 15 and browsers; setImmediate is Node's
// cheaper way to let pending I/O callbacks run and is used when present).

interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setImmediate?: (fn: () => void) => unknown;
  performance: { now(): number };
  MessageChannel?: new () => {
    port1: { onmessage: (() => void) | null; unref?(): void };
    port2: { postMessage(message: unknown): void };
  };
}

const host = globalThis as unknown as Timers;

/** Milliseconds from a monotonic clock with sub-millisecond resolution. */
export function monotonicMs(): number {
  return host.performance.now();
}

/** Calls `fn` once after `ms` milliseconds; returns a function that cancels it. */
export function setHostTimer(ms: number, fn: () => void): () => void {
  const handle = host.setTimeout(fn, ms);
  return () => host.clearTimeout(handle);
}

let channelQueue: (() => void)[] | undefined;
let channelPost: (() => void) | undefined;

/**
 * Resolves after the event loop has had a turn to run pending I/O callbacks (stdin data, timer
 * expiries), without the ≥1 ms clamp of setTimeout(…, 0).
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    if (host.setImmediate) {
      host.setImmediate(resolve);
      return;
    }
    if (!channelPost) {
      if (!host.MessageChannel) {
        host.setTimeout(resolve, 0);
        return;
      }
      const channel = new host.MessageChannel();
      const queue: (() => void)[] = [];
      channel.port1.onmessage = () => queue.shift()?.();
      channel.port1.unref?.(); // Node: an idle channel must not keep the process alive
      channelQueue = queue;
      channelPost = () => channel.port2.postMessage(0);
    }
    channelQueue!.push(resolve);
    channelPost();
  });
}
