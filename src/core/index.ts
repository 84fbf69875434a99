export { TypervisorError } from './errors.js';
export { hex } from './hex.js';
export type { Snapshotable } from './snapshotable.js';
export type { IrqLine } from './irq-line.js';
export { StateReader } from './state-reader.js';
export { type GuestMemory, RamGuestMemory } from './guest-memory.js';
