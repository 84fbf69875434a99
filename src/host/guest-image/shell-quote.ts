import { TypervisorError } from '../../core/errors.js';

/**
 * Quotes one word for a POSIX shell: inside single quotes nothing is special — not `$`, `` ` ``,
 * `\`, `"`, spaces or newlines — so only the single quote itself needs care: it closes the quote,
 * adds an escaped `\'`, and reopens. Throws for NUL, which no argument can contain.
 */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new TypervisorError('a command argument cannot contain a NUL character');
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
