/** What the user asked for with the escape key. */
export type EscapeCommand = 'quit' | 'help';

/** The escape character: Ctrl-A, as QEMU's -nographic console multiplexer uses. */
export const ESCAPE = 0x01;

/**
 * QEMU-style help text for the console escapes. Plain newlines: raw mode keeps the terminal's
 * output processing (as QEMU's does), so the guest's and our `\n` both start a new line.
 */
export const ESCAPE_HELP = 'C-a h    print this help\n' + 'C-a x    exit typervisor\n' + 'C-a C-a  send C-a to the guest\n';

/**
 * Splits keyboard input into bytes for the guest and escape commands, like QEMU's
 * -nographic console: Ctrl-A x quits, Ctrl-A h (or ?) prints help, Ctrl-A Ctrl-A sends one
 * Ctrl-A, and Ctrl-A followed by anything else is swallowed. An escape at the end of one chunk
 * applies to the first byte of the next.
 */
export class ConsoleEscape {
  private pendingEscape = false;

  /** Calls `data` with guest bytes (possibly several times) and `command` for each escape. */
  feed(bytes: Uint8Array, data: (bytes: Uint8Array) => void, command: (c: EscapeCommand) => void): void {
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (this.pendingEscape) {
        this.pendingEscape = false;
        if (b === ESCAPE) {
          start = i; // forward this Ctrl-A with what follows
          continue;
        }
        start = i + 1;
        if (b === 0x78 /* x */) command('quit');
        else if (b === 0x68 /* h */ || b === 0x3f /* ? */) command('help');
      } else if (b === ESCAPE) {
        if (i > start) data(bytes.subarray(start, i));
        this.pendingEscape = true;
        start = i + 1;
      }
    }
    if (start < bytes.length && !this.pendingEscape) data(bytes.subarray(start));
  }
}
