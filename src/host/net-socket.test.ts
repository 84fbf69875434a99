import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { netBackendConformance } from '../../tests/network/conformance.js';
import { connectNetSocket, listenNetSocket } from './net-socket.js';

const scratch = () => mkdtempSync(path.join(tmpdir(), 'net-socket-'));

netBackendConformance('UNIX stream socket (listen + connect)', async () => {
  const dir = scratch();
  const sock = path.join(dir, 's');
  const a = await listenNetSocket(sock);
  const b = await connectNetSocket(sock);
  while (!a.connected) await new Promise((r) => setTimeout(r, 5));
  return { a, b, dispose: () => rmSync(dir, { recursive: true, force: true }) };
});

describe('--net socket: on the host', () => {
  it('says clearly when nothing listens', async () => {
    const dir = scratch();
    try {
      await expect(connectNetSocket(path.join(dir, 'none'))).rejects.toThrow(/nothing listens at .*none \(no such socket\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('speaks QEMU\'s framing on the wire: 32-bit big-endian length, then the frame', async () => {
    const dir = scratch();
    const sock = path.join(dir, 's');
    const server = createServer();
    const wire: Buffer[] = [];
    const gotWire = new Promise<void>((resolve) =>
      server.on('connection', (s) => {
        s.on('data', (b) => (wire.push(b), Buffer.concat(wire).length >= 64 && resolve()));
        // A frame written by hand the way net/stream.c sends it.
        s.write(Buffer.concat([Buffer.from([0, 0, 0, 20]), Buffer.alloc(20, 0xab)]));
      }),
    );
    await new Promise<void>((r) => server.listen(sock, r));
    const b = await connectNetSocket(sock);
    const got = new Promise<Uint8Array>((resolve) => b.attach({ receive: resolve }));
    b.send(new Uint8Array(60).fill(0xcd));
    await gotWire;
    expect(Buffer.concat(wire)).toEqual(Buffer.concat([Buffer.from([0, 0, 0, 60]), Buffer.alloc(60, 0xcd)]));
    expect(Buffer.from(await got)).toEqual(Buffer.alloc(20, 0xab));
    b.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('closes the connection when the peer announces a frame above the maximum', { timeout: 10_000 }, async () => {
    const dir = scratch();
    const sock = path.join(dir, 's');
    const errors: string[] = [];
    const a = await listenNetSocket(sock, { onError: (m) => errors.push(m) });
    const { createConnection } = await import('node:net');
    const peer = createConnection({ path: sock });
    const closed = new Promise((r) => peer.on('close', r));
    peer.on('error', () => undefined);
    peer.write(Buffer.from([0, 2, 0, 0, 1, 2, 3])); // 131072 bytes
    await closed;
    expect(a.stats.malformed).toBe(1);
    expect(errors.join()).toMatch(/131072 bytes announced/);
    a.close();
    expect(existsSync(sock)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a listener takes the next peer after one left, with a fresh stream (no half frame carried over)', { timeout: 10_000 }, async () => {
    const dir = scratch();
    const sock = path.join(dir, 's');
    const errors: string[] = [];
    const a = await listenNetSocket(sock, { onError: (m) => errors.push(m) });
    const got: Buffer[] = [];
    const twoFrames = new Promise<void>((resolve) => a.attach({ receive: (f) => (got.push(Buffer.from(f)), got.length === 1 && resolve()) }));
    const { createConnection } = await import('node:net');
    const first = createConnection({ path: sock });
    await new Promise((r) => first.on('connect', r));
    first.end(Buffer.from([0, 0, 0, 60, 1, 2, 3])); // half a frame, then gone
    while (!errors.length) await new Promise((r) => setTimeout(r, 5));
    expect(errors[0]).toMatch(/peer closed the connection; frames are dropped until another connects/);
    const second = createConnection({ path: sock });
    second.write(Buffer.concat([Buffer.from([0, 0, 0, 20]), Buffer.alloc(20, 0x42)]));
    await twoFrames;
    expect(got).toEqual([Buffer.alloc(20, 0x42)]);
    second.destroy();
    a.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pause() holds frames in the socket until resume()', { timeout: 10_000 }, async () => {
    const dir = scratch();
    const sock = path.join(dir, 's');
    const a = await listenNetSocket(sock);
    const b = await connectNetSocket(sock);
    while (!a.connected) await new Promise((r) => setTimeout(r, 5));
    const got: Uint8Array[] = [];
    a.attach({ receive: (f) => got.push(f) });
    a.pause();
    for (let i = 0; i < 10; i++) b.send(new Uint8Array(100).fill(i));
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toHaveLength(0);
    a.resume();
    while (got.length < 10) await new Promise((r) => setTimeout(r, 5));
    expect(got.map((f) => f[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to listen where a file exists', async () => {
    const dir = scratch();
    const sock = path.join(dir, 's');
    const a = await listenNetSocket(sock);
    await expect(listenNetSocket(sock)).rejects.toThrow(/cannot listen at .*the path exists/);
    a.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
