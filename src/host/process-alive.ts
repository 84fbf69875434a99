// Whether a process id names a live process (signal 0 probes without sending anything, kill(2)).

/** True while `pid` exists; EPERM means it exists but belongs to someone else (e.g. passt after it dropped root). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
