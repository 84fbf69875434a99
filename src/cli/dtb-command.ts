import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { TypervisorError } from '../core/errors.js';
import { RamGuestMemory } from '../core/guest-memory.js';
import { VIRT_MAP } from '../board/memory-map.js';
import { closeDisks } from '../host/disk-image.js';
import { closeNets } from '../host/net-spec.js';
import { loadBoot } from '../vmm/boot-loader.js';
import { disksOf, nicsOf } from '../vmm/machine-config.js';
import type { CliStreams } from './cli-streams.js';
import { addMachineOptions, machineConfigFromFlags, type MachineFlags } from './run-command.js';

/**
 * `typervisor dtb`: writes the device tree blob that `typervisor run` with the same options
 * hands the guest (the machine is laid out in scratch memory exactly as for a boot, so
 * /chosen's initrd range and bootargs are the real ones). Read it with `dtc -I dtb -O dts`.
 */
export function addDtbCommand(program: Command, streams: CliStreams & { stdoutIsTerminal?: boolean }, done: (status: number) => void): void {
  addMachineOptions(
    program
      .command('dtb')
      .description('write the device tree the machine would get (read it with: dtc -I dtb -O dts FILE)')
      .option('-o, --output <file>', 'write to FILE instead of standard output'),
  ).action(async (opts: MachineFlags & { output?: string }) => {
    if (opts.output === undefined && streams.stdoutIsTerminal) {
      throw new TypervisorError('the device tree is binary and standard output is a terminal', {
        hint: 'use -o FILE, or pipe it: typervisor dtb | dtc -I dtb -O dts',
      });
    }
    const config = await machineConfigFromFlags(opts, [], streams);
    // Disks are opened (and so checked) as for a boot, but only their slots reach the tree.
    await closeDisks(disksOf(config));
    await closeNets(nicsOf(config));
    const ram = new RamGuestMemory(new Uint8Array(config.memBytes), VIRT_MAP.dram.base);
    const { fdt } = loadBoot(config, ram);
    const blob = ram.bytes.slice(fdt.address - ram.base, fdt.address - ram.base + fdt.size);
    if (opts.output !== undefined) {
      try {
        await writeFile(opts.output, blob);
      } catch (error) {
        throw new TypervisorError(`cannot write ${opts.output}: ${(error as Error).message}`, { hint: 'check the path given to -o' });
      }
    } else {
      await new Promise<void>((resolve) => streams.stdout.write(blob, () => resolve()));
    }
    done(0);
  });
}
