import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const script = join(repo, 'scripts', 'check-layers.mjs');
const check = (root?: string) => {
  const r = spawnSync(process.execPath, root ? [script, root] : [script], { encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
};

/** A throwaway tree with the given files under src/. */
const tree = (files: Record<string, string>) => {
  const root = mkdtempSync(join(tmpdir(), 'typervisor-layers-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, 'src', path)), { recursive: true });
    writeFileSync(join(root, 'src', path), text);
  }
  return root;
};

describe('scripts/check-layers.mjs', () => {
  it('passes on this repository', () => {
    const r = check();
    expect(r.output).toBe('check-layers: ok\n');
    expect(r.status).toBe(0);
  });

  it('lists Node imports, Node and DOM globals, and upward imports as file:line', () => {
    const root = tree({
      'core/ok.ts': "// import fs from 'node:fs' in a comment is fine\nexport const s = 'process.env in a string is fine';\n",
      'devices/bad-import.ts': "import { x } from '../core/ok.js';\nimport { readFileSync } from 'node:fs';\n",
      'vmm/bad-require.ts': "\n\nconst p = require('path');\n",
      'board/bad-dynamic.ts': "export async function f() {\n  return import('fs/promises');\n}\n",
      'cpu/bad-global.ts': 'export const env = process.env;\nexport const b = Buffer.from([1]);\n',
      'vmm/bad-dom.ts': 'export const t = document.title;\nconst w = { window: 1 };\nexport const ok = globalThis.window;\n',
      'core/upward.ts': "export type { Machine } from '../vmm/machine.js';\n",
      'board/uses-devices.ts': "import {\n  Uart16550,\n} from '../devices/uart16550/index.js';\n",
      'host/fine.ts': "import { readFile } from 'node:fs/promises';\nimport { Machine } from '../vmm/machine.js';\nexport const e = process.env;\n",
      'host/upward.ts': "import { main } from '../cli/main.js';\n",
      'cli/fine.ts': "import { readKernelFile } from '../host/kernel-file.js';\n",
      'weird/x.ts': 'export {};\n',
    });
    const r = check(root);
    expect(r.status).toBe(1);
    const lines = r.output.trim().split('\n');
    const where = lines.filter((l) => l.startsWith('src/')).map((l) => l.split(': ')[0]);
    expect(where.sort()).toEqual(
      [
        'src/board/bad-dynamic.ts:2',
        'src/board/uses-devices.ts:1',
        'src/core/upward.ts:1',
        'src/cpu/bad-global.ts:1',
        'src/cpu/bad-global.ts:2',
        'src/devices/bad-import.ts:2',
        'src/host/upward.ts:1',
        'src/vmm/bad-dom.ts:1',
        'src/vmm/bad-require.ts:3',
        'src/vmm/bad-require.ts:3',
        'src/weird/x.ts:1',
      ].sort(),
    );
    expect(r.output).toMatch(/src\/devices\/bad-import\.ts:2: devices imports the Node module 'node:fs'/);
    expect(r.output).toMatch(/src\/core\/upward\.ts:1: core may not import vmm/);
    expect(r.output).toMatch(/src\/vmm\/bad-dom\.ts:1: vmm uses the DOM global 'document'/);
    expect(r.output).toMatch(/src\/weird\/x\.ts:1: folder src\/weird is not in the layer table/);
  });
});
