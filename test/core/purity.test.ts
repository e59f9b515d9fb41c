import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The determinism guard (DESIGN.md, "The sans-IO contract"): nothing under core/ (and the
 * simulator's deterministic code under net-sim/) may read the clock, draw randomness, touch
 * timers, the process or globals, or import anything but the few pure packages below.
 */

// ---- the allow-list: keep it explicit and small -----------------------------------------

/** Packages each scanned directory may import (by package name). */
const ALLOWED_PACKAGES: Record<string, readonly string[]> = {
  'core/': ['@noble/hashes', '@noble/curves', '@msgpack/msgpack'],
  // hash-wasm: blake3 in WebAssembly for the trace hash (deterministic, and ~12x faster than pure JS);
  // @napi-rs/blake-hash: the same blake3, native, ~10x faster again, where its binary loads
  // (net-sim/trace-hasher.ts; test/sim/trace-hasher.test.ts shows the two agree).
  'net-sim/': ['@noble/hashes', '@noble/curves', '@msgpack/msgpack', 'seedrandom', 'hash-wasm', '@napi-rs/blake-hash'],
};
/** Directories a relative import from each scanned directory may land in. */
const ALLOWED_RELATIVE: Record<string, readonly string[]> = { 'core/': ['core/'], 'net-sim/': ['net-sim/', 'core/', 'api/'] };
/** Single tokens allowed in one file, with the reason. */
const ALLOWED_TOKENS: readonly { file: string; token: string; why: string }[] = [
  { file: 'net-sim/simulation.ts', token: 'setImmediate', why: 'the run loop yields so promise callbacks settle; not time' },
  { file: 'net-sim/simulation.ts', token: 'process.nextTick', why: 'the same yield, cheaper when the run loop already runs in a microtask; not time' },
  { file: 'net-sim/trace-hasher.ts', token: 'dynamic import', why: 'the native blake3, where its binary loads; the same digests either way' },
];

// `process.nextTick` is its own token (listed before `process.`) so it can be allowed alone.
const FORBIDDEN =
  /Date\.now|new Date\(|performance\.now|Math\.random|setTimeout|setInterval|setImmediate|queueMicrotask|process\.nextTick|process\.|globalThis|getRandomValues|randomBytes|require\(/g;

// ---- the scanner ---------------------------------------------------------------------

interface Violation {
  readonly file: string;
  readonly line: number;
  readonly what: string;
  readonly text: string;
}

/**
 * Blanks out comments line by line: `/* ... *\/` blocks (across lines) and `//` comments
 * that start a line or follow whitespace (so `http://` in a string survives).
 */
function stripComments(lines: readonly string[]): string[] {
  let inBlock = false;
  return lines.map((raw) => {
    let line = raw;
    let out = '';
    for (;;) {
      if (inBlock) {
        const end = line.indexOf('*/');
        if (end < 0) return out;
        line = line.slice(end + 2);
        inBlock = false;
        continue;
      }
      const start = line.indexOf('/*');
      const lineComment = line.search(/(^|\s)\/\//);
      if (lineComment >= 0 && (start < 0 || lineComment < start)) return out + line.slice(0, lineComment);
      if (start < 0) return out + line;
      out += line.slice(0, start);
      line = line.slice(start + 2);
      inBlock = true;
    }
  });
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

/** Scans one file's text; `file` is its path from the repository root, e.g. `core/node/node.ts`. */
function scanSource(file: string, text: string): Violation[] {
  const scope = Object.keys(ALLOWED_PACKAGES).find((dir) => file.startsWith(dir));
  if (!scope) throw new Error(`${file} is outside the scanned directories`);
  const violations: Violation[] = [];
  const lines = text.split(/\r?\n/);
  stripComments(lines).forEach((code, i) => {
    const report = (what: string) => violations.push({ file, line: i + 1, what, text: (lines[i] as string).trim() });
    for (const m of code.matchAll(FORBIDDEN)) {
      if (!ALLOWED_TOKENS.some((a) => a.file === file && a.token === m[0])) report(m[0]);
    }
    if (/\bimport\s*\(/.test(code) && !ALLOWED_TOKENS.some((a) => a.file === file && a.token === 'dynamic import')) report('dynamic import');
    // An allowed dynamic import still names an allowed package.
    const specifiers = [
      ...code.matchAll(/\bfrom\s*['"]([^'"]+)['"]/g),
      ...code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/g),
      ...code.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]/g),
    ].map((m) => m[1] as string);
    for (const spec of specifiers) {
      if (spec.startsWith('node:')) {
        report(`import '${spec}'`);
      } else if (spec.startsWith('.')) {
        const target = posix.normalize(posix.join(posix.dirname(file), spec));
        if (!(ALLOWED_RELATIVE[scope] ?? []).some((dir) => target.startsWith(dir)))
          report(`import '${spec}' leaves ${(ALLOWED_RELATIVE[scope] ?? []).join(', ')}`);
      } else if (!(ALLOWED_PACKAGES[scope] ?? []).includes(packageName(spec))) {
        report(`import '${spec}'`);
      }
    }
  });
  return violations;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function tsFiles(dir: string): string[] {
  const abs = posix.join(ROOT, dir);
  return readdirSync(abs)
    .sort()
    .flatMap((name) => {
      const rel = posix.join(dir, name);
      if (statSync(posix.join(ROOT, rel)).isDirectory()) return tsFiles(rel);
      return name.endsWith('.ts') ? [rel] : [];
    });
}

function format(v: Violation): string {
  return `${v.file}:${v.line}: ${v.what}    ${v.text}`;
}

// ---- the guard -----------------------------------------------------------------------

describe('determinism guard', () => {
  it('core/ reads no clock, no randomness, no timers, no process, no foreign modules', () => {
    const files = tsFiles('core');
    expect(files.length).toBeGreaterThan(10);
    expect(files).toContain('core/node/node.ts');
    const violations = files.flatMap((f) => scanSource(f, readFileSync(posix.join(ROOT, f), 'utf8')));
    expect(violations.map(format), 'see DESIGN.md, "The sans-IO contract"').toEqual([]);
  });

  it.runIf(existsSync(posix.join(ROOT, 'net-sim')))('net-sim/ is as deterministic, with its small allow-list', () => {
    const files = tsFiles('net-sim');
    const violations = files.flatMap((f) => scanSource(f, readFileSync(posix.join(ROOT, f), 'utf8')));
    expect(violations.map(format), 'see DESIGN.md, "The simulator"').toEqual([]);
  });
});

describe('the scanner', () => {
  const flagged = (file: string, text: string) => scanSource(file, text).map((v) => `${v.line}: ${v.what}`);

  it('reports Date.now with its line', () => {
    const text = ['export function now(): number {', '  return Date.now();', '}'].join('\n');
    expect(flagged('core/x.ts', text)).toEqual(['2: Date.now']);
    expect(scanSource('core/x.ts', text).map(format)).toEqual(['core/x.ts:2: Date.now    return Date.now();']);
  });

  it('reports every forbidden call', () => {
    const lines = [
      'new Date()',
      'performance.now()',
      'Math.random()',
      'setTimeout(f, 1)',
      'setInterval(f, 1)',
      'setImmediate(f)',
      'queueMicrotask(f)',
      'process.env.SEED',
      'globalThis.crypto',
      'crypto.getRandomValues(b)',
      'randomBytes(32)',
      "require('fs')",
      "await import('x')",
    ];
    expect(flagged('core/x.ts', lines.join('\n'))).toEqual([
      '1: new Date(',
      '2: performance.now',
      '3: Math.random',
      '4: setTimeout',
      '5: setInterval',
      '6: setImmediate',
      '7: queueMicrotask',
      '8: process.',
      '9: globalThis',
      '10: getRandomValues',
      '11: randomBytes',
      '12: require(',
      '13: dynamic import',
      "13: import 'x'",
    ]);
  });

  it('ignores comments', () => {
    const text = [
      '// Date.now is forbidden',
      '/**',
      ' * Never Math.random.',
      ' */',
      'const x = 1; // setTimeout here',
      '/* process. */ const y = 2;',
      "const url = 'http://x';",
    ].join('\n');
    expect(flagged('core/x.ts', text)).toEqual([]);
    expect(flagged('core/x.ts', '/* a */ Date.now(); /* b */')).toEqual(['1: Date.now']);
  });

  it('reports imports of node: modules, foreign packages and paths outside core/', () => {
    const text = [
      "import { readFileSync } from 'node:fs';",
      "import { blake3 } from '@noble/hashes/blake3.js';",
      "import { ed25519 } from '@noble/curves/ed25519.js';",
      "import { encode } from '@msgpack/msgpack';",
      'import {',
      '  a,',
      "} from 'seedrandom';",
      "import type { X } from '../../api/runtime.ts';",
      "import { y } from '../util/bytes.ts';",
      "export * from './z.ts';",
      "import 'fs';",
      "import { z } from '@noble/hashes-evil';",
    ].join('\n');
    expect(flagged('core/node/x.ts', text)).toEqual([
      "1: import 'node:fs'",
      "7: import 'seedrandom'",
      "8: import '../../api/runtime.ts' leaves core/",
      "11: import 'fs'",
      "12: import '@noble/hashes-evil'",
    ]);
  });

  it('applies the net-sim allow-list and nothing more', () => {
    const text = [
      "import seedrandom from 'seedrandom';",
      "import { NodeRuntime } from '../api/runtime.ts';",
      "import { Digest } from '../core/index.ts';",
      'setImmediate(resolve);',
    ].join('\n');
    expect(flagged('net-sim/simulation.ts', text)).toEqual([]);
    expect(flagged('net-sim/other.ts', text)).toEqual(['4: setImmediate']);
    expect(flagged('net-sim/simulation.ts', 'setTimeout(resolve, 0);')).toEqual(['1: setTimeout']);
    // Only the tick is allowed there, not the rest of `process`.
    expect(flagged('net-sim/simulation.ts', 'process.nextTick(resolve);')).toEqual([]);
    expect(flagged('net-sim/simulation.ts', 'const seed = process.env.SEED;')).toEqual(['1: process.']);
    expect(flagged('net-sim/other.ts', 'process.nextTick(resolve);')).toEqual(['1: process.nextTick']);
    expect(flagged('net-sim/x.ts', "import { Quic } from '../net-real/quic.ts';")).toEqual(["1: import '../net-real/quic.ts' leaves net-sim/, core/, api/"]);
    expect(flagged('net-sim/x.ts', "import 'node:crypto';")).toEqual(["1: import 'node:crypto'"]);
    // A dynamic import is allowed in one file, and there only of an allowed package.
    expect(flagged('net-sim/other.ts', "const m = await import('@napi-rs/blake-hash');")).toEqual(['1: dynamic import']);
    expect(flagged('net-sim/trace-hasher.ts', "const m = await import('@napi-rs/blake-hash');")).toEqual([]);
    expect(flagged('net-sim/trace-hasher.ts', "const m = await import('node:crypto');")).toEqual(["1: import 'node:crypto'"]);
  });
});
