// The public API of the typervisor package. Platform-neutral (no Node modules): Node-only
// adapters (files, terminal) live in src/host and are used by the CLI.
export { TypervisorError } from './core/errors.js';
export type { Snapshotable } from './core/snapshotable.js';
export * from './vmm/index.js';
