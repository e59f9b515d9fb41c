import fc from 'fast-check';
import { CloseCode, ClosedError, ConnectError, closeCodeName, Digest, LinkClosedError, SecretKey, TimeoutError } from 'mosaik';
import { describe, expect, it } from 'vitest';
import type { MosaikError } from '../../core/errors.ts';
import { GROUPS_PROTOCOL } from '../../core/groups/wire.ts';
import type { NetworkId } from '../../core/identity/digest.ts';
import { createNodeMachine } from '../../core/node/compose.ts';
import type { DialFailure, LinkId, NodeCommand, NodeInput, NodeOutput, RequestId, TimerId } from '../../core/node/io.ts';
import { HANDSHAKE_VERSION, handshakeCodec, linkSecret } from '../../core/node/link-handshake.ts';
import { NodeMachine } from '../../core/node/node.ts';
import type { LinkInfo, NodeContext, Subsystem } from '../../core/node/subsystem.ts';
import { type PingResult, PingSubsystem, type PlantedPingBugs, pingCodec } from '../../core/ping/ping.ts';
import { AssertionError } from '../../core/util/assert.ts';
import type { Rng } from '../../core/util/rng.ts';
import { DEFAULT_MAX_FRAME_BYTES } from '../../core/wire/codec.ts';
import { Protocols } from '../../core/wire/protocol.ts';

// ---- a deterministic rng -------------------------------------------------------------

/** xorshift32: enough randomness for nonces in a test, and the same every run. */
function xorshift(seed: number): Rng {
  let x = seed >>> 0 || 1;
  const u32 = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return { u32, float: () => u32() / 2 ** 32, bytes: (n) => Uint8Array.from({ length: n }, () => u32() & 0xff) };
}

// ---- stable printers -----------------------------------------------------------------

function describeBody(body: Uint8Array): string {
  const h = handshakeCodec.decode(body);
  if (h.ok) return h.value.t === 'hello' ? `hello ${h.value.protocol} net=${h.value.network.short}` : 'welcome';
  const p = pingCodec.decode(body);
  if (p.ok) return `${p.value.t} ${p.value.id}`;
  return `<${body.length} bytes>`;
}

function describeError(e: MosaikError): string {
  if (e instanceof LinkClosedError) return `LinkClosedError(${closeCodeName(e.closeCode)})`;
  if (e instanceof ConnectError) return `ConnectError(${e.reason})`;
  return e.name;
}

function describeOutput(o: NodeOutput): string {
  switch (o.type) {
    case 'connect':
      return `connect L${o.link}`;
    case 'send':
      return `send L${o.link} ${describeBody(o.body)}`;
    case 'close':
      return `close L${o.link} ${closeCodeName(o.code)}`;
    case 'armTimer':
      return `arm T${o.timer} @${o.atMs}`;
    case 'cancelTimer':
      return `cancel T${o.timer}`;
    case 'persist':
      return `persist ${o.key}`;
    case 'complete':
      return `complete R${o.req}${o.result && typeof o.result === 'object' && 'rttMs' in o.result ? ` rtt=${(o.result as PingResult).rttMs}` : ''}`;
    case 'fail':
      return `fail R${o.req} ${describeError(o.error)}`;
    case 'emit': {
      const e = o.event;
      switch (e.type) {
        case 'link.up':
          return `emit link.up L${e.link} ${e.dir}`;
        case 'link.down':
          return `emit link.down L${e.link} ${closeCodeName(e.code)} by ${e.by}`;
        case 'ping.sent':
          return `emit ping.sent ${e.id}`;
        case 'ping.answered':
          return `emit ping.answered ${e.id} rtt=${e.rttMs}`;
        case 'ping.failed':
          return `emit ping.failed ${e.id} ${e.error}`;
        default:
          return `emit ${e.type}`;
      }
    }
  }
}

// ---- the harness ---------------------------------------------------------------------

type Side = 'A' | 'B';
const other = (side: Side): Side => (side === 'A' ? 'B' : 'A');

/** Records the link infos its ping subsystem sees come up, to compare link secrets. */
class SpyPing extends PingSubsystem {
  readonly ups: LinkInfo[] = [];
  override onLinkUp(ctx: NodeContext, link: LinkInfo): void {
    this.ups.push(link);
    super.onLinkUp(ctx, link);
  }
}

interface PairOptions {
  readonly networkB?: NetworkId;
  readonly bugsB?: PlantedPingBugs;
  /** Build nodes around SpyPing subsystems instead of through createNodeMachine. */
  readonly spy?: boolean;
}

/**
 * Two node machines joined by a perfect in-memory transport. Outputs become inputs on the
 * other side in FIFO order; each network hop takes `latencyMs`. Timers are only recorded:
 * a test fires them with `fire` or `advance`.
 */
class Pair {
  nowMs = 0;
  latencyMs = 10;
  /** How the next `connect` ends. */
  dial: 'open' | DialFailure = 'open';
  /** Each side's wall clock, as a function of the monotonic one (default: the same). */
  wallClockMs: (side: Side, nowMs: number) => number = (_side, nowMs) => nowMs;
  /** While set, frames are held instead of delivered (see `release`). */
  hold = false;
  readonly nodes: Record<Side, NodeMachine>;
  readonly spies: Partial<Record<Side, SpyPing>> = {};
  readonly log: string[] = [];
  readonly outputs: Record<Side, NodeOutput[]> = { A: [], B: [] };
  readonly timers: Record<Side, Map<TimerId, number>> = { A: new Map(), B: new Map() };
  readonly #wires = new Map<string, [Side, LinkId]>();
  readonly #queue: { atMs: number; side: Side; input: NodeInput }[] = [];
  readonly #held: { side: Side; input: NodeInput }[] = [];
  #nextReq = 1;

  constructor(options: PairOptions = {}) {
    const net = Digest.from('test-net');
    const make = (side: Side, networkId: NetworkId, seed: number, bugs: PlantedPingBugs = {}) => {
      const secretKey = SecretKey.fromSeed(`node-${side}`);
      if (!options.spy) return started(createNodeMachine({ secretKey, networkId, rng: xorshift(seed), plantedBugs: { ping: bugs } }));
      const spy = new SpyPing({ bugs });
      this.spies[side] = spy;
      return started(new NodeMachine({ secretKey, networkId, rng: xorshift(seed), subsystems: [spy] }));
    };
    this.nodes = { A: make('A', net, 1), B: make('B', options.networkB ?? net, 2, options.bugsB) };
  }

  /** Issues an API call on `side`; returns its request id. */
  command(side: Side, command: NodeCommand): RequestId {
    const req = this.#nextReq++;
    this.input(side, { type: 'command', req, command });
    return req;
  }

  ping(from: Side, timeoutMs = 1_000): RequestId {
    return this.command(from, { to: 'ping', cmd: { peer: this.nodes[other(from)].peerId, addrs: ['mem'], timeoutMs } });
  }

  shutdown(side: Side): RequestId {
    return this.command(side, { to: 'node', kind: 'shutdown' });
  }

  /** Feeds an input now and runs until no message is in flight. */
  input(side: Side, input: NodeInput): void {
    this.#queue.push({ atMs: this.nowMs, side, input });
    this.#run();
  }

  /** Fires an armed timer (as the driver would at its time). */
  fire(side: Side, timer: TimerId): void {
    expect(this.timers[side].has(timer), `${side} T${timer} is armed`).toBe(true);
    this.timers[side].delete(timer);
    this.input(side, { type: 'timer', timer });
  }

  /** Moves the clock to `toMs`, firing every timer due by then in time order. */
  advance(toMs: number): void {
    for (;;) {
      const due = (['A', 'B'] as const)
        .flatMap((side) => [...this.timers[side]].map(([timer, atMs]) => ({ side, timer, atMs })))
        .filter((t) => t.atMs <= toMs)
        .sort((a, b) => a.atMs - b.atMs || a.side.localeCompare(b.side) || a.timer - b.timer)[0];
      if (!due) break;
      this.nowMs = Math.max(this.nowMs, due.atMs);
      this.fire(due.side, due.timer);
    }
    this.nowMs = Math.max(this.nowMs, toMs);
  }

  /** Delivers the frames held while `hold` was set, in order. */
  release(): void {
    this.hold = false;
    for (const { side, input } of this.#held.splice(0)) this.#queue.push({ atMs: this.nowMs + this.latencyMs, side, input });
    this.#run();
  }

  /** The link id on `side` that is the other end of `link`. */
  peerLink(side: Side, link: LinkId): LinkId | undefined {
    return this.#wires.get(`${side}:${link}`)?.[1];
  }

  /** What `side` output since the mark (default: all), printed. */
  printed(side: Side, from = 0): string[] {
    return this.outputs[side].slice(from).map(describeOutput);
  }

  /** The error of the `index`-th fail output of `side`; the test fails if there is none. */
  error<E extends MosaikError = MosaikError>(side: Side, index = 0): E {
    const fail = this.fails(side)[index];
    if (!fail) throw new Error(`${side} has no fail output #${index}`);
    return fail.error as E;
  }

  completes(side: Side) {
    return this.outputs[side].filter((o): o is Extract<NodeOutput, { type: 'complete' }> => o.type === 'complete');
  }

  fails(side: Side) {
    return this.outputs[side].filter((o): o is Extract<NodeOutput, { type: 'fail' }> => o.type === 'fail');
  }

  #run(): void {
    let budget = 10_000;
    for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
      expect(--budget, 'the exchange terminates').toBeGreaterThan(0);
      this.nowMs = Math.max(this.nowMs, next.atMs);
      for (const out of this.nodes[next.side].handle(next.input, this.nowMs, this.wallClockMs(next.side, this.nowMs))) this.#route(next.side, out);
    }
  }

  #deliver(side: Side, input: NodeInput): void {
    if (this.hold && input.type === 'frame') this.#held.push({ side, input });
    else this.#queue.push({ atMs: this.nowMs + this.latencyMs, side, input });
  }

  #route(side: Side, out: NodeOutput): void {
    this.outputs[side].push(out);
    this.log.push(`${side}: ${describeOutput(out)}`);
    switch (out.type) {
      case 'connect': {
        if (this.dial !== 'open') {
          this.#deliver(side, { type: 'linkFailed', link: out.link, reason: this.dial, detail: 'dial failed in test' });
          return;
        }
        const to = other(side);
        expect(out.peer.equals(this.nodes[to].peerId)).toBe(true);
        const theirs = this.nodes[to].allocateLinkId();
        this.#wires.set(`${side}:${out.link}`, [to, theirs]);
        this.#wires.set(`${to}:${theirs}`, [side, out.link]);
        this.#deliver(to, { type: 'linkIncoming', link: theirs, peer: this.nodes[side].peerId });
        this.#deliver(side, { type: 'linkOpened', link: out.link });
        return;
      }
      case 'send': {
        const wire = this.#wires.get(`${side}:${out.link}`);
        if (wire) this.#deliver(wire[0], { type: 'frame', link: wire[1], body: out.body });
        return;
      }
      case 'close': {
        const wire = this.#wires.get(`${side}:${out.link}`);
        if (!wire) return;
        this.#wires.delete(`${side}:${out.link}`);
        this.#wires.delete(`${wire[0]}:${wire[1]}`);
        this.#deliver(wire[0], { type: 'linkClosed', link: wire[1], code: out.code, reason: out.reason });
        return;
      }
      case 'armTimer':
        this.timers[side].set(out.timer, out.atMs);
        return;
      case 'cancelTimer':
        this.timers[side].delete(out.timer);
        return;
      default:
        return;
    }
  }
}

const NET = Digest.from('test-net');

/** Feeds the `start` every machine needs first (it produces no output for ping alone). */
function started(node: NodeMachine): NodeMachine {
  expect(node.handle({ type: 'start' }, 0)).toEqual([]);
  return node;
}

/** A node driven by hand, with no peer behind its links. */
function lone(options: { maxFrameBytes?: number; groups?: { handshakeTimeoutMs?: number } } = {}) {
  const node = started(createNodeMachine({ secretKey: SecretKey.fromSeed('lone'), networkId: NET, rng: xorshift(7), ...options }));
  const dialer = SecretKey.fromSeed('dialer').peerId;
  let nowMs = 0;
  const handle = (input: NodeInput) => node.handle(input, nowMs);
  return {
    node,
    dialer,
    handle,
    print: (input: NodeInput) => handle(input).map(describeOutput),
    at: (ms: number) => {
      nowMs = ms;
    },
    /** An inbound link from `dialer`, awaiting its hello; returns it and its handshake deadline. */
    incoming(): { link: LinkId; timer: TimerId } {
      const link = node.allocateLinkId();
      const outs = handle({ type: 'linkIncoming', link, peer: dialer });
      expect(outs).toEqual([{ type: 'armTimer', timer: expect.any(Number), atMs: nowMs + 5_000 }]);
      return { link, timer: (outs[0] as Extract<NodeOutput, { type: 'armTimer' }>).timer };
    },
  };
}

function hello(fields: Partial<{ v: number; protocol: string; network: Digest; nonce: Uint8Array; maxFrame: number }> = {}): Uint8Array {
  return handshakeCodec.encode({
    t: 'hello',
    v: fields.v ?? HANDSHAKE_VERSION,
    protocol: fields.protocol ?? Protocols.ping,
    network: fields.network ?? NET,
    nonce: fields.nonce ?? new Uint8Array(32).fill(1),
    maxFrame: fields.maxFrame ?? DEFAULT_MAX_FRAME_BYTES,
  });
}

describe('NodeMachine: ping between two nodes', () => {
  it('opens a link, shakes hands and completes the ping with its round-trip time', () => {
    const pair = new Pair();
    const req = pair.ping('A');
    expect(pair.log).toEqual([
      'A: connect L1',
      'A: arm T1 @1000', // the ping's deadline
      'B: arm T1 @5010', // B's handshake deadline for the inbound link
      `A: send L1 hello /mosaik/ping/1 net=${NET.short}`,
      'A: arm T2 @5010', // A's handshake deadline
      'B: cancel T1',
      'B: send L1 welcome',
      'B: emit link.up L1 in',
      'A: cancel T2',
      'A: emit link.up L1 out',
      'A: send L1 ping 1',
      'A: emit ping.sent 1',
      'B: send L1 pong 1',
      'A: emit ping.answered 1 rtt=20', // the deadline timer stays armed (see below)
      'A: complete R1 rtt=20',
    ]);
    const completes = pair.completes('A');
    expect(completes).toHaveLength(1);
    expect(completes[0]?.req).toBe(req);
    const result = completes[0]?.result as PingResult;
    expect(result.rttMs).toBe(2 * pair.latencyMs);
    expect(result.peer.equals(pair.nodes.B.peerId)).toBe(true);
    expect(pair.fails('A')).toEqual([]);
    expect(pair.outputs.B.filter((o) => o.type === 'complete' || o.type === 'fail')).toEqual([]);
    // The handshake timers were cancelled. The ping's deadline timer is left armed (a node
    // pinging one peer at a time would otherwise arm and cancel one per ping): it fires,
    // finds nothing due and arms nothing.
    expect(pair.timers.B.size).toBe(0);
    expect([...pair.timers.A]).toEqual([[1, 1_000]]);
    const mark = pair.outputs.A.length;
    pair.advance(1_000);
    expect(pair.printed('A', mark)).toEqual([]);
    expect(pair.timers.A.size).toBe(0);
  });

  it('reuses the link for the next ping, which takes one round trip', () => {
    const pair = new Pair();
    pair.ping('A');
    const mark = pair.outputs.A.length;
    pair.latencyMs = 3;
    pair.ping('A');
    expect(pair.printed('A', mark)).toEqual([
      // No timer traffic: the first ping's deadline timer (T1 @1000) is still armed, and
      // fires before this ping's deadline (1050) would be due.
      'send L1 ping 2',
      'emit ping.sent 2',
      'emit ping.answered 2 rtt=6',
      'complete R2 rtt=6',
    ]);
  });

  it('sends pings issued before the link is up once it is, in order', () => {
    const pair = new Pair();
    pair.hold = true; // nothing crosses until release
    pair.ping('A');
    pair.ping('A');
    expect(pair.outputs.A.filter((o) => o.type === 'connect')).toHaveLength(1);
    pair.release();
    expect(pair.log.filter((l) => / (ping|pong) \d/.test(l))).toEqual(['A: send L1 ping 1', 'A: send L1 ping 2', 'B: send L1 pong 1', 'B: send L1 pong 2']);
    expect(pair.completes('A').map((c) => c.req)).toEqual([1, 2]);
  });
});

describe('NodeMachine: the link handshake', () => {
  it('brings the link up on both sides with the same fresh 32-byte secret', () => {
    const pair = new Pair({ spy: true });
    pair.ping('A'); // link A->B
    pair.ping('B'); // link B->A, a second link between the same two nodes
    const upsA = pair.spies.A?.ups ?? [];
    const upsB = pair.spies.B?.ups ?? [];
    expect(upsA.map((l) => `L${l.id} ${l.dir}`)).toEqual(['L1 out', 'L2 in']);
    expect(upsB.map((l) => `L${l.id} ${l.dir}`)).toEqual(['L1 in', 'L2 out']);
    const [a1, a2] = upsA as [LinkInfo, LinkInfo];
    const [b1, b2] = upsB as [LinkInfo, LinkInfo];
    expect(a1.peer.equals(pair.nodes.B.peerId) && b1.peer.equals(pair.nodes.A.peerId)).toBe(true);
    for (const l of [a1, a2, b1, b2]) expect(l.secret).toHaveLength(32);
    expect(a1.secret).toEqual(b1.secret);
    expect(a2.secret).toEqual(b2.secret);
    expect(a1.secret).not.toEqual(a2.secret);
    // The secret is derived from both nonces, as the handshake frames carried them.
    const frames = (side: Side) =>
      pair.outputs[side].flatMap((o) => {
        if (o.type !== 'send') return [];
        const d = handshakeCodec.decode(o.body);
        return d.ok ? [d.value] : [];
      });
    const [helloA] = frames('A');
    const [welcomeB] = frames('B');
    expect(helloA?.t).toBe('hello');
    expect(welcomeB?.t).toBe('welcome');
    expect(a1.secret).toEqual(linkSecret(Protocols.ping, helloA?.nonce as Uint8Array, welcomeB?.nonce as Uint8Array));
    // Both sides saw link.up for both links.
    for (const side of ['A', 'B'] as const) {
      expect(pair.printed(side).filter((l) => l.startsWith('emit link.up'))).toHaveLength(2);
    }
  });

  it('is rejected by a node on another network, failing the ping with LinkClosedError(101)', () => {
    const pair = new Pair({ networkB: Digest.from('other-net') });
    const req = pair.ping('A');
    expect(pair.printed('B')).toEqual(['arm T1 @5010', 'cancel T1', 'close L1 DifferentNetwork', 'emit link.down L1 DifferentNetwork by local']);
    const [fail] = pair.fails('A');
    expect(fail?.req).toBe(req);
    expect(fail?.error).toBeInstanceOf(LinkClosedError);
    expect(pair.error<LinkClosedError>('A').closeCode).toBe(CloseCode.DifferentNetwork);
    expect(pair.error<LinkClosedError>('A').closeCode).toBe(101);
    expect(pair.printed('A')).toContain('emit link.down L1 DifferentNetwork by remote');
    expect(pair.printed('A')).toContain('emit ping.failed 1 LinkClosedError');
    expect(pair.completes('A')).toEqual([]);
    expect(pair.timers.B.size).toBe(0);
    expect([...pair.timers.A.keys()]).toEqual([1]); // the ping's deadline, left to fire
  });

  it('closes with UnknownProtocol when the hello names a protocol nobody serves', () => {
    for (const protocol of ['/mosaik/nope/1', '/mosaik/ping/2', 'not a protocol id', '']) {
      const n = lone();
      const { link } = n.incoming();
      expect(n.print({ type: 'frame', link, body: hello({ protocol }) }), protocol).toEqual([
        'cancel T1',
        `close L${link} UnknownProtocol`,
        `emit link.down L${link} UnknownProtocol by local`,
      ]);
      const close = n.handle({ type: 'frame', link, body: hello() });
      expect(close, 'the link is forgotten after the close').toEqual([]);
    }
    expect(CloseCode.UnknownProtocol).toBe(100);
  });

  it.each([
    ['garbage', new Uint8Array([0xc1, 0xff, 0x00])],
    ['an empty frame', new Uint8Array(0)],
    ['a truncated hello', hello().subarray(0, 20)],
    [
      'a welcome instead of a hello',
      handshakeCodec.encode({ t: 'welcome', v: HANDSHAKE_VERSION, nonce: new Uint8Array(32), maxFrame: DEFAULT_MAX_FRAME_BYTES }),
    ],
    ['a hello of another version', hello({ v: HANDSHAKE_VERSION + 1 })],
    ['a hello with a frame limit below the least a node may set', hello({ maxFrame: 128 * 1024 - 1 })],
    ['a ping before the handshake', pingCodec.encode({ t: 'ping', id: 1 })],
    ['a hello with a short nonce', hello({ nonce: new Uint8Array(31) })],
  ])('closes with ProtocolViolation on %s before the hello', (_label, body) => {
    const n = lone();
    const { link } = n.incoming();
    expect(n.print({ type: 'frame', link, body })).toEqual([
      'cancel T1',
      `close L${link} ProtocolViolation`,
      `emit link.down L${link} ProtocolViolation by local`,
    ]);
  });

  it('closes with ProtocolViolation on garbage instead of a welcome, failing the ping with LinkClosedError(400)', () => {
    const n = lone();
    const ping: NodeCommand = { to: 'ping', cmd: { peer: n.dialer, addrs: [], timeoutMs: 1_000 } };
    const outs = n.handle({ type: 'command', req: 1, command: ping });
    expect(outs.map(describeOutput)).toEqual(['connect L1', 'arm T1 @1000']);
    expect(n.print({ type: 'frame', link: 1, body: new Uint8Array([1]) }), 'a frame before the link opened').toEqual([
      'close L1 ProtocolViolation',
      'emit link.down L1 ProtocolViolation by local',
      'emit ping.failed 1 LinkClosedError',
      'fail R1 LinkClosedError(ProtocolViolation)',
    ]);
    // Again, this time with the link open and a hello sent (ping 1's deadline timer, T1,
    // still armed, serves ping 2's deadline too).
    n.handle({ type: 'command', req: 2, command: ping });
    expect(n.print({ type: 'linkOpened', link: 2 })).toEqual([`send L2 hello /mosaik/ping/1 net=${NET.short}`, 'arm T2 @5000']);
    const outs2 = n.handle({ type: 'frame', link: 2, body: hello() });
    expect(outs2.map(describeOutput)).toEqual([
      'cancel T2',
      'close L2 ProtocolViolation',
      'emit link.down L2 ProtocolViolation by local',
      'emit ping.failed 2 LinkClosedError',
      'fail R2 LinkClosedError(ProtocolViolation)',
    ]);
    const fail = outs2.find((o) => o.type === 'fail');
    expect(fail?.type === 'fail' && fail.error).toMatchObject({ closeCode: 400 });
  });

  it('closes with ProtocolViolation on a frame over the size limit, before decoding it', () => {
    const n = lone({ maxFrameBytes: 200 });
    const { link } = n.incoming();
    const big = new Uint8Array(201);
    big.set(hello());
    expect(n.print({ type: 'frame', link, body: big })).toEqual([
      'cancel T1',
      `close L${link} ProtocolViolation`,
      `emit link.down L${link} ProtocolViolation by local`,
    ]);
    const { link: link2 } = n.incoming();
    expect(n.print({ type: 'frame', link: link2, body: hello() })).toContain(`send L${link2} welcome`);
  });

  it('never throws on arbitrary frames in any phase (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 4 }), fc.boolean(), (bodies, upFirst) => {
        const pair = new Pair();
        if (upFirst) pair.ping('A');
        const n = lone();
        const { link } = n.incoming();
        for (const body of bodies) {
          n.handle({ type: 'frame', link, body });
          pair.input('B', { type: 'frame', link: 1, body });
          pair.input('A', { type: 'frame', link: 1, body });
        }
        // Whatever happened, the first bad frame closed the link with ProtocolViolation.
        const closes = [...pair.outputs.A, ...pair.outputs.B].filter((o) => o.type === 'close');
        for (const c of closes) expect(c.type === 'close' && c.code).toBe(CloseCode.ProtocolViolation);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('times out an inbound link whose hello never comes', () => {
    const n = lone();
    n.at(100);
    const { link, timer } = n.incoming(); // armed for 5100
    n.at(5_100);
    expect(n.print({ type: 'timer', timer })).toEqual([`close L${link} HandshakeTimeout`, `emit link.down L${link} HandshakeTimeout by local`]);
    expect(n.handle({ type: 'frame', link, body: hello() })).toEqual([]);
    expect(n.handle({ type: 'timer', timer }), 'a timer fired twice is ignored').toEqual([]);
  });

  it('times out an outbound link whose welcome never comes, failing the ping with LinkClosedError(105)', () => {
    const pair = new Pair();
    pair.hold = true;
    pair.ping('A', 60_000);
    expect([...pair.timers.A]).toEqual([
      [1, 60_000],
      [2, 5_010],
    ]);
    expect([...pair.timers.B]).toEqual([[1, 5_010]]);
    const markA = pair.outputs.A.length;
    const markB = pair.outputs.B.length;
    pair.advance(5_010);
    expect(pair.printed('A', markA)).toEqual([
      'close L1 HandshakeTimeout',
      'emit link.down L1 HandshakeTimeout by local',
      'emit ping.failed 1 LinkClosedError',
      'fail R1 LinkClosedError(HandshakeTimeout)',
    ]);
    // Both deadlines are due at 5010; A's fires first (ties break A before B), and B hears
    // of the close before its own deadline fires, so it drops it.
    expect(pair.printed('B', markB)).toEqual(['cancel T1', 'emit link.down L1 HandshakeTimeout by remote']);
    expect(pair.timers.B.size).toBe(0);
    expect([...pair.timers.A]).toEqual([[1, 60_000]]); // the ping's deadline, left to fire
    expect(pair.error<LinkClosedError>('A').closeCode).toBe(105);
    pair.release(); // the held hello arrives at a link B already closed
    expect(pair.printed('B', markB)).toHaveLength(2);
  });
});

describe('NodeMachine: the groups bond handshake deadline', () => {
  it.each([
    [undefined, 2_000],
    [700, 700],
  ])('an accepted bond link that names no group is closed with GroupTimeout after groups.handshakeTimeoutMs (%s → %s ms)', (configured, deadline) => {
    const n = lone(configured === undefined ? {} : { groups: { handshakeTimeoutMs: configured } });
    const { link } = n.incoming();
    const up = n.print({ type: 'frame', link, body: hello({ protocol: GROUPS_PROTOCOL }) });
    expect(up).toContain(`arm T2 @${deadline}`);
    n.at(deadline);
    expect(n.print({ type: 'timer', timer: 2 as TimerId })).toEqual([`close L${link} GroupTimeout`, `emit link.down L${link} GroupTimeout by local`]);
  });
});

describe('NodeMachine: ping failures', () => {
  it('fails with TimeoutError when the pong does not come in time', () => {
    const pair = new Pair();
    pair.ping('A'); // brings the link up
    pair.hold = true;
    const mark = pair.outputs.A.length;
    const req = pair.ping('A', 250);
    const armed = pair.outputs.A.slice(mark).find((o) => o.type === 'armTimer');
    expect(armed).toEqual({ type: 'armTimer', timer: 3, atMs: pair.nowMs + 250 });
    pair.advance(pair.nowMs + 249);
    expect(pair.fails('A')).toEqual([]);
    pair.advance(pair.nowMs + 1);
    expect(pair.printed('A', mark)).toEqual([
      'cancel T1', // ping 1's deadline timer, left armed at 1000: this deadline comes first
      'arm T3 @300',
      'send L1 ping 2',
      'emit ping.sent 2',
      'emit ping.failed 2 TimeoutError',
      `fail R${req} TimeoutError`,
    ]);
    const [fail] = pair.fails('A');
    expect(fail?.req).toBe(req);
    expect(fail?.error).toBeInstanceOf(TimeoutError);
    expect(fail?.error.code).toBe('TIMEOUT');
    // The late pong is ignored: no second settlement, and the link stays up.
    const late = pair.outputs.A.length;
    pair.release();
    expect(pair.printed('A', late)).toEqual([]);
    pair.ping('A');
    expect(pair.completes('A')).toHaveLength(2);
  });

  it('keeps one timer for every ping in flight, and fails each exactly at its own deadline', () => {
    const pair = new Pair();
    pair.ping('A'); // brings the link up
    pair.hold = true;
    const t0 = pair.nowMs;
    const mark = pair.outputs.A.length;
    const slow = pair.ping('A', 500);
    const fast = pair.ping('A', 100); // an earlier deadline: the timer moves to it
    const mid = pair.ping('A', 300); // a later one: no timer traffic
    const answered = pair.ping('A', 50); // answered below, before any deadline
    const timerTraffic = () => pair.printed('A', mark).filter((l) => /^(arm|cancel)/.test(l));
    // T1 (the first ping's deadline, left armed at 1000) gives way to the earlier deadlines.
    expect(timerTraffic()).toEqual(['cancel T1', `arm T3 @${t0 + 500}`, 'cancel T3', `arm T4 @${t0 + 100}`, 'cancel T4', `arm T5 @${t0 + 50}`]);
    pair.input('A', { type: 'frame', link: 1, body: pingCodec.encode({ t: 'pong', id: 5 }) });
    expect(pair.completes('A').map((c) => c.req)).toEqual([1, answered]);
    const failedAt: Record<number, number> = {};
    for (const t of [t0 + 50, t0 + 99, t0 + 100, t0 + 299, t0 + 300, t0 + 499, t0 + 500]) {
      pair.advance(t);
      for (const f of pair.fails('A')) failedAt[f.req] ??= pair.nowMs;
    }
    expect(failedAt).toEqual({ [fast]: t0 + 100, [mid]: t0 + 300, [slow]: t0 + 500 });
    expect(pair.fails('A').every((f) => f.error instanceof TimeoutError)).toBe(true);
    // The answered ping's deadline only moved the timer on (T5 fired, found nothing to
    // fail, and armed the next live deadline); with nothing pending, nothing stays armed.
    expect(timerTraffic().slice(6)).toEqual([`arm T6 @${t0 + 100}`, `arm T7 @${t0 + 300}`, `arm T8 @${t0 + 500}`]);
    expect(pair.timers.A.size).toBe(0);
  });

  it('fails a ping whose link is still handshaking at its deadline', () => {
    const pair = new Pair();
    pair.hold = true;
    pair.ping('A', 100);
    pair.advance(100);
    expect(pair.fails('A').map((f) => describeError(f.error))).toEqual(['TimeoutError']);
    pair.release();
    expect(pair.log.filter((l) => / ping \d/.test(l))).toEqual([]);
  });

  it.each(['refused', 'timeout', 'unreachable', 'peer-mismatch'] as const)('fails with ConnectError(%s) when the dial fails', (reason) => {
    const pair = new Pair();
    pair.dial = reason;
    const req = pair.ping('A');
    expect(pair.printed('A')).toEqual([
      'connect L1',
      'arm T1 @1000',
      'emit link.down L1 LinkLost by transport',
      'emit ping.failed 1 ConnectError',
      `fail R${req} ConnectError(${reason})`,
    ]);
    const error = pair.fails('A')[0]?.error as ConnectError;
    expect(error).toBeInstanceOf(ConnectError);
    expect(error.reason).toBe(reason);
    expect(error.message).toContain('dial failed in test');
    expect(pair.outputs.B).toEqual([]);
    // The next ping dials again.
    pair.dial = 'open';
    pair.ping('A');
    expect(pair.completes('A')).toHaveLength(1);
  });

  it('closes the link with ProtocolViolation when a pong comes twice (planted bug replyTwice)', () => {
    const pair = new Pair({ bugsB: { replyTwice: true } });
    pair.ping('A');
    expect(pair.log.slice(-9)).toEqual([
      'A: send L1 ping 1',
      'A: emit ping.sent 1',
      'B: send L1 pong 1',
      'B: send L1 pong 1', // the planted bug
      'A: emit ping.answered 1 rtt=20',
      'A: complete R1 rtt=20',
      'A: close L1 ProtocolViolation', // pong 1 after pong 1
      'A: emit link.down L1 ProtocolViolation by local',
      'B: emit link.down L1 ProtocolViolation by remote',
    ]);
    expect(pair.completes('A')).toHaveLength(1);
    expect(pair.fails('A')).toEqual([]);
    // A new ping opens a new link.
    pair.ping('A');
    expect(pair.printed('A').filter((l) => l.startsWith('connect'))).toEqual(['connect L1', 'connect L2']);
    expect(pair.completes('A')).toHaveLength(2);
  });

  it('closes the link with ProtocolViolation on a pong out of order', () => {
    const pair = new Pair();
    pair.ping('A');
    pair.hold = true;
    pair.ping('A'); // 2
    pair.ping('A'); // 3
    const mark = pair.outputs.A.length;
    pair.input('A', { type: 'frame', link: 1, body: pingCodec.encode({ t: 'pong', id: 3 }) });
    pair.input('A', { type: 'frame', link: 1, body: pingCodec.encode({ t: 'pong', id: 2 }) });
    expect(pair.printed('A', mark)).toEqual([
      // Ping 3 is answered; the one deadline timer stays armed, for ping 2 and after it.
      'emit ping.answered 3 rtt=0',
      'complete R3 rtt=0',
      'close L1 ProtocolViolation',
      'emit link.down L1 ProtocolViolation by local',
      'emit ping.failed 2 LinkClosedError',
      'fail R2 LinkClosedError(ProtocolViolation)',
    ]);
  });

  it('closes the link with ProtocolViolation on a ping sent the wrong way', () => {
    const pair = new Pair();
    pair.ping('A');
    const mark = pair.outputs.A.length;
    pair.input('A', { type: 'frame', link: 1, body: pingCodec.encode({ t: 'ping', id: 9 }) });
    expect(pair.printed('A', mark)).toEqual(['close L1 ProtocolViolation', 'emit link.down L1 ProtocolViolation by local']);
  });

  it('closes the link with ProtocolViolation on a repeated ping id', () => {
    const pair = new Pair();
    pair.ping('A');
    const mark = pair.outputs.B.length;
    pair.input('B', { type: 'frame', link: 1, body: pingCodec.encode({ t: 'ping', id: 1 }) });
    expect(pair.printed('B', mark)).toEqual(['close L1 ProtocolViolation', 'emit link.down L1 ProtocolViolation by local']);
  });

  it('fails pending pings with LinkClosedError when the transport loses the link', () => {
    const pair = new Pair();
    pair.ping('A');
    pair.hold = true;
    pair.ping('A');
    const mark = pair.outputs.A.length;
    pair.input('A', { type: 'linkClosed', link: 1, code: CloseCode.LinkLost, reason: 'idle timeout' });
    expect(pair.printed('A', mark)).toEqual([
      'emit link.down L1 LinkLost by transport',
      'emit ping.failed 2 LinkClosedError',
      'fail R2 LinkClosedError(LinkLost)',
    ]);
    expect(pair.fails('A')[0]?.error).toMatchObject({ closeCode: 104, reason: 'idle timeout' });
  });
});

describe('NodeMachine: clocks', () => {
  it('asserts that the monotonic clock never goes back (a driver bug, not an input error)', () => {
    const node = started(createNodeMachine({ secretKey: SecretKey.fromSeed('clock'), networkId: NET, rng: xorshift(3) }));
    node.handle({ type: 'timer', timer: 99 }, 100);
    node.handle({ type: 'timer', timer: 99 }, 100);
    expect(() => node.handle({ type: 'timer', timer: 99 }, 99)).toThrow(AssertionError);
    expect(() => node.handle({ type: 'timer', timer: 99 }, Number.NaN)).toThrow(AssertionError);
    expect(() => node.handle({ type: 'timer', timer: 99 }, 200, Number.POSITIVE_INFINITY)).toThrow(AssertionError);
  });

  it('lets the wall clock jump back; pings time on the monotonic clock only', () => {
    const pair = new Pair();
    // A's wall clock runs backwards, B's is a day ahead.
    pair.wallClockMs = (side, nowMs) => (side === 'A' ? 1_700_000_000_000 - 1_000 * nowMs : 86_400_000 + nowMs);
    pair.ping('A');
    expect(pair.completes('A')[0]?.result).toMatchObject({ rttMs: 20 });
    const mark = pair.outputs.A.length;
    pair.hold = true;
    pair.ping('A', 100);
    pair.nowMs += 30;
    pair.release();
    expect(pair.printed('A', mark).slice(-1)).toEqual(['complete R2 rtt=50']);
  });
});

describe('NodeMachine: shutdown', () => {
  it('fails pending pings, closes links with GracefulShutdown and completes', () => {
    const pair = new Pair();
    pair.ping('A'); // link A->B up
    pair.ping('B'); // link B->A up
    pair.hold = true;
    pair.ping('A'); // pending
    const mark = pair.outputs.A.length;
    const markB = pair.outputs.B.length;
    const req = pair.shutdown('A');
    expect(pair.printed('A', mark)).toEqual([
      'emit ping.failed 2 ClosedError', // A's second ping (ids are per node)
      'fail R3 ClosedError',
      'close L1 GracefulShutdown',
      'emit link.down L1 GracefulShutdown by local',
      'close L2 GracefulShutdown',
      'emit link.down L2 GracefulShutdown by local',
      'cancel T1', // the pings' deadline timer, with the node's other timers
      `complete R${req}`,
    ]);
    expect(pair.error('A')).toBeInstanceOf(ClosedError);
    expect(pair.printed('B', markB)).toEqual(['emit link.down L1 GracefulShutdown by remote', 'emit link.down L2 GracefulShutdown by remote']);
    expect(pair.timers.A.size).toBe(0);
  });

  it('closes a link still dialing, and ignores the transport opening it afterwards', () => {
    const n = lone();
    n.handle({ type: 'command', req: 1, command: { to: 'ping', cmd: { peer: n.dialer, addrs: [], timeoutMs: 1_000 } } });
    expect(n.print({ type: 'command', req: 2, command: { to: 'node', kind: 'shutdown' } })).toEqual([
      'emit ping.failed 1 ClosedError',
      'fail R1 ClosedError',
      'close L1 GracefulShutdown',
      'emit link.down L1 GracefulShutdown by local',
      'cancel T1',
      'complete R2',
    ]);
    expect(n.handle({ type: 'linkOpened', link: 1 })).toEqual([]);
    expect(n.handle({ type: 'linkFailed', link: 1, reason: 'timeout', detail: 'late' })).toEqual([]);
    expect(n.handle({ type: 'linkClosed', link: 1, code: CloseCode.LinkLost, reason: 'late' })).toEqual([]);
  });

  it('cancels every timer, including handshake deadlines', () => {
    const pair = new Pair();
    pair.hold = true;
    pair.ping('A');
    expect(pair.timers.A.size).toBe(2);
    pair.shutdown('A');
    expect(pair.timers.A.size).toBe(0);
  });

  it('fails every later command with ClosedError and turns inbound links away', () => {
    const pair = new Pair();
    pair.shutdown('A');
    const mark = pair.outputs.A.length;
    const ping = pair.ping('A');
    const again = pair.shutdown('A');
    expect(pair.printed('A', mark)).toEqual([`fail R${ping} ClosedError`, `fail R${again} ClosedError`]);
    for (const f of pair.fails('A')) {
      expect(f.error).toBeInstanceOf(ClosedError);
      expect(f.error.code).toBe('CLOSED');
    }
    // B's ping reaches a node that is shutting down.
    pair.ping('B');
    expect(pair.printed('A', mark + 2)).toEqual(['close L1 GracefulShutdown']);
    expect(describeError(pair.fails('B')[0]?.error as MosaikError)).toBe('LinkClosedError(GracefulShutdown)');
  });

  it('is deterministic: the same inputs give the same outputs', () => {
    const run = () => {
      const pair = new Pair({ spy: true });
      pair.ping('A');
      pair.ping('B');
      pair.shutdown('B');
      return { log: pair.log, secrets: pair.spies.A?.ups.map((l) => Buffer.from(l.secret as Uint8Array).toString('hex')) };
    };
    expect(run()).toEqual(run());
  });
});

describe('NodeMachine: start', () => {
  it('takes `start` first and only once; anything else before it is a driver bug', () => {
    const fresh = () => createNodeMachine({ secretKey: SecretKey.fromSeed('start'), networkId: NET, rng: xorshift(5) });
    expect(() => fresh().handle({ type: 'timer', timer: 1 }, 0)).toThrow(AssertionError);
    const node = fresh();
    expect(node.handle({ type: 'start' }, 0)).toEqual([]);
    expect(() => node.handle({ type: 'start' }, 1)).toThrow(AssertionError);
  });

  it('lets every subsystem act on start, with the clocks it was started at', () => {
    const seen: string[] = [];
    const sub: Subsystem = {
      name: 'probe',
      protocols: new Map(),
      onStart: (ctx) => {
        seen.push(`start at ${ctx.nowMs}/${ctx.wallClockMs} incarnation ${ctx.incarnation}`);
        ctx.armTimer(ctx.nowMs + 10, 'tick');
      },
      onLinkUp: () => {},
      onMessage: () => {},
      onLinkDown: () => {},
      onTimer: (_ctx, payload) => seen.push(`timer ${String(payload)}`),
      onCommand: () => {},
      onShutdown: () => {},
    };
    const node = new NodeMachine({ secretKey: SecretKey.fromSeed('probe'), networkId: NET, rng: xorshift(9), subsystems: [sub], incarnation: 2 });
    const out = node.handle({ type: 'start' }, 5, 1_000);
    expect(out).toEqual([{ type: 'armTimer', timer: 1, atMs: 15 }]);
    node.handle({ type: 'timer', timer: 1 }, 15);
    expect(seen).toEqual(['start at 5/1000 incarnation 2', 'timer tick']);
  });
});
