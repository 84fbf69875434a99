#!/usr/bin/env node
// Keeps the layering of DESIGN.md ("Layers (imports point down only)"): fails, listing
// file:line, when a file under src/ imports a layer it may not, or when a platform-neutral layer
// (one that must run in a browser worker as well as in Node) uses Node or the DOM.
//
// Usage: node scripts/check-layers.mjs [ROOT]   (ROOT holds src/; default: this repository)

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------------------------
// The rule table. `may`: the layers (folders under src/) a layer may import besides itself.
// `neutral`: no Node builtins, no Node or DOM globals. `(root)` is src/*.ts, the package's
// public API, which must stay platform-neutral so browsers can use it. Tests (*.test.ts) follow
// their folder's rules and may also import the shared test helpers in tests/.
// ---------------------------------------------------------------------------------------------
export const LAYERS = {
  core: { may: [], neutral: true },
  cpu: { may: ['core'], neutral: true },
  board: { may: ['core', 'cpu'], neutral: true },
  devices: { may: ['core', 'cpu', 'board'], neutral: true },
  storage: { may: ['core'], neutral: true },
  network: { may: ['core'], neutral: true },
  vmm: { may: ['core', 'cpu', 'board', 'devices', 'storage', 'network'], neutral: true },
  '(root)': { may: ['core', 'cpu', 'board', 'devices', 'storage', 'network', 'vmm'], neutral: true },
  host: { may: ['core', 'cpu', 'board', 'devices', 'storage', 'network', 'vmm'], neutral: false },
  cli: { may: ['core', 'cpu', 'board', 'devices', 'storage', 'network', 'vmm', 'host'], neutral: false },
};

/** Globals that exist only in Node, or only in browsers. Reaching them through `globalThis.x` on purpose is allowed. */
const NODE_GLOBALS = ['process', 'Buffer', '__dirname', '__filename', 'require', 'setImmediate', 'clearImmediate', 'global', 'NodeJS'];
const DOM_GLOBALS = ['window', 'document', 'localStorage', 'sessionStorage', 'XMLHttpRequest'];
const SOURCE = /\.(?:[cm]?ts|[cm]?js)$/;
const NODE_BUILTINS = new Set(builtinModules);

function isNodeBuiltin(spec) {
  return spec.startsWith('node:') || NODE_BUILTINS.has(spec) || NODE_BUILTINS.has(spec.split('/')[0]);
}

/**
 * Returns two copies of `text` with the same length and line breaks: `code` without comments,
 * and `bare` without comments and without the contents of string, template and regex literals.
 */
export function blank(text) {
  let code = '';
  let bare = '';
  let i = 0;
  let lastSignificant = '';
  const keep = (s) => {
    code += s;
    bare += s;
  };
  const hide = (s, inCode) => {
    const spaces = s.replace(/[^\n]/g, ' ');
    code += inCode ? s : spaces;
    bare += spaces;
  };
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      hide(text.slice(i, stop), false);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      hide(text.slice(i, stop), false);
      i = stop;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c && !(c !== '`' && text[j] === '\n')) j += text[j] === '\\' ? 2 : 1;
      keep(c);
      hide(text.slice(i + 1, j), true);
      if (j < text.length) keep(text[j]);
      i = j + 1;
      lastSignificant = c;
    } else if (c === '/' && (lastSignificant === '' || '(,=:[!&|?{};+-*%<>~^'.includes(lastSignificant) || /\b(?:return|typeof|case)\s*$/.test(code))) {
      let j = i + 1;
      let inClass = false;
      while (j < text.length && text[j] !== '\n' && (inClass || text[j] !== '/')) {
        if (text[j] === '\\') j++;
        else if (text[j] === '[') inClass = true;
        else if (text[j] === ']') inClass = false;
        j++;
      }
      keep('/');
      hide(text.slice(i + 1, j), true);
      if (j < text.length && text[j] === '/') keep('/');
      i = j + 1;
      lastSignificant = '/';
    } else {
      keep(c);
      if (!/\s/.test(c)) lastSignificant = c;
      i++;
    }
  }
  return { code, bare };
}

const IMPORT_PATTERNS = [
  /\b(?:import|export)\s+(?:type\s+)?[^;'"`]*?\bfrom\s*(['"])([^'"]+)\1/g,
  /\bimport\s*(['"])([^'"]+)\1/g,
  /\b(?:import|require)\s*\(\s*(['"])([^'"]+)\1/g,
];

function lineOf(text, index) {
  let line = 1;
  for (let k = 0; k < index; k++) if (text.charCodeAt(k) === 10) line++;
  return line;
}

function layerOf(srcDir, file) {
  const rel = relative(srcDir, file);
  if (rel.startsWith('..')) return undefined;
  const parts = rel.split(sep);
  return parts.length === 1 ? '(root)' : parts[0];
}

/** Checks one file; returns problems as `{ line, message }`. */
export function checkFile(srcDir, file, text) {
  const layer = layerOf(srcDir, file);
  const rule = LAYERS[layer];
  const problems = [];
  if (!rule) {
    problems.push({ line: 1, message: `folder src/${layer} is not in the layer table of scripts/check-layers.mjs` });
    return problems;
  }
  const { code, bare } = blank(text);
  for (const pattern of IMPORT_PATTERNS) {
    for (const m of code.matchAll(pattern)) {
      const spec = m[2];
      const line = lineOf(code, m.index);
      if (isNodeBuiltin(spec)) {
        if (rule.neutral) problems.push({ line, message: `${layer} imports the Node module '${spec}'; platform-neutral layers get host I/O through interfaces (put Node code in src/host)` });
      } else if (spec.startsWith('.')) {
        const path = resolve(dirname(file), spec);
        const target = layerOf(srcDir, path);
        if (target === undefined) {
          const helper = /\.test\.[cm]?[jt]s$/.test(file) && !relative(join(srcDir, '..', 'tests'), path).startsWith('..');
          if (!helper) problems.push({ line, message: `imports '${spec}' from outside src/` });
        }
        else if (target !== layer && !rule.may.includes(target)) {
          problems.push({ line, message: `${layer} may not import ${target} ('${spec}'); allowed: ${rule.may.join(', ') || 'nothing'}` });
        }
      }
    }
  }
  if (rule.neutral) {
    for (const m of text.matchAll(/^\/\/\/\s*<reference\s+(?:types\s*=\s*["']node["']|lib\s*=\s*["']dom["'])/gm)) {
      problems.push({ line: lineOf(text, m.index), message: `${layer} references Node or DOM type declarations` });
    }
    const globals = new RegExp(`(?<![.\\w$#])(${[...NODE_GLOBALS, ...DOM_GLOBALS].join('|')})\\b(?!\\s*\\??:)`, 'g');
    for (const m of bare.matchAll(globals)) {
      const kind = DOM_GLOBALS.includes(m[1]) ? 'DOM' : 'Node';
      problems.push({ line: lineOf(bare, m.index), message: `${layer} uses the ${kind} global '${m[1]}'; platform-neutral layers must run in Node and in browsers` });
    }
  }
  return problems;
}

function* sourceFiles(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (SOURCE.test(name) && !name.endsWith('.d.ts')) yield path;
  }
}

/** Checks every source file under ROOT/src; returns `file:line: message` strings. */
export function checkTree(root) {
  const srcDir = resolve(root, 'src');
  const out = [];
  for (const file of sourceFiles(srcDir)) {
    for (const p of checkFile(srcDir, file, readFileSync(file, 'utf8'))) {
      out.push(`${relative(root, file)}:${p.line}: ${p.message}`);
    }
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..');
  const problems = checkTree(root);
  if (problems.length > 0) {
    console.error(problems.join('\n'));
    console.error(`check-layers: ${problems.length} problem(s); see the rule table in scripts/check-layers.mjs`);
    process.exit(1);
  }
  console.log('check-layers: ok');
}
