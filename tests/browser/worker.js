// Module Web Worker for tests/browser/worker.test.ts: boots one bare-metal ELF on typervisor's
// Machine, as a browser embedder would, and reports to the page:
//   { type: 'environment', worker, process, window }   where it runs (must be a worker, no Node)
//   { type: 'console', bytes }                          guest UART output, one batch per slice
//   { type: 'exit', reason, code, jit }                 how the machine ended; the JIT's counts
//   { type: 'error', message }                          anything thrown, with its stack
// The engine is imported dynamically inside try/catch: a failed static import of a module
// worker reaches the page as an ErrorEvent without a message, which would hide the cause.

const describe = (error) =>
  error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : `thrown: ${String(error)}`;

self.addEventListener('error', (event) => {
  self.postMessage({ type: 'error', message: `uncaught: ${describe(event.error ?? event.message)}` });
});
self.addEventListener('unhandledrejection', (event) => {
  self.postMessage({ type: 'error', message: `unhandled rejection: ${describe(event.reason)}` });
});

self.addEventListener('message', async ({ data }) => {
  try {
    self.postMessage({
      type: 'environment',
      worker: typeof WorkerGlobalScope === 'function' && self instanceof WorkerGlobalScope,
      process: typeof process,
      window: typeof window,
    });
    // The package's public API (dist/index.js re-exports dist/vmm/machine.js's Machine).
    const { Machine, DEFAULT_MEM_BYTES, validateMachineConfig } = await import('/typervisor.js');
    const response = await fetch(data.elf);
    if (!response.ok) throw new Error(`GET ${data.elf}: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    // What `typervisor run --bios none --kernel X` builds: the default 128 MiB virt board.
    const config = validateMachineConfig({ memBytes: DEFAULT_MEM_BYTES, bios: 'none', kernel: { name: data.elf, bytes } });
    // A low JIT threshold: test programs are too short to reach the default one (tuned for Linux).
    const machine = await Machine.create(
      config,
      { console: (out) => self.postMessage({ type: 'console', bytes: out }, [out.buffer]) },
      { cpu: { jitThreshold: 64 } },
    );
    machine.start();
    const exit = await machine.exited;
    // Hart's JIT compiles guest blocks to wasm at run time: its counts show that path ran too.
    const jit = machine.hart.jit ? { ...machine.hart.jit.stats } : null;
    self.postMessage({ type: 'exit', reason: exit.reason, code: exit.code, jit });
  } catch (error) {
    self.postMessage({ type: 'error', message: describe(error) });
  }
});
