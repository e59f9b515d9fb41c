import type { PeerEntry } from '../core/discovery/peer-entry.ts';
import { AlreadyExistsError, ClosedError, FullError, InvalidArgumentError, type MosaikError, OfflineError } from '../core/errors.ts';
import { Digest, type StreamId, type Tag } from '../core/identity/digest.ts';
import type { PeerId } from '../core/identity/keys.ts';
import type { NodeEvent } from '../core/node/io.ts';
import { type BackoffConfig, backoffFields, resolveBackoff } from '../core/streams/backoff.ts';
import { ChannelConditions } from '../core/streams/conditions.ts';
import { checkedDatumCodec, type DatumCodec } from '../core/streams/datum-codec.ts';
import {
  type ChannelInfo,
  DEFAULT_BUFFER_SIZE,
  oversizedDatum,
  type PeerPredicate,
  type StreamsCommand,
  type StreamsEvent,
  type StreamsSubsystem,
} from '../core/streams/streams.ts';
import { MAX_WINDOW } from '../core/streams/wire.ts';
import { checkedValidators, type TicketValidator } from '../core/tickets/ticket.ts';
import { assert } from '../core/util/assert.ts';
import type { NodeBackend } from './network.ts';

export type { BackoffConfig, ChannelInfo, DatumCodec, PeerPredicate };
export { ChannelConditions };

export interface ProducerOptions<T> {
  /** Consumers must pass every predicate (over their entry and measured RTT), at subscribe and on every change of their entry. */
  readonly require?: PeerPredicate | readonly PeerPredicate[];
  /**
   * Consumers must carry tickets that every validator accepts (AND-ed; see docs/tickets.md):
   * checked when they subscribe (refused with `not-allowed`), re-checked whenever their entry
   * changes (a revoked ticket) and when their tickets expire, which drops them (`not-allowed`).
   * @default []
   */
  readonly requireTickets?: readonly TicketValidator[];
  /** When the producer is online (`send` waits for it, `trySend` fails without it). @default c => c.minimumOf(1) */
  readonly onlineWhen?: (c: ChannelConditions) => ChannelConditions;
  /** @default unlimited */
  readonly maxConsumers?: number;
  /** Datums queued per consumer beyond what it has room for. @default 1024 */
  readonly bufferSize?: number;
  /** A consumer whose queue is full is disconnected (`too-slow`); with false the datum is dropped for it alone. @default true */
  readonly disconnectLagging?: boolean;
  /** @default msgpack */
  readonly codec?: DatumCodec<T>;
  /**
   * Gets every datum no subscription took (mosaik's undelivered sink): sent while nobody was
   * subscribed (with an `onlineWhen` that allows it), or dropped or cut off by every consumer,
   * or too large for the frames of every consumer's node (`consumers()[i].tooLarge`).
   * It runs inside the node's event delivery: if it throws (or the codec cannot decode the
   * datum for it), the error is counted in `stats().undeliveredErrors` and otherwise dropped.
   */
  readonly undelivered?: (value: T) => void;
}

export interface ConsumerOptions<T> {
  /** Producers must pass every predicate; re-checked whenever a producer's entry changes. */
  readonly require?: PeerPredicate | readonly PeerPredicate[];
  /**
   * Producers must carry tickets that every validator accepts: others are never subscribed
   * to, and a subscription ends (`not-allowed`) when the producer's entry stops passing or
   * its tickets expire. @default []
   */
  readonly requireTickets?: readonly TicketValidator[];
  /** @default c => c.minimumOf(0): online at once */
  readonly onlineWhen?: (c: ChannelConditions) => ChannelConditions;
  /** Datums buffered per producer before the application takes them; a producer sends no more until it does. @default 1024 */
  readonly bufferSize?: number;
  /** Reconnect timing after a recoverable disconnect. @default 500 ms ×1.5 ±50%, at most 60 s, give up after 300 s, reset after 10 s connected */
  readonly backoff?: Partial<BackoffConfig>;
  /** @default msgpack */
  readonly codec?: DatumCodec<T>;
}

/** Datums and payload bytes (mosaik `Stats`); producer uptime counts from creation, consumer uptime too (as mosaik). */
export interface StreamStats {
  readonly datums: number;
  readonly bytes: number;
  readonly uptimeMs: number;
}

/**
 * A producer's figures: also the datums its `undelivered` sink failed on (it threw, or the
 * codec could not decode them), and the datums skipped for a consumer whose node takes less
 * in a frame (`tooLarge`, once per such consumer; `consumers()[i].tooLarge` for one).
 */
export interface ProducerStats extends StreamStats {
  readonly undeliveredErrors: number;
  readonly tooLarge: number;
}

/** A consumer's figures: also the datums its codec could not decode (dropped, see `Consumer`). */
export interface ConsumerStats extends StreamStats {
  readonly undecodable: number;
}

/**
 * Typed producers and consumers over named streams (`StreamId = Digest.from(name)`); they
 * find each other through discovery. Delivery is at-most-once and FIFO per producer→consumer
 * link, with no replay and no order across producers. See docs/streams.md.
 */
export class Streams {
  readonly #backend: NodeBackend;

  /** @internal */
  constructor(backend: NodeBackend) {
    this.#backend = backend;
  }

  /**
   * Opens this node's producer of a stream and advertises it in the discovery entry. Throws
   * AlreadyExistsError if the node already has one (one fan-out sink per node and stream),
   * InvalidArgumentError for bad options.
   */
  producer<T>(name: string | StreamId, options: ProducerOptions<T> = {}): Producer<T> {
    checkOptions(options);
    const stream = streamIdOf(name);
    const bufferSize = checkBufferSize(options.bufferSize);
    const maxConsumers = checkMaxConsumers(options.maxConsumers);
    const sub = subsystemOf(this.#backend);
    if (sub.producerOf(stream) !== undefined) throw new AlreadyExistsError(`this node already has a producer of stream ${stream.short}`);
    const config = {
      require: predicates(options.require),
      requireTickets: checkedValidators(options.requireTickets),
      onlineWhen: onlineConditions(options.onlineWhen, ChannelConditions.minimumOf(1)),
      maxConsumers,
      bufferSize,
      disconnectLagging: checkFlag(options.disconnectLagging, 'disconnectLagging', true),
    };
    const codec = checkedDatumCodec<T>(options.codec);
    const undelivered = options.undelivered;
    if (undelivered !== undefined && typeof undelivered !== 'function')
      throw new InvalidArgumentError(`undelivered must be a function, got ${typeof undelivered}`);
    const handle = open(this.#backend, { kind: 'openProducer', stream, config });
    return new Producer<T>(this.#backend, handle, stream, codec, undelivered);
  }

  /** Opens a consumer of a stream: it subscribes to every producer of it that the catalog shows and `require` accepts. */
  consumer<T>(name: string | StreamId, options: ConsumerOptions<T> = {}): Consumer<T> {
    checkOptions(options);
    const stream = streamIdOf(name);
    const bufferSize = checkBufferSize(options.bufferSize);
    // The node's default (`streams: { backoff }` at creation), then this consumer's own.
    const backoff = resolveBackoff({ ...this.#backend.defaults?.streams?.backoff, ...backoffFields(options.backoff) });
    const config = {
      require: predicates(options.require),
      requireTickets: checkedValidators(options.requireTickets),
      onlineWhen: onlineConditions(options.onlineWhen, ChannelConditions.minimumOf(0)),
      bufferSize,
      backoff,
    };
    const codec = checkedDatumCodec<T>(options.codec);
    const handle = open(this.#backend, { kind: 'openConsumer', stream, config });
    return new Consumer<T>(this.#backend, handle, stream, codec);
  }
}

/**
 * A condition on a handle's connected channels (mosaik `ChannelConditions` as a future):
 * build it with `minimumOf`, `withTags`, `withPredicate`, `unmet`, then `await` it. It
 * resolves when the condition holds (at once if it holds now) and is re-armable: each
 * `await` waits anew. Rejects with ClosedError if the handle or the network closes first.
 */
export class Condition implements PromiseLike<void> {
  readonly #handle: HandleBase;
  readonly conditions: ChannelConditions;

  /** @internal */
  constructor(handle: HandleBase, conditions: ChannelConditions) {
    this.#handle = handle;
    this.conditions = conditions;
  }

  minimumOf(n: number): Condition {
    return new Condition(this.#handle, this.conditions.minimumOf(n));
  }

  withTags(...tags: (string | Tag)[]): Condition {
    return new Condition(this.#handle, this.conditions.withTags(...tags));
  }

  withPredicate(f: (peer: PeerEntry) => boolean): Condition {
    return new Condition(this.#handle, this.conditions.withPredicate(f));
  }

  unmet(): Condition {
    return new Condition(this.#handle, this.conditions.unmet());
  }

  /** Whether it holds now. */
  get isMet(): boolean {
    return this.conditions.isMet(this.#handle.connectedPeers());
  }

  // biome-ignore lint/suspicious/noThenProperty: conditions are awaitable by design (mosaik's When futures)
  then<R1 = void, R2 = never>(
    // biome-ignore lint/suspicious/noConfusingVoidType: PromiseLike<void>'s own signature
    onFulfilled?: ((value: void) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#handle.waitFor(() => this.isMet).then(onFulfilled, onRejected);
  }
}

/** What producers and consumers share: the handle id, events, conditions, closing. */
abstract class HandleBase {
  protected readonly backend: NodeBackend;
  protected readonly handle: number;
  readonly stream: StreamId;
  #closed = false;
  readonly #waiters = new Set<{ readonly test: () => boolean; readonly resolve: () => void; readonly reject: (e: MosaikError) => void }>();
  readonly #unsubscribe: () => void;

  constructor(backend: NodeBackend, handle: number, stream: StreamId) {
    this.backend = backend;
    this.handle = handle;
    this.stream = stream;
    this.#unsubscribe = backend.subscribe(
      (event) => this.#onEvent(event),
      () => this.ended(),
      (error) => this.ended(error),
    );
  }

  /** True once closed: by the application, by the node (shutdown), or because the node crashed (its handles died with it). */
  get closed(): boolean {
    if (this.#closed) return true;
    let alive: boolean;
    try {
      alive = this.subsystem().has(this.handle);
    } catch {
      alive = false; // the node is down or closed
    }
    if (!alive) this.ended();
    return !alive;
  }

  /** The entries of the peers at the other end of connected channels. */
  abstract connectedPeers(): PeerEntry[];
  /** Whether the handle is online now. */
  abstract get isOnline(): boolean;
  protected abstract onStreamsEvent(event: StreamsEvent): void;

  readonly when = {
    /** Resolves when the handle is online (its `onlineWhen` holds). */
    online: (): Promise<void> => this.waitFor(() => this.isOnline),
    /** Resolves when it is not. */
    offline: (): Promise<void> => this.waitFor(() => !this.isOnline),
    /** At least one connected channel; refine with `.minimumOf(n)`, `.withTags()`, `.withPredicate()`, `.unmet()`. */
    subscribed: (): Condition => new Condition(this, ChannelConditions.minimumOf(1)),
    /** No connected channel (`subscribed().unmet()`). */
    unsubscribed: (): Condition => new Condition(this, ChannelConditions.minimumOf(1).unmet()),
  };

  /** @internal Resolves once `test()` holds, re-checked after each event of this handle and each catalog change. */
  waitFor(test: () => boolean): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError(`${this.kind} is closed`));
    if (test()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiters.add({ test, resolve, reject });
    });
  }

  protected abstract readonly kind: 'producer' | 'consumer';

  #onEvent(event: NodeEvent): void {
    if (event.type.startsWith('streams.')) {
      const e = event as StreamsEvent;
      if (e.handle !== this.handle) return;
      if (e.type === 'streams.closed') return this.ended();
      this.onStreamsEvent(e);
    } else if (!event.type.startsWith('discovery.')) return;
    this.#check();
  }

  #check(): void {
    if (this.#waiters.size === 0) return;
    for (const waiter of [...this.#waiters]) {
      if (!waiter.test()) continue;
      this.#waiters.delete(waiter);
      waiter.resolve();
    }
  }

  /**
   * The handle is done: closed by the application, by the node, or the network closed
   * (waiters get ClosedError), or its node crashed (`error`: NodeDownError, as pending sends).
   */
  protected ended(error: MosaikError = new ClosedError(`${this.kind} is closed`)): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    for (const waiter of this.#waiters) waiter.reject(error);
    this.#waiters.clear();
  }

  /** Closes the handle: a producer un-advertises the stream and ends its subscriptions; a consumer ends its own. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.backend.request({ to: 'streams', cmd: { kind: 'close', handle: this.handle } });
    } catch {
      // the node is closed or down: the handle is gone with it
    }
    this.ended();
  }

  protected subsystem(): StreamsSubsystem {
    return subsystemOf(this.backend);
  }

  /** The node's wall clock: views take differences of it for uptimes. */
  protected nowMs(): number {
    return this.backend.inspect().wallClockMs;
  }
}

/** A producer: one per node and stream, fanning datums out to every subscribed consumer. */
export class Producer<T> extends HandleBase {
  protected readonly kind = 'producer';
  readonly #codec: DatumCodec<T>;

  /** The undelivered sink, decoding on the way (its type is free of T, so producers stay covariant). */
  readonly #undelivered: ((data: Uint8Array) => void) | undefined;
  #undeliveredErrors = 0;

  /** @internal */
  constructor(backend: NodeBackend, handle: number, stream: StreamId, codec: DatumCodec<T>, undelivered?: (value: T) => void) {
    super(backend, handle, stream);
    this.#codec = codec;
    this.#undelivered = undelivered && ((data) => undelivered(codec.decode(data)));
  }

  get isOnline(): boolean {
    return !this.closed && (this.#view()?.online ?? false);
  }

  connectedPeers(): PeerEntry[] {
    return this.#view()?.consumers.map((c) => c.peer) ?? [];
  }

  /** Sends once the producer is online and has room; rejects with ClosedError if it closes first, EncodingError if the value does not encode. */
  async send(value: T): Promise<void> {
    if (this.closed) throw new ClosedError('producer is closed');
    const data = this.#codec.encode(value);
    await this.backend.request({ to: 'streams', cmd: { kind: 'send', handle: this.handle, data, wait: true } });
  }

  /** Sends now or throws: OfflineError (onlineWhen does not hold), FullError (no consumer has room, or sends are waiting), ClosedError, EncodingError. */
  trySend(value: T): void {
    if (this.closed) throw new ClosedError('producer is closed');
    const view = this.#view();
    if (!view) throw new ClosedError('producer is closed');
    if (!view.online) throw new OfflineError(`producer of ${this.stream.short} is offline`);
    if (view.full) throw new FullError(`producer of ${this.stream.short} has no room`);
    const data = this.#codec.encode(value);
    const oversized = oversizedDatum(data, this.backend.maxFrameBytes);
    if (oversized) throw oversized;
    // Dispatched synchronously; the checks above are the machine's, so it cannot fail now.
    this.backend.request({ to: 'streams', cmd: { kind: 'send', handle: this.handle, data, wait: false } }).catch(() => undefined);
  }

  /** The subscribed consumers. */
  consumers(): ChannelInfo[] {
    return this.closed ? [] : [...(this.#view()?.consumers ?? [])];
  }

  /** What this producer sent: datums and payload bytes accepted, time since it opened, and the `undelivered` sink's failures. */
  stats(): ProducerStats {
    const view = this.#view();
    return view
      ? { ...view.stats, undeliveredErrors: this.#undeliveredErrors, tooLarge: view.tooLarge }
      : { datums: 0, bytes: 0, uptimeMs: 0, undeliveredErrors: 0, tooLarge: 0 };
  }

  protected onStreamsEvent(event: StreamsEvent): void {
    if (event.type !== 'streams.undelivered' || !this.#undelivered) return;
    // Called from the node's event delivery, which is in the middle of a send or a network
    // input: a throw here would reject a send that was accepted, or end the node. The datum
    // was sent (and counted); only the sink failed, which the stats tell.
    try {
      this.#undelivered(event.data);
    } catch {
      this.#undeliveredErrors++;
    }
  }

  #view() {
    if (this.closed) return undefined;
    return this.subsystem().producerView(this.handle, this.nowMs());
  }
}

/** A consumer: subscribed to every matching producer, at most once each; an AsyncIterable of datums. */
export class Consumer<T> extends HandleBase implements AsyncIterable<T> {
  protected readonly kind = 'consumer';
  readonly #codec: DatumCodec<T>;
  /** Decoded datums the application has not taken, with the producer and size each came with. */
  readonly #buffer: { readonly producer: PeerId; readonly value: T; readonly bytes: number }[] = [];
  #head = 0;
  /** `recv` calls waiting for a datum, oldest first: each datum that arrives wakes one. */
  readonly #receivers: { readonly resolve: () => void; readonly reject: (e: MosaikError) => void }[] = [];
  /** Datums taken since the last `consumed` command, by producer peer hex. */
  readonly #acks = new Map<string, [producer: PeerId, n: number]>();
  #ackScheduled = false;
  readonly #stats = { datums: 0, bytes: 0, undecodable: 0 };
  readonly #openedAtMs: number;

  /** @internal */
  constructor(backend: NodeBackend, handle: number, stream: StreamId, codec: DatumCodec<T>) {
    super(backend, handle, stream);
    this.#codec = codec;
    this.#openedAtMs = this.nowMs();
  }

  get isOnline(): boolean {
    return !this.closed && (this.#view()?.online ?? false);
  }

  connectedPeers(): PeerEntry[] {
    return (this.#view()?.producers ?? []).filter((p) => p.state === 'connected').map((p) => p.peer);
  }

  /**
   * The next datum, waiting for one; rejects with ClosedError once the consumer is closed.
   * Concurrent calls are served in call order, one datum each.
   */
  async recv(): Promise<T> {
    for (let woken = false; ; woken = true) {
      const value = this.#take();
      if (value.ok) return value.value;
      if (this.closed) throw new ClosedError('consumer is closed');
      // Woken for a datum that a `tryRecv` took first: it keeps its place at the front.
      await new Promise<void>((resolve, reject) => {
        if (woken) this.#receivers.unshift({ resolve, reject });
        else this.#receivers.push({ resolve, reject });
      });
    }
  }

  /** The next datum if one is buffered, else undefined. Throws ClosedError once closed. */
  tryRecv(): T | undefined {
    const value = this.#take();
    if (value.ok) return value.value;
    if (this.closed) throw new ClosedError('consumer is closed');
    return undefined;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      let value: T;
      try {
        value = await this.recv();
      } catch (e) {
        if (e instanceof ClosedError) return;
        throw e;
      }
      yield value;
    }
  }

  /** The producers subscribed to, connecting or waiting to retry included. */
  producers(): ChannelInfo[] {
    return [...(this.#view()?.producers ?? [])];
  }

  /** Datums and bytes the application took, and time since the consumer opened (as mosaik's aggregate). */
  stats(): ConsumerStats {
    return { ...this.#stats, uptimeMs: this.closed ? 0 : this.nowMs() - this.#openedAtMs };
  }

  protected onStreamsEvent(event: StreamsEvent): void {
    if (event.type !== 'streams.datum') return;
    // Decoded on arrival: a datum this consumer's codec refuses is the producer's fault, so
    // it ends that producer's link (ProtocolViolation, as mosaik's receiver does on a decode
    // error) and never reaches the application, which goes on receiving from the others.
    let value: T;
    try {
      value = this.#codec.decode(event.data);
    } catch (e) {
      this.#stats.undecodable++;
      const reason = `undecodable datum: ${e instanceof Error ? e.message : String(e)}`;
      const { link, producer } = event;
      queueMicrotask(() => {
        if (this.closed) return;
        this.backend.request({ to: 'streams', cmd: { kind: 'undecodable', handle: this.handle, producer, link, reason } }).catch(() => undefined);
      });
      return;
    }
    this.#buffer.push({ producer: event.producer, value, bytes: event.data.length });
    this.#receivers.shift()?.resolve();
  }

  protected override ended(error: MosaikError = new ClosedError('consumer is closed')): void {
    super.ended(error);
    this.#buffer.length = 0;
    this.#head = 0;
    for (const receiver of this.#receivers.splice(0)) receiver.reject(error);
  }

  #take(): { ok: true; value: T } | { ok: false } {
    if (this.#head >= this.#buffer.length) return { ok: false };
    const item = this.#buffer[this.#head++] as { producer: PeerId; value: T; bytes: number };
    if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
      this.#buffer.splice(0, this.#head);
      this.#head = 0;
    }
    this.#ack(item.producer);
    this.#stats.datums++;
    this.#stats.bytes += item.bytes;
    return { ok: true, value: item.value };
  }

  /** Room for one more datum from `producer`: told to the machine in one command per turn. */
  #ack(producer: PeerId): void {
    const counted = this.#acks.get(producer.hex);
    if (counted) counted[1]++;
    else this.#acks.set(producer.hex, [producer, 1]);
    if (this.#ackScheduled) return;
    this.#ackScheduled = true;
    queueMicrotask(() => {
      this.#ackScheduled = false;
      if (this.closed || this.#acks.size === 0) return;
      const counts = [...this.#acks.values()];
      this.#acks.clear();
      this.backend.request({ to: 'streams', cmd: { kind: 'consumed', handle: this.handle, counts } }).catch(() => undefined);
    });
  }

  #view() {
    if (this.closed) return undefined;
    return this.subsystem().consumerView(this.handle, this.nowMs());
  }
}

function streamIdOf(name: string | StreamId): StreamId {
  if (name instanceof Digest) return name;
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('a stream name must be a non-empty string or a Digest');
  return Digest.from(name);
}

function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new InvalidArgumentError(`options must be an object, got ${options === null ? 'null' : typeof options}`);
}

function checkMaxConsumers(max: number | undefined): number {
  const n = max ?? Number.POSITIVE_INFINITY;
  if (typeof n !== 'number' || !(n >= 0) || (Number.isFinite(n) && !Number.isSafeInteger(n)))
    throw new InvalidArgumentError(`maxConsumers must be a non-negative integer, got ${String(n)}`);
  return n;
}

function checkFlag(flag: boolean | undefined, name: string, byDefault: boolean): boolean {
  if (flag !== undefined && typeof flag !== 'boolean') throw new InvalidArgumentError(`${name} must be a boolean, got ${typeof flag}`);
  return flag ?? byDefault;
}

function checkBufferSize(size: number | undefined): number {
  const n = size ?? DEFAULT_BUFFER_SIZE;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_WINDOW) throw new InvalidArgumentError(`bufferSize must be an integer in [1, ${MAX_WINDOW}], got ${n}`);
  return n;
}

function predicates(require: PeerPredicate | readonly PeerPredicate[] | undefined): readonly PeerPredicate[] {
  if (require === undefined) return [];
  if (typeof require === 'function') return [require];
  // Refused here: a non-function would first be called inside the node, when a peer shows up.
  if (!Array.isArray(require) || !require.every((f) => typeof f === 'function'))
    throw new InvalidArgumentError('require must be a function or an array of functions');
  return [...require];
}

/**
 * `onlineWhen` applied to the handle's default. Checked here, before anything is opened: the
 * node evaluates the result on every change of the handle's channels.
 */
function onlineConditions(onlineWhen: ((c: ChannelConditions) => ChannelConditions) | undefined, base: ChannelConditions): ChannelConditions {
  if (onlineWhen === undefined) return base;
  if (typeof onlineWhen !== 'function') throw new InvalidArgumentError(`onlineWhen must be a function, got ${typeof onlineWhen}`);
  const conditions: unknown = onlineWhen(base);
  if (!(conditions instanceof ChannelConditions))
    throw new InvalidArgumentError(
      `onlineWhen must return the ChannelConditions it was given, refined; got ${conditions === null ? 'null' : typeof conditions}`,
    );
  return conditions;
}

function subsystemOf(backend: NodeBackend): StreamsSubsystem {
  const sub = backend.inspect().machine.subsystem('streams') as StreamsSubsystem | undefined;
  assert(sub, 'nodes built by the drivers run streams');
  return sub;
}

/** Opens a handle: the command runs synchronously, so its handle is readable right after. */
function open(backend: NodeBackend, cmd: StreamsCommand): number {
  const sub = subsystemOf(backend);
  const done = backend.request<number>({ to: 'streams', cmd });
  done.catch(() => undefined);
  const handle = sub.lastOpened;
  if (handle === undefined)
    throw new InvalidArgumentError(`could not open the ${cmd.kind === 'openProducer' ? 'producer' : 'consumer'} (see the discovery entry's bounds)`);
  return handle;
}
