/**
 * Benchmark: one producer → one consumer of a stream over real QUIC on 127.0.0.1 (two
 * `Network.create` nodes in this process), beside the raw ceiling measured in the same run:
 * the same link frames written straight on a QUIC stream by the same transport class
 * (`QuicTransport`, link framing, coalescing StreamWriter), with no node machine, no streams
 * protocol, no credit and no codec. Not a test: it prints figures.
 *
 * The stream uses an identity codec (datums are `Uint8Array`s), so the comparison is of the
 * streams path (node runtime, streams machine, `datum {seq, data}` messages, credit) against
 * the bare transport, not of msgpack. Each operating point runs for `--seconds` after a
 * warm-up; the raw sender keeps at most `WINDOW_BYTES` unread by the receiver.
 *
 * Run: npx tsx tools/bench/streams-quic.ts [--seconds 4] [--json] [--only raw|streams] [--size BYTES] [--window DATUMS]
 */
import { performance } from 'node:perf_hooks';
import { Network } from '../../api/network.ts';
import type { DatumCodec } from '../../api/streams.ts';
import { FullError } from '../../core/errors.ts';
import { SecretKey } from '../../core/identity/keys.ts';
import type { LinkId, NodeInput } from '../../core/node/io.ts';
import { loadQuic } from '../../net-real/quic/napi.ts';
import { QuicTransport } from '../../net-real/quic-transport.ts';
import { parseArgs, parseInteger } from '../cli/args.ts';

const { flags } = parseArgs(process.argv.slice(2), { seconds: 'string', json: 'boolean', only: 'string', size: 'string', window: 'string' });
const seconds = parseInteger(flags.seconds, '--seconds', 1) ?? 4;
/**
 * The consumer's window (`bufferSize`), default the library's 1024. Note: window × datum
 * size beyond the transport's `maxQueuedBytesPerLink` (64 MiB) drops the link (8192 × 16 KiB
 * does): the producer writes what credit allows, and the transport refuses to queue more.
 */
const window = parseInteger(flags.window, '--window', 1) ?? 1024;
const WARMUP_MS = 500;
const only = flags.only;
if (only !== undefined && only !== 'raw' && only !== 'streams') throw new Error(`--only raw|streams, got ${only}`);
const SIZES = flags.size !== undefined ? [parseInteger(flags.size, '--size', 1) as number] : [100, 16 * 1024];
/** Raw sender: bytes it may have written that the receiver has not read yet. */
const WINDOW_BYTES = 8 * 1024 * 1024;

interface Figure {
  readonly path: 'raw-quic' | 'streams';
  readonly datumBytes: number;
  readonly datums: number;
  readonly ms: number;
  readonly datumsPerSecond: number;
  readonly megabytesPerSecond: number;
}

function figure(path: Figure['path'], datumBytes: number, datums: number, ms: number): Figure {
  return {
    path,
    datumBytes,
    datums,
    ms: Math.round(ms),
    datumsPerSecond: Math.round((datums * 1000) / ms),
    megabytesPerSecond: Math.round(((datums * datumBytes) / ms / 1000) * 10) / 10,
  };
}

/** Counts what arrives from `from` on: `count()` is the number of datums seen since the mark. */
class Meter {
  #total = 0;
  #markTotal = 0;
  #markAt = 0;
  add(n = 1): void {
    this.#total += n;
  }
  mark(): void {
    this.#markTotal = this.#total;
    this.#markAt = performance.now();
  }
  get total(): number {
    return this.#total;
  }
  read(): { datums: number; ms: number } {
    return { datums: this.#total - this.#markTotal, ms: performance.now() - this.#markAt };
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---- raw ceiling ------------------------------------------------------------------------

const quicOptions = {
  host: '127.0.0.1',
  port: 0,
  maxFrameBytes: 8 * 1024 * 1024,
  handshakeTimeoutMs: 5_000,
  idleTimeoutMs: 10_000,
  keepAliveIntervalMs: 3_000,
  maxStreamsPerConnection: 1_024,
  maxQueuedBytesPerLink: 64 * 1024 * 1024,
  maxPartialBytesPerConnection: 64 * 1024 * 1024,
  maxPartialBytes: 512 * 1024 * 1024,
} as const;

async function rawQuic(datumBytes: number): Promise<Figure> {
  const native = await loadQuic();
  const [keyA, keyB] = [SecretKey.fromSeed('bench-raw-a'), SecretKey.fromSeed('bench-raw-b')];
  let nextId = 1_000_000;
  const onError = (error: unknown) => {
    throw error;
  };
  let opened: (() => void) | undefined;
  let failed: ((e: Error) => void) | undefined;
  const meter = new Meter();
  let receivedBytes = 0;
  let wake: (() => void) | undefined;
  // A link that closes mid-run fails the point instead of leaving it waiting for ever.
  let broken: ((e: Error) => void) | undefined;
  const a = QuicTransport.listen(
    native,
    { ...quicOptions, secretKey: keyA },
    {
      input(input: NodeInput) {
        if (input.type === 'linkOpened') opened?.();
        else if (input.type === 'linkFailed') failed?.(new Error(`raw link failed: ${input.detail}`));
        else if (input.type === 'linkClosed') broken?.(new Error(`raw link closed: ${input.reason}`));
      },
      allocateLinkId: () => nextId++ as LinkId,
      onError,
    },
  );
  const b = QuicTransport.listen(
    native,
    { ...quicOptions, secretKey: keyB },
    {
      input(input: NodeInput) {
        if (input.type === 'linkClosed') broken?.(new Error(`raw link closed: ${input.reason}`));
        if (input.type !== 'frame' || input.body.length !== datumBytes) return;
        meter.add();
        receivedBytes += input.body.length;
        const w = wake;
        wake = undefined;
        w?.();
      },
      allocateLinkId: () => nextId++ as LinkId,
      onError,
    },
  );
  try {
    const link = 1 as LinkId;
    await new Promise<void>((resolve, reject) => {
      opened = resolve;
      failed = reject;
      a.connect(link, keyB.peerId, [b.location]);
    });
    // A link's first frame stands for its handshake, which the transport caps at
    // MAX_HANDSHAKE_FRAME_BYTES (4 KiB): a larger one resets the link. So a small frame goes
    // first (not counted); without it every datum size above 4 KiB stalled this bench.
    a.send(link, new Uint8Array(datumBytes === 1 ? 2 : 1));
    const body = new Uint8Array(datumBytes).fill(7);
    let sentBytes = 0;
    const stopAt = performance.now() + WARMUP_MS + seconds * 1000;
    setTimeout(() => meter.mark(), WARMUP_MS);
    while (performance.now() < stopAt) {
      // Fill the window, then wait for the receiver to read some of it.
      while (sentBytes - receivedBytes < WINDOW_BYTES) {
        a.send(link, body);
        sentBytes += datumBytes;
      }
      await new Promise<void>((resolve, reject) => {
        wake = resolve;
        broken = reject;
      });
    }
    const { datums, ms } = meter.read();
    return figure('raw-quic', datumBytes, datums, ms);
  } finally {
    await Promise.all([a.shutdown(100), b.shutdown(100)]);
  }
}

// ---- streams ----------------------------------------------------------------------------

const bytesCodec: DatumCodec<Uint8Array> = { encode: (v) => v, decode: (bytes) => bytes };

async function streams(datumBytes: number): Promise<Figure> {
  const network = `bench-streams-${process.pid}-${datumBytes}`;
  const a = await Network.create({ network });
  const b = await Network.create({ network, bootstrap: [a.addr] });
  try {
    // Not `disconnectLagging` (the default): a full queue then makes trySend fail with
    // FullError and `send` wait, instead of cutting the consumer off as too slow.
    const p = a.streams.producer<Uint8Array>('bench', { codec: bytesCodec, disconnectLagging: false });
    const c = b.streams.consumer<Uint8Array>('bench', { codec: bytesCodec, bufferSize: window });
    await p.when.subscribed().minimumOf(1);
    const meter = new Meter();
    let done = false;
    const reader = (async () => {
      for await (const datum of c) {
        meter.add();
        if (datum.length !== datumBytes) throw new Error(`datum of ${datum.length} bytes, expected ${datumBytes}`);
        if (done) break;
      }
    })();
    const body = new Uint8Array(datumBytes).fill(7);
    const stopAt = performance.now() + WARMUP_MS + seconds * 1000;
    setTimeout(() => meter.mark(), WARMUP_MS);
    while (performance.now() < stopAt) {
      try {
        for (let k = 0; k < 256; k++) p.trySend(body);
      } catch (e) {
        if (!(e instanceof FullError)) throw e;
        await p.send(body); // waits for room
      }
      // Let the consumer side and the transport run between bursts.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const { datums, ms } = meter.read();
    const dropped = p.consumers().reduce((sum, info) => sum + info.dropped, 0);
    if (dropped > 0) throw new Error(`${dropped} datums dropped: the bench must only send what fits`);
    done = true;
    await p.close();
    await Promise.race([reader, sleep(1_000)]);
    return figure('streams', datumBytes, datums, ms);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

// ---- run --------------------------------------------------------------------------------

const figures: Figure[] = [];
for (const size of SIZES) {
  if (only !== 'streams') figures.push(await rawQuic(size));
  if (only !== 'raw') figures.push(await streams(size));
}
if (flags.json) {
  console.log(JSON.stringify(figures));
} else {
  console.log(`streams over QUIC on 127.0.0.1, ${seconds} s per point (after ${WARMUP_MS} ms warm-up)`);
  const show = (f: Figure | undefined) => (f ? `${f.datumsPerSecond.toLocaleString('en')} /s ${f.megabytesPerSecond} MB/s` : '-');
  for (const size of SIZES) {
    const raw = figures.find((f) => f.path === 'raw-quic' && f.datumBytes === size);
    const st = figures.find((f) => f.path === 'streams' && f.datumBytes === size);
    const pct = raw && st ? ` (${Math.round((st.megabytesPerSecond / raw.megabytesPerSecond) * 100)}% of raw)` : '';
    console.log(`${String(size).padStart(6)} B datums: raw QUIC ${show(raw)}; streams ${show(st)}${pct}`);
  }
}
