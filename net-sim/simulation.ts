import { Network } from '../api/network.ts';
import { checkedNodeOptions, type DiscoveryNodeOptions, discoveryOptions, type SubsystemNodeOptions, subsystemOptions } from '../api/node-options.ts';
import type { TransportOutput } from '../api/runtime.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import type { Digest } from '../core/identity/digest.ts';
import { type Ed25519Signer, SecretKey } from '../core/identity/keys.ts';
import type { SignatureVerifier } from '../core/identity/verifier.ts';
import type { NodeOptions } from '../core/node/compose.ts';
import type { NodeEvent } from '../core/node/io.ts';
import type { NodeMachine } from '../core/node/node.ts';
import { unreachable } from '../core/util/assert.ts';
import { intBetween, type Rng } from '../core/util/rng.ts';
import type { Checker, CheckerView, Violation } from './checker.ts';
import { traceEvent } from './describe.ts';
import { EventQueue, type QueueEntry } from './event-queue.ts';
import { CLOCK_OFFSET_MS_MAX, checkFaultPlan, type FaultPlan, QUIET_PLAN, swarmPlan, withPowerFailures } from './fault-plan.ts';
import { type LinkHost, LinkModel, type PlantedWireBug } from './links.ts';
import { MemoVerifier } from './memo-verifier.ts';
import { type FaultTarget, Nemesis } from './nemesis.ts';
import { rngStream } from './rng.ts';
import { type Runnable, type SimEvent, TimerEvent } from './sim-event.ts';
import { SIM_EPOCH_MS, type SimHost, SimNode } from './sim-node.ts';
import { Trace, TraceKind } from './trace.ts';

export interface SimulationOptions {
  /** Everything in the run follows from it. */
  readonly seed: number;
  /**
   * `none`: a quiet LAN. `swarm`: the seed picks the fault parameters and a nemesis injects
   * faults from the start until `quiesce()`. Or an explicit plan.
   * @default 'none'
   */
  readonly faults?: 'none' | 'swarm' | FaultPlan;
  /** Keep trace lines in memory (`sim.trace`); the hash is computed either way. @default false */
  readonly keepTrace?: boolean;
  /** Stop with SimulationLimitError after this many events. @default 50_000_000 */
  readonly maxEvents?: number;
  /**
   * Stop with SimulationLimitError when virtual time passes this. Nodes keep periodic
   * timers (discovery refreshes and exchanges), so application code waiting on something
   * that never happens does not empty the event queue: this bound is what ends such a run.
   * @default 86 400 000 (one virtual day)
   */
  readonly maxSimulatedMs?: number;
  /** Test-only: make reliable links misbehave, to show the link-integrity check fails. */
  readonly plantedWireBug?: PlantedWireBug;
  /**
   * Robustness fuzz: each frame is corrupted in flight with this probability (0–1), as a
   * faulty or hostile peer would send it: a bit flipped, a byte replaced, the frame cut
   * short or grown. Every node must survive it: a bad frame ends in a typed close or is
   * ignored, and nothing throws. Safety checkers may still report violations, since a
   * corrupted frame that decodes is a Byzantine message and Raft does not tolerate those.
   * Corruption draws from its own random stream and stops at `quiesce()`, with the other
   * faults. @default 0
   */
  readonly corruptFrames?: number;
  /**
   * Storage on a slow disk: every node's flushes take 20–150 ms (`FaultPlan.syncMs`, in
   * place of the plan's), and a nemesis that crashes nodes also injects power failures.
   * What acknowledging before a sync would lose is then worth many round trips.
   */
  readonly slowDisk?: boolean;
  /**
   * Test-only: storage that reports a flush done at once while its writes become durable
   * only `syncMs` later (a lying fsync), to show the checkers catch acknowledged writes that
   * a crash takes back. Only shows with `syncMs` (use `slowDisk`).
   */
  readonly plantedStorageBug?: 'ack-before-sync';
  /**
   * Checks ed25519 signatures for every node (wrapped in one shared memo). Any correct
   * verifier gives the same answers, so the choice never changes a trace; the CLI passes the
   * platform's, which is ~15x faster than the pure-JS default.
   * @default the pure-JS verifier
   */
  readonly verifier?: SignatureVerifier;
  /**
   * Makes every node's ed25519 signatures. Signatures are deterministic, so the choice never
   * changes a trace; the CLI passes the platform's, much faster than the pure-JS default.
   * @default the pure-JS signer
   */
  readonly signer?: Ed25519Signer;
  /**
   * When the faults start (virtual ms): the nemesis's injections and the plan's message
   * stress. Scenarios that must form something on a quiet network first (a group's first
   * configuration) start the faults later. @default 0
   */
  readonly faultsStartMs?: number;
}

export interface SimNodeOptions extends DiscoveryNodeOptions, SubsystemNodeOptions {
  readonly network: string | Digest;
  readonly secretKey?: SecretKey;
  readonly maxFrameBytes?: number;
  readonly handshakeTimeoutMs?: number;
  /** Test-only: planted bugs that checkers must catch. */
  readonly plantedBugs?: NodeOptions['plantedBugs'];
}

/** At most this many application turns by `process.nextTick` in a row, then one event-loop turn. */
const TICKS_PER_EVENT_LOOP_TURN = 256;

/** The run cannot make progress: the application waits on something no event will bring. */
export class SimulationStalledError extends Error {
  override readonly name = 'SimulationStalledError';
  readonly code = 'SIM_STALLED';
}

/** The run used up its event budget. */
export class SimulationLimitError extends Error {
  override readonly name = 'SimulationLimitError';
  readonly code = 'SIM_LIMIT';
}

/**
 * A deterministic simulation of a mosaik network: virtual time, a seeded network and fault
 * model, and nodes that are the same node machines production runs. `sim.node()` returns
 * the production `Network` interface; inside `sim.run()` awaiting its promises lets virtual
 * time pass. Nothing here reads a real clock or real randomness: one seed, one trace.
 */
export class Simulation {
  readonly seed: number;
  readonly plan: FaultPlan;
  readonly #queue = new EventQueue<SimEvent>();
  readonly #trace: Trace;
  readonly #links: LinkModel;
  readonly #nodes: SimNode[] = [];
  readonly #byNetwork = new Map<Network, SimNode>();
  readonly #networkOf = new Map<SimNode, Network>();
  readonly #byLocation = new Map<string, SimNode>();
  readonly #checkers: Checker[] = [];
  readonly #violations: Violation[] = [];
  readonly #maxEvents: number;
  readonly #maxSimulatedMs: number;
  readonly #verifier: MemoVerifier;
  readonly #signer: Ed25519Signer | undefined;
  readonly nemesis: Nemesis | undefined;
  #nowMs = 0;
  #events = 0;
  #appWork = false;
  readonly #ackBeforeSync: boolean;
  /** Per node, the draws of its sync times (its own stream: other draws stay as they were). */
  readonly #syncRngs = new Map<SimNode, Rng>();
  /** Application turns taken by `process.nextTick` since the last event-loop turn. */
  #ticksSinceTurn = 0;
  #running = false;

  // What the link model, the nodes, the nemesis and the checkers see of the simulation.
  // Classes, not object literals: V8 builds a literal that has a getter (`nowMs` here) in
  // dictionary mode, and every load from it, on every frame and output, was then a generic
  // property lookup. Declared inside Simulation so that they reach its private state.

  /** What the four share: the simulation (a plain field: a subclass cannot reach its base's `#` fields) and its clock. */
  static readonly #Part = class {
    readonly sim: Simulation;
    constructor(sim: Simulation) {
      this.sim = sim;
    }
    get nowMs(): number {
      return this.sim.#nowMs;
    }
  };

  static readonly #LinkHost = class extends Simulation.#Part implements LinkHost {
    get trace(): Trace {
      return this.sim.#trace;
    }
    schedule(atMs: number, run: (() => void) | Runnable): void {
      this.sim.#schedule(atMs, run);
    }
    nodeAt(location: string): SimNode | undefined {
      return this.sim.#byLocation.get(location);
    }
    violate(message: string): void {
      this.sim.#view.violate('reliable-links', message);
    }
  };

  /** One for all the nodes: each call names its node. */
  static readonly #NodeHost = class extends Simulation.#Part implements SimHost {
    perform(node: SimNode, output: TransportOutput): void {
      this.sim.#perform(node, output);
    }
    flush(node: SimNode): PromiseLike<void> | undefined {
      return this.sim.#flush(node);
    }
    observe(node: SimNode, event: NodeEvent): void {
      this.sim.#observe(node, event);
    }
    appWork(): void {
      this.sim.#appWork = true;
    }
  };

  static readonly #FaultTarget = class extends Simulation.#Part implements FaultTarget {
    get nodes(): readonly SimNode[] {
      return this.sim.#nodes;
    }
    schedule(atMs: number, run: () => void): void {
      this.sim.#schedule(atMs, run);
    }
    partitionDirections(label: string, dirs: [SimNode, SimNode][]): number {
      return this.sim.#partitionDirections(label, dirs);
    }
    unpartition(id: number): void {
      const sim = this.sim;
      sim.#links.unpartition(id);
      sim.#trace.note(sim.#nowMs, `fault unpartition P${id}`);
    }
    crashNode(node: SimNode): void {
      this.sim.#crashNode(node);
    }
    restartNode(node: SimNode): void {
      this.sim.#restartNode(node);
    }
    setClockOffset(node: SimNode, ms: number, label: string): void {
      // Jumps add up: the offset stays within CLOCK_OFFSET_MS_MAX (no swarm plan comes near it).
      const offsetMs = label === 'skew' ? ms : ms - SIM_EPOCH_MS;
      this.sim.#setClockOffset(node, SIM_EPOCH_MS + Math.min(CLOCK_OFFSET_MS_MAX, Math.max(-CLOCK_OFFSET_MS_MAX, offsetMs)), label);
    }
    setSlow(a: SimNode, b: SimNode, factor: number | undefined): void {
      const sim = this.sim;
      sim.#links.setSlow(a, b, factor);
      sim.#trace.note(sim.#nowMs, `fault slow n${a.index}-n${b.index} x${factor ?? 1}`);
    }
  };

  static readonly #View = class extends Simulation.#Part implements CheckerView {
    get networks(): readonly Network[] {
      return this.sim.networks;
    }
    isUp(net: Network): boolean {
      return this.sim.isUp(net);
    }
    machineOf(net: Network): NodeMachine | undefined {
      return this.sim.#byNetwork.get(net)?.runtime?.machine;
    }
    violate(checker: string, message: string): void {
      const sim = this.sim;
      sim.#violations.push({ checker, atMs: sim.#nowMs, message });
      sim.#trace.note(sim.#nowMs, `violation ${checker}: ${message}`);
    }
  };

  readonly #nodeHost: SimHost = new Simulation.#NodeHost(this);

  constructor(options: SimulationOptions) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`new Simulation() takes options ({ seed }), got ${String(options)}`);
    checkOptions(options);
    if (!Number.isSafeInteger(options.seed)) throw new InvalidArgumentError(`seed must be a safe integer, got ${options.seed}`);
    const corruptFrames = options.corruptFrames ?? 0;
    if (!(corruptFrames >= 0 && corruptFrames <= 1))
      throw new InvalidArgumentError(`corruptFrames must be a probability in [0, 1], got ${options.corruptFrames}`);
    this.seed = options.seed;
    this.#verifier = new MemoVerifier(options.verifier);
    this.#signer = options.signer;
    const faults = options.faults ?? 'none';
    if (faults !== 'none' && faults !== 'swarm') checkFaultPlan(faults);
    const plan = faults === 'none' ? QUIET_PLAN : faults === 'swarm' ? swarmPlan(rngStream(this.seed, 'swarm')) : faults;
    this.#ackBeforeSync = options.plantedStorageBug === 'ack-before-sync';
    this.plan = options.slowDisk ? slowDiskPlan(plan) : plan;
    this.#trace = new Trace({ keepLines: options.keepTrace ?? false });
    this.#maxEvents = options.maxEvents ?? 50_000_000;
    this.#maxSimulatedMs = options.maxSimulatedMs ?? 86_400_000;
    this.#links = new LinkModel(
      new Simulation.#LinkHost(this),
      rngStream(this.seed, 'network'),
      this.plan,
      options.plantedWireBug,
      options.faultsStartMs ?? 0,
      { probability: corruptFrames, rng: rngStream(this.seed, 'corrupt') },
    );
    if (this.plan.nemesis) {
      const nemesis = new Nemesis(new Simulation.#FaultTarget(this), this.plan.nemesis, rngStream(this.seed, 'nemesis'));
      this.nemesis = nemesis;
      const startMs = options.faultsStartMs ?? 0;
      if (startMs <= 0) nemesis.start();
      else this.#schedule(startMs, () => nemesis.start());
    }
    this.#trace.note(0, `sim seed=${this.seed} plan=${JSON.stringify(this.plan)}`);
  }

  // ---- nodes -------------------------------------------------------------------------

  /** Adds a node and starts it; returns its `Network`, the same interface production has. */
  node(options: SimNodeOptions): Network {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`sim.node() takes options ({ network }), got ${String(options)}`);
    const networkId = checkedNodeOptions(options);
    const index = this.#nodes.length;
    const discovery = discoveryOptions(options, [`sim:${index}`]);
    const subsystems = subsystemOptions(options);
    const key = options.secretKey ?? SecretKey.generate(rngStream(this.seed, `key/${index}`), this.#signer);
    const secretKey = this.#signer ? key.withSigner(this.#signer) : key;
    const node = new SimNode(
      {
        index,
        secretKey,
        networkId,
        rng: rngStream(this.seed, `node/${index}`),
        verifier: this.#verifier,
        machine: {
          ...(options.maxFrameBytes !== undefined && { maxFrameBytes: options.maxFrameBytes }),
          ...(options.handshakeTimeoutMs !== undefined && { handshakeTimeoutMs: options.handshakeTimeoutMs }),
          ...(options.plantedBugs !== undefined && { plantedBugs: options.plantedBugs }),
          discovery,
          groups: subsystems.groups,
        },
        defaults: subsystems.defaults,
      },
      this.#nodeHost,
    );
    const net = new Network(node);
    this.#nodes.push(node);
    this.#byNetwork.set(net, node);
    this.#networkOf.set(node, net);
    this.#byLocation.set(node.location, node);
    try {
      node.start();
    } catch (error) {
      // A node that could not start leaves nothing behind: no handle, no address a dial
      // could reach, no timers (the machine's outputs are dispatched only once it handled
      // its start), and the next node takes its index.
      node.crash();
      this.#nodes.pop();
      this.#byNetwork.delete(net);
      this.#networkOf.delete(node);
      this.#byLocation.delete(node.location);
      throw error;
    }
    this.#trace.note(this.#nowMs, `node n${index} ${node.peerId.short} network=${networkId.short}`);
    return net;
  }

  /** Every node's `Network`, in creation order. */
  get networks(): readonly Network[] {
    return this.#nodes.map((n) => this.#networkOf.get(n) as Network);
  }

  /** True while the node runs (not crashed, not closed). */
  isUp(net: Network): boolean {
    return this.#node(net).isUp;
  }

  /** The index of a node, as traces print it (`n3`). */
  indexOf(net: Network): number {
    return this.#node(net).index;
  }

  /** Requests in flight on a node's API (zero for a crashed node). */
  pendingRequests(net: Network): number {
    return this.#node(net).runtime?.pendingRequests ?? 0;
  }

  // ---- time --------------------------------------------------------------------------

  /** Virtual time, ms since the start. */
  get now(): number {
    return this.#nowMs;
  }

  /**
   * Runs application code in virtual time: events are processed whenever every promise
   * the code awaits is blocked, until it returns. Throws SimulationStalledError when the
   * code waits on something no pending event will ever bring. One at a time: a `run` or
   * `runFor` while another runs (nested, or not awaited) throws InvalidArgumentError.
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (typeof fn !== 'function') throw new InvalidArgumentError(`sim.run() takes an async function, got ${String(fn)}`);
    this.#checkIdle('sim.run()');
    this.#running = true;
    try {
      let settled = false;
      let value: T | undefined;
      let failure: { error: unknown } | undefined;
      Promise.resolve(fn()).then(
        (v) => {
          settled = true;
          value = v;
        },
        (error: unknown) => {
          settled = true;
          failure = { error };
        },
      );
      await this.#drainApp(false);
      while (!settled) {
        // Application code runs only before virtual time moves on: every event of the
        // current millisecond is handled first, then the code reacts to all of them at once.
        if (this.#appWork && this.#queue.peekTime() !== this.#nowMs) {
          await this.#drainApp(true);
          continue;
        }
        if (!this.#step(Number.POSITIVE_INFINITY)) {
          throw new SimulationStalledError(`application is blocked at ${this.#nowMs} ms and no event is pending`);
        }
      }
      if (failure) throw failure.error;
      return value as T;
    } finally {
      this.#running = false;
    }
  }

  /** Inside `run()`: resolves after `ms` of virtual time. */
  sleep(ms: number): Promise<void> {
    if (Number.isNaN(ms)) return Promise.reject(new InvalidArgumentError('sleep takes a number of ms, got NaN'));
    return new Promise((resolve) =>
      this.#schedule(this.#nowMs + Math.max(0, ms), () => {
        this.#appWork = true;
        resolve();
      }),
    );
  }

  /** Outside `run()`: advances virtual time by `ms` (finite, >= 0), processing every event due. */
  async runFor(ms: number): Promise<void> {
    if (typeof ms !== 'number' || !(ms >= 0 && Number.isFinite(ms)))
      throw new InvalidArgumentError(`sim.runFor() takes a finite number of ms >= 0, got ${String(ms)}`);
    this.#checkIdle('sim.runFor()');
    this.#running = true;
    try {
      await this.#runUntil(this.#nowMs + ms);
    } finally {
      this.#running = false;
    }
  }

  /** Misuse, not a bug: a run or runFor started while another is under way. */
  #checkIdle(what: string): void {
    if (this.#running)
      throw new InvalidArgumentError(`${what} while the simulation is already running (nested, or an earlier run not awaited); inside run() use sim.sleep()`);
  }

  async #runUntil(until: number): Promise<void> {
    let awaited = false; // true once this call has yielded: it then runs inside a microtask
    for (;;) {
      if (this.#appWork && this.#queue.peekTime() !== this.#nowMs) {
        await this.#drainApp(awaited);
        awaited = true;
      }
      if (!this.#step(until)) break;
    }
    if (this.#appWork) await this.#drainApp(awaited);
    this.#nowMs = Math.max(this.#nowMs, until);
  }

  /**
   * Lets promise callbacks run until the application is blocked again. No time is read or
   * waited on. `inMicrotask`: the caller has awaited since it was called, so it runs as a
   * microtask.
   *
   * From a microtask, a `process.nextTick` is enough: V8 runs the microtask queue until it
   * is empty (including callbacks queued meanwhile) and only then does Node run the ticks
   * queued during it, so when the tick fires the application has reacted to everything
   * settled so far. That costs well under a microsecond, where a macrotask turn
   * (`setImmediate`) costs ~6 µs, and the run loop yields once per virtual millisecond with
   * application work. From synchronous code a tick would run before pending microtasks, so
   * the first yield of a call takes the macrotask turn.
   */
  #drainApp(inMicrotask: boolean): Promise<void> {
    this.#appWork = false;
    // Every so often, a macrotask turn anyway, so that a long run does not hold off the
    // event loop (a test's timeout, a worker's messages) until it ends. Either yield lets
    // the application react to the same things, so the choice never changes a run.
    if (inMicrotask && ++this.#ticksSinceTurn < TICKS_PER_EVENT_LOOP_TURN) return new Promise<void>((resolve) => process.nextTick(resolve));
    this.#ticksSinceTurn = 0;
    return new Promise<void>((resolve) => setImmediate(resolve));
  }

  #schedule(atMs: number, run: SimEvent): QueueEntry<SimEvent> {
    return this.#queue.push(Math.max(atMs, this.#nowMs), run);
  }

  /** Runs the next event if it is due by `untilMs`; false when there is none. */
  #step(untilMs: number): boolean {
    const at = this.#queue.peekTime();
    if (at === undefined || at > untilMs) return false;
    if (++this.#events > this.#maxEvents) throw new SimulationLimitError(`event budget of ${this.#maxEvents} used up at ${this.#nowMs} ms`);
    if (at > this.#maxSimulatedMs) throw new SimulationLimitError(`virtual time limit of ${this.#maxSimulatedMs} ms reached`);
    const item = (this.#queue.pop() as QueueEntry<SimEvent>).item as SimEvent;
    this.#nowMs = at;
    if (typeof item === 'function') item();
    else if (item instanceof TimerEvent) this.#fireTimer(item);
    else item.run();
    return true;
  }

  // ---- faults ------------------------------------------------------------------------

  /** Cuts every link between the two groups, both ways, until `heal()`. */
  partition(a: readonly Network[], b: readonly Network[]): void {
    const dirs: [SimNode, SimNode][] = [];
    for (const x of asList(a, 'partition').map((n) => this.#node(n)))
      for (const y of asList(b, 'partition').map((n) => this.#node(n))) dirs.push([x, y], [y, x]);
    this.#partitionDirections('partition', dirs);
  }

  /** Messages from `from` to `to` are held back (and links between them break after the idle timeout). */
  partitionOneWay(from: Network | readonly Network[], to: Network | readonly Network[]): void {
    const dirs: [SimNode, SimNode][] = [];
    for (const x of asList(from, 'partitionOneWay').map((n) => this.#node(n)))
      for (const y of asList(to, 'partitionOneWay').map((n) => this.#node(n))) dirs.push([x, y]);
    this.#partitionDirections('partition-oneway', dirs);
  }

  /** Cuts one node off from every other node. */
  isolate(net: Network): void {
    const others = this.networks.filter((n) => n !== net);
    this.partition([net], others);
  }

  /** Removes every partition and slow link. */
  heal(): void {
    this.#links.healAll();
    this.#trace.note(this.#nowMs, 'fault heal');
  }

  crash(net: Network): void {
    this.#crashNode(this.#node(net));
  }

  /** Restarts a crashed node: volatile state is gone, durable storage is kept. */
  restart(net: Network): void {
    this.#restartNode(this.#node(net));
  }

  /** Sets a node's clock to true time + `ms` (at most `CLOCK_OFFSET_MS_MAX` either way). */
  skewClock(net: Network, ms: number): void {
    checkClockOffset('skewClock', ms, ms);
    this.#setClockOffset(this.#node(net), SIM_EPOCH_MS + ms, 'skew');
  }

  /** Moves a node's clock by `ms` (either sign) at once; it may end at most `CLOCK_OFFSET_MS_MAX` from true time. */
  jumpClock(net: Network, ms: number): void {
    const node = this.#node(net);
    checkClockOffset('jumpClock', ms, node.clockOffsetMs - SIM_EPOCH_MS + ms);
    this.#setClockOffset(node, node.clockOffsetMs + ms, 'jump');
  }

  /** Multiplies the latency between two nodes by `factor` (undefined restores it). */
  slowLink(a: Network, b: Network, factor: number | undefined): void {
    if (factor !== undefined && (typeof factor !== 'number' || !(factor >= 0 && Number.isFinite(factor))))
      throw new InvalidArgumentError(`slowLink takes a finite latency factor >= 0 (or undefined), got ${String(factor)}`);
    this.#links.setSlow(this.#node(a), this.#node(b), factor);
    this.#trace.note(this.#nowMs, `fault slow n${this.#node(a).index}-n${this.#node(b).index} x${factor ?? 1}`);
  }

  /**
   * Ends the fault phase: the nemesis stops, frames are no longer corrupted, partitions and slow links heal, wall clocks are
   * set right again (as NTP would), and crashed nodes restart. What follows is the liveness
   * phase, where the system must recover.
   */
  quiesce(): void {
    this.nemesis?.stop();
    this.#links.stopCorrupting();
    this.heal();
    for (const node of this.#nodes) if (node.clockOffsetMs !== SIM_EPOCH_MS) this.#setClockOffset(node, SIM_EPOCH_MS, 'reset');
    for (const node of this.#nodes) if (!node.isUp && !node.isClosed) this.#restartNode(node);
  }

  #partitionDirections(label: string, dirs: [SimNode, SimNode][]): number {
    const id = this.#links.partition(dirs);
    this.#trace.note(this.#nowMs, `fault ${label} P${id} ${dirs.map(([a, b]) => `${a.index}>${b.index}`).join(' ')}`);
    return id;
  }

  #crashNode(node: SimNode): void {
    if (!node.isUp) return;
    this.#trace.note(this.#nowMs, `fault crash n${node.index}`);
    node.crash();
    this.#links.nodeDown(node);
  }

  #restartNode(node: SimNode): void {
    if (node.isUp || node.isClosed) return;
    this.#trace.note(this.#nowMs, `fault restart n${node.index} incarnation=${node.incarnation}`);
    node.start();
  }

  #setClockOffset(node: SimNode, offsetMs: number, label: string): void {
    node.clockOffsetMs = offsetMs;
    this.#trace.note(this.#nowMs, `fault clock-${label} n${node.index} offset=${offsetMs - SIM_EPOCH_MS}`);
  }

  // ---- driving the machines ----------------------------------------------------------

  #perform(node: SimNode, output: TransportOutput): void {
    switch (output.type) {
      case 'connect':
        this.#links.dial(node, output.link, output.peer.hex, output.addrs);
        return;
      case 'send':
        this.#links.send(node, output.link, output.body);
        return;
      case 'close':
        this.#trace.record(this.#nowMs, TraceKind.close, node.index, output.link, output.code, 0);
        this.#links.close(node, output.link, output.code, output.reason);
        return;
      case 'armTimer': {
        const previous = node.timers.get(output.timer);
        if (previous) this.#queue.remove(previous);
        const entry = this.#schedule(output.atMs, new TimerEvent(node, output.timer, node.incarnation));
        node.timers.set(output.timer, entry);
        return;
      }
      case 'cancelTimer': {
        const entry = node.timers.get(output.timer);
        if (entry) this.#queue.remove(entry);
        node.timers.delete(output.timer);
        return;
      }
      case 'persist':
        if (this.plan.syncMs !== undefined) node.unsynced.push({ key: output.key, value: output.value });
        else writeDurably(node, output.key, output.value);
        this.#trace.record(this.#nowMs, TraceKind.persist, node.index, 0, 0, 0, output.value ?? undefined, output.key);
        return;
      default:
        unreachable(output, 'unknown transport output');
    }
  }

  /**
   * A flush of the node's writes (plans with `syncMs`): they reach durable storage
   * `syncMs` later, unless the node crashes first. The runtime holds whatever depends on
   * them until then (api/runtime.ts); its continuation runs inside the sync event, at that
   * virtual instant, through a minimal thenable rather than a promise.
   */
  #flush(node: SimNode): PromiseLike<void> | undefined {
    const syncMs = this.plan.syncMs;
    if (syncMs === undefined || node.unsynced.length === 0) return undefined;
    const batch = node.unsynced;
    node.unsynced = [];
    const incarnation = node.incarnation;
    const continuations: (() => void)[] = [];
    let rng = this.#syncRngs.get(node);
    if (rng === undefined) {
      rng = rngStream(this.seed, `sync/${node.index}`);
      this.#syncRngs.set(node, rng);
    }
    this.#schedule(this.#nowMs + intBetween(rng, syncMs.min, syncMs.max), () => {
      const lost = node.incarnation !== incarnation;
      this.#trace.record(this.#nowMs, TraceKind.sync, node.index, batch.length, lost ? 1 : 0, 0);
      if (lost) return; // the crash came first: none of it is stored, nothing that depended on it went out
      for (const w of batch) writeDurably(node, w.key, w.value);
      for (const c of continuations) c();
    });
    if (this.#ackBeforeSync) return undefined; // the planted bug: "done" before it is
    return {
      // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose (see above)
      then(onSynced) {
        continuations.push(() => onSynced?.());
        return this as never;
      },
    };
  }

  #fireTimer({ node, timer, incarnation }: TimerEvent): void {
    if (node.incarnation !== incarnation) return; // armed by a life that crashed since
    node.timers.delete(timer);
    this.#trace.record(this.#nowMs, TraceKind.timer, node.index, timer, 0, 0);
    node.input({ type: 'timer', timer });
  }

  #observe(node: SimNode, event: NodeEvent): void {
    traceEvent(this.#trace, this.#nowMs, node.index, event);
    if (this.#checkers.length === 0) return;
    const net = this.#networkOf.get(node) as Network;
    for (const checker of this.#checkers) {
      try {
        checker.onEvent?.(this.#view, net, event);
      } catch (error) {
        this.#checkerThrew(checker, 'onEvent', error);
      }
    }
  }

  /** A checker that throws is a failed check: its violation, and the run goes on (never half-way through an event). */
  #checkerThrew(checker: Checker, hook: string, error: unknown): void {
    this.#view.violate(checker.name, `${hook} threw: ${error instanceof Error ? error.message : String(error)}`);
  }

  // ---- checkers and results ----------------------------------------------------------

  addChecker(checker: Checker): void {
    if (typeof checker !== 'object' || checker === null || typeof checker.name !== 'string')
      throw new InvalidArgumentError(`addChecker takes a Checker ({ name, onEvent?, finish? }), got ${String(checker)}`);
    for (const hook of ['onEvent', 'finish'] as const)
      if (checker[hook] !== undefined && typeof checker[hook] !== 'function')
        throw new InvalidArgumentError(`checker ${checker.name}: ${hook} must be a function`);
    this.#checkers.push(checker);
  }

  /** Runs every checker's final look; call once, at the end of the run. */
  finishCheckers(): readonly Violation[] {
    for (const checker of this.#checkers) {
      try {
        checker.finish?.(this.#view);
      } catch (error) {
        this.#checkerThrew(checker, 'finish', error);
      }
    }
    return this.#violations;
  }

  get violations(): readonly Violation[] {
    return this.#violations;
  }

  readonly #view: CheckerView = new Simulation.#View(this);

  /** blake3 of the trace so far: equal for equal seeds and code. */
  get traceHash(): string {
    return this.#trace.hash;
  }

  /** Trace lines (only when constructed with `keepTrace: true`). */
  get trace(): readonly string[] {
    return this.#trace.lines;
  }

  get stats(): {
    readonly events: number;
    readonly messages: number;
    readonly linksLost: number;
    readonly traceRecords: number;
    /** Frames corrupted in flight (`corruptFrames`). */
    readonly framesCorrupted: number;
  } {
    return {
      events: this.#events,
      messages: this.#links.delivered,
      linksLost: this.#links.lost,
      traceRecords: this.#trace.count,
      framesCorrupted: this.#links.corrupted,
    };
  }

  #node(net: Network): SimNode {
    const node = this.#byNetwork.get(net);
    if (!node) throw new InvalidArgumentError('that Network does not belong to this simulation');
    return node;
  }
}

function asList(n: Network | readonly Network[], what: string): readonly Network[] {
  if (n instanceof Network) return [n];
  if (!Array.isArray(n)) throw new InvalidArgumentError(`${what} takes Networks or arrays of them, got ${String(n)}`);
  return n;
}

/** `plan` on a slow disk: 20–150 ms syncs, and power failures where the nemesis crashes nodes. */
function slowDiskPlan(plan: FaultPlan): FaultPlan {
  const nemesis = plan.nemesis?.kinds.includes('crash') ? withPowerFailures(plan.nemesis) : plan.nemesis;
  return { ...plan, nemesis, syncMs: { min: 20, max: 150 } };
}

function writeDurably(node: SimNode, key: string, value: Uint8Array | null): void {
  if (value === null) node.storage.delete(key);
  else node.storage.set(key, value);
}

/**
 * A clock fault's amount: a finite number of ms (a clock that reads NaN stops the node
 * machine) that leaves the clock's offset from true time (`offsetMs`) within `CLOCK_OFFSET_MS_MAX`.
 */
function checkClockOffset(what: string, ms: number, offsetMs: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new InvalidArgumentError(`${what} takes a finite number of ms, got ${String(ms)}`);
  if (Math.abs(offsetMs) > CLOCK_OFFSET_MS_MAX)
    throw new InvalidArgumentError(`${what}(${ms}) would put the clock ${offsetMs} ms from true time; at most ${CLOCK_OFFSET_MS_MAX} ms either way`);
}

/** The run's bounds and switches: numbers in range, booleans that are booleans (the plan is checked apart). */
function checkOptions(options: SimulationOptions): void {
  const { maxEvents, maxSimulatedMs, faultsStartMs, corruptFrames } = options;
  if (maxEvents !== undefined && !(Number.isSafeInteger(maxEvents) && maxEvents >= 0))
    throw new InvalidArgumentError(`maxEvents must be a non-negative integer, got ${String(maxEvents)}`);
  if (maxSimulatedMs !== undefined && !(typeof maxSimulatedMs === 'number' && maxSimulatedMs >= 0 && maxSimulatedMs <= CLOCK_OFFSET_MS_MAX))
    throw new InvalidArgumentError(`maxSimulatedMs must be a number of ms in [0, ${CLOCK_OFFSET_MS_MAX}], got ${String(maxSimulatedMs)}`);
  if (faultsStartMs !== undefined && !(typeof faultsStartMs === 'number' && faultsStartMs >= 0 && Number.isFinite(faultsStartMs)))
    throw new InvalidArgumentError(`faultsStartMs must be a finite number of ms >= 0, got ${String(faultsStartMs)}`);
  if (corruptFrames !== undefined && typeof corruptFrames !== 'number')
    throw new InvalidArgumentError(`corruptFrames must be a probability in [0, 1], got ${String(corruptFrames)}`);
  for (const key of ['keepTrace', 'slowDisk'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'boolean') throw new InvalidArgumentError(`${key} must be a boolean, got ${String(value)}`);
  }
  const faults = options.faults;
  if (typeof faults === 'string' && faults !== 'none' && faults !== 'swarm')
    throw new InvalidArgumentError(`faults must be 'none', 'swarm' or a FaultPlan object, got ${JSON.stringify(faults)}`);
}
