// The rate options of `--net SPEC,rate=BYTES_PER_S[,burst=BYTES][,pps=PACKETS_PER_S]`.
import { TypervisorError } from '../core/errors.js';
import type { RateLimit } from '../network/rate-limited-backend.js';

const SUFFIX: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
/** Far beyond any link we can feed; keeps the token arithmetic exact. */
const MAX = 2 ** 40;

/** `1500`, `64k`, `1M`, `2G` (binary multiples, as QEMU's sizes), a positive integer result. */
export function parseRateNumber(option: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(value);
  const n = m ? Math.floor(Number(m[1]) * SUFFIX[m[2]!.toLowerCase()]!) : NaN;
  if (!(n >= 1 && n <= MAX)) {
    throw new TypervisorError(`${option}=${value} is not a positive number`, { hint: `write e.g. ${option}=1M (suffixes k, M, G multiply by 1024, 1024², 1024³)` });
  }
  return n;
}

/** The keys this file handles. */
export const RATE_KEYS = ['rate', 'burst', 'pps'] as const;

/** Builds the limit from the `key=value` options given (undefined when none). */
export function parseRateLimit(options: ReadonlyMap<string, string>): RateLimit | undefined {
  const rate = options.get('rate');
  const burst = options.get('burst');
  const pps = options.get('pps');
  if (rate === undefined && pps === undefined) {
    if (burst !== undefined) throw new TypervisorError('burst= needs rate=', { hint: 'write e.g. rate=1M,burst=256k' });
    return undefined;
  }
  return {
    // pps alone: bytes unlimited in practice.
    bytesPerSecond: rate === undefined ? MAX : parseRateNumber('rate', rate),
    ...(burst === undefined ? {} : { burstBytes: parseRateNumber('burst', burst) }),
    ...(pps === undefined ? {} : { packetsPerSecond: parseRateNumber('pps', pps) }),
  };
}
