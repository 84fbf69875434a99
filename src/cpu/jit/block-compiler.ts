/**
 * Turns hot blocks the interpreter reports (run() → EXIT_JIT) into wasm functions in the core's
 * function table, and records them in the core's block map so the interpreter calls them.
 *
 * Translations are compiled in batches: one wasm module holds up to BATCH regions. Creating a
 * module and an instance costs V8 about a millisecond whatever its size, which dominated a Linux
 * boot (thousands of regions, most run briefly) when every region was its own module. A region
 * waiting for its batch is interpreted; its map entry says "not translatable" meanwhile so it is
 * not reported again, and the batch is also compiled after at most `batching.instructions`
 * instructions (src/cpu/hart.ts) and whenever run() returns.
 */
import * as L from '../layout.js';
import { Code, I32, assembleModule } from './wasm-writer.js';
import { JIT_IMPORTS, JIT_TYPES, translateBlock, type DecodedInsn, type TranslatedBlock } from './block-translator.js';

export interface JitCoreExports {
  decodeForJit(h: number): number;
  jitRead: unknown;
  jitWrite: unknown;
  mulh: unknown;
  mulhsu: unknown;
  mulhu: unknown;
  jitFp: unknown;
  jitAtomic: unknown;
  clmul: unknown;
  clmulh: unknown;
  clmulr: unknown;
  rev8: unknown;
  orcb: unknown;
}

/** Table slots used before everything is dropped and numbering restarts (bounds memory use). */
const MAX_FUNCTIONS = 1 << 15;
const TABLE_CHUNK = 1024;
/** How translations are batched (see the file comment). */
export interface JitBatching {
  /** Regions per compiled module (1 compiles every region at once, as soon as it is hot). */
  readonly regions: number;
  /** Most instructions a translated region waits for its batch. */
  readonly instructions: number;
}
export const DEFAULT_JIT_BATCHING: JitBatching = { regions: 16, instructions: 200_000 };

interface PendingRegion { vpc: bigint; h: number; block: TranslatedBlock }

export class BlockCompiler {
  private next = 1; // slot 0 means "not translatable"
  private pending: PendingRegion[] = [];
  private readonly imports: Record<string, Record<string, unknown>>;
  private readonly view: DataView;
  /** Blocks translated and blocks refused, for diagnostics and tests. */
  readonly stats = { translated: 0, refused: 0, instructions: 0, blocks: 0, resets: 0 };
  /** Called with the guest pc of every translation as it is installed (tests, diagnostics). */
  onInstall: ((vpc: bigint) => void) | undefined;

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly table: WebAssembly.Table,
    private readonly core: JitCoreExports,
    readonly batching: JitBatching = DEFAULT_JIT_BATCHING,
  ) {
    this.view = new DataView(memory.buffer);
    this.imports = {
      core: {
        jitRead: core.jitRead, jitWrite: core.jitWrite,
        mulh: core.mulh, mulhsu: core.mulhsu, mulhu: core.mulhu, jitFp: core.jitFp, jitAtomic: core.jitAtomic,
        clmul: core.clmul, clmulh: core.clmulh, clmulr: core.clmulr, rev8: core.rev8, orcb: core.orcb,
        dispatch: makeDispatcher(memory, table),
      },
      env: { memory },
    };
  }

  /** Translates the block named by S_JIT_VPC / S_JIT_HOST; it is installed with its batch. */
  compilePending(): void {
    const vpc = this.view.getBigUint64(L.S_JIT_VPC, true);
    const h = this.view.getUint32(L.S_JIT_HOST, true);
    const block = translateBlock(vpc, h, (a) => this.decode(a), (a) => this.view.getUint16(a, true));
    // The block is reported hot again only after its entry was dropped, i.e. its code changed:
    // a translation still waiting in the batch is stale and must not be installed.
    this.pending = this.pending.filter((p) => p.h !== h || p.vpc !== vpc);
    this.setEntry(vpc, h, 0);
    if (!block) {
      this.stats.refused++;
      return;
    }
    this.pending.push({ vpc, h, block });
    if (this.pending.length >= this.batching.regions) this.flush();
  }

  /** Whether translations wait for {@link flush}. */
  hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Compiles and installs the waiting regions (Hart.run calls this before it returns). */
  flush(): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    if (this.next + batch.length >= MAX_FUNCTIONS) {
      this.reset();
      return;
    }
    const module = new WebAssembly.Module(assembleModule(JIT_TYPES, JIT_IMPORTS, batch.map((p) => p.block.func), false));
    const instance = new WebAssembly.Instance(module, this.imports);
    batch.forEach(({ vpc, h, block }, i) => {
      // Code written since translation dropped the entry (src/cpu/as/memory.ts dropTranslations),
      // or another block took the slot of the direct-mapped map: then it is not installed.
      if (!this.entryIs(vpc, h)) return;
      const slot = this.next++;
      if (slot >= this.table.length) this.table.grow(TABLE_CHUNK);
      this.table.set(slot, instance.exports[`f${i}`]);
      this.setEntry(vpc, h, slot);
      this.stats.translated++;
      this.stats.instructions += block.instructions;
      this.stats.blocks += block.blocks;
      this.onInstall?.(vpc);
    });
  }

  private entryAddress(h: number): number {
    return L.JITMAP_BASE + (((h >>> 1) & (L.JITMAP_ENTRIES - 1)) << 4);
  }

  private entryIs(vpc: bigint, h: number): boolean {
    const je = this.entryAddress(h);
    return this.view.getUint32(je + 8, true) === h && this.view.getBigUint64(je, true) === vpc;
  }

  private setEntry(vpc: bigint, h: number, slot: number): void {
    const je = this.entryAddress(h);
    this.view.setBigUint64(je, vpc, true);
    this.view.setUint32(je + 8, h, true);
    this.view.setUint32(je + 12, slot, true);
  }

  /** Forgets every translation (the map entries; table slots are reused). */
  reset(): void {
    this.pending = [];
    new Uint8Array(this.memory.buffer, L.JITMAP_BASE, L.JITMAP_ENTRIES * 16).fill(0);
    this.next = 1;
    this.stats.resets++;
  }

  private decode(a: number): DecodedInsn {
    const e = this.core.decodeForJit(a);
    const v = this.view;
    return {
      op: v.getUint16(e + 4, true), rd: v.getUint8(e + 6), rs1: v.getUint8(e + 7), rs2: v.getUint8(e + 8),
      rs3: v.getUint8(e + 9), len: v.getUint8(e + 10), rm: v.getUint8(e + 11), imm: v.getInt32(e + 12, true),
    };
  }
}

/**
 * A one-function module over the shared table: dispatch(budget, done, slot) tail-calls the
 * translation in `slot` with (budget, done). Translated code chains through it.
 */
function makeDispatcher(memory: WebAssembly.Memory, table: WebAssembly.Table): unknown {
  const body = new Code();
  body.get(0).get(1).get(2).returnCallIndirect(0, 0);
  const types = [
    { params: [I32, I32], results: [I32] }, // a translated block
    { params: [I32, I32, I32], results: [I32] }, // dispatch
  ];
  const bytes = assembleModule(types, [], [{ type: 1, locals: [], code: body }], true);
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory, table } }).exports['f0'];
}
