import type { QuicStream } from './quic/napi.ts';

/** Largest single native write; bigger batches are split so one write never copies megabytes. */
const MAX_BATCH_BYTES = 256 * 1024;

/**
 * The send side of one stream, coalescing. Each awaited native write costs ~40 µs, so one
 * write per frame caps a stream near 25k frames/s; instead frames queue here and go out in
 * one write per batch, with at most one write in flight. Everything queued while a write is
 * in flight (or in the same turn of the event loop) joins the next batch, in FIFO order.
 *
 * Never throws and never rejects: a failed write drops the queue and reports once through
 * `onError`.
 */
export class StreamWriter {
  readonly #stream: QuicStream;
  readonly #onError: (error: unknown) => void;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #running: Promise<void> | undefined;
  /**
   * Where batches are gathered, reused from one write to the next: a fresh 256 KiB buffer per
   * write made the garbage collector the largest cost of a fast stream. Reuse is safe because
   * at most one write is in flight and the binding has copied a write's bytes when it
   * resolves. Dropped when the writer goes idle, so quiet links hold nothing.
   */
  #batchBuffer: Uint8Array | undefined;
  /** `open` → `ending` (finish after the queue drains) → `ended`; or `failed`/`reset`. */
  #state: 'open' | 'ending' | 'ended' | 'failed' | 'reset' = 'open';

  readonly #maxQueuedBytes: number;

  /**
   * @param maxQueuedBytes bytes that may wait for a slow peer before `push` refuses more:
   *   QUIC flow control stops our writes when the peer stops reading, and without a bound
   *   the queue would grow until the process runs out of memory.
   */
  constructor(stream: QuicStream, onError: (error: unknown) => void, maxQueuedBytes = Number.POSITIVE_INFINITY) {
    this.#stream = stream;
    this.#onError = onError;
    this.#maxQueuedBytes = maxQueuedBytes;
  }

  /**
   * Queues chunks that must go out back to back (e.g. a header and its body). Returns false,
   * queueing nothing, when they would take the queue past its bound: the caller gives up on
   * the stream (the peer is not reading).
   */
  push(...chunks: Uint8Array[]): boolean {
    if (this.#state !== 'open') return true;
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.length;
    if (this.#queuedBytes + bytes > this.#maxQueuedBytes) return false;
    for (const chunk of chunks) this.#queue.push(chunk);
    this.#queuedBytes += bytes;
    this.#running ??= this.#run();
    return true;
  }

  /** Sends FIN once everything queued is written; later pushes are dropped. */
  end(): void {
    if (this.#state !== 'open') return;
    this.#state = 'ending';
    this.#running ??= this.#run();
  }

  /** Abandons the stream both ways at once: queued data is dropped, the peer's reads fail. */
  reset(): void {
    if (this.#state === 'reset') return;
    const wasDone = this.#state === 'ended' || this.#state === 'failed';
    this.#state = 'reset';
    this.#queue = [];
    this.#queuedBytes = 0;
    if (!wasDone) swallow(this.#stream.resetWrite());
    swallow(this.#stream.stopRead());
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Resolves when nothing is queued or in flight (whatever the outcome). */
  idle(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  async #run(): Promise<void> {
    // Let the rest of this turn queue its frames first: one write carries all of them.
    await Promise.resolve();
    while (this.#queue.length > 0 && (this.#state === 'open' || this.#state === 'ending')) {
      const batch = this.#takeBatch();
      try {
        await this.#stream.write(batch);
      } catch (error) {
        // reset() may have run while the write was in flight (TS cannot see that).
        if ((this.#state as string) === 'reset') break;
        this.#state = 'failed';
        this.#queue = [];
        this.#queuedBytes = 0;
        this.#running = undefined;
        this.#onError(error);
        return;
      }
    }
    if (this.#state === 'ending') {
      this.#state = 'ended';
      swallow(this.#stream.finishWrite());
    }
    this.#batchBuffer = undefined;
    this.#running = undefined;
  }

  #takeBatch(): Uint8Array {
    const first = this.#queue[0] as Uint8Array;
    if (first.length >= MAX_BATCH_BYTES || this.#queue.length === 1) {
      this.#queue.shift();
      this.#queuedBytes -= first.length;
      return first;
    }
    let count = 0;
    let bytes = 0;
    while (count < this.#queue.length) {
      const next = (this.#queue[count] as Uint8Array).length;
      if (count > 0 && bytes + next > MAX_BATCH_BYTES) break;
      bytes += next;
      count++;
    }
    this.#batchBuffer ??= new Uint8Array(MAX_BATCH_BYTES);
    // One chunk may alone exceed the bound only as the first (taken whole above), so this fits.
    const batch = this.#batchBuffer.subarray(0, bytes);
    let offset = 0;
    for (const chunk of this.#queue.splice(0, count)) {
      batch.set(chunk, offset);
      offset += chunk.length;
    }
    this.#queuedBytes -= bytes;
    return batch;
  }
}

/** Native control calls return promises that may reject once the stream is gone; that is fine. */
export function swallow(promise: Promise<unknown>): void {
  promise.catch(() => {});
}
