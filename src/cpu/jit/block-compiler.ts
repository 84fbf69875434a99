/**
 * Turns hot blocks the interpreter reports (run() → EXIT_JIT) into wasm functions in the core's
 * function table, and records them in the core's block map so the interpreter calls them.
 */
import * as L from '../layout.js';
import { translateBlock, type DecodedInsn } from './block-translator.js';

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

export class BlockCompiler {
  private next = 1; // slot 0 means "not translatable"
  private readonly view: DataView;
  /** Blocks translated and blocks refused, for diagnostics and tests. */
  readonly stats = { translated: 0, refused: 0, instructions: 0, blocks: 0, resets: 0 };

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly table: WebAssembly.Table,
    private readonly core: JitCoreExports,
  ) {
    this.view = new DataView(memory.buffer);
  }

  /** Translates the block named by S_JIT_VPC / S_JIT_HOST and installs it. */
  compilePending(): void {
    const vpc = this.view.getBigUint64(L.S_JIT_VPC, true);
    const h = this.view.getUint32(L.S_JIT_HOST, true);
    const block = translateBlock(vpc, h, (a) => this.decode(a), (a) => this.view.getUint16(a, true));
    let slot = 0;
    if (block) {
      if (this.next >= MAX_FUNCTIONS) this.reset();
      const module = new WebAssembly.Module(block.bytes);
      const instance = new WebAssembly.Instance(module, {
        core: {
          jitRead: this.core.jitRead, jitWrite: this.core.jitWrite,
          mulh: this.core.mulh, mulhsu: this.core.mulhsu, mulhu: this.core.mulhu, jitFp: this.core.jitFp, jitAtomic: this.core.jitAtomic,
          clmul: this.core.clmul, clmulh: this.core.clmulh, clmulr: this.core.clmulr, rev8: this.core.rev8, orcb: this.core.orcb,
        },
        env: { memory: this.memory, table: this.table },
      });
      slot = this.next++;
      if (slot >= this.table.length) this.table.grow(TABLE_CHUNK);
      this.table.set(slot, instance.exports['f0']);
      this.stats.translated++;
      this.stats.instructions += block.instructions;
      this.stats.blocks += block.blocks;
    } else {
      this.stats.refused++;
    }
    const je = L.JITMAP_BASE + (((h >>> 1) & (L.JITMAP_ENTRIES - 1)) << 4);
    this.view.setBigUint64(je, vpc, true);
    this.view.setUint32(je + 8, h, true);
    this.view.setUint32(je + 12, slot, true);
  }

  /** Forgets every translation (the map entries; table slots are reused). */
  reset(): void {
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
