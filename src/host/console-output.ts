/** The parts of process.stdout the console uses. */
export interface ConsoleOutputStream {
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean;
}

/**
 * Guest console output to the host's standard output, with a way to wait until everything
 * written so far has been handed to the operating system (before the process exits).
 */
export class ConsoleOutput {
  private last: Promise<void> = Promise.resolve();

  constructor(private readonly stream: ConsoleOutputStream) {}

  write(bytes: Uint8Array): void {
    this.last = new Promise((resolve) => {
      // A closed stdout (EPIPE) must not kill the VM: the guest keeps running, output is lost.
      this.stream.write(bytes, () => resolve());
    });
  }

  /** Resolves when every write so far has completed (or failed). */
  drain(): Promise<void> {
    return this.last;
  }
}
