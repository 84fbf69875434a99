export {
  Machine,
  DEFAULT_SLICE_INSTRUCTIONS,
  type MachineExit,
  type MachineHost,
  type MachineOptions,
  type MachineHart,
  type HartFactory,
} from './machine.js';
export {
  type MachineConfig,
  type KernelImage,
  type BiosKind,
  DEFAULT_MEM_BYTES,
  parseMemorySize,
  formatBytes,
  validateMachineConfig,
  validateBios,
  validateMemBytes,
} from './machine-config.js';
