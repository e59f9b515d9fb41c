import { ClosedError, type MosaikError, OversizedError } from '../errors.ts';
import type { NetworkId } from '../identity/digest.ts';
import type { PeerId, SecretKey } from '../identity/keys.ts';
import { nobleVerifier, type SignatureVerifier } from '../identity/verifier.ts';
import { assert, unreachable } from '../util/assert.ts';
import type { Rng } from '../util/rng.ts';
import { CloseCode } from '../wire/close-codes.ts';
import { DEFAULT_MAX_FRAME_BYTES, type MessageCodec, MIN_MAX_FRAME_BYTES } from '../wire/codec.ts';
import type { ProtocolId } from '../wire/protocol.ts';
import type { DialFailure, LinkId, NodeCommand, NodeEvent, NodeInput, NodeOutput, RequestId, TimerId } from './io.ts';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, HANDSHAKE_VERSION, handshakeCodec, linkSecret } from './link-handshake.ts';
import type { LinkDown, LinkInfo, NodeContext, PendingLink, StorageKey, Subsystem } from './subsystem.ts';

export interface NodeMachineConfig {
  readonly secretKey: SecretKey;
  readonly networkId: NetworkId;
  readonly rng: Rng;
  readonly subsystems: readonly Subsystem[];
  /** Durable state found at start (empty on first start). */
  readonly storage?: ReadonlyMap<string, Uint8Array>;
  readonly incarnation?: number;
  /** Largest frame body sent or accepted. @default 8 MiB */
  readonly maxFrameBytes?: number;
  /** @default 5000 */
  readonly handshakeTimeoutMs?: number;
  /** How signatures are checked. @default the pure-JS verifier */
  readonly verifier?: SignatureVerifier;
}

type LinkState =
  | { readonly phase: 'dialing'; readonly info: PendingLink; readonly owner: Subsystem }
  | { readonly phase: 'hello-sent'; readonly info: PendingLink; readonly owner: Subsystem; readonly nonce: Uint8Array; readonly timer: TimerId }
  | { readonly phase: 'awaiting-hello'; readonly peer: PeerId; readonly timer: TimerId }
  | { readonly phase: 'up'; readonly info: LinkInfo; readonly owner: Subsystem; readonly codec: MessageCodec<unknown> };

type TimerOwner = { readonly kind: 'handshake'; readonly link: LinkId } | { readonly kind: 'subsystem'; readonly owner: Subsystem; readonly payload: unknown };

/**
 * A link's info whose secret is derived when first read (then kept): blake3 in pure JS
 * costs ~10 µs per link end, and most links never use their secret. The nonces are copied
 * (a received one is a view into a shared buffer, which it would otherwise keep alive).
 */
function upLinkInfo(
  id: LinkId,
  peer: PeerId,
  protocol: ProtocolId,
  dir: 'in' | 'out',
  dialerNonce: Uint8Array,
  acceptorNonce: Uint8Array,
  maxFrameBytes: number,
): LinkInfo {
  return new UpLinkInfo(id, peer, protocol, dir, dialerNonce.slice(), acceptorNonce.slice(), maxFrameBytes);
}

/** Why a handshake's frame limit is refused: no node may set one that small (a peer entry alone may take 64 KiB). */
function tooSmallFrameLimit(maxFrame: number): string {
  return `a frame limit of ${maxFrame} bytes, below the least a node may set (${MIN_MAX_FRAME_BYTES})`;
}

// A class, not an object literal with a getter: V8 builds a literal with an accessor through
// a runtime call, several times the cost of a constructor (2% of a churning simulation).
class UpLinkInfo implements LinkInfo {
  readonly #dialerNonce: Uint8Array;
  readonly #acceptorNonce: Uint8Array;
  #secret: Uint8Array | undefined;

  constructor(
    readonly id: LinkId,
    readonly peer: PeerId,
    readonly protocol: ProtocolId,
    readonly dir: 'in' | 'out',
    dialerNonce: Uint8Array,
    acceptorNonce: Uint8Array,
    readonly maxFrameBytes: number,
  ) {
    this.#dialerNonce = dialerNonce;
    this.#acceptorNonce = acceptorNonce;
  }

  get secret(): Uint8Array {
    this.#secret ??= linkSecret(this.protocol, this.#dialerNonce, this.#acceptorNonce);
    return this.#secret;
  }
}

/** What `NodeContext.storageKey` makes: the scoped key, and whose it is. */
class ScopedStorageKey {
  constructor(
    readonly owner: Subsystem,
    readonly scoped: string,
  ) {}
}

/**
 * One node: the subsystems' machines composed behind a single input/output contract. The
 * node owns what they share: links (dialing, the link handshake, routing by protocol,
 * decoding frames with the owner's codec, closing on a protocol violation), timers (routed
 * back to the subsystem that armed them) and the output queue.
 *
 * Invariant: every output refers to a link or timer the node tracks, and after a `close`
 * output the link is forgotten (a later linkClosed or frame for it is ignored).
 */
export class NodeMachine {
  readonly peerId: PeerId;
  readonly networkId: NetworkId;
  readonly #config: NodeMachineConfig;
  readonly #subsystems = new Map<string, Subsystem>();
  /** Event types some subsystem listens to (`listensTo`): only those are queued for local delivery. */
  readonly #listened = new Set<string>();
  readonly #byProtocol = new Map<ProtocolId, Subsystem>();
  readonly #links = new Map<LinkId, LinkState>();
  readonly #timers = new Map<TimerId, TimerOwner>();
  readonly #stored: Map<string, Uint8Array>;
  readonly #maxFrameBytes: number;
  readonly #handshakeTimeoutMs: number;
  #outputs: NodeOutput[] = [];
  #nowMs = Number.NEGATIVE_INFINITY;
  #wallClockMs = 0;
  #nextLink = 1;
  #nextTimer = 1;
  #shutDown = false;
  #started = false;

  constructor(config: NodeMachineConfig) {
    this.#config = config;
    this.peerId = config.secretKey.peerId;
    this.networkId = config.networkId;
    this.#stored = new Map(config.storage ?? []);
    this.#maxFrameBytes = config.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#handshakeTimeoutMs = config.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    for (const sub of config.subsystems) {
      assert(!this.#subsystems.has(sub.name), `duplicate subsystem ${sub.name}`);
      this.#subsystems.set(sub.name, sub);
      if (sub.onEvent) for (const type of sub.listensTo ?? []) this.#listened.add(type);
      for (const protocol of sub.protocols.keys()) {
        assert(!this.#byProtocol.has(protocol), `protocol ${protocol} served twice`);
        this.#byProtocol.set(protocol, sub);
      }
    }
  }

  /** A subsystem by name, for the API's synchronous reads (catalogs, replicas). */
  subsystem(name: string): Subsystem | undefined {
    return this.#subsystems.get(name);
  }

  /** Ids for inbound links come from here, so they never collide with ours. */
  allocateLinkId(): LinkId {
    return this.#nextLink++;
  }

  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  /**
   * Handles one input and returns the outputs, in order. `nowMs` is the node's monotonic
   * clock (timeouts, RTTs, timers); `wallClockMs` is its wall clock (ms since 1970; may be
   * skewed or jump; used only for timestamps other nodes will read).
   */
  handle(input: NodeInput, nowMs: number, wallClockMs: number = nowMs): NodeOutput[] {
    assert(Number.isFinite(nowMs) && Number.isFinite(wallClockMs), 'clocks must read finite times');
    // Checked before the message is built: it would be built on every input otherwise.
    if (!(nowMs >= this.#nowMs)) assert(false, `monotonic clock went back from ${this.#nowMs} to ${nowMs}`);
    this.#nowMs = nowMs;
    this.#wallClockMs = wallClockMs;
    if (this.#started === (input.type === 'start')) assert(false, input.type === 'start' ? 'start fed twice' : `${input.type} before start`);
    switch (input.type) {
      case 'start':
        this.#started = true;
        for (const sub of this.#subsystems.values()) sub.onStart?.(this.#context(sub));
        break;
      case 'linkOpened':
        this.#onLinkOpened(input.link);
        break;
      case 'linkFailed':
        this.#onLinkFailed(input.link, input.reason, input.detail);
        break;
      case 'linkIncoming':
        this.#onLinkIncoming(input.link, input.peer);
        break;
      case 'frame':
        this.#onFrame(input.link, input.body);
        break;
      case 'linkClosed':
        this.#onLinkClosed(input.link, input.code, input.reason);
        break;
      case 'timer':
        this.#onTimer(input.timer);
        break;
      case 'command':
        this.#onCommand(input.req, input.command);
        break;
      default:
        unreachable(input, 'unknown node input');
    }
    if (this.#localEvents.length > 0) this.#deliverLocalEvents();
    const out = this.#outputs;
    this.#outputs = [];
    return out;
  }

  // ---- links -------------------------------------------------------------------------

  #onLinkOpened(id: LinkId): void {
    const state = this.#links.get(id);
    if (!state) return; // we closed it meanwhile
    if (state.phase !== 'dialing') assert(false, `linkOpened for link ${id} in phase ${state.phase}`);
    const nonce = this.#config.rng.bytes(32);
    this.#sendRaw(
      id,
      handshakeCodec.encode({ t: 'hello', v: HANDSHAKE_VERSION, protocol: state.info.protocol, network: this.networkId, nonce, maxFrame: this.#maxFrameBytes }),
    );
    const timer = this.#armTimer(this.#nowMs + this.#handshakeTimeoutMs, { kind: 'handshake', link: id });
    this.#links.set(id, { phase: 'hello-sent', info: state.info, owner: state.owner, nonce, timer });
  }

  #onLinkFailed(id: LinkId, reason: DialFailure, detail: string): void {
    const state = this.#links.get(id);
    if (!state) return;
    if (state.phase !== 'dialing') assert(false, `linkFailed for link ${id} in phase ${state.phase}`);
    this.#links.delete(id);
    this.#emit({
      type: 'link.down',
      link: id,
      peer: state.info.peer,
      protocol: state.info.protocol,
      code: CloseCode.LinkLost,
      reason: `${reason}: ${detail}`,
      by: 'transport',
    });
    state.owner.onLinkDown(this.#context(state.owner), state.info, { kind: 'failed', reason, detail });
  }

  #onLinkIncoming(id: LinkId, peer: PeerId): void {
    if (this.#links.has(id)) assert(false, `linkIncoming reuses link id ${id}`);
    if (this.#shutDown) {
      this.#out({ type: 'close', link: id, code: CloseCode.GracefulShutdown, reason: 'shutting down' });
      return;
    }
    const timer = this.#armTimer(this.#nowMs + this.#handshakeTimeoutMs, { kind: 'handshake', link: id });
    this.#links.set(id, { phase: 'awaiting-hello', peer, timer });
  }

  #onFrame(id: LinkId, body: Uint8Array): void {
    const state = this.#links.get(id);
    if (!state) return; // closed locally; the transport may still deliver what was in flight
    if (body.length > this.#maxFrameBytes) {
      this.#violation(id, `frame of ${body.length} bytes exceeds ${this.#maxFrameBytes}`);
      return;
    }
    switch (state.phase) {
      case 'dialing':
        this.#violation(id, 'frame before the link opened');
        return;
      case 'awaiting-hello':
        this.#onHello(id, state, body);
        return;
      case 'hello-sent':
        this.#onWelcome(id, state, body);
        return;
      case 'up': {
        const decoded = state.codec.decode(body);
        if (!decoded.ok) {
          this.#violation(id, decoded.error.message);
          return;
        }
        state.owner.onMessage(this.#context(state.owner), state.info, decoded.value);
        return;
      }
      default:
        unreachable(state, 'unknown link phase');
    }
  }

  #onHello(id: LinkId, state: LinkState & { phase: 'awaiting-hello' }, body: Uint8Array): void {
    const decoded = handshakeCodec.decode(body);
    if (!decoded.ok) return this.#violation(id, `handshake: ${decoded.error.message}`);
    const hello = decoded.value;
    if (hello.t !== 'hello' || hello.v !== HANDSHAKE_VERSION) return this.#violation(id, `expected hello v${HANDSHAKE_VERSION}`);
    if (hello.maxFrame < MIN_MAX_FRAME_BYTES) return this.#violation(id, tooSmallFrameLimit(hello.maxFrame));
    this.#cancelTimer(state.timer);
    if (!hello.network.equals(this.networkId)) {
      return this.#closeLink(id, CloseCode.DifferentNetwork, `expected network ${this.networkId.short}, got ${hello.network.short}`);
    }
    const owner = this.#byProtocol.get(hello.protocol as ProtocolId);
    if (!owner || this.#shutDown) return this.#closeLink(id, CloseCode.UnknownProtocol, `protocol ${hello.protocol} not served`);
    const nonce = this.#config.rng.bytes(32);
    this.#sendRaw(id, handshakeCodec.encode({ t: 'welcome', v: HANDSHAKE_VERSION, nonce, maxFrame: this.#maxFrameBytes }));
    const protocol = hello.protocol as ProtocolId;
    this.#up(id, upLinkInfo(id, state.peer, protocol, 'in', hello.nonce, nonce, Math.min(this.#maxFrameBytes, hello.maxFrame)), owner);
  }

  #onWelcome(id: LinkId, state: LinkState & { phase: 'hello-sent' }, body: Uint8Array): void {
    const decoded = handshakeCodec.decode(body);
    if (!decoded.ok) return this.#violation(id, `handshake: ${decoded.error.message}`);
    const welcome = decoded.value;
    if (welcome.t !== 'welcome' || welcome.v !== HANDSHAKE_VERSION) return this.#violation(id, `expected welcome v${HANDSHAKE_VERSION}`);
    if (welcome.maxFrame < MIN_MAX_FRAME_BYTES) return this.#violation(id, tooSmallFrameLimit(welcome.maxFrame));
    this.#cancelTimer(state.timer);
    const { peer, protocol, dir } = state.info;
    this.#up(id, upLinkInfo(id, peer, protocol, dir, state.nonce, welcome.nonce, Math.min(this.#maxFrameBytes, welcome.maxFrame)), state.owner);
  }

  #up(id: LinkId, info: LinkInfo, owner: Subsystem): void {
    const codec = owner.protocols.get(info.protocol);
    if (!codec) assert(false, `no codec for ${info.protocol}`);
    this.#links.set(id, { phase: 'up', info, owner, codec });
    this.#emit({ type: 'link.up', link: id, peer: info.peer, protocol: info.protocol, dir: info.dir });
    owner.onLinkUp(this.#context(owner), info);
  }

  #onLinkClosed(id: LinkId, code: number, reason: string): void {
    const state = this.#links.get(id);
    if (!state) return;
    this.#forget(id, state);
    const by = code === CloseCode.LinkLost ? 'transport' : 'remote';
    this.#notifyDown(id, state, { kind: 'closed', code, reason, by });
  }

  /** Closes a link on purpose; its owner hears of it like any other close. */
  #closeLink(id: LinkId, code: number, reason: string): void {
    const state = this.#links.get(id);
    if (!state) return;
    this.#forget(id, state);
    this.#out({ type: 'close', link: id, code, reason });
    this.#notifyDown(id, state, { kind: 'closed', code, reason, by: 'local' });
  }

  #violation(id: LinkId, reason: string): void {
    this.#closeLink(id, CloseCode.ProtocolViolation, reason);
  }

  #forget(id: LinkId, state: LinkState): void {
    this.#links.delete(id);
    if (state.phase === 'hello-sent' || state.phase === 'awaiting-hello') this.#cancelTimer(state.timer);
  }

  #notifyDown(id: LinkId, state: LinkState, down: LinkDown & { kind: 'closed' }): void {
    const peer = state.phase === 'awaiting-hello' ? state.peer : state.info.peer;
    const protocol = state.phase === 'awaiting-hello' ? undefined : state.info.protocol;
    this.#emit({ type: 'link.down', link: id, peer, protocol, code: down.code, reason: down.reason, by: down.by });
    if (state.phase !== 'awaiting-hello') state.owner.onLinkDown(this.#context(state.owner), state.info, down);
  }

  #sendRaw(id: LinkId, body: Uint8Array): void {
    this.#out({ type: 'send', link: id, body });
  }

  // ---- timers ------------------------------------------------------------------------

  #armTimer(atMs: number, owner: TimerOwner): TimerId {
    const id = this.#nextTimer++;
    this.#timers.set(id, owner);
    this.#out({ type: 'armTimer', timer: id, atMs });
    return id;
  }

  #cancelTimer(id: TimerId): void {
    if (this.#timers.delete(id)) this.#out({ type: 'cancelTimer', timer: id });
  }

  #onTimer(id: TimerId): void {
    const owner = this.#timers.get(id);
    if (!owner) return; // cancelled while the driver was already firing it
    this.#timers.delete(id);
    if (owner.kind === 'handshake') {
      this.#closeLink(owner.link, CloseCode.HandshakeTimeout, 'link handshake timed out');
      return;
    }
    owner.owner.onTimer(this.#context(owner.owner), owner.payload);
  }

  // ---- commands ----------------------------------------------------------------------

  #onCommand(req: RequestId, command: NodeCommand): void {
    if (this.#shutDown) {
      this.#out({ type: 'fail', req, error: new ClosedError('node is shut down') });
      return;
    }
    if (command.to === 'node') {
      this.#shutdown();
      this.#out({ type: 'complete', req, result: undefined });
      return;
    }
    const sub = this.#subsystems.get(command.to);
    if (!sub) assert(false, `command for unknown subsystem ${command.to}`);
    sub.onCommand(this.#context(sub), req, command.cmd);
  }

  #shutdown(): void {
    for (const sub of this.#subsystems.values()) sub.onShutdown(this.#context(sub));
    this.#shutDown = true;
    for (const id of [...this.#links.keys()]) this.#closeLink(id, CloseCode.GracefulShutdown, 'node shutting down');
    for (const id of [...this.#timers.keys()]) this.#cancelTimer(id);
  }

  // ---- context -----------------------------------------------------------------------

  #out(output: NodeOutput): void {
    this.#outputs.push(output);
  }

  #emit(event: NodeEvent): void {
    this.#out({ type: 'emit', event });
  }

  /** Events for the subsystems that listen (`onEvent`), delivered by `#deliverLocalEvents`. */
  #localEvents: { readonly from: Subsystem; readonly event: NodeEvent }[] = [];

  #deliverLocalEvents(): void {
    for (let i = 0; i < this.#localEvents.length; i++) {
      const { from, event } = this.#localEvents[i] as { from: Subsystem; event: NodeEvent };
      for (const sub of this.#subsystems.values()) {
        if (sub !== from && sub.onEvent && sub.listensTo?.has(event.type) && !this.#shutDown) sub.onEvent(this.#context(sub), event);
      }
    }
    this.#localEvents = [];
  }

  #contexts = new Map<Subsystem, NodeContext>();

  #context(sub: Subsystem): NodeContext {
    let ctx = this.#contexts.get(sub);
    if (!ctx) {
      ctx = this.#makeContext(sub);
      this.#contexts.set(sub, ctx);
    }
    return ctx;
  }

  #makeContext(sub: Subsystem): NodeContext {
    return new NodeMachine.#SubsystemContext(this, sub);
  }

  /**
   * What a subsystem sees of its node: one per subsystem, made on first use. A class, not an
   * object literal: V8 builds a literal that has accessors (`nowMs`, `wallClockMs`) in
   * dictionary mode, and every `ctx.x` of every subsystem then took a generic property
   * lookup. It is declared inside NodeMachine so that its methods reach the node's private
   * state.
   */
  static readonly #SubsystemContext = class SubsystemContext implements NodeContext {
    readonly #node: NodeMachine;
    readonly #sub: Subsystem;
    readonly rng: Rng;
    readonly peerId: PeerId;
    readonly networkId: NetworkId;
    readonly secretKey: SecretKey;
    readonly incarnation: number;
    readonly maxFrameBytes: number;
    readonly verifier: SignatureVerifier;

    constructor(node: NodeMachine, sub: Subsystem) {
      const config = node.#config;
      this.#node = node;
      this.#sub = sub;
      this.rng = config.rng;
      this.peerId = node.peerId;
      this.networkId = node.networkId;
      this.secretKey = config.secretKey;
      this.incarnation = config.incarnation ?? 0;
      this.maxFrameBytes = node.#maxFrameBytes;
      this.verifier = config.verifier ?? nobleVerifier;
    }

    get nowMs(): number {
      return this.#node.#nowMs;
    }

    get wallClockMs(): number {
      return this.#node.#wallClockMs;
    }

    connect(peer: PeerId, addrs: readonly string[], protocol: ProtocolId): LinkId {
      const node = this.#node;
      const sub = this.#sub;
      if (!sub.protocols.has(protocol)) assert(false, `${sub.name} dials ${protocol}, which it does not serve`);
      const id = node.allocateLinkId();
      const info: PendingLink = { id, peer, protocol, dir: 'out', secret: undefined, maxFrameBytes: node.#maxFrameBytes };
      node.#links.set(id, { phase: 'dialing', info, owner: sub });
      node.#out({ type: 'connect', link: id, peer, addrs });
      return id;
    }

    send(link: LinkId, message: unknown): MosaikError | undefined {
      const node = this.#node;
      const state = node.#links.get(link);
      if (state?.phase !== 'up') return new ClosedError(`link ${link} is not up`);
      if (state.owner !== this.#sub) assert(false, `${this.#sub.name} sends on a link it does not own`);
      const body = state.codec.encode(message);
      const limit = state.info.maxFrameBytes;
      if (body.length > limit) return new OversizedError(body.length, limit, `a frame of ${body.length} bytes is more than link ${link} carries (${limit})`);
      node.#sendRaw(link, body);
      return undefined;
    }

    close(link: LinkId, code: number, reason: string): void {
      this.#node.#closeLink(link, code, reason);
    }

    link(link: LinkId): LinkInfo | undefined {
      const state = this.#node.#links.get(link);
      return state && state.phase === 'up' ? state.info : undefined;
    }

    armTimer(atMs: number, payload: unknown): TimerId {
      return this.#node.#armTimer(atMs, { kind: 'subsystem', owner: this.#sub, payload });
    }

    cancelTimer(timer: TimerId): void {
      const node = this.#node;
      const owner = node.#timers.get(timer);
      if (owner && (owner.kind !== 'subsystem' || owner.owner !== this.#sub)) assert(false, `${this.#sub.name} cancels a timer it does not own`);
      node.#cancelTimer(timer);
    }

    persist(key: string | StorageKey, value: Uint8Array | null, options?: { readonly lazy?: boolean }): void {
      const node = this.#node;
      const scoped = this.#scoped(key);
      if (value === null) node.#stored.delete(scoped);
      else node.#stored.set(scoped, value);
      node.#out(options?.lazy ? { type: 'persist', key: scoped, value, lazy: true } : { type: 'persist', key: scoped, value });
    }

    stored(key: string | StorageKey): Uint8Array | undefined {
      return this.#node.#stored.get(this.#scoped(key));
    }

    storageKey(key: string): StorageKey {
      return new ScopedStorageKey(this.#sub, `${this.#sub.name}/${key}`) as unknown as StorageKey;
    }

    #scoped(key: string | StorageKey): string {
      if (typeof key === 'string') return `${this.#sub.name}/${key}`;
      const made = key as unknown as ScopedStorageKey;
      if (!(made instanceof ScopedStorageKey) || made.owner !== this.#sub) assert(false, `${this.#sub.name} uses a storage key it did not make`);
      return made.scoped;
    }

    emit(event: NodeEvent): void {
      const node = this.#node;
      node.#emit(event);
      if (node.#listened.has(event.type)) node.#localEvents.push({ from: this.#sub, event });
    }

    call(to: string, request: unknown): unknown {
      const node = this.#node;
      const target = node.#subsystems.get(to);
      if (!target?.onCall) assert(false, `${this.#sub.name} calls ${to}, which takes no calls`);
      return target.onCall(node.#context(target), request);
    }

    complete(req: RequestId, result: unknown): void {
      this.#node.#out({ type: 'complete', req, result });
    }

    fail(req: RequestId, error: MosaikError): void {
      this.#node.#out({ type: 'fail', req, error });
    }
  };
}
