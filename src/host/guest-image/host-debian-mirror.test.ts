import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEBIAN_MIRROR, hostDebianMirror } from './host-debian-mirror.js';

const root = mkdtempSync(path.join(tmpdir(), 'etc-apt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function etcApt(files: Record<string, string>): string {
  const dir = path.join(root, String(n++));
  mkdirSync(path.join(dir, 'sources.list.d'), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('hostDebianMirror', () => {
  it('takes the main archive from a deb822 file, skipping comments, security and other archives', () => {
    const dir = etcApt({
      'sources.list.d/a-nodesource.sources': 'Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n',
      'sources.list.d/debian.sources':
        'Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://ftp.de.debian.org/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n\n' +
        'Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n',
    });
    expect(hostDebianMirror(dir, {})).toBe('http://ftp.de.debian.org/debian');
  });

  it('reads one-line sources, skipping security and disabled stanzas', () => {
    const dir = etcApt({
      'sources.list': '# deb http://old.example/debian bookworm main\ndeb http://mirror.example/debian bookworm-security main\ndeb [arch=amd64 signed-by=/k.gpg] http://proxy:3142/debian bookworm main contrib\n',
    });
    expect(hostDebianMirror(dir, {})).toBe('http://proxy:3142/debian');
    const disabled = etcApt({ 'sources.list.d/d.sources': 'Enabled: no\nTypes: deb\nURIs: http://x.example/debian\nSuites: trixie\n' });
    expect(hostDebianMirror(disabled, {})).toBe(DEFAULT_DEBIAN_MIRROR);
  });

  it('falls back to deb.debian.org, and $TYPERVISOR_DEBIAN_MIRROR wins', () => {
    expect(hostDebianMirror(path.join(root, 'missing'), {})).toBe(DEFAULT_DEBIAN_MIRROR);
    expect(hostDebianMirror(path.join(root, 'missing'), { TYPERVISOR_DEBIAN_MIRROR: 'http://m.example/debian/' })).toBe('http://m.example/debian');
  });
});
