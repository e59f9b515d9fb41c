import fc from 'fast-check';
import { DecodeError } from 'mosaik';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from '../../core/wire/frame.ts';

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Splits `stream` at the given offsets (any order, duplicates and out-of-range ignored). */
function split(stream: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < stream.length))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, stream.length]) {
    chunks.push(stream.slice(from, p));
    from = p;
  }
  return chunks;
}

/** Feeds chunks and returns every frame; fails the test on an error. */
function feed(decoder: FrameDecoder, chunks: readonly Uint8Array[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (const chunk of chunks) {
    const r = decoder.push(chunk);
    expect(r.error).toBeUndefined();
    // Copy out: a frame may be a view into a chunk the caller owns.
    frames.push(...r.frames.map((f) => Uint8Array.from(f)));
  }
  return frames;
}

const bodies = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(300).map((_, i) => i & 0xff), new Uint8Array([9])];
const stream = concat(bodies.map(encodeFrame));

describe('encodeFrame', () => {
  it('prefixes a big-endian u32 length', () => {
    expect([...encodeFrame(new Uint8Array([7, 8]))]).toEqual([0, 0, 0, 2, 7, 8]);
    expect([...encodeFrame(new Uint8Array(0))]).toEqual([0, 0, 0, 0]);
    expect([...encodeFrame(new Uint8Array(0x0102)).subarray(0, FRAME_HEADER_BYTES)]).toEqual([0, 0, 1, 2]);
  });
});

describe('FrameDecoder', () => {
  it('reassembles frames cut at every single boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const frames = feed(new FrameDecoder(1024), split(stream, [cut]));
      expect(frames, `cut at ${cut}`).toEqual(bodies);
    }
  });

  it('reassembles frames cut at every pair of boundaries', () => {
    const small = concat([new Uint8Array([5, 6]), new Uint8Array(0), new Uint8Array([7])].map(encodeFrame));
    for (let a = 0; a <= small.length; a++) {
      for (let b = a; b <= small.length; b++) {
        const frames = feed(new FrameDecoder(16), split(small, [a, b]));
        expect(frames, `cuts at ${a},${b}`).toEqual([new Uint8Array([5, 6]), new Uint8Array(0), new Uint8Array([7])]);
      }
    }
  });

  it('reassembles frames fed one byte at a time, with empty chunks between', () => {
    const decoder = new FrameDecoder(1024);
    const chunks = [...stream].flatMap((b) => [new Uint8Array(0), new Uint8Array([b])]);
    expect(feed(decoder, chunks)).toEqual(bodies);
    expect(decoder.pendingBytes).toBe(0);
    expect(decoder.finish()).toBeUndefined();
  });

  it('reassembles any sequence of bodies under any chunking (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 12 }), fc.array(fc.nat({ max: 2000 }), { maxLength: 40 }), (bs, cuts) => {
        const s = concat(bs.map(encodeFrame));
        const decoder = new FrameDecoder(80);
        expect(feed(decoder, split(s, cuts))).toEqual(bs);
        expect(decoder.pendingBytes).toBe(0);
        expect(decoder.finish()).toBeUndefined();
      }),
      { seed: 42, numRuns: 1000 },
    );
  });

  it('does not hold on to bytes of frames already returned', () => {
    const decoder = new FrameDecoder(1024);
    const first = encodeFrame(new Uint8Array([1, 2]));
    const second = encodeFrame(new Uint8Array([3, 4, 5]));
    const r = decoder.push(concat([first, second.subarray(0, 5)]));
    expect(r.frames).toEqual([new Uint8Array([1, 2])]);
    expect(decoder.pendingBytes).toBe(5);
    expect(decoder.push(second.subarray(5)).frames).toEqual([new Uint8Array([3, 4, 5])]);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('handles zero-length frames, alone and in runs', () => {
    const decoder = new FrameDecoder(0);
    expect(decoder.push(encodeFrame(new Uint8Array(0))).frames).toEqual([new Uint8Array(0)]);
    const r = decoder.push(concat([encodeFrame(new Uint8Array(0)), encodeFrame(new Uint8Array(0)), encodeFrame(new Uint8Array(0))]));
    expect(r.frames).toHaveLength(3);
    expect(r.frames.every((f) => f.length === 0)).toBe(true);
    expect(decoder.finish()).toBeUndefined();
  });

  it('accepts a frame of exactly the limit', () => {
    const decoder = new FrameDecoder(8);
    expect(feed(decoder, [encodeFrame(new Uint8Array(8))])).toEqual([new Uint8Array(8)]);
  });

  it('reports an oversized length from the header alone, and stays failed', () => {
    const decoder = new FrameDecoder(8);
    const ok = encodeFrame(new Uint8Array([1]));
    // A valid frame, then just the 4-byte header of a 9-byte frame: no body is sent.
    const r = decoder.push(concat([ok, new Uint8Array([0, 0, 0, 9])]));
    expect(r.frames).toEqual([new Uint8Array([1])]);
    expect(r.error).toBeInstanceOf(DecodeError);
    expect(r.error?.kind).toBe('oversized');
    expect(r.error?.closeCode).toBe(400);
    // The hostile header is all that was buffered.
    expect(decoder.pendingBytes).toBe(FRAME_HEADER_BYTES);
    const again = decoder.push(encodeFrame(new Uint8Array([2])));
    expect(again.frames).toEqual([]);
    expect(again.error).toBe(r.error);
    expect(decoder.pendingBytes).toBe(FRAME_HEADER_BYTES);
    expect(decoder.push(new Uint8Array(0)).error).toBe(r.error);
  });

  it('reports a 4 GiB length prefix split across chunks without allocating it', () => {
    const decoder = new FrameDecoder(1 << 20);
    expect(decoder.push(new Uint8Array([0xff, 0xff])).error).toBeUndefined();
    const r = decoder.push(new Uint8Array([0xff, 0xff]));
    expect(r.error?.kind).toBe('oversized');
    expect(decoder.pendingBytes).toBe(4);
  });

  it('finish reports a partial frame as truncated', () => {
    const frame = encodeFrame(new Uint8Array([1, 2, 3]));
    for (let n = 1; n < frame.length; n++) {
      const decoder = new FrameDecoder(16);
      feed(decoder, [frame.subarray(0, n)]);
      expect(decoder.pendingBytes).toBe(n);
      const e = decoder.finish();
      expect(e, `${n} bytes`).toBeInstanceOf(DecodeError);
      expect(e?.kind).toBe('truncated');
      expect(e?.message).toContain(`${n} bytes pending`);
    }
  });

  it('finish is clean on a frame boundary and on an empty stream', () => {
    expect(new FrameDecoder(16).finish()).toBeUndefined();
    const decoder = new FrameDecoder(16);
    feed(decoder, [encodeFrame(new Uint8Array([1]))]);
    expect(decoder.finish()).toBeUndefined();
  });
});
