import type { ConsoleInputStream } from '../host/console-input.js';
import type { ConsoleOutputStream } from '../host/console-output.js';

/** The process streams the CLI talks to (tests pass their own). */
export interface CliStreams {
  stdin: ConsoleInputStream;
  stdout: ConsoleOutputStream;
  stderr: { write(text: string): unknown };
}
