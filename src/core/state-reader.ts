import { TypervisorError } from './errors.js';

/**
 * Reads a saved state object field by field, validating as it goes (DESIGN.md: state is
 * untrusted on restore). Typical use:
 *
 *     const r = new StateReader('uart0', state, 1);
 *     const ier = r.int('ier', 0, 0x0f);
 *     r.done();                       // rejects fields nobody read
 *
 * Every failure is a TypervisorError naming the component and the field.
 */
export class StateReader {
  private readonly record: Record<string, unknown>;
  private readonly seen = new Set<string>(['version']);

  constructor(
    private readonly component: string,
    state: unknown,
    version: number,
  ) {
    if (typeof state !== 'object' || state === null || Array.isArray(state)) {
      throw this.fail('is not an object');
    }
    const proto = Object.getPrototypeOf(state) as unknown;
    if (proto !== Object.prototype && proto !== null) throw this.fail('is not a plain object');
    this.record = state as Record<string, unknown>;
    if (this.record['version'] !== version) {
      throw this.fail(`has version ${describeSavedValue(this.record['version'])}, expected ${version}`);
    }
  }

  /** An integer in [min, max]. */
  int(key: string, min: number, max: number): number {
    const v = this.field(key);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw this.fail(`field '${key}' must be an integer in [${min}, ${max}]`);
    }
    return v;
  }

  bool(key: string): boolean {
    const v = this.field(key);
    if (typeof v !== 'boolean') throw this.fail(`field '${key}' must be a boolean`);
    return v;
  }

  /**
   * An array of integers in [min, max] with at most `maxLength` elements (exactly that many when
   * `exact`). Returns a fresh copy.
   */
  ints(key: string, min: number, max: number, maxLength: number, exact = false): number[] {
    const v = this.field(key);
    if (!Array.isArray(v) || v.length > maxLength || (exact && v.length !== maxLength)) {
      throw this.fail(`field '${key}' must be an array of ${exact ? 'exactly' : 'at most'} ${maxLength} elements`);
    }
    const out: number[] = [];
    for (const e of v as unknown[]) {
      if (typeof e !== 'number' || !Number.isInteger(e) || e < min || e > max) {
        throw this.fail(`field '${key}' must hold only integers in [${min}, ${max}]`);
      }
      out.push(e);
    }
    return out;
  }

  /** Call after reading every field: rejects fields the reader did not ask for. */
  done(): void {
    for (const key of Object.keys(this.record)) {
      if (!this.seen.has(key)) throw this.fail(`has unknown field '${key}'`);
    }
  }

  private field(key: string): unknown {
    if (!Object.prototype.hasOwnProperty.call(this.record, key)) throw this.fail(`lacks field '${key}'`);
    this.seen.add(key);
    return this.record[key];
  }

  /** Throws unless `ok`: for rules that span fields (`what` completes "saved state of <id> …"). */
  check(ok: boolean, what: string): void {
    if (!ok) throw this.fail(what);
  }

  private fail(what: string): TypervisorError {
    return new TypervisorError(`saved state of ${this.component} ${what}`, {
      hint: 'the snapshot is damaged or was written by an incompatible typervisor version',
    });
  }
}

/**
 * A short, safe description of an untrusted saved value for an error message: String() would call
 * the value's own toString/valueOf, which a hostile state can make throw (found by fast-check:
 * `{ toString: [] }` gave a TypeError instead of a TypervisorError).
 */
export function describeSavedValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === undefined || v === null) return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}
