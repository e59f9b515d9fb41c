import type { GossipInput, GossipOutput, GossipTimer } from '../../core/gossip/io.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, decodeGossipMessage, encodeGossipMessage, type GossipMessageType } from '../../core/gossip/messages.ts';
import { GossipTopic, type GossipTopicOptions } from '../../core/gossip/topic.ts';
import { PeerId } from '../../core/identity/keys.ts';
import { intBetween, type Rng } from '../../core/util/rng.ts';
import { rngStream } from '../../net-sim/rng.ts';

/**
 * A tiny deterministic driver for N gossip topics (after iroh-gossip's `src/proto/sim.rs`): a
 * (time, seq) queue of deliveries and timers, a fixed latency per peer pair (1–20 ms, drawn
 * once from the seeded network stream), every message encoded and decoded through the codec
 * on the way. `kill` stops a peer: nothing reaches it or leaves it, its neighbors get
 * `peerDown`, and a later send to it comes back as `peerDown` (a failed dial).
 */

type SimEvent =
  | { readonly kind: 'deliver'; readonly to: number; readonly from: number; readonly body: Uint8Array }
  | { readonly kind: 'input'; readonly to: number; readonly input: GossipInput };

interface Queued {
  readonly atMs: number;
  readonly seq: number;
  readonly event: SimEvent;
}

export interface Received {
  readonly atMs: number;
  readonly data: Uint8Array;
  readonly from: number;
  readonly round: number;
}

export interface SimOptions {
  readonly n: number;
  readonly seed: number;
  readonly topic?: Partial<Omit<GossipTopicOptions, 'me' | 'rng'>>;
  /** Keep a printable line per output (for determinism checks). */
  readonly record?: boolean;
  /** Events processed before the run is declared stuck. */
  readonly eventBudget?: number;
}

export class GossipSim {
  readonly n: number;
  readonly peers: PeerId[] = [];
  readonly topics: GossipTopic[] = [];
  readonly received: Received[][] = [];
  /** Messages sent per peer, by message type (reset with `resetCounts`). */
  sent: Map<GossipMessageType, number>[] = [];
  readonly trace: string[] = [];
  nowMs = 0;
  readonly #record: boolean;
  readonly #index = new Map<string, number>();
  readonly #latency = new Map<string, number>();
  readonly #net: Rng;
  readonly #dead = new Set<number>();
  #heap: Queued[] = [];
  #seq = 0;
  #budget: number;
  /** Deliveries queued and not yet processed. */
  inFlight = 0;

  constructor(options: SimOptions) {
    this.n = options.n;
    this.#record = options.record ?? false;
    this.#budget = options.eventBudget ?? 5_000_000;
    this.#net = rngStream(options.seed, 'network');
    for (let i = 0; i < options.n; i++) {
      const peer = PeerId.fromBytes(rngStream(options.seed, `key/${i}`).bytes(32));
      this.peers.push(peer);
      this.#index.set(peer.hex, i);
      this.topics.push(new GossipTopic({ ...options.topic, me: peer, rng: rngStream(options.seed, `node/${i}`) }));
      this.received.push([]);
      this.sent.push(new Map());
    }
  }

  indexOf(peer: PeerId): number {
    const i = this.#index.get(peer.hex);
    if (i === undefined) throw new Error(`unknown peer ${peer.short}`);
    return i;
  }

  isDead(i: number): boolean {
    return this.#dead.has(i);
  }

  live(): number[] {
    return this.peers.map((_, i) => i).filter((i) => !this.#dead.has(i));
  }

  /** Feeds an input to peer `i` now. */
  input(i: number, input: GossipInput): void {
    this.#apply(i, input);
  }

  join(i: number, contacts: readonly number[]): void {
    this.#apply(i, { type: 'command', command: { type: 'join', peers: contacts.map((c) => this.peers[c] as PeerId) } });
  }

  broadcast(i: number, data: Uint8Array): void {
    this.#apply(i, { type: 'command', command: { type: 'broadcast', data } });
  }

  /** Stops peer `i`; its live neighbors learn it after their link latency. */
  kill(i: number): void {
    this.#dead.add(i);
    for (const j of this.live()) {
      if (this.topics[j]?.activeView().some((p) => p.equals(this.peers[i] as PeerId))) {
        this.#push(this.nowMs + this.latency(i, j), { kind: 'input', to: j, input: { type: 'peerDown', peer: this.peers[i] as PeerId } });
      }
    }
  }

  latency(a: number, b: number): number {
    const key = a < b ? `${a}:${b}` : `${b}:${a}`;
    let ms = this.#latency.get(key);
    if (ms === undefined) {
      ms = intBetween(this.#net, 1, 20);
      this.#latency.set(key, ms);
    }
    return ms;
  }

  resetCounts(): void {
    this.sent = this.sent.map(() => new Map());
  }

  sentOf(i: number, types: readonly GossipMessageType[]): number {
    let total = 0;
    for (const t of types) total += this.sent[i]?.get(t) ?? 0;
    return total;
  }

  /** Processes every event up to and including `untilMs`. */
  runUntil(untilMs: number): void {
    while (this.#heap.length > 0 && (this.#heap[0] as Queued).atMs <= untilMs) this.#step();
    this.nowMs = Math.max(this.nowMs, untilMs);
  }

  /** Runs until no message is in flight (timers may remain), within `maxMs` more; false if it never went quiet. */
  runUntilQuiet(maxMs: number): boolean {
    const limit = this.nowMs + maxMs;
    while (this.inFlight > 0 && this.#heap.length > 0 && (this.#heap[0] as Queued).atMs <= limit) this.#step();
    return this.inFlight === 0;
  }

  #step(): void {
    const next = this.#pop();
    if (--this.#budget < 0) throw new Error('gossip sim: event budget exhausted');
    this.nowMs = next.atMs;
    const ev = next.event;
    if (ev.kind === 'deliver') {
      this.inFlight--;
      if (this.#dead.has(ev.to) || this.#dead.has(ev.from)) return;
      const decoded = decodeGossipMessage(ev.body);
      if (!decoded.ok) throw new Error(`gossip sim: undecodable message: ${decoded.error.message}`);
      this.#apply(ev.to, { type: 'recv', from: this.peers[ev.from] as PeerId, message: decoded.value });
    } else if (!this.#dead.has(ev.to)) {
      this.#apply(ev.to, ev.input);
    }
  }

  #apply(i: number, input: GossipInput): void {
    const topic = this.topics[i] as GossipTopic;
    const outputs = topic.handle(input, this.nowMs);
    for (const o of outputs) this.#perform(i, o);
  }

  #perform(i: number, o: GossipOutput): void {
    if (this.#record) this.trace.push(`${this.nowMs} ${i} ${describeOutput(o, (p) => this.indexOf(p))}`);
    switch (o.type) {
      case 'send': {
        const to = this.indexOf(o.to);
        const counts = this.sent[i] as Map<GossipMessageType, number>;
        counts.set(o.message.type, (counts.get(o.message.type) ?? 0) + 1);
        const body = encodeGossipMessage(o.message);
        if (body.length > DEFAULT_MAX_MESSAGE_BYTES) throw new Error(`gossip sim: ${o.message.type} of ${body.length} bytes`);
        if (this.#dead.has(to)) {
          // A dial to a dead peer fails: the driver reports it down.
          this.#push(this.nowMs + 2 * this.latency(i, to), { kind: 'input', to: i, input: { type: 'peerDown', peer: o.to } });
        } else {
          this.inFlight++;
          this.#push(this.nowMs + this.latency(i, to), { kind: 'deliver', to, from: i, body: Uint8Array.from(body) });
        }
        break;
      }
      case 'armTimer':
        this.#push(Math.max(o.atMs, this.nowMs), { kind: 'input', to: i, input: { type: 'timer', timer: o.timer } });
        break;
      case 'emit':
        if (o.event.type === 'received')
          this.received[i]?.push({ atMs: this.nowMs, data: o.event.data, from: this.indexOf(o.event.from), round: o.event.round });
        break;
      case 'disconnect':
        // A hint to close the connection; links here are implicit.
        break;
    }
  }

  #push(atMs: number, event: SimEvent): void {
    const item: Queued = { atMs, seq: this.#seq++, event };
    const h = this.#heap;
    h.push(item);
    let k = h.length - 1;
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (!before(item, h[parent] as Queued)) break;
      h[k] = h[parent] as Queued;
      k = parent;
    }
    h[k] = item;
  }

  #pop(): Queued {
    const h = this.#heap;
    const top = h[0] as Queued;
    const last = h.pop() as Queued;
    if (h.length > 0) {
      let k = 0;
      for (;;) {
        const l = 2 * k + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && before(h[r] as Queued, h[l] as Queued) ? r : l;
        if (!before(h[c] as Queued, last)) break;
        h[k] = h[c] as Queued;
        k = c;
      }
      h[k] = last;
    }
    return top;
  }
}

function before(a: Queued, b: Queued): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

function describeTimer(t: GossipTimer, ix: (p: PeerId) => number): string {
  switch (t.type) {
    case 'neighborRequest':
      return `neighborRequest(${ix(t.peer)},${t.id})`;
    case 'graft':
      return `graft(${Buffer.from(t.id).toString('hex').slice(0, 8)})`;
    default:
      return t.type;
  }
}

export function describeOutput(o: GossipOutput, ix: (p: PeerId) => number): string {
  switch (o.type) {
    case 'send':
      return `send ${ix(o.to)} ${o.message.type} ${Buffer.from(encodeGossipMessage(o.message)).toString('hex')}`;
    case 'emit':
      return o.event.type === 'received' ? `emit received ${o.event.data.length}B from ${ix(o.event.from)}` : `emit ${o.event.type} ${ix(o.event.peer)}`;
    case 'armTimer':
      return `armTimer ${o.atMs} ${describeTimer(o.timer, ix)}`;
    case 'disconnect':
      return `disconnect ${ix(o.peer)}`;
  }
}

/** Builds an overlay of `n` peers all joining through peer 0, one every `spacingMs`, then runs `settleMs` more. */
export function joinedSim(options: SimOptions & { spacingMs?: number; settleMs?: number }): GossipSim {
  const sim = new GossipSim(options);
  const spacing = options.spacingMs ?? 10;
  sim.join(0, []);
  for (let i = 1; i < sim.n; i++) {
    sim.runUntil(i * spacing);
    sim.join(i, [0]);
  }
  sim.runUntil(sim.nowMs + (options.settleMs ?? 5_000));
  return sim;
}

/** Active-view facts of the live peers: sizes, asymmetric pairs, connected components. */
export function overlayFacts(sim: GossipSim): { maxActive: number; minActive: number; maxPassive: number; asymmetric: string[]; components: number } {
  const live = sim.live();
  const liveSet = new Set(live);
  let maxActive = 0;
  let minActive = Number.POSITIVE_INFINITY;
  let maxPassive = 0;
  const asymmetric: string[] = [];
  const adj = new Map<number, number[]>();
  for (const i of live) {
    const topic = sim.topics[i] as GossipTopic;
    const active = topic.activeView().map((p) => sim.indexOf(p));
    maxActive = Math.max(maxActive, active.length);
    minActive = Math.min(minActive, active.length);
    maxPassive = Math.max(maxPassive, topic.passiveView().length);
    adj.set(i, active);
    for (const j of active) {
      const back = (sim.topics[j] as GossipTopic).activeView().some((p) => p.equals(sim.peers[i] as PeerId));
      if (!back || !liveSet.has(j)) asymmetric.push(`${i}->${j}`);
    }
  }
  // Connected components over the (undirected) live active graph.
  const seen = new Set<number>();
  let components = 0;
  for (const start of live) {
    if (seen.has(start)) continue;
    components++;
    const stack = [start];
    seen.add(start);
    while (stack.length > 0) {
      const i = stack.pop() as number;
      for (const j of adj.get(i) ?? []) {
        if (liveSet.has(j) && !seen.has(j)) {
          seen.add(j);
          stack.push(j);
        }
      }
    }
  }
  return { maxActive, minActive, maxPassive, asymmetric, components };
}
