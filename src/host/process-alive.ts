// Whether a process is still there: any process id (signal 0 probes without sending anything,
// kill(2)), or a child we spawned (neither an exit code nor a killing signal yet).
import type { ChildProcess } from 'node:child_process';

/** True while `pid` exists; EPERM means it exists but belongs to someone else (e.g. passt after it dropped root). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True until the child has exited or was killed by a signal (then exitCode stays null). */
export function childRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}
