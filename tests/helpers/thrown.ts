import { TypervisorError } from '../../src/core/errors.js';

/** Runs `fn` and returns the TypervisorError it throws; fails the test if it throws anything else or nothing. */
export function thrown(fn: () => unknown): TypervisorError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TypervisorError) return e;
    throw new Error(`expected a TypervisorError, got ${String(e)}`);
  }
  throw new Error('expected a TypervisorError, nothing was thrown');
}
