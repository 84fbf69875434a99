// Runs a bare-metal ELF on typervisor inside this process (through the built library in dist/,
// the same code bin/typervisor.js runs), with the JIT on or off, and reports the JIT's counters.
//
//   runInProcess(elf, { jit: true, timeoutMs, jitBatching, jitThreshold = 64 })   (HartOptions; the low
//     threshold makes short test programs exercise the JIT)
//     -> { stdout: Buffer, code, timedOut,
//          jit: { translated, refused, ... } | undefined,   the BlockCompiler's counters
//          translatedPcs: bigint[] }                         guest pc of every translation
//
//   const pool = new WorkerPool(n); await pool.run(elf, options); await pool.close();
//     the same in n worker threads (runs in parallel without starting a Node process per
//     program; a worker that overruns the time limit is terminated and replaced)
//
// CLI (compares JIT on/off and prints the counters):
//   node tests/differential/inproc.mjs ELF
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const HERE = path.dirname(fileURLToPath(import.meta.url));
// FUZZ_DIST: another build's dist/ (e.g. of an older commit, to bisect a mismatch)
const DIST = process.env.FUZZ_DIST ? path.resolve(process.env.FUZZ_DIST) : path.resolve(HERE, '..', '..', 'dist');

let libs;
async function load() {
  libs ??= Promise.all([
    import(pathToFileURL(path.join(DIST, 'vmm', 'machine.js')).href),
    import(pathToFileURL(path.join(DIST, 'cpu', 'hart.js')).href),
  ]).then(([machine, hart]) => ({ Machine: machine.Machine, Hart: hart.Hart }));
  return libs;
}

export async function runInProcess(elf, { jit = true, timeoutMs = 30000, memBytes = 128 * 1024 * 1024, jitBatching, jitThreshold = 64 } = {}) {
  const { Machine, Hart } = await load();
  const bytes = new Uint8Array(await readFile(elf));
  const out = [];
  const translatedPcs = [];
  let hart;
  const createHart = async (o) => {
    hart = await Hart.create({ ...o, jit, jitThreshold, ...(jitBatching ? { jitBatching } : {}) });
    const compiler = hart.jit;
    // Note which code each installed translation is for (the pc the interpreter found hot).
    if (compiler) compiler.onInstall = (vpc) => translatedPcs.push(vpc);
    return hart;
  };
  const machine = await Machine.create(
    { memBytes, bios: 'none', kernel: { name: elf, bytes } },
    { console: (b) => out.push(Buffer.from(b)) },
    { createHart },
  );
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    machine.quit(124);
  }, timeoutMs);
  try {
    machine.start();
    const exit = await machine.exited;
    return {
      stdout: Buffer.concat(out),
      code: exit.code & 0xff,
      timedOut,
      jit: hart.jit ? { ...hart.jit.stats } : undefined,
      translatedPcs,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Worker threads running runInProcess, one program at a time each. */
export class WorkerPool {
  constructor(size) {
    this.size = Math.max(1, size);
    this.idle = [];
    this.count = 0;
    this.queue = [];
    this.closed = false;
  }

  spawn() {
    const w = new Worker(new URL(import.meta.url), { workerData: { inprocWorker: true } });
    w.unref();
    this.count++;
    return w;
  }

  /** Like runInProcess; failures inside the worker come back as { error }. */
  run(elf, options = {}) {
    return new Promise((resolve) => {
      this.queue.push({ elf, options, resolve });
      this.pump();
    });
  }

  pump() {
    while (this.queue.length && !this.closed) {
      let w = this.idle.pop();
      if (!w) {
        if (this.count >= this.size) return;
        w = this.spawn();
      }
      const job = this.queue.shift();
      this.start(w, job);
    }
  }

  start(w, { elf, options, resolve }) {
    const limit = (options.timeoutMs ?? 30000) + 10000;
    const done = (result, healthy) => {
      clearTimeout(timer);
      w.removeAllListeners('message');
      w.removeAllListeners('error');
      if (healthy) this.idle.push(w);
      else {
        this.count--;
        void w.terminate();
      }
      resolve(result);
      this.pump();
    };
    const timer = setTimeout(
      () => done({ stdout: Buffer.alloc(0), code: null, timedOut: true, error: 'worker did not finish: terminated' }, false),
      limit,
    );
    w.on('message', (m) => done(m.error ? m : { ...m, stdout: Buffer.from(m.stdout) }, true));
    w.on('error', (e) => done({ stdout: Buffer.alloc(0), code: null, timedOut: false, error: e.stack ?? String(e) }, false));
    w.postMessage({ elf, options });
  }

  async close() {
    this.closed = true;
    const all = this.idle.splice(0);
    this.count -= all.length;
    await Promise.all(all.map((w) => w.terminate()));
  }
}

if (!isMainThread && workerData?.inprocWorker) {
  parentPort.on('message', async ({ elf, options }) => {
    try {
      parentPort.postMessage(await runInProcess(elf, options));
    } catch (e) {
      parentPort.postMessage({ stdout: new Uint8Array(0), code: null, timedOut: false, error: e?.stack ?? String(e) });
    }
  });
} else if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const elf = process.argv[2];
  const on = await runInProcess(elf, { jit: true });
  const off = await runInProcess(elf, { jit: false });
  console.log(`jit on:  exit ${on.code}, stats ${JSON.stringify(on.jit)}`);
  console.log(`jit off: exit ${off.code}`);
  const a = on.stdout.toString('latin1').split('\n');
  const b = off.stdout.toString('latin1').split('\n');
  const diff = a.map((l, i) => [l, b[i]]).filter(([x, y]) => x !== y);
  console.log(diff.length ? `differs:\n${diff.map(([x, y]) => `  jit ${x}\n  int ${y}`).join('\n')}` : 'same output');
}
