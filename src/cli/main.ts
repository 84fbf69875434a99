import { Command, CommanderError, Option } from 'commander';
import { TypervisorError } from '../core/errors.js';
import { attachConsoleInput, type ConsoleInputStream } from '../host/console-input.js';
import { ConsoleOutput, type ConsoleOutputStream } from '../host/console-output.js';
import { readKernelFile } from '../host/kernel-file.js';
import { Machine, type MachineOptions } from '../vmm/machine.js';
import { parseMemorySize, validateBios, validateMemBytes, type MachineConfig } from '../vmm/machine-config.js';

/** The process streams the CLI talks to (tests pass their own). */
export interface CliStreams {
  stdin: ConsoleInputStream;
  stdout: ConsoleOutputStream;
  stderr: { write(text: string): unknown };
}

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

  program
    .command('run')
    .description('boot a virtual machine (a `virt` board, like qemu-system-riscv64 -machine virt)')
    .addOption(
      new Option('--bios <firmware>', 'firmware; `none` starts the kernel directly in M-mode').default('default'),
    )
    .requiredOption('--kernel <path>', 'program to run: a RISC-V ELF loaded at its physical addresses')
    .option('--mem <size>', 'guest RAM, e.g. 128M or 2G (16M to 3.5G)', '128M')
    .action(async (opts: { bios: string; kernel: string; mem: string }) => {
      // Cheap checks first, so a bad flag is reported before the kernel file is read.
      const bios = validateBios(opts.bios);
      const memBytes = validateMemBytes(parseMemorySize(opts.mem));
      const kernel = await readKernelFile(opts.kernel);
      status = await runMachine({ bios, memBytes, kernel }, streams, machineOptions);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return status;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help asked for (exit code 0), or shown because no command was given (1): no hint needed.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version') {
        return error.exitCode === 0 ? 0 : EXIT_USAGE;
      }
      say(`hint: see 'typervisor ${argv[0] === 'run' ? 'run ' : ''}--help'\n`);
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

async function runMachine(
  config: MachineConfig,
  streams: CliStreams,
  machineOptions: MachineOptions,
): Promise<number> {
  const output = new ConsoleOutput(streams.stdout);
  const machine = await Machine.create(config, { console: (bytes) => output.write(bytes) }, machineOptions);
  const closeInput = attachConsoleInput(streams.stdin, {
    data: (bytes) => machine.consoleInput(bytes),
    quit: () => {
      streams.stderr.write('\ntypervisor: terminated\n');
      machine.quit(0);
    },
    message: (text) => void streams.stderr.write(text),
  });
  try {
    machine.start();
    const exit = await machine.exited;
    return exit.code & 0xff; // what the operating system keeps of an exit status, as with QEMU's exit()
  } finally {
    closeInput();
    await output.drain();
  }
}
