import { ConsoleEscape, ESCAPE_HELP, type EscapeCommand } from './console-escape.js';

/** The parts of process.stdin the console uses (a test can pass a PassThrough). */
export interface ConsoleInputStream {
  readonly isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  off(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

export interface ConsoleInputHandlers {
  /** Bytes for the guest. */
  data(bytes: Uint8Array): void;
  /** The user typed Ctrl-A x. */
  quit(): void;
  /** Where the Ctrl-A h help goes (the terminal). */
  message(text: string): void;
}

/** Detaches the console; restores the terminal. Safe to call more than once. */
export type ConsoleInputClose = () => void;

const SIGNALS = ['SIGTERM', 'SIGHUP'] as const;

/**
 * Connects the host's standard input to the guest console.
 *
 * On a terminal it switches to raw mode (every key, Ctrl-C included, goes to the guest, as with
 * QEMU -nographic) and handles the Ctrl-A escapes; the terminal is restored by close(), on
 * process exit, and on SIGTERM/SIGHUP. Input that is not a terminal (a pipe, a file) is
 * forwarded byte for byte, escapes included.
 */
export function attachConsoleInput(stdin: ConsoleInputStream, handlers: ConsoleInputHandlers): ConsoleInputClose {
  const tty = stdin.isTTY === true && typeof stdin.setRawMode === 'function';
  const escape = new ConsoleEscape();
  const command = (c: EscapeCommand) => (c === 'quit' ? handlers.quit() : handlers.message(ESCAPE_HELP));
  const onData = (chunk: Buffer | string) => {
    const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : new Uint8Array(chunk);
    if (tty) escape.feed(bytes, handlers.data, command);
    else handlers.data(bytes);
  };

  let closed = false;
  const restore = () => {
    if (tty) stdin.setRawMode!(false);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    close();
    process.exit(128 + (signal === 'SIGHUP' ? 1 : 15));
  };
  const close = () => {
    if (closed) return;
    closed = true;
    stdin.off('data', onData);
    stdin.pause();
    restore();
    process.off('exit', restore);
    for (const s of SIGNALS) process.off(s, onSignal);
  };

  if (tty) {
    stdin.setRawMode!(true);
    process.on('exit', restore);
    for (const s of SIGNALS) process.on(s, onSignal);
  }
  stdin.on('data', onData);
  stdin.resume();
  return close;
}
