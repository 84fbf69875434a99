#!/usr/bin/env node
// Builds the bare-metal RISC-V test programs in this directory into build/NAME.elf.
//
//   node tests/programs/build.mjs            # build everything (skips up-to-date ELFs)
//   node tests/programs/build.mjs --force    # rebuild everything
//   node tests/programs/build.mjs hello      # build only the named programs
//
// Also importable: `buildPrograms()` returns the ELF paths, `buildSource(src, elf)`
// builds one extra source file (used by the fuzz test).
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PROGRAMS_DIR = HERE;
export const BUILD_DIR = path.join(HERE, 'build');
const LIB_DIR = path.join(HERE, 'lib');
const LIB_SOURCES = ['crt0.S', 'uart.c', 'trap.c', 'report.c'].map((f) => path.join(LIB_DIR, f));

export const CC = process.env.RISCV_CC || 'riscv64-linux-gnu-gcc';
export const CFLAGS = [
  '-march=rv64gc_zba_zbb_zbc_zbs_zicsr_zifencei',
  '-mabi=lp64d',
  '-mcmodel=medany',
  '-static',
  '-nostdlib',
  '-nostartfiles',
  '-ffreestanding',
  '-fno-builtin',
  '-fno-jump-tables',
  '-fno-pic',
  '-fno-pie',
  '-no-pie',
  '-fno-stack-protector',
  '-fno-asynchronous-unwind-tables',
  '-O2',
  '-Wall',
  '-Wno-unused-function',
  '-Wl,--no-relax',
  '-Wl,--build-id=none',
  '-Wl,--no-warn-rwx-segments',
  '-Wl,-z,norelro',
  '-Wl,-z,noexecstack',
  `-I${LIB_DIR}`,
  `-T${path.join(LIB_DIR, 'link.ld')}`,
];

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        err.message = `${cmd} ${args.join(' ')}\nfailed:\n${stderr || ''}${stdout || ''}`;
        reject(err);
      } else resolve({ stdout, stderr });
    });
  });
}

async function mtime(p) {
  try {
    return (await fs.stat(p)).mtimeMs;
  } catch {
    return -1;
  }
}

async function libFiles() {
  const names = await fs.readdir(LIB_DIR);
  return names.map((n) => path.join(LIB_DIR, n));
}

/** Lists the test program sources (top-level *.c and *.S files). */
export async function listSources() {
  const names = await fs.readdir(HERE);
  return names
    .filter((n) => /\.(c|S)$/.test(n))
    .sort()
    .map((n) => path.join(HERE, n));
}

/** Builds one source file (plus the runtime) into `elf`, unless it is newer than all inputs. */
export async function buildSource(src, elf, { force = false, extraDeps = [] } = {}) {
  const deps = [src, ...(await libFiles()), fileURLToPath(import.meta.url), ...extraDeps];
  const out = await mtime(elf);
  if (!force && out >= 0) {
    let newest = 0;
    for (const d of deps) newest = Math.max(newest, await mtime(d));
    if (newest <= out) return { elf, built: false };
  }
  await fs.mkdir(path.dirname(elf), { recursive: true });
  const tmp = `${elf}.${process.pid}.tmp`;
  await run(CC, [...CFLAGS, '-o', tmp, ...LIB_SOURCES, src]);
  await fs.rename(tmp, elf);
  return { elf, built: true };
}

async function pool(items, n, fn) {
  const results = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return results;
}

/** Builds every program (or only `names`) and returns the ELF paths, in name order. */
export async function buildPrograms({ force = false, names = null, verbose = false } = {}) {
  let sources = await listSources();
  if (names && names.length) {
    sources = sources.filter((s) => names.includes(path.basename(s).replace(/\.(c|S)$/, '')));
  }
  const seen = new Map();
  for (const s of sources) {
    const base = path.basename(s).replace(/\.(c|S)$/, '');
    if (seen.has(base)) throw new Error(`two sources for program ${base}`);
    seen.set(base, s);
  }
  const res = await pool(sources, 4, async (src) => {
    const base = path.basename(src).replace(/\.(c|S)$/, '');
    const r = await buildSource(src, path.join(BUILD_DIR, `${base}.elf`), { force });
    if (verbose) console.log(`${r.built ? 'built  ' : 'fresh  '} ${path.relative(process.cwd(), r.elf)}`);
    return r.elf;
  });
  return res;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const force = args.includes('--force');
  const names = args.filter((a) => !a.startsWith('--'));
  buildPrograms({ force, names, verbose: true }).catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
