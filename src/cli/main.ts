import { Command, CommanderError } from 'commander';
import { TypervisorError } from '../core/errors.js';
import type { MachineOptions } from '../vmm/machine.js';
import type { CliStreams } from './cli-streams.js';
import { addDtbCommand } from './dtb-command.js';
import { addImgCommand } from './img-command.js';
import { addRunCommand } from './run-command.js';

export type { CliStreams } from './cli-streams.js';

/** Exit status for command-line mistakes, as with most Unix tools. */
const EXIT_USAGE = 2;
const EXIT_ERROR = 1;

/**
 * Runs the `typervisor` command line and returns the process exit status. Never throws: user
 * errors are printed as `typervisor: <message>` plus a hint, bugs as an internal error.
 * `machineOptions` lets tests substitute the hart.
 */
export async function main(
  argv: readonly string[],
  streams: CliStreams = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
  machineOptions: MachineOptions = {},
): Promise<number> {
  const say = (text: string) => streams.stderr.write(text);
  let status = 0;
  const program = new Command('typervisor')
    .description('Run RISC-V 64 virtual machines')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void streams.stdout.write(new TextEncoder().encode(text)),
      writeErr: (text) => void streams.stderr.write(text),
      outputError: (text, write) => write(`${text.replace(/^error: /, 'typervisor: ')}`),
    })
    .showSuggestionAfterError();

  const done = (code: number) => {
    status = code;
  };
  addRunCommand(program, streams, machineOptions, done);
  addDtbCommand(program, { ...streams, stdoutIsTerminal: (streams.stdout as { isTTY?: boolean }).isTTY === true }, done);
  addImgCommand(program, streams, done);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return status;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help asked for (exit code 0), or shown because no command was given (1): no hint needed.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version') {
        return error.exitCode === 0 ? 0 : EXIT_USAGE;
      }
      say(`hint: see 'typervisor ${argv[0] === 'run' ? 'run ' : argv[0] === 'img' ? `img ${argv[1] && !argv[1].startsWith('-') ? `${argv[1]} ` : ''}` : ''}--help'\n`);
      return EXIT_USAGE;
    }
    if (error instanceof TypervisorError) {
      say(`typervisor: ${error.message}\n`);
      if (error.hint) say(`hint: ${error.hint}\n`);
      return EXIT_ERROR;
    }
    say(`typervisor: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    say('hint: this is a bug in typervisor; set TYPERVISOR_DEBUG=1 for a stack trace and please report it\n');
    if (process.env['TYPERVISOR_DEBUG'] && error instanceof Error) say(`${error.stack}\n`);
    return EXIT_ERROR;
  }
}
