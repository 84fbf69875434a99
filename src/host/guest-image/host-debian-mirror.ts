import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The archive used when the host names none (a Debian-derived host, or no apt at all). */
export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';

/** Suites that are not the main archive of a release: their URIs are not "the Debian archive". */
const SIDE_SUITE = /-(?:security|updates|backports|proposed-updates|backports-sloppy)$|\/updates$/;

/**
 * The Debian archive this host's apt already uses, so guests come from the same mirror (or
 * proxy) the machine is known to reach: the first `deb` entry in /etc/apt/sources.list and
 * sources.list.d (one-line and deb822 forms) whose URI ends in `/debian` and whose suite is a
 * release's main suite. `$TYPERVISOR_DEBIAN_MIRROR` overrides; DEFAULT_DEBIAN_MIRROR otherwise.
 */
export function hostDebianMirror(etcApt = '/etc/apt', env: Record<string, string | undefined> = process.env): string {
  const forced = env['TYPERVISOR_DEBIAN_MIRROR']?.trim();
  if (forced) return forced.replace(/\/+$/, '');
  const files: string[] = [path.join(etcApt, 'sources.list')];
  try {
    for (const f of readdirSync(path.join(etcApt, 'sources.list.d')).sort()) files.push(path.join(etcApt, 'sources.list.d', f));
  } catch {
    // no sources.list.d
  }
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const found = file.endsWith('.sources') ? fromDeb822(text) : file.endsWith('.list') ? fromOneLine(text) : undefined;
    if (found) return found;
  }
  return DEFAULT_DEBIAN_MIRROR;
}

function isArchive(uri: string, suites: string[]): boolean {
  return /^https?:\/\/[^\s]+\/debian\/?$/.test(uri) && suites.some((s) => !SIDE_SUITE.test(s));
}

function fromOneLine(text: string): string | undefined {
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    // deb [options] uri suite [component...]
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m && isArchive(m[1]!, [m[2]!])) return m[1]!.replace(/\/+$/, '');
  }
  return undefined;
}

function fromDeb822(text: string): string | undefined {
  const withoutComments = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
  for (const stanza of withoutComments.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*(?:\\n[ \\t]+.*)*)`, 'mi').exec(stanza)?.[1]?.split(/\s+/).filter(Boolean) ?? [];
    if (!field('Types').includes('deb')) continue;
    if (field('Enabled')[0]?.toLowerCase() === 'no') continue;
    const suites = field('Suites');
    const uri = field('URIs').find((u) => isArchive(u, suites));
    if (uri) return uri.replace(/\/+$/, '');
  }
  return undefined;
}
