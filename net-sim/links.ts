import { parsePeerAddr } from '../core/identity/address.ts';
import type { LinkId } from '../core/node/io.ts';
import { assert } from '../core/util/assert.ts';
import type { Rng } from '../core/util/rng.ts';
import { CloseCode } from '../core/wire/close-codes.ts';
import { type Arrival, ArrivalQueue } from './arrival-queue.ts';
import type { FaultPlan, StressPlan } from './fault-plan.ts';
import type { Runnable } from './sim-event.ts';
import type { SimNode } from './sim-node.ts';
import { type Trace, TraceKind } from './trace.ts';

/** What the link model needs from the simulation: time, scheduling, the trace. */
export interface LinkHost {
  readonly nowMs: number;
  schedule(atMs: number, run: (() => void) | Runnable): void;
  readonly trace: Trace;
  nodeAt(location: string): SimNode | undefined;
  /** A reliable link broke its contract (only possible with a planted bug). */
  violate(message: string): void;
}

/**
 * Bugs that can be planted in the wire model to prove the link-integrity check catches
 * them: reliable links that reorder or duplicate frames without the stress mode's consent.
 */
export type PlantedWireBug = 'reorder' | 'duplicate';

type Close = { readonly code: number; readonly reason: string };
/** A frame in flight, or the sender's close (which ends its direction). One shape for both: the pump reads every item. */
type Item = Arrival & { readonly seq: number } & (
    | { readonly body: Uint8Array; readonly close: undefined }
    | { readonly body: undefined; readonly close: Close }
  );

/** One end of a link: which node, its link id there, and the incarnation it belongs to. */
interface End {
  readonly node: SimNode;
  linkId: LinkId;
  readonly incarnation: number;
  open: boolean;
}

/** True when this end still belongs to the running incarnation of its node. */
function endAlive(e: End): boolean {
  return e.open && e.node.isUp && e.node.incarnation === e.incarnation;
}

/**
 * One direction of a link: its frames in flight (it is their queue) and its sequence
 * counters. Everything a frame touches on the way (send, pump, deliver) sits in this one
 * object, not spread over per-field pairs: with thousands of links, each touched once per
 * frame, the cache misses of reaching the state cost more than the work done on it (a
 * 50-node mesh spends more time waiting on memory than executing instructions). For the
 * same reason the direction is its own pump event rather than a closure over it.
 */
export class LinkDirection extends ArrivalQueue<Item> implements Runnable {
  /** Latest arrival time given out: FIFO, so no frame arrives before it. */
  lastArrivalMs = 0;
  sentSeq = 0;
  deliveredSeq = 0;
  /** The sending node's index, for the trace (saves reaching it through `from`). */
  readonly fromIndex: number;

  constructor(
    readonly model: LinkModel,
    readonly link: SimLink,
    /** The index of the sending end in `link.ends`. */
    readonly index: 0 | 1,
    readonly from: End,
    readonly to: End,
  ) {
    super();
    this.fromIndex = from.node.index;
  }

  /** The pump event: delivers what has arrived. */
  run(): void {
    this.model.pump(this);
  }
}

/**
 * A link as QUIC gives it: reliable and FIFO in each direction. Each direction is a queue
 * of frames with their arrival times; a pump delivers from the head only, so a frame held
 * back by a partition holds back everything behind it (QUIC retransmits; order is kept).
 */
export class SimLink {
  readonly id: number;
  readonly ends: [End, End];
  /** By the index of the sending end: `dirs[0]` carries the dialer's frames. */
  readonly dirs: [LinkDirection, LinkDirection];
  /** When the path last became blocked; undefined while it is clear. */
  blockedSinceMs: number | undefined;
  state: 'dialing' | 'open' | 'closed' = 'dialing';

  constructor(
    model: LinkModel,
    id: number,
    dialer: End,
    acceptor: End,
    /** One-way latency of the node pair, before slow-link faults. */
    readonly latencyMs: number,
  ) {
    this.id = id;
    this.ends = [dialer, acceptor];
    this.dirs = [new LinkDirection(model, this, 0, dialer, acceptor), new LinkDirection(model, this, 1, acceptor, dialer)];
  }

  /** True when this end still belongs to the running incarnation of its node. */
  alive(end: 0 | 1): boolean {
    return endAlive(this.ends[end]);
  }
}

/**
 * The simulated wire: links between nodes, latencies per node pair, partitions and slow
 * links, and the optional message-level stress mode. Everything it does is a scheduled
 * event, so the order of deliveries is a function of the seed.
 */
export class LinkModel {
  readonly #host: LinkHost;
  readonly #rng: Rng;
  readonly #plan: FaultPlan;
  readonly #latency = new Map<number, number>();
  /** Blocked directions `from>to`, per active partition fault. */
  readonly #partitions = new Map<number, Set<string>>();
  #blocked = new Set<string>();
  readonly #slow = new Map<string, number>();
  readonly #links = new Set<SimLink>();
  #nextLink = 1;
  #nextPartition = 1;
  /** Frames delivered to a node machine (for stats). */
  delivered = 0;
  /** Links closed because a checker-visible fault broke them. */
  lost = 0;
  /** Frames corrupted in flight (`corruptFrames`). */
  corrupted = 0;

  readonly #plantedBug: PlantedWireBug | undefined;
  /** The plan's message stress applies from this virtual time on (with the other faults). */
  readonly #stressFromMs: number;

  /** The corruption fuzz (`SimulationOptions.corruptFrames`), with its own random stream. */
  #corrupt: { readonly probability: number; readonly rng: Rng } | undefined;

  constructor(
    host: LinkHost,
    rng: Rng,
    plan: FaultPlan,
    plantedBug?: PlantedWireBug,
    stressFromMs = 0,
    corrupt?: { readonly probability: number; readonly rng: Rng },
  ) {
    this.#host = host;
    this.#rng = rng;
    this.#plan = plan;
    this.#plantedBug = plantedBug;
    this.#stressFromMs = stressFromMs;
    this.#corrupt = corrupt && corrupt.probability > 0 ? corrupt : undefined;
  }

  // ---- topology ----------------------------------------------------------------------

  /** Blocks the given directions until `unpartition(id)`; returns the partition's id. */
  partition(directions: Iterable<[SimNode, SimNode]>): number {
    const id = this.#nextPartition++;
    const set = new Set<string>();
    for (const [from, to] of directions) set.add(`${from.index}>${to.index}`);
    this.#partitions.set(id, set);
    this.#recomputeBlocked();
    return id;
  }

  unpartition(id: number): void {
    if (this.#partitions.delete(id)) this.#recomputeBlocked();
  }

  healAll(): void {
    this.#partitions.clear();
    this.#slow.clear();
    this.#recomputeBlocked();
  }

  setSlow(a: SimNode, b: SimNode, factor: number | undefined): void {
    for (const key of [`${a.index}>${b.index}`, `${b.index}>${a.index}`]) {
      if (factor === undefined) this.#slow.delete(key);
      else this.#slow.set(key, factor);
    }
  }

  isBlocked(from: SimNode, to: SimNode): boolean {
    return this.#blocked.has(`${from.index}>${to.index}`);
  }

  #pathBlocked(a: SimNode, b: SimNode): boolean {
    return this.isBlocked(a, b) || this.isBlocked(b, a);
  }

  #recomputeBlocked(): void {
    const blocked = new Set<string>();
    for (const set of this.#partitions.values()) for (const d of set) blocked.add(d);
    this.#blocked = blocked;
    const now = this.#host.nowMs;
    for (const link of this.#links) {
      if (link.state !== 'open') continue;
      const isBlocked = this.#pathBlocked(link.ends[0].node, link.ends[1].node);
      if (isBlocked && link.blockedSinceMs === undefined) {
        link.blockedSinceMs = now;
        this.#armIdleCheck(link, now);
      } else if (!isBlocked && link.blockedSinceMs !== undefined) {
        link.blockedSinceMs = undefined;
        // QUIC retransmits what was held back: schedule the pumps again.
        for (const dir of link.dirs) if (dir.head !== undefined) this.#host.schedule(now + this.#oneWayMs(link, dir), dir);
      }
    }
  }

  #oneWayMs(link: SimLink, dir: LinkDirection): number {
    if (this.#slow.size === 0) return link.latencyMs;
    return link.latencyMs * (this.#slow.get(`${dir.from.node.index}>${dir.to.node.index}`) ?? 1);
  }

  /** Latency of a node pair, drawn once, symmetric. */
  #baseLatency(a: SimNode, b: SimNode): number {
    const key = a.index < b.index ? a.index * 1_048_576 + b.index : b.index * 1_048_576 + a.index;
    let ms = this.#latency.get(key);
    if (ms === undefined) {
      ms = this.#plan.latencyMsMin + Math.floor(this.#rng.float() * (this.#plan.latencyMsMax - this.#plan.latencyMsMin + 1));
      this.#latency.set(key, ms);
    }
    return ms;
  }

  // ---- link lifecycle ----------------------------------------------------------------

  dial(from: SimNode, linkId: LinkId, expectedPeerHex: string, addrs: readonly string[]): void {
    const host = this.#host;
    const now = host.nowMs;
    const target = this.#resolve(addrs);
    const link = target
      ? new SimLink(
          this,
          this.#nextLink++,
          { node: from, linkId, incarnation: from.incarnation, open: true },
          { node: target, linkId: -1, incarnation: target.incarnation, open: true },
          this.#baseLatency(from, target),
        )
      : undefined;
    host.trace.record(now, TraceKind.dial, from.index, linkId, target?.index ?? -1, 0);
    const incarnation = from.incarnation;
    const fail = (atMs: number, reason: 'timeout' | 'unreachable' | 'peer-mismatch', detail: string) =>
      host.schedule(atMs, () => {
        if (from.incarnation !== incarnation) return;
        host.trace.note(host.nowMs, `dial-failed n${from.index}/${linkId} ${reason}`);
        from.input({ type: 'linkFailed', link: linkId, reason, detail });
      });
    if (!target || !link) return fail(now, 'unreachable', `no node at ${addrs.join(',') || '(no address)'}`);
    const reachable = () => target.isUp && target.incarnation === link.ends[1].incarnation && !this.#pathBlocked(from, target);
    if (!reachable()) return fail(now + this.#plan.connectTimeoutMs, 'timeout', `no answer from ${target.location}`);
    this.#registerEnd(from, linkId, link, 0);
    const there = link.latencyMs;
    host.schedule(now + there, () => {
      if (!link.alive(0)) return this.#dropLink(link);
      if (!reachable()) {
        // The target went away (or the path was cut) while the handshake was in flight: the
        // dial fails as any unanswered dial does, at the connect timeout.
        this.#dropLink(link);
        fail(now + this.#plan.connectTimeoutMs, 'timeout', `no answer from ${target.location}`);
        return;
      }
      if (target.peerId.hex !== expectedPeerHex) {
        this.#dropLink(link);
        host.schedule(host.nowMs + there, () => {
          host.trace.note(host.nowMs, `dial-failed n${from.index}/${linkId} peer-mismatch`);
          from.input({ type: 'linkFailed', link: linkId, reason: 'peer-mismatch', detail: `${target.location} is ${target.peerId.short}` });
        });
        return;
      }
      // The acceptor learns of the link half a round trip before the dialer.
      const acceptorId = target.allocateLinkId();
      link.ends[1].linkId = acceptorId;
      this.#registerEnd(target, acceptorId, link, 1);
      link.state = 'open';
      this.#links.add(link);
      host.trace.record(host.nowMs, TraceKind.accept, target.index, acceptorId, from.index, link.id);
      target.input({ type: 'linkIncoming', link: acceptorId, peer: from.peerId });
      host.schedule(host.nowMs + there, () => {
        if (link.state !== 'open' || !link.alive(0)) return;
        host.trace.record(host.nowMs, TraceKind.open, from.index, linkId, link.id, 0);
        from.input({ type: 'linkOpened', link: linkId });
      });
    });
  }

  send(from: SimNode, linkId: LinkId, body: Uint8Array): void {
    const dir = from.linkEnds.get(linkId);
    if (dir?.link.state !== 'open') return; // not yet open on the wire or already gone
    this.#enqueue(dir, body, undefined);
  }

  close(from: SimNode, linkId: LinkId, code: number, reason: string): void {
    const dir = from.linkEnds.get(linkId);
    if (!dir) return;
    const link = dir.link;
    const end = dir.index;
    link.ends[end].open = false;
    this.#unregister(from, linkId, link);
    if (link.state === 'dialing') {
      link.state = 'closed';
      return;
    }
    if (link.state === 'open') this.#enqueue(dir, undefined, { code, reason });
  }

  /** A node crashed or closed: its ends vanish silently; the peers find out by idle timeout. */
  nodeDown(node: SimNode): void {
    const mine = [...node.linkEnds.values()];
    node.linkEnds.clear();
    for (const { link, index: end } of mine) {
      link.ends[end].open = false;
      this.#discardQueued(link);
      if (link.state !== 'open') continue;
      const other = (1 - end) as 0 | 1;
      if (link.ends[other].open) this.#host.schedule(this.#host.nowMs + this.#plan.idleTimeoutMs, () => this.#lose(link, 'peer stopped answering'));
      else this.#dropLink(link);
    }
  }

  /** Queues a frame (`body`) or else the sender's `close`. */
  #enqueue(dir: LinkDirection, body: Uint8Array | undefined, close: Close | undefined): void {
    const link = dir.link;
    const now = this.#host.nowMs;
    const jitter = this.#plan.jitterMsMax > 0 ? Math.floor(this.#rng.float() * (this.#plan.jitterMsMax + 1)) : 0;
    let atMs = Math.max(now + this.#oneWayMs(link, dir) + jitter, dir.lastArrivalMs);
    const stress = (now >= this.#stressFromMs ? this.#plan.stress : undefined) ?? this.#plantedStress();
    let duplicate = false;
    if (stress && body !== undefined) {
      if (this.#rng.float() < stress.lossProbability) return;
      // A reordered frame skips the FIFO floor: it may overtake frames sent before it.
      if (this.#rng.float() < stress.reorderProbability) atMs = now + Math.floor(this.#rng.float() * 2 * this.#oneWayMs(link, dir));
      duplicate = this.#rng.float() < stress.duplicateProbability;
    }
    dir.lastArrivalMs = Math.max(dir.lastArrivalMs, atMs);
    const seq = ++dir.sentSeq;
    const item: Item =
      body !== undefined
        ? { atMs, seq, body: (this.#corrupt && this.#maybeCorrupt(body, this.#corrupt)) || body, close: undefined, next: undefined }
        : { atMs, seq, body: undefined, close: close as Close, next: undefined };
    dir.insert(item);
    this.#host.schedule(atMs, dir);
    if (duplicate) dir.insert({ ...item, next: undefined });
  }

  /**
   * With the fuzz's probability, a copy of `body` as a faulty or hostile peer might send it:
   * one bit flipped, one byte replaced, cut short, or grown by a few random bytes. The
   * sender's own bytes are never touched (a codec may reuse them).
   */
  #maybeCorrupt(body: Uint8Array, corrupt: { readonly probability: number; readonly rng: Rng }): Uint8Array | undefined {
    const rng = corrupt.rng;
    if (rng.float() >= corrupt.probability) return undefined;
    this.corrupted++;
    const at = (n: number) => Math.floor(rng.float() * n);
    const kind = at(4);
    switch (kind) {
      case 0: // one bit of one byte flipped
      case 1: {
        // one byte replaced
        if (body.length === 0) return Uint8Array.of(at(256));
        const out = body.slice();
        const i = at(out.length);
        out[i] = kind === 0 ? (out[i] as number) ^ (1 << at(8)) : at(256);
        return out;
      }
      case 2:
        return body.slice(0, at(body.length));
      default: {
        const extra = 1 + at(8);
        const out = new Uint8Array(body.length + extra);
        out.set(body);
        for (let i = body.length; i < out.length; i++) out[i] = at(256);
        return out;
      }
    }
  }

  /** The fault phase ended: frames sent from now on arrive as sent. */
  stopCorrupting(): void {
    this.#corrupt = undefined;
  }

  #plantedStress(): StressPlan | undefined {
    if (this.#plantedBug === 'reorder') return { lossProbability: 0, duplicateProbability: 0, reorderProbability: 0.5 };
    if (this.#plantedBug === 'duplicate') return { lossProbability: 0, duplicateProbability: 0.05, reorderProbability: 0 };
    return undefined;
  }

  /** Delivers the frames of a direction that have arrived; the direction's event runs it. */
  pump(dir: LinkDirection): void {
    const link = dir.link;
    const now = this.#host.nowMs;
    const receiver = dir.to;
    for (let item = dir.head; item !== undefined && item.atMs <= now; item = dir.head) {
      if (link.state !== 'open') {
        dir.clear();
        return;
      }
      if (link.blockedSinceMs !== undefined) return; // held back until the path heals
      dir.shift();
      // The reliable-link contract: each direction delivers 1, 2, 3, ... with no gap, no
      // repeat, no reordering. Only the stress mode may break it, on purpose.
      if (item.seq !== dir.deliveredSeq + 1 && !this.#plan.stress) {
        this.#host.violate(`reliable link L${link.id} n${dir.fromIndex}>n${receiver.node.index} delivered #${item.seq} after #${dir.deliveredSeq}`);
      }
      dir.deliveredSeq = Math.max(dir.deliveredSeq, item.seq);
      if (!endAlive(receiver)) {
        // The receiving end is gone; QUIC drops the data with the connection.
        if (item.close !== undefined) this.#dropLink(link);
        continue;
      }
      if (item.close !== undefined) {
        link.state = 'closed';
        receiver.open = false;
        this.#unregister(receiver.node, receiver.linkId, link);
        this.#links.delete(link);
        this.#host.trace.record(now, TraceKind.closed, receiver.node.index, receiver.linkId, link.id, item.close.code);
        receiver.node.input({ type: 'linkClosed', link: receiver.linkId, code: item.close.code, reason: item.close.reason });
        dir.clear();
        return;
      }
      this.delivered++;
      this.#host.trace.record(now, TraceKind.deliver, link.id, dir.fromIndex, receiver.node.index, item.seq, item.body);
      receiver.node.input({ type: 'frame', link: receiver.linkId, body: item.body });
    }
  }

  #armIdleCheck(link: SimLink, since: number): void {
    this.#host.schedule(since + this.#plan.idleTimeoutMs, () => {
      if (link.state === 'open' && link.blockedSinceMs === since) this.#lose(link, 'idle timeout: path blocked');
    });
  }

  /** The transport gives up on a link: both live ends hear LinkLost; queued data is gone. */
  #lose(link: SimLink, reason: string): void {
    if (link.state === 'closed') return;
    link.state = 'closed';
    this.#links.delete(link);
    this.lost++;
    this.#discardQueued(link);
    for (const end of [0, 1] as const) {
      const e = link.ends[end];
      this.#unregister(e.node, e.linkId, link);
      if (!link.alive(end)) continue;
      e.open = false;
      this.#host.trace.note(this.#host.nowMs, `lost n${e.node.index}/${e.linkId} L${link.id} ${reason}`);
      e.node.input({ type: 'linkClosed', link: e.linkId, code: CloseCode.LinkLost, reason });
    }
  }

  /** Frames in flight die with the connection; account for them so sequence checks stay exact. */
  #discardQueued(link: SimLink): void {
    for (const dir of link.dirs) {
      dir.clear();
      dir.deliveredSeq = dir.sentSeq;
    }
  }

  #dropLink(link: SimLink): void {
    link.state = 'closed';
    this.#links.delete(link);
    for (const e of link.ends) this.#unregister(e.node, e.linkId, link);
  }

  /**
   * Link ids restart at 1 when a node restarts, so an id may name a link of an earlier
   * incarnation: only remove the entry if it still points at this link.
   */
  #unregister(node: SimNode, linkId: LinkId, link: SimLink): void {
    if (node.linkEnds.get(linkId)?.link === link) node.linkEnds.delete(linkId);
  }

  /** A node's link id names the direction its end sends on (which also leads to the link). */
  #registerEnd(node: SimNode, linkId: LinkId, link: SimLink, end: 0 | 1): void {
    if (node.linkEnds.has(linkId)) assert(false, `link id ${linkId} reused on n${node.index}`);
    node.linkEnds.set(linkId, link.dirs[end]);
  }

  #resolve(addrs: readonly string[]): SimNode | undefined {
    for (const addr of addrs) {
      const location = addr.includes('@') ? parsePeerAddr(addr)?.location : addr;
      const node = location ? this.#host.nodeAt(location) : undefined;
      if (node) return node;
    }
    return undefined;
  }
}
