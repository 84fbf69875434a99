// A Node readable stream (the host's standard input for `run -i`) as the PipeSource of a
// virtio-pipe device: data in order, `end` at EOF, pause/resume for the device's flow control
// (so a big file piped in is read as the guest takes it, not all into memory).
import type { PipeSource } from '../devices/virtio/console/virtio-pipe.js';

/** The parts of a Readable the adapter uses (process.stdin; a test can pass a PassThrough). */
export interface PipeInputStream {
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

export function streamPipeSource(stream: PipeInputStream): PipeSource {
  let ended = false;
  let sink: { data(bytes: Uint8Array): void; end(): void } | undefined;
  const finish = () => {
    if (ended) return;
    ended = true;
    sink?.end();
  };
  return {
    attach(next) {
      // A rebuilt board (guest reboot) gets a new device: the stream goes on into it.
      const first = sink === undefined;
      sink = next;
      if (ended) next.end();
      if (!first) return;
      stream.on('data', (chunk) => sink!.data(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
      stream.on('end', finish);
      // A read error (EIO on a closed terminal …) ends the guest's input like EOF.
      stream.on('error', finish);
      stream.resume();
    },
    pause: () => void stream.pause(),
    resume: () => void stream.resume(),
  };
}
