import { ClosedError } from '../core/errors.ts';

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
  readonly #unsubscribe: () => void;

  constructor(subscribe: (push: (event: E) => void, end: () => void) => () => void, backlog = 1024) {
    this.#backlog = backlog;
    this.#unsubscribe = subscribe(
      (event) => this.#push(event),
      () => this.#end(),
    );
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
    this.#unsubscribe();
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
