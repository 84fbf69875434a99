import type { ConsoleInputStream } from '../host/console-input.js';
import type { ConsoleOutputStream } from '../host/console-output.js';
import type { PipeInputStream } from '../host/stream-pipe-source.js';

/** The process streams the CLI talks to (tests pass their own). */
export interface CliStreams {
  /** The console's input, or with `run -i` the command's (so it must also say when it ends). */
  stdin: ConsoleInputStream & PipeInputStream;
  stdout: ConsoleOutputStream;
  stderr: { write(text: string): unknown };
}
