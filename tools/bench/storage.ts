/**
 * Benchmark: the file store behind `Network.create({ dataDir })` under a write load that
 * keeps it compacting. Not a test: it prints figures.
 *
 * The store holds `--live` MiB (64 KiB values under a fixed set of keys); each flush
 * overwrites 16 of them, so the file grows by 1 MiB a flush and is rewritten every time it
 * passes four times the live data. Two ways of flushing, as the node's drivers use them:
 *  - async (`flushAsync`, the runtime's group commit): the rewrite runs in the background;
 *  - sync (`flush`): the rewrite runs inline, on the calling thread.
 * For each: flushes per second, rewrites done, and the longest stall of the event loop
 * (`monitorEventLoopDelay`), which is what a node's timers and heartbeats would feel.
 *
 * Run: npx tsx tools/bench/storage.ts [--live 32] [--flushes 300] [--json]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { FileStorage } from '../../net-real/file-storage.ts';
import { parseArgs, parseInteger } from '../cli/args.ts';

const { flags } = parseArgs(process.argv.slice(2), { live: 'string', flushes: 'string', json: 'boolean' });
const liveMiB = parseInteger(flags.live, '--live', 1) ?? 32;
const flushes = parseInteger(flags.flushes, '--flushes', 1) ?? 300;
const VALUE_BYTES = 64 * 1024;
const keys = liveMiB * 16;
const value = new Uint8Array(VALUE_BYTES).fill(7);

async function run(mode: 'async' | 'sync') {
  const dir = mkdtempSync(join(tmpdir(), 'mosaik-bench-storage-'));
  try {
    const store = FileStorage.open(dir);
    for (let k = 0; k < keys; k++) store.stage(`k/${k}`, value);
    store.flush();
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    let rewrites = 0;
    let wasCompacting = false;
    let lastSize = statSync(join(dir, 'state.log')).size;
    const start = performance.now();
    for (let i = 0; i < flushes; i++) {
      for (let j = 0; j < 16; j++) store.stage(`k/${(i * 16 + j) % keys}`, value);
      if (mode === 'async') await store.flushAsync();
      else {
        store.flush();
        await new Promise<void>((resolve) => setImmediate(resolve)); // let the delay monitor run
      }
      // A rewrite shows as the file shrinking (inline), or as `compacting` going off (background).
      const size = statSync(join(dir, 'state.log')).size;
      if (mode === 'sync' ? size < lastSize : wasCompacting && !store.compacting) rewrites++;
      wasCompacting = store.compacting;
      lastSize = size;
    }
    const wallMs = performance.now() - start;
    delay.disable();
    store.close();
    return { mode, liveMiB, flushes, flushesPerSecond: Math.round(flushes / (wallMs / 1_000)), rewrites, maxEventLoopStallMs: Math.round(delay.max / 1e6) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [await run('async'), await run('sync')];
if (flags.json) console.log(JSON.stringify(results));
else {
  console.log(`file store, ${liveMiB} MiB live, ${flushes} flushes of 1 MiB each (${process.version})`);
  for (const r of results) {
    console.log(`  ${r.mode.padEnd(5)}: ${r.flushesPerSecond} flushes/s, ${r.rewrites} rewrites, longest event-loop stall ${r.maxEventLoopStallMs} ms`);
  }
}
