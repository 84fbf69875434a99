// End to end in a browser: headless Chromium (Debian's, driven by playwright-core) opens a page
// that starts a module Web Worker; the worker imports the built engine (dist/, bundled), boots a test
// program on Machine and posts the UART bytes and the exit status back. Both must equal what
// `typervisor run --bios none --kernel X` gives in Node. This proves that the engine layers run
// in a browser worker, which tests/layers.test.ts only checks statically.
//
//   npx vitest run tests/browser          (needs `npm run build` and scripts/ensure-deps.sh test)
//   CHROMIUM_PATH=/path/to/chrome npx vitest run tests/browser
import { existsSync, promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-ignore -- plain ESM helper without type declarations
import { BUILD_DIR, buildPrograms } from '../programs/build.mjs';
// @ts-ignore -- plain ESM helper without type declarations
import { runOnTypervisor } from '../differential/qemu.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const DIST = path.join(REPO, 'dist');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** How long one program may run in the worker before the page gives up. */
const RUN_TIMEOUT_MS = 15_000;

/** `jit`: the program is hot enough for Hart's JIT to translate blocks (wasm built at run time). */
const PROGRAMS = [
  { name: 'hello', exit: 0, jit: true },
  { name: 'exit-code', exit: 3, jit: false },
];

interface WorkerRun {
  environment: { worker: boolean; process: string; window: string } | null;
  output: number[];
  exit: { reason: string; code: number } | null;
  jit: { translated: number } | null;
  error: string | null;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8', // module workers refuse any non-JavaScript type
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.elf': 'application/octet-stream',
};

/** The engine as a browser embedder ships it: dist/index.js and its npm dependencies (fflate)
 *  bundled into one ES module by esbuild, as any bundler would. */
const BUNDLE = path.join(REPO, 'tests', 'browser', 'build', 'typervisor.js');

/** Requests the server could not answer with a file: shown when a run fails. */
const misses: string[] = [];

/** URL path → file: the page, the worker, the engine bundle, and the test programs' ELFs. */
function resolveRequest(urlPath: string): string | undefined {
  if (urlPath === '/' || urlPath === '/index.html') return path.join(HERE, 'page.html');
  if (urlPath === '/worker.js') return path.join(HERE, 'worker.js');
  const under = (root: string, rest: string) => {
    const file = path.resolve(root, '.' + path.posix.normalize('/' + rest));
    return file.startsWith(root + path.sep) ? file : undefined;
  };
  if (urlPath === '/typervisor.js') return BUNDLE;
  const elf = /^\/programs\/([a-z0-9-]+\.elf)$/.exec(urlPath);
  if (elf) return path.join(BUILD_DIR, elf[1]!);
  return undefined;
}

function startServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer(async (req, res) => {
    const urlPath = new URL(req.url ?? '/', 'http://localhost').pathname;
    try {
      const file = req.method === 'GET' ? resolveRequest(decodeURIComponent(urlPath)) : undefined;
      if (!file) throw new Error('no route');
      const body = await fs.readFile(file);
      res.writeHead(200, {
        'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(body);
    } catch (error) {
      misses.push(`${req.method} ${urlPath}: ${(error as Error).message}`);
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, origin: `http://127.0.0.1:${port}` });
    });
  });
}

const latin1 = (bytes: Iterable<number>) => Buffer.from([...bytes]).toString('latin1');

describe('browser: the engine in a module Web Worker (headless Chromium)', () => {
  let server: Server | undefined;
  let origin = '';
  let browser: Browser | undefined;
  let page: Page | undefined;
  const browserLog: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium not found at ${CHROMIUM}; this test needs it. Run scripts/ensure-deps.sh test ` +
          `(it installs Debian's chromium package), or point CHROMIUM_PATH at a Chromium or Chrome binary.`,
      );
    }
    if (!existsSync(path.join(DIST, 'index.js')) || !existsSync(path.join(DIST, 'vmm', 'machine.js'))) {
      throw new Error('dist/ is not built: run `npm run build` (scripts/ensure-deps.sh test does it too)');
    }
    await buildPrograms({ names: PROGRAMS.map((p) => p.name) });
    await build({ entryPoints: [path.join(DIST, 'index.js')], bundle: true, format: 'esm', platform: 'browser', outfile: BUNDLE, logLevel: 'error' });
    ({ server, origin } = await startServer());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // launch() gives the browser a fresh temporary profile and deletes it on close.
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: 20_000,
    });
    page = await browser.newPage();
    page.on('console', (m) => browserLog.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => browserLog.push(`page error: ${e.message}`));
    page.on('worker', (w) => browserLog.push(`worker started: ${w.url()}`));
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => typeof (globalThis as { runInWorker?: unknown }).runInWorker === 'function', null, {
      timeout: 5_000,
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  for (const program of PROGRAMS) {
    it(`${program.name}.elf: same output and exit status as the CLI`, async () => {
      misses.length = 0;
      browserLog.length = 0;
      const elf = path.join(BUILD_DIR, `${program.name}.elf`);
      const [cli, run] = await Promise.all([
        runOnTypervisor(elf, { timeoutMs: 20_000 }),
        page!.evaluate(
          ([url, ms]) => (globalThis as unknown as { runInWorker(u: string, t: number): Promise<WorkerRun> }).runInWorker(url, ms),
          [`/programs/${program.name}.elf`, RUN_TIMEOUT_MS] as const,
        ),
      ]);
      const diagnostics = () =>
        [
          misses.length ? `server could not answer:\n  ${misses.join('\n  ')}` : '',
          browserLog.length ? `browser log:\n  ${browserLog.join('\n  ')}` : '',
        ]
          .filter(Boolean)
          .join('\n');

      if (run.error !== null) {
        throw new Error(
          `in the browser worker: ${run.error}\nUART output so far: ${JSON.stringify(latin1(run.output))}\n${diagnostics()}`,
        );
      }
      // The reference itself, so a broken harness cannot pass.
      expect(cli.timedOut, `CLI timed out; stderr: ${cli.stderr}`).toBe(false);
      expect(cli.code, `CLI exit status; stderr: ${cli.stderr}`).toBe(program.exit);
      expect(cli.stdout.length, 'CLI printed nothing').toBeGreaterThan(0);

      expect(run.environment, 'where the engine ran').toEqual({ worker: true, process: 'undefined', window: 'undefined' });
      expect(latin1(run.output), `UART output in the worker vs the CLI's stdout\n${diagnostics()}\n`).toBe(
        cli.stdout.toString('latin1'),
      );
      expect(run.exit).toEqual({ reason: 'finisher', code: program.exit });
      if (program.jit) {
        expect(
          run.jit?.translated,
          `blocks the JIT translated in the worker (if ${program.name}.elf is no longer hot enough, ` +
            'mark it jit: false and give the JIT another program here)',
        ).toBeGreaterThan(0);
      }
    }, 30_000);
  }
});
