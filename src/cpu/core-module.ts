/** Compiles the AssemblyScript core once per process (or worker) and hands out the module. */
import { CORE_WASM_BASE64 } from './core-wasm.generated.js';
import { decodeBase64 } from '../core/base64.js';

let compiled: Promise<WebAssembly.Module> | undefined;

export function loadCoreModule(): Promise<WebAssembly.Module> {
  compiled ??= WebAssembly.compile(decodeBase64(CORE_WASM_BASE64));
  return compiled;
}
