import type { GuestMemory } from '../../core/guest-memory.js';
import { Irq } from '../../cpu/hart-api.js';
import { HartState, ResetReason, ResetType, SBI_IMPL_ID, SBI_SPEC_VERSION, SbiError, SbiExt } from './sbi-ids.js';

/** What the SBI implementation uses of a hart (src/cpu/hart.ts's Hart has it). */
export interface SbiHart {
  readonly hartId: number;
  pc: bigint;
  getX(i: number): bigint;
  setX(i: number, value: bigint): void;
  /** Sstc's supervisor timer compare; STIP follows time >= stimecmp. */
  stimecmp: bigint;
  setPendingBits(bits: number, on: boolean): void;
  flushTlb(): void;
}

/** What the SBI implementation uses of the machine around the harts. */
export interface SbiPlatform {
  /** Guest-physical memory (DBCN passes physical addresses). */
  readonly memory: GuestMemory;
  consoleWrite(bytes: Uint8Array): void;
  /** Takes up to `max` bytes of console input the guest has not read yet; may return none. */
  consoleRead(max: number): Uint8Array;
  /** The guest asked to power off; `failure` when it reported a system failure. */
  shutdown(failure: boolean): void;
  reboot(): void;
}

/** Most bytes one DBCN read or write moves (the spec lets a call move fewer and say so). */
export const DBCN_CHUNK = 64 * 1024;

const A0 = 10, A1 = 11, A6 = 16, A7 = 17;
const ALL_HARTS = 0xffff_ffff_ffff_ffffn; // hart_mask_base = -1 (§3.3)
const U64 = (v: bigint) => BigInt.asUintN(64, v);
const SUPPORTED: ReadonlySet<number> = new Set([
  SbiExt.LEGACY_SET_TIMER, SbiExt.LEGACY_CONSOLE_PUTCHAR, SbiExt.LEGACY_CONSOLE_GETCHAR,
  SbiExt.LEGACY_CLEAR_IPI, SbiExt.LEGACY_SEND_IPI, SbiExt.LEGACY_REMOTE_FENCE_I,
  SbiExt.LEGACY_REMOTE_SFENCE_VMA, SbiExt.LEGACY_REMOTE_SFENCE_VMA_ASID, SbiExt.LEGACY_SHUTDOWN,
  SbiExt.BASE, SbiExt.TIME, SbiExt.IPI, SbiExt.RFENCE, SbiExt.HSM, SbiExt.SRST, SbiExt.DBCN,
]);

/** A call's result: a0 = error, a1 = value (§3.1). Legacy calls return only a0. */
interface Ret { error: number; value?: bigint }
const ok = (value: bigint = 0n): Ret => ({ error: SbiError.SUCCESS, value });
const fail = (error: number): Ret => ({ error });

/**
 * The VMM as the machine-mode firmware: serves the SBI v2.0 calls a supervisor makes with
 * `ecall` (the hart exits to the host for each, see Hart.setSbiInHost) as hypercalls, so no
 * M-mode code runs in the guest. Implements BASE, TIME (through Sstc's stimecmp), IPI, RFENCE,
 * HSM, SRST, DBCN and the legacy console/timer/IPI/fence/shutdown calls; every other extension
 * answers NOT_SUPPORTED. Arguments are guest input: bad hart ids and addresses get the error
 * codes the spec names, never a host exception.
 */
export class SbiServer {
  constructor(
    private readonly harts: readonly SbiHart[],
    private readonly platform: SbiPlatform,
  ) {}

  /**
   * Serves the ecall `hart` just exited for and writes the results to a0/a1. The hart has
   * already moved pc past the ecall (Hart.run returns RunExit.Ecall that way).
   */
  handle(hart: SbiHart): void {
    const eid = Number(U64(hart.getX(A7)) & 0xffff_ffffn);
    const fid = Number(U64(hart.getX(A6)) & 0xffff_ffffn);
    const a = (i: number) => U64(hart.getX(A0 + i));
    if (eid <= SbiExt.LEGACY_SHUTDOWN) {
      hart.setX(A0, BigInt(this.legacy(hart, eid, a(0))));
    } else {
      const r = this.call(hart, eid, fid, a);
      hart.setX(A0, BigInt(r.error));
      if (r.value !== undefined) hart.setX(A1, r.value);
    }
  }

  /** §5: legacy calls return their result (or error) in a0 alone. */
  private legacy(hart: SbiHart, eid: number, a0: bigint): number {
    switch (eid) {
      case SbiExt.LEGACY_SET_TIMER:
        hart.stimecmp = a0;
        return 0;
      case SbiExt.LEGACY_CONSOLE_PUTCHAR:
        this.platform.consoleWrite(Uint8Array.of(Number(a0 & 0xffn)));
        return 0;
      case SbiExt.LEGACY_CONSOLE_GETCHAR: {
        const got = this.platform.consoleRead(1);
        return got.length ? got[0]! : -1;
      }
      case SbiExt.LEGACY_CLEAR_IPI:
        hart.setPendingBits(Irq.SSIP, false);
        return 0;
      // The legacy hart mask is a pointer to a bit vector in the caller's *virtual* memory; with
      // one hart, acting on every hart is what any valid mask asks for (at most a spurious IPI).
      case SbiExt.LEGACY_SEND_IPI:
        for (const h of this.harts) h.setPendingBits(Irq.SSIP, true);
        return 0;
      case SbiExt.LEGACY_REMOTE_FENCE_I:
        return 0; // the decoded-code cache is coherent with stores (see src/cpu): nothing to do
      case SbiExt.LEGACY_REMOTE_SFENCE_VMA:
      case SbiExt.LEGACY_REMOTE_SFENCE_VMA_ASID:
        for (const h of this.harts) h.flushTlb();
        return 0;
      case SbiExt.LEGACY_SHUTDOWN:
        this.platform.shutdown(false);
        return 0;
      default:
        return SbiError.NOT_SUPPORTED;
    }
  }

  private call(hart: SbiHart, eid: number, fid: number, a: (i: number) => bigint): Ret {
    switch (eid) {
      case SbiExt.BASE: return this.base(fid, a(0));
      case SbiExt.TIME:
        if (fid !== 0) return fail(SbiError.NOT_SUPPORTED);
        hart.stimecmp = a(0); // §6.1: also clears a pending timer interrupt when in the future
        return ok();
      case SbiExt.IPI: {
        if (fid !== 0) return fail(SbiError.NOT_SUPPORTED);
        const targets = this.select(a(0), a(1));
        if (!targets) return fail(SbiError.INVALID_PARAM);
        for (const h of targets) h.setPendingBits(Irq.SSIP, true);
        return ok();
      }
      case SbiExt.RFENCE: return this.rfence(fid, a);
      case SbiExt.HSM: return this.hsm(fid, a);
      case SbiExt.SRST: return this.srst(fid, a(0), a(1));
      case SbiExt.DBCN: return this.dbcn(fid, a);
      default: return fail(SbiError.NOT_SUPPORTED);
    }
  }

  private base(fid: number, a0: bigint): Ret {
    switch (fid) {
      case 0: return ok(BigInt(SBI_SPEC_VERSION));
      case 1: return ok(BigInt(SBI_IMPL_ID));
      case 2: return ok(1n); // implementation version
      case 3: return ok(a0 <= 0xffff_ffffn && SUPPORTED.has(Number(a0)) ? 1n : 0n);
      case 4: case 5: case 6: return ok(0n); // mvendorid, marchid, mimpid read 0 on this CPU
      default: return fail(SbiError.NOT_SUPPORTED);
    }
  }

  /** §8: fences on the selected harts. HFENCE calls (fid 3–6) need the H extension: absent. */
  private rfence(fid: number, a: (i: number) => bigint): Ret {
    if (fid > 2) return fail(SbiError.NOT_SUPPORTED);
    const targets = this.select(a(0), a(1));
    if (!targets) return fail(SbiError.INVALID_PARAM);
    // fid 0 fence.i: decoded code follows stores already. fid 1/2: the TLB holds no ASIDs, so a
    // ranged or per-ASID flush is a full flush (always allowed, §8.3).
    if (fid !== 0) for (const h of targets) h.flushTlb();
    return ok();
  }

  /** §9: every hart is started at boot and stays started. */
  private hsm(fid: number, a: (i: number) => bigint): Ret {
    const known = (id: bigint) => this.harts.some((h) => BigInt(h.hartId) === id);
    switch (fid) {
      case 0: return fail(known(a(0)) ? SbiError.ALREADY_AVAILABLE : SbiError.INVALID_PARAM); // hart_start
      case 1: return fail(SbiError.FAILED); // hart_stop: the last running hart cannot stop
      case 2: return known(a(0)) ? ok(BigInt(HartState.STARTED)) : fail(SbiError.INVALID_PARAM);
      case 3: { // hart_suspend (§9.4)
        const type = a(0) & 0xffff_ffffn;
        if (type === 0n) return ok(); // default retentive: returning at once is a wake-up
        // Default non-retentive is a defined type this implementation does not offer; reserved
        // and (unimplemented) platform-specific types are invalid.
        return fail(type === 0x8000_0000n ? SbiError.NOT_SUPPORTED : SbiError.INVALID_PARAM);
      }
      default: return fail(SbiError.NOT_SUPPORTED);
    }
  }

  /** §10.1: shutdown, cold or warm reboot; reserved and vendor types or reasons are invalid. */
  private srst(fid: number, type: bigint, reason: bigint): Ret {
    if (fid !== 0) return fail(SbiError.NOT_SUPPORTED);
    const knownReason = reason === BigInt(ResetReason.NONE) || reason === BigInt(ResetReason.SYSTEM_FAILURE);
    if (!knownReason) return fail(SbiError.INVALID_PARAM);
    if (type === BigInt(ResetType.SHUTDOWN)) this.platform.shutdown(reason === BigInt(ResetReason.SYSTEM_FAILURE));
    else if (type === BigInt(ResetType.COLD_REBOOT) || type === BigInt(ResetType.WARM_REBOOT)) this.platform.reboot();
    else return fail(SbiError.INVALID_PARAM);
    return ok();
  }

  /** §12 debug console: physical buffers, partial transfers reported in a1. */
  private dbcn(fid: number, a: (i: number) => bigint): Ret {
    if (fid === 2) {
      this.platform.consoleWrite(Uint8Array.of(Number(a(0) & 0xffn)));
      return ok();
    }
    if (fid !== 0 && fid !== 1) return fail(SbiError.NOT_SUPPORTED);
    // §12.1–12.2: the whole buffer the caller names must be accessible, even if fewer bytes move.
    const addr = a(1) | (a(2) << 64n); // base_lo, base_hi (zero on RV64)
    if (a(0) > BigInt(Number.MAX_SAFE_INTEGER) || addr + a(0) > BigInt(Number.MAX_SAFE_INTEGER)) return fail(SbiError.INVALID_PARAM);
    const gpa = Number(addr);
    if (!this.platform.memory.contains(gpa, Number(a(0)))) return fail(SbiError.INVALID_PARAM);
    const count = Math.min(Number(a(0)), DBCN_CHUNK);
    if (fid === 0) {
      const buf = new Uint8Array(count);
      this.platform.memory.read(gpa, buf);
      this.platform.consoleWrite(buf);
      return ok(BigInt(count));
    }
    const got = this.platform.consoleRead(count);
    this.platform.memory.write(gpa, got);
    return ok(BigInt(got.length));
  }

  /** Harts named by (hart_mask, hart_mask_base) (§3.3), or undefined when one does not exist. */
  private select(mask: bigint, base: bigint): SbiHart[] | undefined {
    if (base === ALL_HARTS) return [...this.harts];
    const out: SbiHart[] = [];
    for (let bit = 0n; bit < 64n; bit++) {
      if (!((mask >> bit) & 1n)) continue;
      const h = this.harts.find((x) => BigInt(x.hartId) === base + bit);
      if (!h) return undefined;
      out.push(h);
    }
    return out;
  }
}
