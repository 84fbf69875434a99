// Differential test: src/cpu/as/softfloat (compiled to wasm) against the real RISC-V F/D
// instructions executed by qemu-riscv64 (oracle.c). Result bits and fflags must match
// exactly for every vector.
import { describe, it, expect } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { generateVectors, opName, arity } from "./vectors.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const QEMU = "qemu-riscv64";
const GCC = "riscv64-linux-gnu-gcc";

function haveTool(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}
const missing = [QEMU, GCC].filter((t) => !haveTool(t));
if (missing.length > 0) {
  console.warn(`softfloat differential test SKIPPED: ${missing.join(" and ")} not found on PATH ` +
    `(install Debian packages qemu-user and gcc-riscv64-linux-gnu)`);
}

const SEED = Number(process.env.SOFTFLOAT_SEED ?? 0x5eed);
const SCALE = Number(process.env.SOFTFLOAT_SCALE ?? 1);
const FLAG_NAMES = ["NX", "UF", "OF", "DZ", "NV"];

function flagStr(f: bigint): string {
  const s = FLAG_NAMES.filter((_, i) => (f >> BigInt(i)) & 1n);
  return s.length ? s.join("|") : "-";
}
const hex = (x: bigint) => "0x" + x.toString(16);

async function buildWasm(dir: string): Promise<string> {
  const asc = (await import("assemblyscript/asc")).default;
  const out = join(dir, "softfloat.wasm");
  const { error, stderr } = await asc.main([
    join(HERE, "entry.ts"),
    "--config", join(HERE, "asconfig.json"),
    "--target", "test",
    "--outFile", out,
  ]);
  if (error) throw new Error(`asc failed: ${error.message}\n${stderr.toString()}`);
  return out;
}

function buildOracle(dir: string): string {
  const out = join(dir, "oracle");
  const r = spawnSync(GCC, ["-O2", "-static", "-march=rv64gc", "-o", out, join(HERE, "oracle.c")], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`${GCC} failed:\n${r.stderr}`);
  return out;
}

function runOracle(oracle: string, input: Buffer): Buffer {
  const r = spawnSync(QEMU, [oracle], { input, maxBuffer: input.length + (1 << 20) });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`oracle exited with ${r.status}: ${r.stderr?.toString()}`);
  return r.stdout;
}

async function runSoftfloat(wasmPath: string, input: Buffer): Promise<Buffer> {
  const instance = await WebAssembly.instantiate(new WebAssembly.Module(new Uint8Array(readFileSync(wasmPath))), {
    env: { abort: () => { throw new Error("wasm abort"); } },
  });
  const ex = instance.exports as {
    memory: WebAssembly.Memory;
    alloc(n: number): number;
    runBatch(inp: number, out: number, n: number): void;
  };
  const n = input.length / 32;
  const inp = ex.alloc(input.length);
  const out = ex.alloc(n * 16);
  new Uint8Array(ex.memory.buffer, inp, input.length).set(input);
  ex.runBatch(inp, out, n);
  return Buffer.from(new Uint8Array(ex.memory.buffer, out, n * 16));
}

describe.skipIf(missing.length > 0)("softfloat vs qemu-riscv64", () => {
  it("matches result bits and fflags on every vector", async () => {
    const dir = mkdtempSync(join(tmpdir(), "softfloat-"));
    try {
      const [wasm, oracle] = [await buildWasm(dir), buildOracle(dir)];
      const vec = generateVectors(SEED, SCALE);
      const input = vec.bytes();
      const t0 = Date.now();
      const expected = runOracle(oracle, input);
      const t1 = Date.now();
      const got = await runSoftfloat(wasm, input);
      const t2 = Date.now();
      expect(expected.length).toBe(vec.count * 16);

      const lines: string[] = [];
      const perOp = new Map<string, number>();
      let bad = 0;
      if (!expected.equals(got)) {
        for (let i = 0; i < vec.count; i++) {
          const e = i * 16;
          if (expected.compare(got, e, e + 16, e, e + 16) === 0) continue;
          bad++;
          const o = i * 32;
          const op = input.readUInt32LE(o);
          const name = opName(op);
          perOp.set(name, (perOp.get(name) ?? 0) + 1);
          if (lines.length < 40) {
            const ops = [input.readBigUInt64LE(o + 8), input.readBigUInt64LE(o + 16), input.readBigUInt64LE(o + 24)]
              .slice(0, arity(op)).map(hex).join(" ");
            const er = expected.readBigUInt64LE(e), ef = expected.readBigUInt64LE(e + 8);
            const gr = got.readBigUInt64LE(e), gf = got.readBigUInt64LE(e + 8);
            lines.push(`${name} rm=${input.readUInt32LE(o + 4)} ${ops}: qemu ${hex(er)} ${flagStr(ef)}, softfloat ${hex(gr)} ${flagStr(gf)}`);
          }
        }
      }
      console.log(`softfloat: ${vec.count} vectors (seed ${SEED}), qemu ${t1 - t0} ms, wasm ${t2 - t1} ms, ${bad} mismatches`);
      if (bad > 0) {
        const summary = [...perOp].map(([k, n]) => `${k}: ${n}`).join(", ");
        expect.fail(`${bad} mismatches (${summary})\n${lines.join("\n")}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
