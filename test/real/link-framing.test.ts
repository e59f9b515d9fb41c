import { describe, expect, it } from 'vitest';
import { closeFrame, dataFrameHeader, LinkFrameDecoder, MAX_CLOSE_REASON_BYTES } from '../../net-real/link-framing.ts';
import type { QuicStream } from '../../net-real/quic/napi.ts';
import { StreamWriter } from '../../net-real/stream-writer.ts';

function dataFrame(body: Uint8Array): Uint8Array {
  const header = dataFrameHeader(body.length);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

describe('link framing', () => {
  it('round-trips data and close frames split at every byte', () => {
    const bytes = new Uint8Array([...dataFrame(new Uint8Array([1, 2, 3])), ...dataFrame(new Uint8Array(0)), ...closeFrame(204, 'bye ✓')]);
    const decoder = new LinkFrameDecoder(16);
    const frames = [];
    for (const byte of bytes) {
      const out = decoder.push(Uint8Array.of(byte));
      expect(out.error).toBeUndefined();
      frames.push(...out.frames);
    }
    expect(frames).toEqual([
      { kind: 'data', body: new Uint8Array([1, 2, 3]) },
      { kind: 'data', body: new Uint8Array(0) },
      { kind: 'close', code: 204, reason: 'bye ✓' },
    ]);
  });

  it('accepts a body of exactly the limit and rejects one byte more before buffering it', () => {
    const decoder = new LinkFrameDecoder(2048);
    expect(decoder.push(dataFrame(new Uint8Array(2048))).frames).toHaveLength(1);
    const header = dataFrameHeader(2049);
    const out = decoder.push(header);
    expect(out.error?.kind).toBe('oversized');
  });

  it('holds the first frame to its own limit (the handshake), a close frame and later frames to the full one', () => {
    const decoder = new LinkFrameDecoder(1 << 20, 4096);
    expect(decoder.push(dataFrameHeader(4097)).error?.kind).toBe('oversized');
    const first = new LinkFrameDecoder(1 << 20, 4096);
    expect(first.push(dataFrame(new Uint8Array(4096))).frames).toHaveLength(1);
    expect(first.push(dataFrame(new Uint8Array(1 << 20))).frames).toHaveLength(1);
    // Both in one chunk: the second is held to the full limit.
    const both = new LinkFrameDecoder(1 << 20, 4096).push(new Uint8Array([...dataFrame(new Uint8Array(10)), ...dataFrame(new Uint8Array(5000))]));
    expect(both.error).toBeUndefined();
    expect(both.frames).toHaveLength(2);
    const close = new LinkFrameDecoder(1 << 20, 16).push(closeFrame(400, 'x'.repeat(MAX_CLOSE_REASON_BYTES)));
    expect(close.frames[0]?.kind).toBe('close');
  });

  it('rejects a hostile length prefix, an empty frame and an unknown kind', () => {
    expect(new LinkFrameDecoder(1024).push(new Uint8Array([0xff, 0xff, 0xff, 0xff])).error?.kind).toBe('oversized');
    expect(new LinkFrameDecoder(1024).push(new Uint8Array([0, 0, 0, 0])).error?.kind).toBe('truncated');
    expect(new LinkFrameDecoder(1024).push(new Uint8Array([0, 0, 0, 1, 7])).error?.kind).toBe('unknown-variant');
    expect(new LinkFrameDecoder(1024).push(new Uint8Array([0, 0, 0, 2, 1, 0])).error?.kind).toBe('truncated');
  });

  it('keeps the good frames that came before an error', () => {
    const out = new LinkFrameDecoder(1024).push(new Uint8Array([...dataFrame(new Uint8Array([9])), 0, 0, 0, 1, 9]));
    expect(out.frames).toEqual([{ kind: 'data', body: new Uint8Array([9]) }]);
    expect(out.error).toBeDefined();
  });

  it('cuts long close reasons at a character boundary', () => {
    const frame = closeFrame(400, 'é'.repeat(MAX_CLOSE_REASON_BYTES));
    const out = new LinkFrameDecoder(8).push(frame);
    expect(out.error).toBeUndefined();
    const close = out.frames[0];
    expect(close?.kind === 'close' && close.reason).toBe('é'.repeat(MAX_CLOSE_REASON_BYTES / 2));
  });
});

/** A stream whose writes complete when the test says so. */
function fakeStream() {
  const writes: Uint8Array[] = [];
  /** What the writer handed over, by reference: a binding may read it until the write resolves. */
  const handed: Uint8Array[] = [];
  const calls: string[] = [];
  let release: (() => void) | undefined;
  let failNext: Error | undefined;
  const stream: QuicStream = {
    id: () => '0',
    read: () => new Promise(() => {}),
    write: (data) => {
      writes.push(Uint8Array.from(data));
      handed.push(data);
      calls.push('write');
      if (failNext) return Promise.reject(failNext);
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    finishWrite: async () => {
      calls.push('finish');
    },
    resetWrite: async () => {
      calls.push('reset');
    },
    stopRead: async () => {
      calls.push('stop');
    },
  };
  return {
    stream,
    writes,
    handed,
    calls,
    release: () => release?.(),
    fail: (error: Error) => {
      failNext = error;
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('stream writer', () => {
  it('coalesces frames queued in one turn into one write, and queues behind a write in flight', async () => {
    const fake = fakeStream();
    const writer = new StreamWriter(fake.stream, () => {});
    for (let i = 0; i < 100; i++) writer.push(Uint8Array.of(i));
    await tick();
    expect(fake.writes).toHaveLength(1);
    expect([...(fake.writes[0] as Uint8Array)]).toEqual([...Array(100).keys()]);
    writer.push(Uint8Array.of(100));
    writer.push(Uint8Array.of(101));
    await tick();
    expect(fake.writes).toHaveLength(1); // one write in flight at a time
    fake.release();
    await tick();
    expect(fake.writes.map((w) => [...w])).toEqual([[...Array(100).keys()], [100, 101]]);
    fake.release();
    await writer.idle();
  });

  it('leaves a batch untouched until its write resolves, though batch buffers are reused', async () => {
    const fake = fakeStream();
    const writer = new StreamWriter(fake.stream, () => {});
    const queueRound = (round: number) => {
      for (let i = 0; i < 50; i++) writer.push(Uint8Array.of(round), Uint8Array.of(i));
    };
    queueRound(0);
    await tick();
    for (let round = 1; round < 4; round++) {
      queueRound(round); // queued behind the write in flight
      await tick();
      const inFlight = fake.handed.length - 1;
      expect([...(fake.handed[inFlight] as Uint8Array)]).toEqual([...(fake.writes[inFlight] as Uint8Array)]);
      fake.release(); // the next batch is gathered now, into the same buffer
      await tick();
      const previous = fake.handed[inFlight] as Uint8Array;
      expect(fake.handed).toHaveLength(inFlight + 2);
      // Reused: the resolved write's view now shows the next batch, which is what makes reuse safe only after resolve.
      expect(previous[0]).toBe(round);
    }
    fake.release();
    await writer.idle();
    expect(fake.writes.map((w) => w[0])).toEqual([0, 1, 2, 3]);
    expect(fake.writes.every((w) => w.length === 100)).toBe(true);
  });

  it('refuses pushes past its bound while the peer is not reading, queueing nothing of them', async () => {
    const fake = fakeStream();
    const writer = new StreamWriter(fake.stream, () => {}, 10);
    expect(writer.push(new Uint8Array(4))).toBe(true);
    await tick(); // the first batch is in flight and never completes: the peer is not reading
    expect(writer.push(new Uint8Array(6), new Uint8Array(4))).toBe(true);
    expect(writer.queuedBytes).toBe(10);
    expect(writer.push(new Uint8Array(1))).toBe(false);
    expect(writer.queuedBytes).toBe(10);
    fake.release();
    await tick();
    expect(writer.push(new Uint8Array(1))).toBe(true); // drained into the next write: room again
    fake.release();
    await tick();
    fake.release();
    await writer.idle();
  });

  it('finishes after the queue drains and drops later pushes', async () => {
    const fake = fakeStream();
    const writer = new StreamWriter(fake.stream, () => {});
    writer.push(Uint8Array.of(1));
    writer.end();
    writer.push(Uint8Array.of(2));
    await tick();
    expect(fake.calls).toEqual(['write']);
    fake.release();
    await writer.idle();
    expect(fake.calls).toEqual(['write', 'finish']);
    expect(fake.writes.map((w) => [...w])).toEqual([[1]]);
  });

  it('reports a failed write once and drops the queue', async () => {
    const fake = fakeStream();
    const errors: unknown[] = [];
    const writer = new StreamWriter(fake.stream, (error) => errors.push(error));
    fake.fail(new Error('connection lost'));
    writer.push(Uint8Array.of(1));
    await writer.idle();
    writer.push(Uint8Array.of(2));
    await tick();
    expect(errors).toHaveLength(1);
    expect(fake.writes).toHaveLength(1);
  });

  it('reset drops the queue and abandons both directions', async () => {
    const fake = fakeStream();
    const writer = new StreamWriter(fake.stream, () => {});
    writer.push(Uint8Array.of(1));
    writer.reset();
    await tick();
    expect(fake.calls).toEqual(['reset', 'stop']);
    expect(writer.queuedBytes).toBe(0);
  });
});
