import type { Snapshotable } from '../../core/snapshotable.js';
import { StateReader } from '../../core/state-reader.js';
import type { AccessWidth } from '../../cpu/hart-api.js';
import { low32, type MmioDevice } from '../../board/mmio-device.js';

// QEMU 7.2's "sifive,test1" finisher (hw/misc/sifive_test.c): one 32-bit register at offset 0.
// The low 16 bits of a write select the action, the high 16 bits carry the exit code.
const FINISHER_FAIL = 0x3333;
const FINISHER_PASS = 0x5555;
const FINISHER_RESET = 0x7777;

/** What the board does when the guest writes the finisher. */
export interface FinisherActions {
  /** The guest asked to end the VM with this process exit status (0 for pass). */
  onExit(code: number): void;
  /** The guest asked for a machine reset. */
  onReset(): void;
}

export interface TestFinisherState {
  version: 1;
}

/**
 * The test finisher. Reads return 0; only 2- and 4-byte accesses are decoded (1- and 8-byte ones
 * fault, as on QEMU); writes of anything but the three commands, or to other offsets, are ignored.
 * Its state is empty but it is Snapshotable like every device so the snapshot tree is uniform.
 */
export class TestFinisher implements MmioDevice, Snapshotable<TestFinisherState> {
  readonly size = 0x1000;

  constructor(
    private readonly actions: FinisherActions,
    readonly id = 'test',
  ) {}

  accepts(_offset: number, width: AccessWidth): boolean {
    return width === 2 || width === 4;
  }

  read(): number {
    return 0;
  }

  write(offset: number, _width: AccessWidth, value: number | bigint): void {
    if (offset !== 0) return;
    const v = low32(value);
    const status = v & 0xffff;
    // QEMU passes FAIL's code to exit() unchanged, so "fail with code 0" exits 0.
    if (status === FINISHER_PASS) this.actions.onExit(0);
    else if (status === FINISHER_FAIL) this.actions.onExit(v >>> 16);
    else if (status === FINISHER_RESET) this.actions.onReset();
  }

  save(): TestFinisherState {
    return { version: 1 };
  }

  restore(state: TestFinisherState): void {
    new StateReader(this.id, state, 1).done();
  }
}
