import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../core/errors.js';
import { runChecked, runCommand, stderrTail } from './run-command.js';

describe('runCommand', () => {
  it('collects output and status', async () => {
    const r = await runCommand('sh', ['-c', 'printf "a\\0b"; echo oops >&2; exit 3']);
    expect(r.status).toBe(3);
    expect(Array.from(r.stdout)).toEqual([0x61, 0, 0x62]);
    expect(r.stderr).toBe('oops\n');
  });

  it('names the Debian package of a missing tool', async () => {
    const error = await runCommand('apt-get', ['update'], { env: { PATH: '/nonexistent' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypervisorError);
    expect((error as TypervisorError).message).toBe("'apt-get' is not installed (or not on PATH)");
    expect((error as TypervisorError).hint).toMatch(/apt-get install apt/);
    await expect(runCommand('xz', ['-d'], { env: { PATH: '/nonexistent' } })).rejects.toThrow(TypervisorError);
  });

  it('runChecked says what failed, how, and the end of the error output', async () => {
    const error = (await runChecked(runCommand, 'testing', 'sh', ['-c', 'for i in 1 2 3 4 5 6 7 8; do echo line$i >&2; done; exit 9'], 'do this').catch((e: unknown) => e)) as TypervisorError;
    expect(error.message).toBe('testing failed: `sh -c for i in 1 2 3 4 5 6 7 8; do echo line$i >&2; done; exit 9` exited with status 9:\nline3\nline4\nline5\nline6\nline7\nline8');
    expect(error.hint).toBe('do this');
    expect(stderrTail('\n\na\n\n')).toBe('a');
  });
});
