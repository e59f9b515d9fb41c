import { ClosedError, MosaikError } from '../core/errors.ts';
import type { NodeCommand, NodeEvent, NodeInput, NodeOutput } from '../core/node/io.ts';
import type { NodeMachine } from '../core/node/node.ts';
import { IdWindowMap } from '../core/util/id-window-map.ts';

/** The outputs a driver performs itself; the runtime handles emit/complete/fail. */
export type TransportOutput = Exclude<NodeOutput, { type: 'emit' | 'complete' | 'fail' }>;

/** What a driver gives the runtime: its clock and a way to perform I/O outputs. */
export interface DriverPort {
  /** This node's monotonic clock, ms (timers are armed on it). */
  nowMs(): number;
  /** This node's wall clock, ms since 1970. */
  wallClockMs(): number;
  /** Perform one output; called in the order the machine produced them. */
  perform(output: TransportOutput): void;
  /**
   * Makes the `persist` outputs performed so far durable, now (returning nothing) or when
   * the returned promise resolves. Nothing that follows a write (a send, a completed call,
   * an event) goes out before a flush that covers it has finished: the runtime holds such
   * outputs, in order. Inputs keep being handled meanwhile: their writes are performed at
   * once and their other outputs held, and one flush covers all of them when the one under
   * way ends (group commit; one flush at a time). A driver whose persists are durable as
   * they are performed need not have it. If it throws or rejects, the runtime stops (see
   * `stop`) and the held outputs are dropped.
   */
  flush?(): void | PromiseLike<void>;
  /** Every event the machine emits (the simulator traces them). */
  observe?(event: NodeEvent): void;
  /**
   * Called after a request settles or an event reaches a listener: application code may
   * now run. The simulator uses it to know when to let promise callbacks settle.
   */
  onAppWork?(): void;
}

type Settle = { resolve(value: unknown): void; reject(error: MosaikError): void };
/** An output waiting until `needs` flushes have finished. */
type Held = { readonly output: Exclude<NodeOutput, { type: 'persist' }>; readonly needs: number };

/**
 * The bridge between promise-shaped API calls and a node machine, shared by both drivers:
 * a call becomes a `command` input with a request id, and the machine's `complete`/`fail`
 * output settles the promise. Inputs from the driver go through `input()`; the outputs come
 * back out through the driver port in order.
 */
export class NodeRuntime {
  readonly #machine: NodeMachine;
  readonly #port: DriverPort;
  /** Requests in flight by id (ids increase; see IdWindowMap for why not a `Map`). */
  readonly #requests = new IdWindowMap<Settle>();
  readonly #listeners = new Set<(event: NodeEvent) => void>();
  #nextRequest = 1;
  #stopped: MosaikError | undefined;
  // Group commit (see `DriverPort.flush`): writes staged since the last flush began; flushes
  // started and finished; outputs waiting for theirs, in the order the machine made them.
  #unsynced = false;
  #flushing = false;
  #flushesStarted = 0;
  #flushesDone = 0;
  #held: Held[] = [];

  constructor(machine: NodeMachine, port: DriverPort) {
    this.#machine = machine;
    this.#port = port;
  }

  get machine(): NodeMachine {
    return this.#machine;
  }

  /** Starts the machine: call once, after the driver is wired, before any other input. */
  start(): void {
    this.input({ type: 'start' });
  }

  /** Feeds one input from the driver (transport event or timer). */
  input(input: NodeInput): void {
    if (this.#stopped) return;
    this.#dispatch(this.#machine.handle(input, this.#port.nowMs(), this.#port.wallClockMs()));
  }

  /** Issues an API call; resolves with the machine's result or rejects with its typed error. */
  request<T>(command: NodeCommand): Promise<T> {
    if (this.#stopped) return Promise.reject(this.#stopped);
    const req = this.#nextRequest++;
    const promise = new Promise<T>((resolve, reject) => {
      this.#requests.set(req, { resolve: resolve as (v: unknown) => void, reject });
    });
    try {
      this.#dispatch(this.#machine.handle({ type: 'command', req, command }, this.#port.nowMs(), this.#port.wallClockMs()));
    } catch (e) {
      // Not answered, and never will be: a request nobody settles would be failed at close,
      // where no one awaits it any more (an unhandled rejection).
      this.#requests.delete(req);
      throw e;
    }
    return promise;
  }

  /** Subscribes to emitted events; returns the unsubscribe function. */
  subscribe(listener: (event: NodeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Requests in flight; a checker asserts this drains to zero. */
  get pendingRequests(): number {
    return this.#requests.size;
  }

  /**
   * Stops the runtime without a graceful shutdown (a crash, or the end of a driver): every
   * request in flight fails with `error`, and later inputs are ignored.
   */
  stop(error: MosaikError = new ClosedError('node stopped')): void {
    if (this.#stopped) return;
    this.#stopped = error;
    const pending = [...this.#requests.values()];
    this.#requests.clear();
    this.#held = []; // never sent: they depended on writes that may not be stored
    for (const settle of pending) settle.reject(error);
    if (pending.length > 0) this.#port.onAppWork?.();
  }

  #dispatch(outputs: readonly NodeOutput[]): void {
    for (const output of outputs) {
      if (this.#stopped) return;
      if (output.type === 'persist') {
        // Staged at once, even behind held outputs: storing a write early breaks no rule,
        // and it lets one sync cover the writes of every input that came meanwhile.
        // A lazy write starts no flush and holds nothing back: the next flush takes it along.
        this.#port.perform(output);
        if (!output.lazy) this.#unsynced = true;
        continue;
      }
      // This output may leave once every write made before it is synced: by the flush under
      // way if nothing was staged since it began, else by the next one.
      const needs = this.#unsynced ? this.#flushesStarted + 1 : this.#flushesStarted;
      this.#startFlush();
      if (this.#stopped) return;
      if (needs > this.#flushesDone || this.#held.length > 0) this.#held.push({ output, needs });
      else this.#deliver(output);
    }
    this.#startFlush(); // writes nothing depends on yet are synced too, soon
  }

  #deliver(output: Exclude<NodeOutput, { type: 'persist' }>): void {
    switch (output.type) {
      case 'emit':
        this.#port.observe?.(output.event);
        if (this.#listeners.size > 0) {
          for (const listener of this.#listeners) listener(output.event);
          this.#port.onAppWork?.();
        }
        break;
      case 'complete':
      case 'fail': {
        const settle = this.#requests.get(output.req);
        if (!settle) break; // settled already (the runtime was stopped)
        this.#requests.delete(output.req);
        if (output.type === 'complete') settle.resolve(output.result);
        else settle.reject(output.error);
        this.#port.onAppWork?.();
        break;
      }
      default:
        this.#port.perform(output);
    }
  }

  /** Starts a flush of the staged writes, unless one is under way (the next starts when it ends). */
  #startFlush(): void {
    if (!this.#unsynced || this.#flushing || this.#stopped) return;
    this.#unsynced = false;
    this.#flushesStarted++;
    let pending: void | PromiseLike<void>;
    try {
      pending = this.#port.flush?.();
    } catch (e) {
      this.#fail(e);
      return;
    }
    if (pending === undefined) {
      // Done already (a driver may answer some flushes at once and others later).
      this.#flushesDone = this.#flushesStarted;
      this.#release();
      return;
    }
    this.#flushing = true;
    pending.then(
      () => {
        this.#flushing = false;
        if (this.#stopped) return;
        this.#flushesDone = this.#flushesStarted;
        this.#release();
        this.#startFlush();
      },
      (e: unknown) => {
        this.#flushing = false;
        this.#fail(e);
      },
    );
  }

  /** Delivers the held outputs whose writes are now synced, in order. */
  #release(): void {
    while (!this.#stopped && this.#held.length > 0 && (this.#held[0] as Held).needs <= this.#flushesDone) {
      // Shifted before delivery: a listener's call may dispatch, and its outputs queue behind.
      this.#deliver((this.#held.shift() as Held).output);
    }
  }

  /**
   * The driver could not store the writes: the node stops before anything that depends on
   * them goes out, and its calls fail with the driver's error.
   */
  #fail(e: unknown): void {
    this.stop(e instanceof MosaikError ? e : new ClosedError(`the node's storage failed: ${e instanceof Error ? e.message : String(e)}`));
  }
}
