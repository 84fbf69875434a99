// Runs a bare-metal RISC-V ELF on QEMU (the reference) or on typervisor, capturing the
// guest's UART output (stdout) and the exit status set through the test finisher.
//
//   runOnQemu(elf, { timeoutMs })        -> { stdout: Buffer, stderr, code, timedOut, signal }
//   runOnTypervisor(elf, { timeoutMs })  -> same shape
//
// QEMU_SYSTEM_RISCV64 overrides the QEMU binary, QEMU_EXTRA_ARGS adds arguments
// (space separated, e.g. "-cpu rv64,h=false"). stdin is always /dev/null so nothing
// depends on a terminal.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');

export const QEMU = process.env.QEMU_SYSTEM_RISCV64 || 'qemu-system-riscv64';

/** QEMU's rv64 CPU configured as close to typervisor's as QEMU 7.2 allows: no H extension,
 *  all 29 hpmcounters (typervisor has them, hardwired to zero; QEMU 7.2 defaults to 16),
 *  no debug triggers (Sdtrig); both are on by default in QEMU 7.2 and typervisor has neither. */
export const QEMU_CPU = 'rv64,h=false,debug=false,pmu-num=29';

export function qemuArgs(elf) {
  const extra = (process.env.QEMU_EXTRA_ARGS || '').split(/\s+/).filter(Boolean);
  return [
    '-machine', 'virt',
    '-cpu', QEMU_CPU,
    '-bios', 'none',
    '-nographic',
    '-monitor', 'none',
    ...extra,
    '-kernel', path.resolve(elf),
  ];
}

export function typervisorArgs(elf) {
  return [path.join(REPO_ROOT, 'bin', 'typervisor.js'), 'run', '--bios', 'none', '--kernel', path.resolve(elf)];
}

/** Spawns a command with stdin ignored, collects stdout/stderr, kills it after timeoutMs. */
export function runCommand(cmd, args, { timeoutMs = 30000, cwd = REPO_ROOT, maxOutput = 64 * 1024 * 1024, env } = {}) {
  return new Promise((resolve) => {
    const out = [];
    const err = [];
    let outLen = 0;
    let timedOut = false;
    let settled = false;
    let child;
    try {
      child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
    } catch (e) {
      resolve({ stdout: Buffer.alloc(0), stderr: String(e), code: null, signal: null, timedOut: false, error: e });
      return;
    }
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d) => {
      outLen += d.length;
      if (outLen <= maxOutput) out.push(d);
      else if (!timedOut) {
        timedOut = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d) => err.push(d));
    const finish = (code, signal, error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8') + (error ? String(error) : ''),
        code,
        signal,
        timedOut,
        error,
      });
    };
    child.on('error', (e) => finish(null, null, e));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

export async function runOnQemu(elf, { timeoutMs = 30000 } = {}) {
  return runCommand(QEMU, qemuArgs(elf), { timeoutMs });
}

export async function runOnTypervisor(elf, { timeoutMs = 120000 } = {}) {
  // Short test programs never reach the default translation threshold (tuned for Linux); a low
  // one keeps the JIT in every differential run.
  return runCommand(process.execPath, typervisorArgs(elf), { timeoutMs, cwd: REPO_ROOT, env: { TYPERVISOR_JIT_THRESHOLD: '64' } });
}
