// The public API of the typervisor package. Platform-neutral (no Node modules): Node-only
// adapters (files, terminal) live in src/host and are used by the CLI.
export { TypervisorError } from './core/errors.js';
export type { Snapshotable } from './core/snapshotable.js';
export {
  Machine,
  DEFAULT_SLICE_INSTRUCTIONS,
  type MachineExit,
  type MachineHost,
  type MachineOptions,
  type MachineHart,
  type HartFactory,
  type MachineConfig,
  type KernelImage,
  type BiosKind,
  DEFAULT_MEM_BYTES,
  parseMemorySize,
  formatBytes,
  validateMachineConfig,
  validateBios,
  validateMemBytes,
} from './vmm/index.js';
