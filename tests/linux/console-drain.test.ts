// The tail of a command's output on the serial console must arrive before its exit status.
//
// Linux 6.5+ runtime-suspends a serial port 500 ms after its last output (drivers/tty/serial/
// serial_port.c, SERIAL_PORT_AUTOSUSPEND_DELAY_MS); a write to a suspended port only queues the
// bytes and leaves starting the transmitter to a kworker. When the command — the session leader
// on the console — exits before that kworker runs, its exit hangs up the terminal, which flushes
// the queue: under host load `typervisor run` printed only the output from before a `sleep 1` and
// still exited with the command's status. /init keeps the serial ports out of runtime suspend.
//
// Which of the two (kworker or exit) comes first is up to the guest's scheduler, so the loss
// itself cannot be forced from a test; what is deterministic is its precondition, the port's
// runtime status after more than 500 ms without output ("suspended" before the fix). The same run
// checks the output around the idle second and the exit status.
import { describe, expect, it } from 'vitest';
import { BOOT_TIMEOUT_MS, runTypervisor, type RunResult } from './guest-harness.js';

const shown = (r: RunResult) => `status ${r.status} after ${(r.ms / 1000).toFixed(1)} s\n--- stdout ---\n${r.stdout.slice(-2000)}\n--- stderr ---\n${r.stderr.slice(-2000)}`;

describe('serial console output at the end of a command', () => {
  it('keeps the console port awake, so output after an idle second is sent before the exit', async () => {
    const r = await runTypervisor([
      'run', '--', 'sh', '-c',
      'echo before; sleep 1; cat /sys/class/tty/ttyS0/device/power/runtime_status; echo after; exit 4',
    ]);
    expect(r.stdout, shown(r)).toBe('before\nactive\nafter\n');
    expect(r.status, shown(r)).toBe(4);
  }, BOOT_TIMEOUT_MS + 10_000);
});
