/**
 * The one error type for problems a user can act on: a bad flag, a missing file, a malformed
 * kernel image, a snapshot that does not validate. The CLI prints `message` and `hint` and no
 * stack trace; anything that is not a TypervisorError is a bug in typervisor.
 */
export class TypervisorError extends Error {
  /** How to fix it, in one sentence, or undefined when there is nothing to add. */
  readonly hint: string | undefined;

  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TypervisorError';
    this.hint = options.hint;
  }
}
