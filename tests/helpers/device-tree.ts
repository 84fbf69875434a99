// Reading device-tree blobs with the reference tools, for tests in layers that may not use Node
// themselves (src/board, src/vmm): dtc (Debian package device-tree-compiler) decompiles, and
// qemu-system-riscv64 (qemu-system-misc) dumps its own `virt` tree for comparison.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Decompiled {
  /** dtc's source output. */
  readonly dts: string;
  /** dtc's warnings as `check: /node: message`, without the file name dtc puts first. */
  readonly warnings: string[];
}

function withTemp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(tmpdir(), 'dt-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Decompiles `blob` with `dtc -I dtb -O dts`; throws when dtc is missing or rejects the blob. */
export function dtc(blob: Uint8Array): Decompiled {
  return withTemp((dir) => {
    const file = path.join(dir, 'tree.dtb');
    writeFileSync(file, blob);
    const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', file], { encoding: 'utf8' });
    if (r.error) throw new Error(`cannot run dtc (apt-get install device-tree-compiler): ${r.error.message}`);
    if (r.status !== 0) throw new Error(`dtc rejected the blob (status ${r.status}): ${r.stderr}`);
    const warnings = r.stderr
      .split('\n')
      .map((l) => /Warning \(([\w-]+)\): (.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1]}: ${m[2]}`);
    return { dts: r.stdout, warnings };
  });
}

/** The device tree QEMU's `virt` machine builds (`-machine virt,dumpdtb=FILE`), with extra options. */
export function qemuVirtDtb(extra: readonly string[] = []): Uint8Array {
  return withTemp((dir) => {
    const file = path.join(dir, 'qemu.dtb');
    const r = spawnSync('qemu-system-riscv64', ['-machine', `virt,dumpdtb=${file}`, '-nographic', '-bios', 'none', ...extra], {
      encoding: 'utf8',
    });
    if (r.error) throw new Error(`cannot run qemu-system-riscv64 (apt-get install qemu-system-misc): ${r.error.message}`);
    if (r.status !== 0) throw new Error(`qemu-system-riscv64 failed to dump its tree: ${r.stderr}`);
    return new Uint8Array(readFileSync(file));
  });
}

/** A decompiled tree: node path (`/`, `/soc/plic@c000000`) → property name → value as dtc prints it ('' when empty). */
export type DtsTree = Map<string, Map<string, string>>;

/** Parses dtc's own output (one statement per line) into a {@link DtsTree}. */
export function parseDts(dts: string): DtsTree {
  const tree: DtsTree = new Map();
  const stack: string[] = [];
  for (const raw of dts.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('/dts-v1/') || line.startsWith('/memreserve/')) continue;
    const open = /^([^\s=]+) \{$/.exec(line);
    if (open) {
      const name = open[1]!;
      const p = name === '/' ? '/' : `${stack.length <= 1 ? '' : stack[stack.length - 1]}/${name}`;
      stack.push(p);
      tree.set(p, new Map());
      continue;
    }
    if (line === '};') {
      stack.pop();
      continue;
    }
    const prop = /^([^\s=]+)(?: = (.*))?;$/.exec(line);
    if (!prop || stack.length === 0) throw new Error(`parseDts: cannot read line '${raw}'`);
    tree.get(stack[stack.length - 1]!)!.set(prop[1]!, prop[2] ?? '');
  }
  return tree;
}

/** The cells of a `<0x.. 0x..>` value. */
export function cells(value: string | undefined): number[] {
  const m = /^<([^>]*)>$/.exec(value ?? '');
  if (!m) throw new Error(`not a cell list: ${value}`);
  return m[1]!.trim() === '' ? [] : m[1]!.trim().split(/\s+/).map((c) => Number(c));
}

/** The strings of a `"a\0b"` value. */
export function strings(value: string | undefined): string[] {
  const m = /^"(.*)"$/.exec(value ?? '');
  if (!m) throw new Error(`not a string list: ${value}`);
  return m[1]!.split('\\0');
}

/** phandle → node path, for comparing trees whose phandles are numbered differently. */
export function phandles(tree: DtsTree): Map<number, string> {
  const out = new Map<number, string>();
  for (const [p, props] of tree) if (props.has('phandle')) out.set(cells(props.get('phandle'))[0]!, p);
  return out;
}
