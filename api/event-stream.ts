import { ClosedError, InvalidArgumentError } from '../core/errors.ts';

/** The most events a stream keeps for a slow reader. */
const MAX_BACKLOG = 1 << 20;

/** Delivered in place of events a slow reader missed: the queue was full and the oldest were dropped. */
export interface Lagged {
  readonly type: 'lagged';
  readonly missed: number;
}

/**
 * Events as an AsyncIterable with a bounded backlog (mosaik's `events_backlog`): a reader
 * that falls behind loses the oldest events and is told how many (`lagged`), rather than
 * holding the node's memory hostage. Ends when the source ends (the network closed).
 */
export class EventStream<E> implements AsyncIterable<E | Lagged> {
  readonly #backlog: number;
  readonly #queue: (E | Lagged)[] = [];
  #missed = 0;
  #ended = false;
  #wake: (() => void) | undefined;
  /** Undefined only while subscribing: a source that has ended already ends the stream from inside `subscribe`. */
  #unsubscribe: (() => void) | undefined;

  /** `backlog`: events kept for a slow reader, an integer from 1 to 2^20 (else InvalidArgumentError). */
  constructor(subscribe: (push: (event: E) => void, end: () => void) => () => void, backlog = 1024) {
    if (!(Number.isSafeInteger(backlog) && backlog >= 1 && backlog <= MAX_BACKLOG))
      throw new InvalidArgumentError(`backlog must be an integer from 1 to ${MAX_BACKLOG}, got ${String(backlog)}`);
    this.#backlog = backlog;
    const unsubscribe = subscribe(
      (event) => this.#push(event),
      () => this.#end(),
    );
    if (this.#ended) unsubscribe();
    else this.#unsubscribe = unsubscribe;
  }

  #push(event: E): void {
    if (this.#ended) return;
    if (this.#queue.length >= this.#backlog) {
      this.#queue.shift();
      this.#missed++;
    }
    this.#queue.push(event);
    this.#wake?.();
  }

  #end(): void {
    this.#ended = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#wake?.();
  }

  /** Stops listening; a pending `next()` ends. */
  close(): void {
    this.#end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<E | Lagged> {
    try {
      for (;;) {
        if (this.#missed > 0) {
          const missed = this.#missed;
          this.#missed = 0;
          yield { type: 'lagged', missed };
          continue;
        }
        const next = this.#queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
      }
    } finally {
      this.#end();
    }
  }
}

/** Resolves when `test()` holds, checked now and after each event; rejects with ClosedError if the source ends first. */
export function when(subscribe: (push: () => void, end: () => void) => () => void, test: () => boolean): Promise<void> {
  if (test()) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const unsubscribe = subscribe(
      () => {
        if (done || !test()) return;
        done = true;
        unsubscribe();
        resolve();
      },
      () => {
        if (done) return;
        done = true;
        unsubscribe();
        reject(new ClosedError('network closed before the condition held'));
      },
    );
  });
}
