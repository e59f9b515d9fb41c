#!/usr/bin/env node
/**
 * Attributes a callgrind profile's costs (instructions, cache misses) to JavaScript
 * functions. valgrind cannot name V8's generated code; node's `--perf-basic-prof` writes
 * the address range of every compiled function to /tmp/perf-PID.map, and this joins the two.
 *
 *   valgrind --tool=callgrind --cache-sim=yes --LL=1310720,20,64 --dump-instr=yes \
 *     --callgrind-out-file=/tmp/cg.out node --single-threaded --perf-basic-prof \
 *     --no-compact-code-space bundle.mjs ...
 *   node tools/prof/callgrind-jit.mjs /tmp/cg.out /tmp/perf-PID.map [EVENT] [ROWS] [--callers=REGEX]
 *
 * `--LL=1310720,20,64` makes the simulated last level this machine's L2 (1.25 MiB), so
 * `DLmr` counts data reads that leave the core's caches. EVENT is a callgrind event name
 * (default DLmr; also Ir, DLmw, D1mr, ...). Bundle the program first (esbuild) so that
 * every function has a file position. Costs of calls are not counted twice: the line after
 * a `calls=` line (the callee's inclusive cost) is skipped.
 */
import fs from 'node:fs';

const args = process.argv.slice(2);
const callersArg = args.find((a) => a.startsWith('--callers='));
const callers = callersArg ? new RegExp(callersArg.slice('--callers='.length)) : undefined;
const [cgFile, mapFile, event = 'DLmr', rowsArg = '40'] = args.filter((a) => a !== callersArg);
if (!cgFile || !mapFile) {
  console.error('usage: callgrind-jit.mjs CALLGRIND_OUT PERF_MAP [EVENT] [ROWS]');
  process.exit(2);
}

const ranges = fs
  .readFileSync(mapFile, 'utf8')
  .trim()
  .split('\n')
  .map((line) => /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line))
  .filter((m) => m !== null)
  .map((m) => ({ start: Number.parseInt(m[1], 16), size: Number.parseInt(m[2], 16), name: m[3] }))
  .sort((a, b) => a.start - b.start);

/** The generated function whose code holds `address`, if the map names one. */
function jitFunctionAt(address) {
  let lo = 0;
  let hi = ranges.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid].start <= address) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const r = ranges[found];
  return r && address < r.start + r.size ? r.name : undefined;
}

let events = [];
let positions = 1;
const names = new Map(); // callgrind compresses names: "(12) name" once, then "(12)"
let fn = '?';
let address = 0;
let skipCallCost = false;
let callee = '';
const byFunction = new Map();
const totals = [];

for (const line of fs.readFileSync(cgFile, 'utf8').split('\n')) {
  if (line.startsWith('events:')) events = line.slice(7).trim().split(/\s+/);
  else if (line.startsWith('positions:')) positions = line.slice(10).trim().split(/\s+/).length;
  else if (line.startsWith('fn=') || line.startsWith('cfn=')) {
    const m = /^c?fn=\((\d+)\)(?: (.*))?$/.exec(line);
    if (m?.[2]) names.set(m[1], m[2]);
    const name = m ? (names.get(m[1]) ?? '?') : line.slice(line.indexOf('=') + 1);
    if (line.startsWith('fn=')) fn = name;
    else callee = name;
  } else if (line.startsWith('calls=')) skipCallCost = true;
  else if (/^(0x|\+|-|\*)/.test(line)) {
    const fields = line.split(' ');
    const p = fields[0];
    if (p.startsWith('0x')) address = Number.parseInt(p, 16);
    else if (p[0] === '+') address += Number.parseInt(p.slice(1), 10);
    else if (p[0] === '-') address -= Number.parseInt(p.slice(1), 10);
    const isCallCost = skipCallCost;
    skipCallCost = false;
    // Normal mode: a call's inclusive cost is the callee's, counted where it is spent.
    // Callers mode: only those calls count, and only into matching callees.
    if (callers ? !isCallCost || !callers.test(callee) : isCallCost) continue;
    const unnamed = fn === '???' || fn.startsWith('0x');
    const key = unnamed ? (jitFunctionAt(address) ?? '(generated code not in the map)') : fn;
    let costs = byFunction.get(key);
    if (!costs) {
      costs = new Float64Array(events.length);
      byFunction.set(key, costs);
    }
    for (let i = positions; i < fields.length; i++) {
      const v = Number(fields[i]);
      costs[i - positions] += v;
      totals[i - positions] = (totals[i - positions] ?? 0) + v;
    }
  }
}

const k = events.indexOf(event);
if (k < 0) {
  console.error(`no event ${event}; the profile has ${events.join(' ')}`);
  process.exit(2);
}
const ir = events.indexOf('Ir');
console.log(`totals: ${events.map((e, i) => `${e} ${((totals[i] ?? 0) / 1e6).toFixed(1)}M`).join(', ')}`);
console.log(callers ? `callers of /${callers.source}/, by ${event} spent in the callees, instructions:` : `share of ${event}, instructions, function:`);
const rows = [...byFunction].sort((a, b) => b[1][k] - a[1][k]).slice(0, Number(rowsArg));
for (const [name, costs] of rows) {
  const share = ((costs[k] / (totals[k] || 1)) * 100).toFixed(1).padStart(5);
  console.log(`${share}%  ${(costs[ir] / 1e6).toFixed(0).padStart(6)}M Ir  ${name.slice(0, 120)}`);
}
