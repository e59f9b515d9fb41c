import type { Network } from '../api/network.ts';
import type { Consumer, PeerPredicate, Producer } from '../api/streams.ts';
import type { PeerEntry } from '../core/discovery/peer-entry.ts';
import { Digest } from '../core/identity/digest.ts';
import type { Rng } from '../core/util/rng.ts';
import { rngStream } from '../net-sim/rng.ts';
import { SCENARIO_DISCOVERY_TIMING, type Scenario, scenarioResult, scenarioSimulation } from './scenario.ts';
import { fifoPerLinkChecker } from './streams.ts';

/**
 * `streams-churn`: producers and consumers of one stream come and go under swarm faults.
 * Handles are opened and closed, nodes crash and restart (handles die with them and the
 * node's tags revert to its start options), two nodes join late, and producers gain and lose
 * the tag every consumer `require`s. Then the faults stop, a few more tag changes happen on
 * a quiet network, and the run must converge.
 *
 * Checked:
 * - FIFO per link and no duplicates (`streams-fifo-per-link`, the checker of streams-fanout);
 *   the workload also checks that, per consumer handle and producer handle, values strictly
 *   increase across links (no replay when a subscription is re-made).
 * - Tag eligibility, as the consumer knows it: a consumer never holds a subscription
 *   (connecting, connected or waiting to retry) to a producer whose entry in the consumer's
 *   own catalog lacks the required tag for longer than `LOCAL_TAG_BOUND_MS`. The machine
 *   drops it on the catalog change itself, so the bound is only the polling granularity.
 * - Tag eligibility, as it truly is: once the faults have stopped, no consumer holds a
 *   subscription to a running producer whose node truly lacks the tag for longer than
 *   `TRUE_TAG_BOUND_MS` after the later of the tag change and the end of the faults (the
 *   time gossip takes to carry the new entry). During faults a partition can hide a change
 *   for as long as it lasts, so only the local check applies there.
 * - Liveness: after the faults stop, within `CONVERGE_BOUND_MS` every live consumer is
 *   connected to every live producer that carries the tag and to no other, and then receives
 *   every datum each of them sends.
 */
const TIMING = SCENARIO_DISCOVERY_TIMING;
const STREAM = 'churn';
const TAG = 'eligible';
const TAG_ID = Digest.from(TAG);
const FAULTS_MS = 60_000;
const SEND_EVERY_MS = 50;
const POLL_MS = 100;
/** Mean pause between churn actions (drawn in [0.5, 1.5] of it). */
const CHURN_EVERY_MS = 1_500;
const RESTART_AFTER_MS = { min: 2_000, max: 10_000 } as const;
const LOCAL_TAG_BOUND_MS = 2 * POLL_MS;
const TRUE_TAG_BOUND_MS = 20_000;
/** Tag changes made on the quiet network, before the final convergence. */
const QUIET_TAG_FLIPS = 3;
const QUIET_FLIP_EVERY_MS = 25_000;
const CONVERGE_BOUND_MS = 90_000;
const FINAL_DATUMS = 30;
const FINAL_SEND_EVERY_MS = 100;
/**
 * While the faults run, this consumer is slow every other `LAGGING_PERIOD_MS` (one datum per
 * `LAGGING_READ_MS`, a window of 8): its producers queue for it and credit frees the queue
 * datum by datum, then it catches up and the queues drain. (A reorder in the queue shows
 * only once the queue drains; a reader lagging all along is cut off as too slow first.)
 * Once the faults stop it reads at full speed: the liveness phase checks that delivery
 * resumes, not how lag is handled (seeds 54 and 62 of 1-200 showed that a reader lagging
 * throughout is, rightly, cut off as too slow during the final sends).
 */
const LAGGING_NODE = 3;
const LAGGING_READ_MS = 50;
const LAGGING_PERIOD_MS = 3_000;

/** [node index, producer life on that node, counter within the life]. */
type Datum = readonly [node: number, life: number, n: number];

/** Whether a received value has the shape producers send. */
function isDatum(value: unknown): value is Datum {
  return Array.isArray(value) && value.length === 3 && value.every((x) => Number.isSafeInteger(x));
}

/** What the workload wants of a node; the reconciler makes it so whenever the node is up. */
interface NodeState {
  readonly net: Network;
  readonly index: number;
  readonly producerRole: boolean;
  readonly consumerRole: boolean;
  wantProducer: boolean;
  wantConsumer: boolean;
  wantTag: boolean;
  producer: Producer<Datum> | undefined;
  producerLife: number;
  sent: number;
  consumer: Consumer<Datum> | undefined;
  /** Per producer node, values this node's current consumer received, in order. */
  received: Map<number, Datum[]>;
  /** A tag change is in flight. */
  tagging: boolean;
  /** When the scenario (not the nemesis) crashed it; it restarts it later. */
  crashedByChurn: boolean;
}

const hasTag = (entry: PeerEntry): boolean => entry.tags.some((t) => t.equals(TAG_ID));

export const streamsChurn: Scenario = {
  name: 'streams-churn',
  description:
    'producers and consumers join, leave, crash, restart and change tags under swarm faults: FIFO per link, no duplicates, no subscription to an untagged producer beyond a bound; after the faults stop every consumer is subscribed to every tagged producer and receives',
  defaultNodes: 8,
  plantedBugs: {
    'reorder-queue': "the producer swaps the first two datums of a consumer's queue when credit frees it",
    'stale-require': "consumers' require predicate remembers its first verdict per producer, as if tag re-evaluation were skipped on catalog changes",
  },
  async run(options) {
    const wallStart = performance.now();
    const count = options.nodes ?? 8;
    if (!Number.isInteger(count) || count < 4) throw new RangeError(`streams-churn needs at least 4 nodes, got ${count}`);
    const sim = scenarioSimulation(options);
    const rng = rngStream(options.seed, 'workload/churn');
    const staleRequire = options.plantedBugs?.includes('stale-require') ?? false;
    const plantedBugs = { streams: { reorderQueue: options.plantedBugs?.includes('reorder-queue') ?? false } };
    sim.addChecker(fifoPerLinkChecker());
    const problems: { message: string; atMs: number }[] = [];
    const problem = (message: string) => problems.push({ message, atMs: sim.now });
    const nodes: NodeState[] = [];
    let sent = 0;
    let delivered = 0;
    /** When the faults stopped (the liveness phase began). */
    let quietAt: number | undefined;
    const lateJoiners = Math.min(2, count - 3);
    const addNode = (): NodeState => {
      const index = nodes.length;
      // Even nodes produce, odd ones consume, and every fourth does both.
      const producerRole = index % 2 === 0;
      const consumerRole = index % 2 === 1 || index % 4 === 0;
      const initiallyTagged = producerRole && index % 4 !== 2;
      const bootstrap = nodes.slice(0, 2).map((n) => n.net.addr);
      const net = sim.node({ network: 'churn', bootstrap, discovery: TIMING, plantedBugs, tags: initiallyTagged ? [TAG] : [] });
      const state: NodeState = {
        net,
        index,
        producerRole,
        consumerRole,
        wantProducer: producerRole,
        wantConsumer: consumerRole,
        wantTag: initiallyTagged,
        producer: undefined,
        producerLife: 0,
        sent: 0,
        consumer: undefined,
        received: new Map(),
        tagging: false,
        crashedByChurn: false,
      };
      nodes.push(state);
      return state;
    };
    for (let i = 0; i < count - lateJoiners; i++) addNode();

    const requireTag = (): PeerPredicate => {
      if (!staleRequire) return hasTag;
      const verdicts = new Map<string, boolean>();
      return (peer) => {
        const known = verdicts.get(peer.peerId.hex);
        if (known !== undefined) return known;
        const verdict = hasTag(peer);
        verdicts.set(peer.peerId.hex, verdict);
        return verdict;
      };
    };

    const openConsumer = (s: NodeState): void => {
      const lagging = s.index === LAGGING_NODE;
      const c = s.net.streams.consumer<Datum>(STREAM, { require: requireTag(), bufferSize: lagging ? 8 : 256 });
      s.consumer = c;
      const received = new Map<number, Datum[]>();
      s.received = received;
      void (async () => {
        /** Per producer handle (`node/life`), the last counter: strictly increasing across links. */
        const last = new Map<string, number>();
        try {
          for await (const datum of c) {
            if (!isDatum(datum)) {
              // Only a frame corrupted in flight (`corruptFrames`) can bring one: nothing checks a datum's bytes.
              problem(`n${s.index} got a malformed datum`);
              continue;
            }
            const [node, life, n] = datum;
            const key = `${node}/${life}`;
            const previous = last.get(key) ?? 0;
            if (n <= previous) problem(`n${s.index} got n${node} life ${life} #${n} after #${previous}`);
            last.set(key, Math.max(n, previous));
            let got = received.get(node);
            if (!got) {
              got = [];
              received.set(node, got);
            }
            got.push(datum);
            delivered++;
            if (lagging && quietAt === undefined && Math.floor(sim.now / LAGGING_PERIOD_MS) % 2 === 0) await sim.sleep(LAGGING_READ_MS);
          }
        } catch (e) {
          if (!(e instanceof Error && e.name === 'NodeDownError')) throw e;
        }
      })();
    };

    /** Makes an up node match what the workload wants of it. */
    const reconcile = (s: NodeState): void => {
      if (!sim.isUp(s.net)) return;
      if (s.producer?.closed) s.producer = undefined;
      if (s.consumer?.closed) s.consumer = undefined;
      if (s.wantProducer && !s.producer) {
        s.producer = s.net.streams.producer<Datum>(STREAM, { onlineWhen: (c) => c.minimumOf(0), bufferSize: 256 });
        s.producerLife++;
        s.sent = 0;
      } else if (!s.wantProducer && s.producer) {
        void s.producer.close();
        s.producer = undefined;
      }
      if (s.wantConsumer && !s.consumer) openConsumer(s);
      else if (!s.wantConsumer && s.consumer) {
        void s.consumer.close();
        s.consumer = undefined;
      }
      if (!s.tagging && hasTag(s.net.discovery.me()) !== s.wantTag) {
        s.tagging = true;
        const change = s.wantTag ? s.net.discovery.addTags(TAG) : s.net.discovery.removeTags(TAG);
        change.then(
          () => {
            s.tagging = false;
          },
          () => {
            s.tagging = false; // the node went down meanwhile: retried once it is up
          },
        );
      }
    };

    const churnOnce = (r: Rng): string | undefined => {
      const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(r.float() * xs.length)];
      const roll = r.float();
      if (roll < 0.35) {
        const s = pick(nodes.filter((n) => n.producerRole));
        if (!s) return undefined;
        s.wantTag = !s.wantTag;
        return `n${s.index} ${s.wantTag ? 'gains' : 'loses'} the tag`;
      }
      if (roll < 0.55) {
        const s = pick(nodes.filter((n) => n.producerRole));
        if (!s) return undefined;
        s.wantProducer = !s.wantProducer;
        return `n${s.index} ${s.wantProducer ? 'opens' : 'closes'} its producer`;
      }
      if (roll < 0.75) {
        const s = pick(nodes.filter((n) => n.consumerRole));
        if (!s) return undefined;
        s.wantConsumer = !s.wantConsumer;
        return `n${s.index} ${s.wantConsumer ? 'opens' : 'closes'} its consumer`;
      }
      const s = pick(nodes.filter((n) => sim.isUp(n.net)));
      if (!s) return undefined;
      sim.crash(s.net);
      s.crashedByChurn = true;
      const downMs = RESTART_AFTER_MS.min + r.float() * (RESTART_AFTER_MS.max - RESTART_AFTER_MS.min);
      void sim.sleep(downMs).then(() => {
        if (!s.crashedByChurn) return;
        s.crashedByChurn = false;
        sim.restart(s.net);
      });
      return `n${s.index} crashes for ${Math.round(downMs)} ms`;
    };

    // ---- tag eligibility ---------------------------------------------------------------

    /** Since when each (consumer node, producer peer) subscription has been held against the consumer's catalog. */
    const locallyIneligibleSince = new Map<string, number>();
    /** Since when each producer node truly lacks the tag (polled from its own entry while up). */
    const untaggedSince = new Map<number, number>();
    const trulyIneligibleSince = new Map<string, number>();
    const reported = new Set<string>();
    let maxLocalHoldMs = 0;
    let maxTrueHoldMs = 0;
    const byPeer = new Map<string, NodeState>();
    const nodeOf = (hex: string): NodeState | undefined => {
      if (byPeer.size !== nodes.length) for (const s of nodes) byPeer.set(s.net.peerId.hex, s);
      return byPeer.get(hex);
    };
    const checkTags = (): void => {
      for (const s of nodes) {
        if (!sim.isUp(s.net)) continue;
        if (hasTag(s.net.discovery.me())) untaggedSince.delete(s.index);
        else if (!untaggedSince.has(s.index)) untaggedSince.set(s.index, sim.now);
      }
      const seenLocal = new Set<string>();
      const seenTrue = new Set<string>();
      for (const s of nodes) {
        const c = s.consumer;
        if (!c || !sim.isUp(s.net) || c.closed) continue;
        const catalog = new Map(s.net.discovery.peers().map((e) => [e.peerId.hex, e]));
        for (const info of c.producers()) {
          const key = `${s.index}>${info.producer.hex}`;
          const entry = catalog.get(info.producer.hex);
          if (entry && !hasTag(entry)) {
            seenLocal.add(key);
            const since = locallyIneligibleSince.get(key) ?? sim.now;
            locallyIneligibleSince.set(key, since);
            maxLocalHoldMs = Math.max(maxLocalHoldMs, sim.now - since);
            if (sim.now - since > LOCAL_TAG_BOUND_MS && !reported.has(`local ${key}`)) {
              reported.add(`local ${key}`);
              problem(
                `tag-eligibility: n${s.index} holds a ${info.state} subscription to n${nodeOf(info.producer.hex)?.index} for ${sim.now - since} ms after its catalog showed the producer without the tag`,
              );
            }
          }
          const p = nodeOf(info.producer.hex);
          const untagged = p && sim.isUp(p.net) ? untaggedSince.get(p.index) : undefined;
          if (quietAt !== undefined && untagged !== undefined) {
            seenTrue.add(key);
            const since = Math.max(untagged, quietAt);
            trulyIneligibleSince.set(key, since);
            maxTrueHoldMs = Math.max(maxTrueHoldMs, sim.now - since);
            if (sim.now - since > TRUE_TAG_BOUND_MS && !reported.has(`true ${key}`)) {
              reported.add(`true ${key}`);
              problem(
                `tag-eligibility: n${s.index} holds a ${info.state} subscription to n${p?.index} ${sim.now - since} ms after it lost the tag (faults over)`,
              );
            }
          }
        }
      }
      for (const key of locallyIneligibleSince.keys()) if (!seenLocal.has(key)) locallyIneligibleSince.delete(key);
      for (const key of trulyIneligibleSince.keys()) if (!seenTrue.has(key)) trulyIneligibleSince.delete(key);
    };

    // ---- the run -------------------------------------------------------------------------

    const churnLog: string[] = [];
    let convergedAfterMs: number | undefined;
    const sendRound = (): void => {
      for (const s of nodes) {
        const p = s.producer;
        if (!p || !sim.isUp(s.net) || p.closed || !p.isOnline) continue;
        try {
          p.trySend([s.index, s.producerLife, s.sent + 1]);
          s.sent++;
          sent++;
        } catch {
          // full or closed at this instant: at-most-once, the datum is simply not sent
        }
      }
    };
    /** Polls (sending and checking) until `until`. */
    const runUntil = async (until: number, churn: boolean): Promise<void> => {
      let nextChurn = sim.now + CHURN_EVERY_MS;
      let nextSend = sim.now;
      while (sim.now < until) {
        if (churn && sim.now >= nextChurn) {
          const what = churnOnce(rng);
          if (what) churnLog.push(`${sim.now} ${what}`);
          nextChurn = sim.now + CHURN_EVERY_MS * (0.5 + rng.float());
        }
        for (const s of nodes) reconcile(s);
        if (sim.now >= nextSend) {
          sendRound();
          nextSend = sim.now + SEND_EVERY_MS;
        }
        checkTags();
        await sim.sleep(Math.min(POLL_MS, SEND_EVERY_MS));
      }
    };

    await sim.run(async () => {
      // Safety phase: churn and faults; two nodes join along the way.
      const start = sim.now;
      for (let j = 1; j <= lateJoiners; j++) {
        await runUntil(start + (FAULTS_MS * j) / (lateJoiners + 2), true);
        addNode();
        churnLog.push(`${sim.now} n${nodes.length - 1} joins`);
      }
      await runUntil(start + FAULTS_MS, true);

      // Liveness phase: no faults; every role is wanted again; a few tag changes on a quiet network.
      sim.quiesce();
      for (const s of nodes) {
        s.crashedByChurn = false;
        s.wantProducer = s.producerRole;
        s.wantConsumer = s.consumerRole;
      }
      quietAt = sim.now;
      const producers = nodes.filter((s) => s.producerRole);
      for (let k = 0; k < QUIET_TAG_FLIPS; k++) {
        const s = producers[Math.floor(rng.float() * producers.length)] as NodeState;
        s.wantTag = !s.wantTag;
        churnLog.push(`${sim.now} quiet: n${s.index} ${s.wantTag ? 'gains' : 'loses'} the tag`);
        await runUntil(sim.now + QUIET_FLIP_EVERY_MS, false);
      }
      // At least one producer carries the tag and one does not, so both sides are exercised.
      const [first, second] = producers as [NodeState, NodeState];
      if (!producers.some((s) => s.wantTag)) first.wantTag = true;
      if (producers.every((s) => s.wantTag)) second.wantTag = false;

      const converged = (): boolean => {
        for (const s of nodes) reconcile(s);
        return nodes.every((c) => {
          if (!c.consumerRole) return true;
          const handle = c.consumer;
          if (!handle || handle.closed) return false;
          const subs = handle.producers();
          if (subs.some((i) => i.state !== 'connected')) return false;
          const connected = new Set(subs.map((i) => i.producer.hex));
          const want = producers.filter((p) => p !== c && p.producer && !p.producer.closed && hasTag(p.net.discovery.me())).map((p) => p.net.peerId.hex);
          return want.length === connected.size && want.every((hex) => connected.has(hex));
        });
      };
      const convergeFrom = sim.now;
      while (!converged() && sim.now - convergeFrom < CONVERGE_BOUND_MS) {
        sendRound();
        checkTags();
        await sim.sleep(POLL_MS);
      }
      if (!converged()) {
        const states = nodes
          .filter((c) => c.consumerRole)
          .map((c) => `n${c.index}: ${(c.consumer?.producers() ?? []).map((i) => `n${nodeOf(i.producer.hex)?.index}:${i.state}`).join(',')}`);
        const tagged = producers.filter((p) => hasTag(p.net.discovery.me())).map((p) => `n${p.index}`);
        problem(`not converged ${CONVERGE_BOUND_MS} ms after the quiet tag changes (tagged ${tagged.join(',')}; ${states.join('; ')})`);
        return;
      }
      convergedAfterMs = sim.now - convergeFrom;

      // Every consumer receives every datum of every tagged producer.
      const eligible = producers.filter((p) => hasTag(p.net.discovery.me()));
      const firstFinal = new Map(eligible.map((p) => [p.index, p.sent + 1]));
      for (let k = 0; k < FINAL_DATUMS; k++) {
        await Promise.all(
          eligible.map(async (p) => {
            await (p.producer as Producer<Datum>).send([p.index, p.producerLife, ++p.sent]);
            sent++;
          }),
        );
        checkTags();
        await sim.sleep(FINAL_SEND_EVERY_MS);
      }
      await sim.sleep(10_000);
      for (const c of nodes) {
        if (!c.consumerRole) continue;
        for (const p of eligible) {
          if (p === c) continue;
          const from = firstFinal.get(p.index) as number;
          const got = (c.received.get(p.index) ?? []).filter(([, life, n]) => life === p.producerLife && n >= from).length;
          if (got < FINAL_DATUMS) problem(`n${c.index} got ${got} of the last ${FINAL_DATUMS} datums of n${p.index}`);
        }
      }
    });
    return scenarioResult(
      'streams-churn',
      options,
      sim,
      wallStart,
      nodes.length,
      { sent, delivered, churnActions: churnLog.length, convergedAfterMs, maxLocalHoldMs, maxTrueHoldMs, ...(options.keepTrace && { churnLog }) },
      problems,
    );
  },
};
