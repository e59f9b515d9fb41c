import type { PeerId, SecretKey } from '../core/identity/keys.ts';
import type { DialFailure, LinkId, NodeInput } from '../core/node/io.ts';
import { MAX_HANDSHAKE_FRAME_BYTES } from '../core/node/link-handshake.ts';
import { CloseCode } from '../core/wire/close-codes.ts';
import { formatHostPort, parseHostPort, resolveHost } from './address.ts';
import { closeFrame, dataFrameHeader, LinkFrameDecoder } from './link-framing.ts';
import type { QuicClient, QuicConnection, QuicNative, QuicServer, QuicStream, QuinnConfig } from './quic/napi.ts';
import { peerFromMultiaddr, privateKeyProto } from './quic/peer-id.ts';
import { ReadBudget } from './read-budget.ts';
import { StreamWriter, swallow } from './stream-writer.ts';

/**
 * Bytes asked for per native read. Each read is a round trip through the native binding, so
 * large reads keep a fast stream from being bound by that: at 64 KiB a 16 KiB-datum stream
 * topped out near 210 MB/s on loopback, at 256 KiB near 290 MB/s. The binding returns only
 * the bytes it had, so a quiet stream's reads stay small.
 */
const READ_CHUNK_BYTES = 256 * 1024;
/** After a close frame, how long we keep draining for the peer to end its side before dropping the stream. */
const CLOSE_LINGER_MS = 5_000;
/**
 * Accepts waiting on the server endpoint at once. One native accept also awaits that
 * connection's TLS handshake, which a peer can stall until the idle timeout (10 s by default):
 * with a single accept, one stalled handshake kept every other peer from connecting.
 */
const CONCURRENT_ACCEPTS = 32;

/** Where the transport's inputs go: the node runtime. */
export interface TransportSink {
  /** Feeds one input. Only ever called from a callback of its own, never inside `connect`/`send`/`close`. */
  input(input: NodeInput): void;
  /** Ids for inbound links, from the machine so they never collide with its own. */
  allocateLinkId(): LinkId;
  /** An unexpected error (a bug); network failures are inputs, not errors. */
  onError(error: unknown): void;
  /** A connection was dropped for holding too many bytes of unfinished frames (for the metrics). */
  onOverrun?(bound: 'connection' | 'node'): void;
}

export interface QuicTransportOptions {
  readonly secretKey: SecretKey;
  readonly host: string;
  readonly port: number;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly keepAliveIntervalMs: number;
  readonly maxStreamsPerConnection: number;
  readonly maxQueuedBytesPerLink: number;
  /** Bytes of frames received in part that one connection's links may hold (read-budget.ts). */
  readonly maxPartialBytesPerConnection: number;
  /** The same over every connection of the node. */
  readonly maxPartialBytes: number;
}

/** A dial that did not give us a usable connection. */
class DialError extends Error {
  constructor(
    readonly reason: DialFailure,
    message: string,
  ) {
    super(message);
  }
}

/** One QUIC connection to an authenticated peer; either side may open links on it. */
interface Conn {
  readonly native: QuicConnection;
  readonly peer: PeerId;
  readonly links: Set<LinkId>;
  alive: boolean;
  /** Bytes its links hold of frames received in part (counted by `ReadBudget`). */
  held: number;
}

/**
 * One link as the transport sees it:
 * - `dialing`: connecting / opening its stream; the machine awaits linkOpened or linkFailed;
 * - `open`: frames flow both ways; the machine hears of its end exactly once;
 * - `closing`: a close frame went one way or the other and the machine has forgotten the
 *   link; we flush, send FIN and drain the peer's side until it ends too;
 * - `done`: forgotten.
 */
interface Link {
  readonly id: LinkId;
  readonly peer: PeerId;
  phase: 'dialing' | 'open' | 'closing' | 'done';
  conn?: Conn;
  stream?: QuicStream;
  writer?: StreamWriter;
  decoder?: LinkFrameDecoder;
  /** What `decoder` held when last counted against the connection's read budget. */
  held: number;
  linger?: NodeJS.Timeout;
  /** Resolves when the link is forgotten. */
  readonly gone: Promise<void>;
  readonly markGone: () => void;
}

/**
 * The QUIC transport of one node: a server endpoint accepting connections, a client endpoint
 * dialing them, at most one dial per peer in flight, connections reused by every link to the
 * same peer (in either direction), and one bidirectional stream per link carrying
 * `link-framing.ts` frames.
 *
 * It performs the machine's `connect`/`send`/`close` outputs and answers with inputs. No
 * native promise is left without a handler: every failure becomes a typed input.
 */
export class QuicTransport {
  readonly #native: QuicNative;
  readonly #options: QuicTransportOptions;
  readonly #sink: TransportSink;
  readonly #config: QuinnConfig;
  readonly #server: QuicServer;
  readonly #clients = new Map<4 | 6, QuicClient>();
  readonly #links = new Map<LinkId, Link>();
  /** Live connections by peer hex; usually one, two after a simultaneous dial. */
  readonly #pool = new Map<string, Conn[]>();
  readonly #dials = new Map<string, Promise<Conn>>();
  readonly #dialTimers = new Set<NodeJS.Timeout>();
  readonly #readBudget: ReadBudget<Conn>;
  #closed = false;

  private constructor(native: QuicNative, options: QuicTransportOptions, sink: TransportSink) {
    this.#native = native;
    this.#options = options;
    this.#sink = sink;
    this.#readBudget = new ReadBudget(options.maxPartialBytesPerConnection, options.maxPartialBytes);
    this.#config = native.config({
      privateKeyProto: privateKeyProto(options.secretKey),
      handshakeTimeout: options.handshakeTimeoutMs,
      maxIdleTimeout: options.idleTimeoutMs,
      keepAliveInterval: options.keepAliveIntervalMs,
      maxConcurrentStreamLimit: options.maxStreamsPerConnection,
      maxStreamData: 10_000_000,
      maxConnectionData: 15_000_000,
      receiveBufferSize: 500_000,
      sendBufferSize: 500_000,
    });
    this.#server = native.server(this.#config, options.host, options.port);
  }

  /** Binds the server endpoint and starts accepting. Throws when the address cannot be bound. */
  static listen(native: QuicNative, options: QuicTransportOptions, sink: TransportSink): QuicTransport {
    const transport = new QuicTransport(native, options, sink);
    for (let i = 0; i < CONCURRENT_ACCEPTS; i++) transport.#guard(transport.#acceptConnections());
    return transport;
  }

  /** The UDP port this node accepts connections on (the one chosen, for port 0). */
  get port(): number {
    return this.#server.port();
  }

  /** `host:port` this node accepts connections on. */
  get location(): string {
    return formatHostPort({ host: this.#options.host, port: this.port });
  }

  // ---- outputs of the machine ----------------------------------------------------------

  connect(id: LinkId, peer: PeerId, addrs: readonly string[]): void {
    const link = newLink(id, peer, 'dialing');
    this.#links.set(id, link);
    this.#guard(
      this.#connectionTo(peer, addrs).then(
        (conn) => this.#openOutbound(link, conn),
        (error: unknown) => this.#dialFailed(link, error),
      ),
    );
  }

  send(id: LinkId, body: Uint8Array): void {
    const link = this.#links.get(id);
    if (link?.phase !== 'open') return; // the machine only sends on open links; a race with the peer's close
    if (link.writer && !link.writer.push(dataFrameHeader(body.length), body)) {
      // Not inline: inputs never arrive from inside `send` (the machine is mid-dispatch).
      const detail = `peer is not reading: ${link.writer.queuedBytes} bytes already queued`;
      link.writer.reset();
      this.#forget(link);
      queueMicrotask(() => this.#input({ type: 'linkClosed', link: id, code: CloseCode.LinkLost, reason: detail }));
    }
  }

  close(id: LinkId, code: number, reason: string): void {
    const link = this.#links.get(id);
    if (!link) return;
    if (link.phase === 'dialing') {
      // `#openOutbound` sees `done` and abandons the stream; no input follows.
      this.#forget(link);
      return;
    }
    if (link.phase !== 'open') return;
    link.writer?.push(closeFrame(code, reason));
    this.#startClosing(link);
  }

  /**
   * Stops the transport: waits up to `graceMs` for links already closing to finish their
   * exchange (so peers read our close frames instead of seeing a lost connection), then
   * aborts every connection and both endpoints. Inputs stop at once. Idempotent.
   */
  async shutdown(graceMs: number): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#dialTimers) clearTimeout(timer);
    this.#dialTimers.clear();
    const closing = [...this.#links.values()].filter((link) => link.phase === 'closing').map((link) => link.gone);
    await within(Promise.all(closing), graceMs);
    for (const link of [...this.#links.values()]) {
      link.writer?.reset();
      this.#forget(link);
    }
    for (const conns of this.#pool.values()) for (const conn of conns) conn.native.abort();
    this.#pool.clear();
    for (const client of this.#clients.values()) client.abort();
    this.#clients.clear();
    // The server resolves once its connections have drained; do not wait long for that.
    await within(
      this.#server.abort().catch(() => {}),
      graceMs,
    );
  }

  // ---- dialing ---------------------------------------------------------------------------

  #connectionTo(peer: PeerId, addrs: readonly string[]): Promise<Conn> {
    const live = this.#pool.get(peer.hex)?.find((conn) => conn.alive);
    if (live) return Promise.resolve(live);
    let dial = this.#dials.get(peer.hex);
    if (!dial) {
      dial = this.#dial(peer, addrs).finally(() => this.#dials.delete(peer.hex));
      this.#dials.set(peer.hex, dial);
    }
    return dial;
  }

  /** Tries each address in turn; fails with the last address's failure. */
  async #dial(peer: PeerId, addrs: readonly string[]): Promise<Conn> {
    let failure = new DialError('unreachable', 'no address to dial');
    for (const location of addrs) {
      if (this.#closed) break;
      try {
        return await this.#dialOne(peer, location);
      } catch (error) {
        failure = error instanceof DialError ? error : new DialError('unreachable', message(error));
      }
    }
    if (this.#closed) throw new DialError('unreachable', 'node is closing');
    throw failure;
  }

  async #dialOne(peer: PeerId, location: string): Promise<Conn> {
    const hostPort = parseHostPort(location);
    if (!hostPort) throw new DialError('unreachable', `not a host:port address: '${location}'`);
    let target: { ip: string; family: 4 | 6 };
    try {
      target = await resolveHost(hostPort.host);
    } catch (error) {
      throw new DialError('unreachable', `cannot resolve ${hostPort.host}: ${message(error)}`);
    }
    if (this.#closed) throw new DialError('unreachable', 'node is closing');
    const native = await this.#handshake(this.#client(target.family), target.ip, hostPort.port, location);
    // libp2p-TLS proved the peer holds the key behind this id; it must be the peer we meant.
    const remote = peerFromMultiaddr(native.remoteMultiaddr());
    if (!remote?.equals(peer)) {
      native.abort();
      throw new DialError('peer-mismatch', `${location} is ${remote ? `peer ${remote.short}` : 'not a mosaik peer'}, expected ${peer.short}`);
    }
    if (this.#closed) {
      native.abort();
      throw new DialError('unreachable', 'node is closing');
    }
    return this.#adopt(native, remote);
  }

  /**
   * The native dial, bounded by our handshake timeout: quinn's own bound for a silent address
   * is about 3 s whatever the configured value. A connection that completes after we gave up
   * is closed.
   */
  #handshake(client: QuicClient, ip: string, port: number, location: string): Promise<QuicConnection> {
    return this.#withinHandshakeTimeout(
      client.outboundConnection(ip, port),
      (timeoutMs) => new DialError('timeout', `no QUIC handshake with ${location} within ${timeoutMs} ms`),
      (error) => new DialError(classifyDialError(error), `${location}: ${message(error)}`),
      (late) => late.abort(),
    );
  }

  /**
   * A new stream on `conn`, bounded by our handshake timeout: quinn waits for the peer to allow
   * one more stream, which a peer that allows none (or all of whose streams are taken) never
   * does. A stream that opens after we gave up is abandoned.
   */
  #openStream(conn: Conn): Promise<QuicStream> {
    return this.#withinHandshakeTimeout(
      conn.native.outboundStream(),
      (timeoutMs) => new DialError('timeout', `peer ${conn.peer.short} allowed no new stream within ${timeoutMs} ms`),
      (error) => new DialError('unreachable', `cannot open a stream: ${message(error)}`),
      (late) => {
        swallow(late.resetWrite());
        swallow(late.stopRead());
      },
    );
  }

  /** `task`, or a DialError once the handshake timeout has passed; `abandon` takes what comes too late. */
  #withinHandshakeTimeout<T>(
    task: Promise<T>,
    timedOut: (timeoutMs: number) => DialError,
    failed: (error: unknown) => DialError,
    abandon: (late: T) => void,
  ): Promise<T> {
    const timeoutMs = this.#options.handshakeTimeoutMs;
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        this.#dialTimers.delete(timer);
        reject(timedOut(timeoutMs));
      }, timeoutMs);
      this.#dialTimers.add(timer);
      this.#guard(
        task.then(
          (value) => {
            if (settled) return abandon(value);
            settled = true;
            clearTimeout(timer);
            this.#dialTimers.delete(timer);
            resolve(value);
          },
          (error: unknown) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            this.#dialTimers.delete(timer);
            reject(failed(error));
          },
        ),
      );
    });
  }

  /** The dialing endpoint of an address family, made on first use. */
  #client(family: 4 | 6): QuicClient {
    let client = this.#clients.get(family);
    if (!client) {
      try {
        client = this.#native.client(this.#config, family === 4 ? 'ipv4' : 'ipv6');
      } catch (error) {
        throw new DialError('unreachable', `cannot open an IPv${family} endpoint: ${message(error)}`);
      }
      this.#clients.set(family, client);
    }
    return client;
  }

  async #openOutbound(link: Link, conn: Conn): Promise<void> {
    if (link.phase !== 'dialing') return;
    let stream: QuicStream;
    try {
      stream = await this.#openStream(conn);
    } catch (error) {
      this.#dialFailed(link, error);
      return;
    }
    if (link.phase !== 'dialing' || !conn.alive) {
      // Closed meanwhile (nothing was sent, so the peer may never even see the stream).
      swallow(stream.resetWrite());
      swallow(stream.stopRead());
      if (link.phase === 'dialing') this.#dialFailed(link, new DialError('unreachable', 'connection lost while opening the link'));
      return;
    }
    this.#attach(link, conn, stream);
    link.phase = 'open';
    this.#input({ type: 'linkOpened', link: link.id });
    this.#guard(this.#readLoop(link));
  }

  #dialFailed(link: Link, error: unknown): void {
    if (link.phase !== 'dialing') return;
    this.#forget(link);
    const failure = error instanceof DialError ? error : new DialError('unreachable', message(error));
    this.#input({ type: 'linkFailed', link: link.id, reason: failure.reason, detail: failure.message });
  }

  // ---- accepting -------------------------------------------------------------------------

  async #acceptConnections(): Promise<void> {
    for (;;) {
      let native: QuicConnection;
      try {
        native = await this.#server.inboundConnection();
      } catch (error) {
        // One failed handshake rejects one accept; only a closed endpoint ends the loop.
        if (this.#closed || /server closed/i.test(message(error))) return;
        continue;
      }
      const peer = peerFromMultiaddr(native.remoteMultiaddr());
      if (!peer || this.#closed) {
        native.abort();
        continue;
      }
      this.#adopt(native, peer);
    }
  }

  /** Registers a handshaken connection: pooled for reuse, its streams accepted, its end watched. */
  #adopt(native: QuicConnection, peer: PeerId): Conn {
    const conn: Conn = { native, peer, links: new Set(), alive: true, held: 0 };
    const conns = this.#pool.get(peer.hex);
    if (conns) conns.push(conn);
    else this.#pool.set(peer.hex, [conn]);
    this.#guard(
      native.closed().then(
        () => this.#connectionLost(conn, 'connection closed'),
        (error: unknown) => this.#connectionLost(conn, message(error)),
      ),
    );
    this.#guard(this.#acceptStreams(conn));
    return conn;
  }

  async #acceptStreams(conn: Conn): Promise<void> {
    for (;;) {
      let stream: QuicStream;
      try {
        stream = await conn.native.inboundStream();
      } catch {
        return; // the connection is gone; `#connectionLost` reports its links
      }
      if (this.#closed || !conn.alive) {
        swallow(stream.resetWrite());
        swallow(stream.stopRead());
        continue;
      }
      const link = newLink(this.#sink.allocateLinkId(), conn.peer, 'open');
      this.#links.set(link.id, link);
      this.#attach(link, conn, stream);
      this.#input({ type: 'linkIncoming', link: link.id, peer: conn.peer });
      this.#guard(this.#readLoop(link));
    }
  }

  #connectionLost(conn: Conn, detail: string): void {
    if (!conn.alive) return;
    conn.alive = false;
    this.#readBudget.forget(conn);
    const conns = this.#pool.get(conn.peer.hex);
    const rest = conns?.filter((other) => other !== conn) ?? [];
    if (rest.length > 0) this.#pool.set(conn.peer.hex, rest);
    else this.#pool.delete(conn.peer.hex);
    for (const id of [...conn.links]) {
      const link = this.#links.get(id);
      if (link) this.#lost(link, `connection lost: ${detail}`);
    }
  }

  // ---- links -------------------------------------------------------------------------------

  #attach(link: Link, conn: Conn, stream: QuicStream): void {
    link.conn = conn;
    link.stream = stream;
    // The first frame each way is the link handshake (or a close): a larger one is not buffered.
    link.decoder = new LinkFrameDecoder(this.#options.maxFrameBytes, MAX_HANDSHAKE_FRAME_BYTES);
    link.writer = new StreamWriter(stream, (error) => this.#writeFailed(link, error), this.#options.maxQueuedBytesPerLink);
    conn.links.add(link.id);
  }

  async #readLoop(link: Link): Promise<void> {
    const stream = link.stream as QuicStream;
    const decoder = link.decoder as LinkFrameDecoder;
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = await stream.read(READ_CHUNK_BYTES);
      } catch (error) {
        this.#readEnded(link, `stream failed: ${message(error)}`);
        return;
      }
      if (chunk === null) {
        this.#readEnded(link, 'stream ended without a close frame');
        return;
      }
      if (link.phase === 'done') return;
      if (link.phase !== 'open') continue; // closing: discard until the peer ends its side
      const { frames, error } = decoder.push(chunk);
      if (!this.#countHeld(link, decoder.heldBytes)) return;
      for (const frame of frames) {
        if (link.phase !== 'open') break;
        if (frame.kind === 'data') {
          this.#input({ type: 'frame', link: link.id, body: frame.body });
        } else {
          // The peer closed: the machine forgets the link, we end our side and drain theirs.
          this.#startClosing(link);
          this.#input({ type: 'linkClosed', link: link.id, code: frame.code, reason: frame.reason });
        }
      }
      if (error && link.phase === 'open') {
        // Treated as the peer violating the protocol: the machine hears so, the stream is reset.
        link.writer?.reset();
        this.#forget(link);
        this.#input({ type: 'linkClosed', link: link.id, code: CloseCode.ProtocolViolation, reason: `link framing: ${error.message}` });
        return;
      }
    }
  }

  /**
   * Counts what the link's decoder now holds against its connection's and the node's read
   * budgets, dropping the connections that go past them (read-budget.ts). False if this
   * link's own connection was dropped.
   */
  #countHeld(link: Link, held: number): boolean {
    const conn = link.conn;
    if (conn === undefined || !conn.alive) return true;
    const delta = held - link.held;
    link.held = held;
    let self = false;
    for (const { conn: dropped, bound } of this.#readBudget.change(conn, delta)) {
      if (dropped === conn) self = true;
      const why =
        bound === 'connection'
          ? `the peer sent more than ${this.#readBudget.maxPerConnection} bytes of unfinished frames on one connection`
          : `the node held more than ${this.#readBudget.maxTotal} bytes of unfinished frames; this connection held the most`;
      dropped.native.abort();
      this.#connectionLost(dropped, why);
      this.#sink.onOverrun?.(bound);
    }
    return !self;
  }

  #readEnded(link: Link, detail: string): void {
    if (link.phase === 'open') {
      this.#lost(link, detail);
      return;
    }
    // Closing: the peer has ended its side too, the exchange is complete.
    this.#forget(link);
  }

  #writeFailed(link: Link, error: unknown): void {
    if (link.phase === 'open') this.#lost(link, `write failed: ${message(error)}`);
    else this.#forget(link);
  }

  /** The transport lost an open link: the machine hears `LinkLost`, the stream is abandoned. */
  #lost(link: Link, detail: string): void {
    const wasOpen = link.phase === 'open';
    link.writer?.reset();
    this.#forget(link);
    if (wasOpen) this.#input({ type: 'linkClosed', link: link.id, code: CloseCode.LinkLost, reason: detail });
  }

  /** After a close frame (either way): flush, FIN, and give the peer a while to end its side. */
  #startClosing(link: Link): void {
    link.phase = 'closing';
    link.writer?.end();
    link.linger = setTimeout(() => {
      link.writer?.reset();
      this.#forget(link);
    }, CLOSE_LINGER_MS);
  }

  #forget(link: Link): void {
    if (link.phase === 'done' && !this.#links.has(link.id)) return;
    link.phase = 'done';
    if (link.linger) clearTimeout(link.linger);
    if (link.conn?.alive && link.held !== 0) this.#readBudget.change(link.conn, -link.held);
    link.held = 0;
    this.#links.delete(link.id);
    link.conn?.links.delete(link.id);
    link.markGone();
  }

  /**
   * Every background task ends here: network failures are handled inside the tasks, so what
   * reaches this is a bug, reported instead of becoming an unhandled rejection.
   */
  #guard(task: Promise<unknown>): void {
    task.catch((error: unknown) => this.#sink.onError(error));
  }

  #input(input: NodeInput): void {
    if (this.#closed) return;
    try {
      this.#sink.input(input);
    } catch (error) {
      this.#sink.onError(error);
    }
  }
}

function newLink(id: LinkId, peer: PeerId, phase: 'dialing' | 'open'): Link {
  let markGone!: () => void;
  const gone = new Promise<void>((resolve) => {
    markGone = resolve;
  });
  return { id, peer, phase, held: 0, gone, markGone };
}

/** quinn's messages are the only signal; anything unrecognized counts as unreachable. */
function classifyDialError(error: unknown): DialFailure {
  const text = message(error);
  if (/timed out|timeout/i.test(text)) return 'timeout';
  if (/refused|crypto|handshake|certificate|tls/i.test(text)) return 'refused';
  return 'unreachable';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Waits for `promise`, but no longer than `ms`; never rejects and leaves no timer behind. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([promise.then(noop, noop), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function noop(): void {}
