// Runs a machine (typervisor's CLI or qemu-system) to its end for a benchmark: output collected,
// killed after `timeoutMs`, wall time measured from spawn to exit. Never rejects for a failing
// exit status: each benchmark decides what a failure is and says so with the output.
import { spawn } from 'node:child_process';

/** @returns {Promise<{ status: number | null, signal: string | null, stdout: string, stderr: string, seconds: number }>} */
export function runToEnd(cmd, args, { timeoutMs = 900_000 } = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b.toString('latin1')));
    child.stderr.on('data', (b) => (stderr += b.toString('latin1')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}
