// SBI v2.0 as the VMM serves it. Facts checked against the specification (riscv-sbi-doc, tag
// v2.0): §3 binary encoding (a0 = error, a1 = value, every other register preserved; hart_mask
// with hart_mask_base = -1), §4 base, §5 legacy (a0 only), §6 TIME, §7 IPI, §8 RFENCE, §9 HSM,
// §10 SRST, §12 DBCN.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RamGuestMemory } from '../../core/guest-memory.js';
import { Irq } from '../../cpu/hart-api.js';
import { SBI_IMPL_ID, SBI_SPEC_VERSION, SbiError, SbiExt } from './sbi-ids.js';
import { DBCN_CHUNK, SbiServer, type SbiHart, type SbiPlatform } from './sbi-server.js';

const RAM_BASE = 0x8000_0000;
const RAM_SIZE = 0x4_0000; // 256 KiB: room for a whole DBCN_CHUNK and more
const RAM_END = RAM_BASE + RAM_SIZE;
const A0 = 10, A1 = 11, A6 = 16, A7 = 17;
const ERROR_CODES: readonly number[] = Object.values(SbiError);

/** A hart reduced to what SbiServer uses, recording every register write. */
class FakeHart implements SbiHart {
  readonly x: bigint[];
  pc = 0x8020_1004n;
  stimecmp = 0xffff_ffff_ffff_ffffn;
  pending = 0;
  tlbFlushes = 0;
  readonly written: number[] = [];

  constructor(readonly hartId: number) {
    // Distinct, recognisable values so a clobbered register shows.
    this.x = Array.from({ length: 32 }, (_, i) => (i === 0 ? 0n : 0x5a5a_0000_0000_0000n + BigInt(i)));
  }
  getX(i: number): bigint {
    return i === 0 ? 0n : this.x[i]!;
  }
  setX(i: number, value: bigint): void {
    this.written.push(i);
    if (i !== 0) this.x[i] = BigInt.asUintN(64, value); // as the wasm hart stores it
  }
  setPendingBits(bits: number, on: boolean): void {
    this.pending = on ? this.pending | bits : this.pending & ~bits;
  }
  flushTlb(): void {
    this.tlbFlushes++;
  }
}

class FakePlatform implements SbiPlatform {
  readonly memory: RamGuestMemory;
  readonly out: number[] = [];
  input: number[] = [];
  writes = 0;
  readonly shutdowns: boolean[] = [];
  reboots = 0;

  constructor(readonly ram = new Uint8Array(RAM_SIZE)) {
    this.memory = new RamGuestMemory(ram, RAM_BASE);
  }
  consoleWrite(bytes: Uint8Array): void {
    this.writes++;
    this.out.push(...bytes);
  }
  consoleRead(max: number): Uint8Array {
    return Uint8Array.from(this.input.splice(0, max));
  }
  shutdown(failure: boolean): void {
    this.shutdowns.push(failure);
  }
  reboot(): void {
    this.reboots++;
  }
  get text(): string {
    return String.fromCharCode(...this.out);
  }
}

function setup(hartIds: readonly number[] = [0]) {
  const harts = hartIds.map((id) => new FakeHart(id));
  const platform = new FakePlatform();
  const sbi = new SbiServer(harts, platform);
  const caller = harts[0]!;
  /** Makes `hart` do `ecall` with a7 = eid, a6 = fid, a0.. = args; returns [error, value] as signed. */
  const ecall = (eid: number | bigint, fid: number | bigint, args: readonly (number | bigint)[] = [], hart = caller) => {
    hart.setX(A7, BigInt(eid));
    hart.setX(A6, BigInt(fid));
    args.forEach((v, i) => hart.setX(A0 + i, BigInt(v)));
    hart.written.length = 0;
    sbi.handle(hart);
    return [Number(BigInt.asIntN(64, hart.x[A0]!)), BigInt.asIntN(64, hart.x[A1]!)] as const;
  };
  return { harts, platform, sbi, caller, ecall };
}

describe('SbiServer: BASE (§4)', () => {
  it('reports spec version 2.0 (major in bits 24..30, bit 31 clear), its impl id and version', () => {
    const { ecall } = setup();
    expect(SBI_SPEC_VERSION).toBe(0x0200_0000);
    expect(ecall(SbiExt.BASE, 0)).toEqual([0, 0x0200_0000n]);
    expect(ecall(SbiExt.BASE, 1)).toEqual([0, BigInt(SBI_IMPL_ID)]);
    expect(SBI_IMPL_ID).toBeGreaterThan(8); // 0..8 belong to BBL, OpenSBI, Xvisor, KVM, RustSBI, … (§4.9)
    const [err, version] = ecall(SbiExt.BASE, 2);
    expect(err).toBe(0);
    expect(version).toBeGreaterThan(0n);
  });

  it.each([
    ['BASE', SbiExt.BASE], ['TIME', SbiExt.TIME], ['IPI', SbiExt.IPI], ['RFENCE', SbiExt.RFENCE],
    ['HSM', SbiExt.HSM], ['SRST', SbiExt.SRST], ['DBCN', SbiExt.DBCN],
    ['legacy set_timer', 0x00], ['legacy putchar', 0x01], ['legacy getchar', 0x02], ['legacy clear_ipi', 0x03],
    ['legacy send_ipi', 0x04], ['legacy remote_fence_i', 0x05], ['legacy sfence_vma', 0x06],
    ['legacy sfence_vma_asid', 0x07], ['legacy shutdown', 0x08],
  ])('probe_extension(%s) = 1', (_name, eid) => {
    expect(setup().ecall(SbiExt.BASE, 3, [eid])).toEqual([0, 1n]);
  });

  it.each([
    ['reserved legacy 0x09', 0x09], ['reserved legacy 0x0f', 0x0f], ['PMU', 0x504d55], ['SUSP', 0x53555350],
    ['CPPC', 0x43505043], ['NACL', 0x4e41434c], ['STA', 0x535441], ['vendor 0x09000000', 0x0900_0000],
    ['firmware 0x0a000000', 0x0a00_0000], ['-1', -1n], ['2^32 + BASE', 0x1_0000_0010n], ['2^63', 1n << 63n],
  ])('probe_extension(%s) = 0 with SUCCESS', (_name, eid) => {
    expect(setup().ecall(SbiExt.BASE, 3, [eid])).toEqual([0, 0n]);
  });

  it('reads mvendorid, marchid, mimpid as 0 (always legal, §4.5-4.7)', () => {
    const { ecall } = setup();
    for (const fid of [4, 5, 6]) expect(ecall(SbiExt.BASE, fid)).toEqual([0, 0n]);
  });

  it('answers an unknown function with NOT_SUPPORTED (§3)', () => {
    const { ecall } = setup();
    expect(ecall(SbiExt.BASE, 7)[0]).toBe(SbiError.NOT_SUPPORTED);
    expect(ecall(SbiExt.BASE, 0xffff_ffff)[0]).toBe(SbiError.NOT_SUPPORTED);
  });
});

describe('SbiServer: TIME (§6)', () => {
  it('set_timer writes stimecmp of the calling hart only (Sstc then drives STIP)', () => {
    const { ecall, harts } = setup([0, 1]);
    expect(ecall(SbiExt.TIME, 0, [123_456_789n])).toEqual([0, 0n]);
    expect(harts[0]!.stimecmp).toBe(123_456_789n);
    expect(harts[1]!.stimecmp).toBe(0xffff_ffff_ffff_ffffn);
    expect(ecall(SbiExt.TIME, 0, [0xffff_ffff_ffff_ffffn])[0]).toBe(0); // "infinitely far" (§6.1)
    expect(harts[0]!.stimecmp).toBe(0xffff_ffff_ffff_ffffn);
    expect(ecall(SbiExt.TIME, 0, [0n], harts[1])[0]).toBe(0);
    expect(harts[1]!.stimecmp).toBe(0n);
  });

  it('answers other functions with NOT_SUPPORTED and leaves stimecmp alone', () => {
    const { ecall, caller } = setup();
    expect(ecall(SbiExt.TIME, 1, [5n])[0]).toBe(SbiError.NOT_SUPPORTED);
    expect(caller.stimecmp).toBe(0xffff_ffff_ffff_ffffn);
  });
});

describe('SbiServer: IPI (§7) and hart masks (§3.3)', () => {
  const ssip = (harts: FakeHart[]) => harts.map((h) => (h.pending & Irq.SSIP ? 1 : 0));

  it('sets SSIP on exactly the harts of hart_mask relative to hart_mask_base', () => {
    const { ecall, harts } = setup([0, 1, 2, 3]);
    expect(ecall(SbiExt.IPI, 0, [0b101, 0])).toEqual([0, 0n]);
    expect(ssip(harts)).toEqual([1, 0, 1, 0]);
    harts.forEach((h) => (h.pending = 0));
    expect(ecall(SbiExt.IPI, 0, [0b11, 2])[0]).toBe(0);
    expect(ssip(harts)).toEqual([0, 0, 1, 1]);
  });

  it('hart_mask_base = -1 selects every hart and ignores hart_mask', () => {
    const { ecall, harts } = setup([0, 1, 2]);
    expect(ecall(SbiExt.IPI, 0, [0, -1n])[0]).toBe(0);
    expect(ssip(harts)).toEqual([1, 1, 1]);
    harts.forEach((h) => (h.pending = 0));
    expect(ecall(SbiExt.IPI, 0, [1n << 40n, 0xffff_ffff_ffff_ffffn])[0]).toBe(0);
    expect(ssip(harts)).toEqual([1, 1, 1]);
  });

  it.each([
    ['a hart id past the last hart', [0b1001, 0]],
    ['a mask bit that lands past the last hart', [0b10, 1]],
    ['a base beyond every hart', [1, 7]],
    ['bit 63', [1n << 63n, 0]],
    ['a base near 2^64 that is not -1', [1, 0xffff_ffff_ffff_fffen]],
  ] as const)('rejects %s with INVALID_PARAM and interrupts nobody', (_what, args) => {
    const { ecall, harts } = setup([0, 1]);
    expect(ecall(SbiExt.IPI, 0, args)[0]).toBe(SbiError.INVALID_PARAM);
    expect(ssip(harts)).toEqual([0, 0]);
  });

  it('answers other functions with NOT_SUPPORTED', () => {
    const { ecall, harts } = setup();
    expect(ecall(SbiExt.IPI, 1, [1, 0])[0]).toBe(SbiError.NOT_SUPPORTED);
    expect(ssip(harts)).toEqual([0]);
  });
});

describe('SbiServer: RFENCE (§8)', () => {
  it('remote_fence_i succeeds without flushing TLBs (decoded code follows stores)', () => {
    const { ecall, harts } = setup([0, 1]);
    expect(ecall(SbiExt.RFENCE, 0, [0b11, 0])).toEqual([0, 0n]);
    expect(harts.map((h) => h.tlbFlushes)).toEqual([0, 0]);
  });

  it('remote_sfence_vma and _asid flush the TLB of each selected hart once', () => {
    const { ecall, harts } = setup([0, 1, 2]);
    expect(ecall(SbiExt.RFENCE, 1, [0b010, 0, 0x1000, 0x2000])[0]).toBe(0);
    expect(harts.map((h) => h.tlbFlushes)).toEqual([0, 1, 0]);
    expect(ecall(SbiExt.RFENCE, 2, [0, -1n, 0, 0, 7])[0]).toBe(0);
    expect(harts.map((h) => h.tlbFlushes)).toEqual([1, 2, 1]);
    expect(ecall(SbiExt.RFENCE, 1, [0b1, 2, 0, 0xffff_ffff_ffff_ffffn])[0]).toBe(0); // whole space
    expect(harts.map((h) => h.tlbFlushes)).toEqual([1, 2, 2]);
  });

  it('rejects an invalid hart with INVALID_PARAM and flushes nothing', () => {
    const { ecall, harts } = setup([0, 1]);
    expect(ecall(SbiExt.RFENCE, 1, [0b111, 0, 0, 0])[0]).toBe(SbiError.INVALID_PARAM);
    expect(ecall(SbiExt.RFENCE, 2, [1, 5, 0, 0, 0])[0]).toBe(SbiError.INVALID_PARAM);
    expect(ecall(SbiExt.RFENCE, 0, [1, 2])[0]).toBe(SbiError.INVALID_PARAM);
    expect(harts.map((h) => h.tlbFlushes)).toEqual([0, 0]);
  });

  it.each([3, 4, 5, 6])('HFENCE fid %i is NOT_SUPPORTED (no H extension) and flushes nothing', (fid) => {
    const { ecall, harts } = setup([0, 1]);
    expect(ecall(SbiExt.RFENCE, fid, [0, -1n, 0, 0, 0])[0]).toBe(SbiError.NOT_SUPPORTED);
    expect(harts.map((h) => h.tlbFlushes)).toEqual([0, 0]);
  });

  it('answers fid 7 and above with NOT_SUPPORTED', () => {
    expect(setup().ecall(SbiExt.RFENCE, 7, [1, 0])[0]).toBe(SbiError.NOT_SUPPORTED);
  });
});

describe('SbiServer: HSM (§9)', () => {
  it('hart_start of a running hart is ALREADY_AVAILABLE; of an unknown hart INVALID_PARAM', () => {
    const { ecall } = setup([0, 1]);
    expect(ecall(SbiExt.HSM, 0, [0, 0x8020_0000, 0])[0]).toBe(SbiError.ALREADY_AVAILABLE);
    expect(ecall(SbiExt.HSM, 0, [1, 0x8020_0000, 0])[0]).toBe(SbiError.ALREADY_AVAILABLE);
    expect(ecall(SbiExt.HSM, 0, [2, 0x8020_0000, 0])[0]).toBe(SbiError.INVALID_PARAM);
    expect(ecall(SbiExt.HSM, 0, [-1n, 0x8020_0000, 0])[0]).toBe(SbiError.INVALID_PARAM);
  });

  it('hart_get_status is STARTED (0) for every hart, INVALID_PARAM for an unknown one', () => {
    const { ecall } = setup([0, 1]);
    expect(ecall(SbiExt.HSM, 2, [0])).toEqual([0, 0n]);
    expect(ecall(SbiExt.HSM, 2, [1])).toEqual([0, 0n]);
    expect(ecall(SbiExt.HSM, 2, [2])[0]).toBe(SbiError.INVALID_PARAM);
    expect(ecall(SbiExt.HSM, 2, [1n << 32n])[0]).toBe(SbiError.INVALID_PARAM);
  });

  it('hart_stop of the hart that keeps the machine running fails (SBI_ERR_FAILED)', () => {
    expect(setup().ecall(SbiExt.HSM, 1)[0]).toBe(SbiError.FAILED);
  });

  it('hart_suspend(default retentive) returns at once with SUCCESS (a wake-up)', () => {
    const { ecall, caller } = setup();
    const pc = caller.pc;
    expect(ecall(SbiExt.HSM, 3, [0, 0, 0])).toEqual([0, 0n]);
    expect(caller.pc).toBe(pc);
  });

  it.each([
    ['default non-retentive 0x80000000', 0x8000_0000, SbiError.NOT_SUPPORTED],
    ['platform retentive 0x10000000', 0x1000_0000, SbiError.INVALID_PARAM],
    ['platform retentive 0x7fffffff', 0x7fff_ffff, SbiError.INVALID_PARAM],
    ['platform non-retentive 0x90000000', 0x9000_0000, SbiError.INVALID_PARAM],
    ['platform non-retentive 0xffffffff', 0xffff_ffff, SbiError.INVALID_PARAM],
  ])('hart_suspend(%s) → %i', (_what, type, error) => {
    expect(setup().ecall(SbiExt.HSM, 3, [type, 0x8020_0000, 0])[0]).toBe(error);
  });

  it.each([
    ['reserved 0x00000001', 0x0000_0001],
    ['reserved 0x0fffffff', 0x0fff_ffff],
    ['reserved 0x80000001', 0x8000_0001],
    ['reserved 0x8fffffff', 0x8fff_ffff],
  ])('refuses hart_suspend(%s) with INVALID_PARAM', (_what, type) => {
    expect(setup().ecall(SbiExt.HSM, 3, [type, 0x8020_0000, 0])[0]).toBe(SbiError.INVALID_PARAM);
  });

  it('answers fid 4 and above with NOT_SUPPORTED', () => {
    expect(setup().ecall(SbiExt.HSM, 4)[0]).toBe(SbiError.NOT_SUPPORTED);
  });
});

describe('SbiServer: SRST (§10)', () => {
  it('shutdown with no reason powers off without failure', () => {
    const { ecall, platform } = setup();
    expect(ecall(SbiExt.SRST, 0, [0, 0])[0]).toBe(0);
    expect(platform.shutdowns).toEqual([false]);
    expect(platform.reboots).toBe(0);
  });

  it('shutdown with reason "system failure" powers off with failure', () => {
    const { ecall, platform } = setup();
    expect(ecall(SbiExt.SRST, 0, [0, 1])[0]).toBe(0);
    expect(platform.shutdowns).toEqual([true]);
  });

  it('cold and warm reboot reboot', () => {
    const { ecall, platform } = setup();
    expect(ecall(SbiExt.SRST, 0, [1, 0])[0]).toBe(0);
    expect(ecall(SbiExt.SRST, 0, [2, 1])[0]).toBe(0);
    expect(platform.reboots).toBe(2);
    expect(platform.shutdowns).toEqual([]);
  });

  it.each([3, 0x1234, 0xefff_ffff])('reserved reset type %#x is INVALID_PARAM and does nothing', (type) => {
    const { ecall, platform } = setup();
    expect(ecall(SbiExt.SRST, 0, [type, 0])[0]).toBe(SbiError.INVALID_PARAM);
    expect([platform.shutdowns, platform.reboots]).toEqual([[], 0]);
  });

  // v2.0 §10.1: INVALID_PARAM for a type that is "platform-specific and unimplemented".
  it.each([0xf000_0000, 0xffff_ffff])('vendor reset type %#x is refused and does nothing', (type) => {
    const { ecall, platform } = setup();
    expect(ecall(SbiExt.SRST, 0, [type, 0])[0]).toBe(SbiError.INVALID_PARAM);
    expect([platform.shutdowns, platform.reboots]).toEqual([[], 0]);
  });

  // reset_type and reset_reason are uint32_t; OpenSBI (sbi_ecall_srst.c) refuses wider values
  // with INVALID_PARAM rather than truncating them, and so does this server.
  it('a type or reason wider than 32 bits is INVALID_PARAM and does nothing (as OpenSBI)', () => {
    const { ecall, platform } = setup();
    expect(ecall(SbiExt.SRST, 0, [1n << 32n, 0])[0]).toBe(SbiError.INVALID_PARAM);
    expect(ecall(SbiExt.SRST, 0, [0, 1n << 32n])[0]).toBe(SbiError.INVALID_PARAM);
    expect([platform.shutdowns, platform.reboots]).toEqual([[], 0]);
  });

  it.each([
    ['shutdown, reserved reason 2', 0, 2],
    ['cold reboot, reserved reason 0xdfffffff', 1, 0xdfff_ffff],
    ['shutdown, SBI-specific reason 0xe0000000', 0, 0xe000_0000],
    ['warm reboot, vendor reason 0xf0000000', 2, 0xf000_0000],
  ])('refuses %s with INVALID_PARAM and does nothing', (_what, type, reason) => {
    const { ecall, platform } = setup();
    expect(ecall(SbiExt.SRST, 0, [type, reason])[0]).toBe(SbiError.INVALID_PARAM);
    expect([platform.shutdowns, platform.reboots]).toEqual([[], 0]);
  });

  it('refuses an unimplemented vendor reset type with INVALID_PARAM (v2.0)', () => {
    expect(setup().ecall(SbiExt.SRST, 0, [0xf000_0000, 0])[0]).toBe(SbiError.INVALID_PARAM);
  });

  it('answers fid 1 with NOT_SUPPORTED and does nothing', () => {
    const { ecall, platform } = setup();
    expect(ecall(SbiExt.SRST, 1, [0, 0])[0]).toBe(SbiError.NOT_SUPPORTED);
    expect([platform.shutdowns, platform.reboots]).toEqual([[], 0]);
  });
});

describe('SbiServer: DBCN (§12)', () => {
  const put = (p: FakePlatform, gpa: number, s: string) => p.memory.write(gpa, new TextEncoder().encode(s));

  it('console_write copies num_bytes from guest-physical memory and returns the count', () => {
    const { ecall, platform } = setup();
    put(platform, RAM_BASE + 0x100, 'hello, world');
    expect(ecall(SbiExt.DBCN, 0, [5, RAM_BASE + 0x100, 0])).toEqual([0, 5n]);
    expect(platform.text).toBe('hello');
  });

  it('console_write reaching exactly the last byte of RAM works', () => {
    const { ecall, platform } = setup();
    put(platform, RAM_END - 3, 'end');
    expect(ecall(SbiExt.DBCN, 0, [3, RAM_END - 3, 0])).toEqual([0, 3n]);
    expect(platform.text).toBe('end');
  });

  it(`console_write moves at most DBCN_CHUNK (${DBCN_CHUNK}) bytes per call and says so in a1`, () => {
    const { ecall, platform } = setup();
    platform.ram.fill(0x41, 0, DBCN_CHUNK + 100);
    expect(ecall(SbiExt.DBCN, 0, [DBCN_CHUNK + 100, RAM_BASE, 0])).toEqual([0, BigInt(DBCN_CHUNK)]);
    expect(platform.out.length).toBe(DBCN_CHUNK);
    // The whole named buffer must be accessible (§12.1), even though at most a chunk moves.
    expect(ecall(SbiExt.DBCN, 0, [0xffff_ffff_ffff_ffffn, RAM_BASE, 0])[0]).toBe(SbiError.INVALID_PARAM);
  });

  it.each([
    ['below RAM', [4, 0x1000, 0]],
    ['at address 0', [1, 0, 0]],
    ['straddling the end of RAM', [8, RAM_END - 4, 0]],
    ['just past RAM', [1, RAM_END, 0]],
    ['with base_addr_hi set', [4, RAM_BASE, 1]],
    ['at a 64-bit address', [4, 0xffff_ffff_ffff_f000n, 0]],
  ] as const)('console_write from a buffer %s is INVALID_PARAM and prints nothing', (_what, args) => {
    const { ecall, platform } = setup();
    platform.ram.fill(0x41);
    expect(ecall(SbiExt.DBCN, 0, args)[0]).toBe(SbiError.INVALID_PARAM);
    expect(platform.out).toEqual([]);
    expect(platform.writes).toBe(0);
  });

  it('console_read moves pending input into memory, at most num_bytes, and returns the count', () => {
    const { ecall, platform } = setup();
    platform.input = [...new TextEncoder().encode('typed')];
    expect(ecall(SbiExt.DBCN, 1, [3, RAM_BASE + 0x40, 0])).toEqual([0, 3n]);
    expect([...platform.ram.subarray(0x40, 0x44)]).toEqual([0x74, 0x79, 0x70, 0]);
    expect(ecall(SbiExt.DBCN, 1, [100, RAM_BASE + 0x80, 0])).toEqual([0, 2n]);
    expect(new TextDecoder().decode(platform.ram.subarray(0x80, 0x82))).toBe('ed');
    expect(platform.input).toEqual([]);
  });

  it('console_read with no input returns 0 and writes nothing (§12.2)', () => {
    const { ecall, platform } = setup();
    platform.ram.fill(0xee);
    expect(ecall(SbiExt.DBCN, 1, [16, RAM_BASE, 0])).toEqual([0, 0n]);
    expect(platform.ram.every((b) => b === 0xee)).toBe(true);
  });

  it('console_read asks the console for at most DBCN_CHUNK bytes', () => {
    const { ecall, platform } = setup();
    platform.input = new Array<number>(DBCN_CHUNK + 10).fill(0x42);
    expect(ecall(SbiExt.DBCN, 1, [DBCN_CHUNK + 10, RAM_BASE, 0])).toEqual([0, BigInt(DBCN_CHUNK)]);
    expect(platform.input.length).toBe(10);
  });

  it.each([
    ['below RAM', [4, 0x1000, 0]],
    ['just past RAM', [4, RAM_END, 0]],
    ['with base_addr_hi set', [4, RAM_BASE, 1]],
  ] as const)('console_read into a buffer %s is INVALID_PARAM and writes no RAM', (_what, args) => {
    const { ecall, platform } = setup();
    platform.input = [1, 2, 3, 4];
    expect(ecall(SbiExt.DBCN, 1, args)[0]).toBe(SbiError.INVALID_PARAM);
    expect(platform.ram.every((b) => b === 0)).toBe(true);
  });

  it('leaves the input unread when console_read fails with INVALID_PARAM', () => {
    const { ecall, platform } = setup();
    platform.input = [0x61, 0x62, 0x63, 0x64];
    expect(ecall(SbiExt.DBCN, 1, [4, 0x1000, 0])[0]).toBe(SbiError.INVALID_PARAM);
    expect(platform.input).toEqual([0x61, 0x62, 0x63, 0x64]);
  });

  it('refuses console_read into a buffer that straddles the end of RAM', () => {
    const { ecall, platform } = setup();
    platform.input = [0x61, 0x62];
    expect(ecall(SbiExt.DBCN, 1, [16, RAM_END - 4, 0])[0]).toBe(SbiError.INVALID_PARAM);
  });

  it('console_write_byte writes the low 8 bits of a0, value 0', () => {
    const { ecall, platform } = setup();
    expect(ecall(SbiExt.DBCN, 2, [0x1_2345_6741n])).toEqual([0, 0n]);
    expect(platform.out).toEqual([0x41]);
  });

  it('answers fid 3 with NOT_SUPPORTED', () => {
    const { ecall, platform } = setup();
    expect(ecall(SbiExt.DBCN, 3, [1, RAM_BASE, 0])[0]).toBe(SbiError.NOT_SUPPORTED);
    expect(platform.writes).toBe(0);
  });
});

describe('SbiServer: legacy extensions (§5)', () => {
  it('console_putchar (0x01) prints the low byte and returns 0', () => {
    const { ecall, platform } = setup();
    expect(ecall(0x01, 0, [0x0a0d_0048n])[0]).toBe(0);
    expect(ecall(0x01, 0, [0x69])[0]).toBe(0);
    expect(platform.text).toBe('Hi');
  });

  it('console_getchar (0x02) returns the next input byte, -1 when there is none', () => {
    const { ecall, platform } = setup();
    platform.input = [0x71, 0xff];
    expect(ecall(0x02, 0)[0]).toBe(0x71);
    expect(ecall(0x02, 0)[0]).toBe(0xff); // a 0xff byte is not -1
    expect(ecall(0x02, 0)[0]).toBe(-1);
  });

  it('set_timer (0x00) writes stimecmp, ignoring a6', () => {
    const { ecall, caller } = setup();
    expect(ecall(0x00, 0x1234, [0x1_0000_0000n])[0]).toBe(0);
    expect(caller.stimecmp).toBe(0x1_0000_0000n);
  });

  it('clear_ipi (0x03) clears SSIP of the calling hart only; send_ipi (0x04) raises it', () => {
    const { ecall, harts } = setup([0, 1]);
    harts.forEach((h) => (h.pending = Irq.SSIP | Irq.STIP));
    expect(ecall(0x03, 0)[0]).toBeGreaterThanOrEqual(0); // 0, or positive when one was pending
    expect(harts.map((h) => h.pending)).toEqual([Irq.STIP, Irq.SSIP | Irq.STIP]);
    harts.forEach((h) => (h.pending = 0));
    expect(ecall(0x04, 0, [RAM_BASE])[0]).toBe(0);
    expect(harts.map((h) => h.pending)).toEqual([Irq.SSIP, Irq.SSIP]);
  });

  it('remote fences (0x05-0x07) succeed; sfence.vma ones flush every hart', () => {
    const { ecall, harts } = setup([0, 1]);
    expect(ecall(0x05, 0, [RAM_BASE])[0]).toBe(0);
    expect(harts.map((h) => h.tlbFlushes)).toEqual([0, 0]);
    expect(ecall(0x06, 0, [RAM_BASE, 0, 0])[0]).toBe(0);
    expect(ecall(0x07, 0, [RAM_BASE, 0, 0, 1])[0]).toBe(0);
    expect(harts.map((h) => h.tlbFlushes)).toEqual([2, 2]);
  });

  it('shutdown (0x08) powers off without failure', () => {
    const { ecall, platform } = setup();
    ecall(0x08, 0);
    expect(platform.shutdowns).toEqual([false]);
  });

  it('reserved legacy ids 0x09-0x0f are NOT_SUPPORTED', () => {
    const { ecall } = setup();
    for (let eid = 0x09; eid <= 0x0f; eid++) expect(ecall(eid, 0)[0]).toBe(SbiError.NOT_SUPPORTED);
  });

  it.each([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08])('legacy %#x writes a0 only, never a1', (eid) => {
    const { ecall, caller, platform } = setup();
    platform.input = [0x33];
    const a1 = caller.x[A1];
    ecall(eid, 0, [0x41]);
    expect(caller.written).toEqual([A0]);
    expect(caller.x[A1]).toBe(a1);
  });
});

describe('SbiServer: calling convention (§3)', () => {
  it.each([
    ['unknown extension', 0x1234_5678],
    ['PMU', 0x504d55],
    ['SUSP', 0x53555350],
    ['experimental', 0x0800_0000],
    ['vendor', 0x0900_0000],
    ['firmware', 0x0a00_0000],
  ])('%s is NOT_SUPPORTED', (_what, eid) => {
    expect(setup().ecall(eid, 0, [1, 2, 3])[0]).toBe(SbiError.NOT_SUPPORTED);
  });

  it('leaves pc alone: the hart already moved it past the ecall', () => {
    const { ecall, caller } = setup();
    for (const [eid, fid] of [[SbiExt.BASE, 0], [SbiExt.TIME, 0], [SbiExt.HSM, 3], [0x01, 0], [0x5555, 0]] as const) {
      caller.pc = 0x8020_0abcn;
      ecall(eid, fid, [0]);
      expect(caller.pc).toBe(0x8020_0abcn);
    }
  });

  it('writes only a0 and a1 (every other register preserved)', () => {
    const { sbi, caller } = setup();
    caller.x[A7] = BigInt(SbiExt.BASE);
    caller.x[A6] = 0n;
    const before = [...caller.x];
    sbi.handle(caller);
    expect([...new Set(caller.written)].sort()).toEqual([A0, A1]);
    caller.x.forEach((v, i) => {
      if (i !== A0 && i !== A1) expect(v).toBe(before[i]);
    });
  });

  it('leaves a1 as it was when a call fails (only sbiret.error is meaningful)', () => {
    const { ecall, caller } = setup();
    caller.x[A1] = 0x77n;
    expect(ecall(0x1234_5678, 0)).toEqual([SbiError.NOT_SUPPORTED, 0x77n]);
    expect(caller.written).toEqual([A0]);
  });

  it('uses only the low 32 bits of a7 and a6 (EIDs and FIDs are 32-bit, §3)', () => {
    const { ecall } = setup();
    expect(ecall(0xffff_ffff_0000_0010n, 0xffff_ffff_0000_0000n)).toEqual([0, 0x0200_0000n]);
  });

  it('property: any register values never throw, a0 is an SBI error code (or a legacy result), only a0/a1 change', () => {
    const eids = [
      ...Object.values(SbiExt).map((e) => fc.constant(BigInt(e))),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.bigInt({ min: 0n, max: 0x10n }),
    ];
    const reg = fc.oneof(
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.bigInt({ min: 0n, max: 16n }),
      fc.bigInt({ min: BigInt(RAM_BASE - 16), max: BigInt(RAM_END + 16) }),
      fc.constantFrom(0xffff_ffff_ffff_ffffn, 0xffff_ffffn, 0x8000_0000n, 0xf000_0000n, BigInt(DBCN_CHUNK + 1)),
    );
    fc.assert(
      fc.property(
        fc.oneof(...eids),
        fc.oneof(fc.bigInt({ min: 0n, max: 8n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
        fc.array(reg, { minLength: 6, maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 }),
        (eid, fid, args, input) => {
          const { harts, platform, sbi } = setup([0, 1]);
          const hart = harts[0]!;
          hart.x[A7] = eid;
          hart.x[A6] = fid;
          args.forEach((v, i) => (hart.x[A0 + i] = v));
          platform.input = [...input];
          const before = [...hart.x];
          const pc = hart.pc;
          sbi.handle(hart);
          const a0 = Number(BigInt.asIntN(64, hart.x[A0]!));
          const e = Number(eid & 0xffff_ffffn);
          if (e === 0x02) expect(a0 === -1 || input[0] === a0).toBe(true);
          else expect(ERROR_CODES).toContain(a0);
          expect(hart.written.every((r) => r === A0 || r === A1)).toBe(true);
          if (e <= 0x08) expect(hart.written).toEqual([A0]);
          hart.x.forEach((v, i) => {
            if (i !== A0 && i !== A1) expect(v).toBe(before[i]);
          });
          expect(hart.pc).toBe(pc);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
