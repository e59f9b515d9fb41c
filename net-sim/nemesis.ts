import { intBetween, type Rng } from '../core/util/rng.ts';
import type { FaultKind, NemesisPlan } from './fault-plan.ts';
import type { SimNode } from './sim-node.ts';

/** The fault actions the nemesis uses; the Simulation implements them (and traces them). */
export interface FaultTarget {
  readonly nowMs: number;
  readonly nodes: readonly SimNode[];
  schedule(atMs: number, run: () => void): void;
  partitionDirections(label: string, directions: [SimNode, SimNode][]): number;
  unpartition(id: number): void;
  crashNode(node: SimNode): void;
  restartNode(node: SimNode): void;
  setClockOffset(node: SimNode, offsetMs: number, label: string): void;
  setSlow(a: SimNode, b: SimNode, factor: number | undefined): void;
}

/**
 * Injects faults at random intervals while it runs, each undone after a random duration
 * (partitions heal, crashed nodes restart, slow links recover). All choices come from its
 * own random stream, so the schedule is a function of the seed.
 */
export class Nemesis {
  readonly #target: FaultTarget;
  readonly #plan: NemesisPlan;
  readonly #rng: Rng;
  #running = false;
  /** Injections so far, per kind. */
  readonly injected = new Map<FaultKind, number>();

  constructor(target: FaultTarget, plan: NemesisPlan, rng: Rng) {
    this.#target = target;
    this.#plan = plan;
    this.#rng = rng;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#scheduleNext();
  }

  /** Stops injecting; faults already in place stay until undone or healed. */
  stop(): void {
    this.#running = false;
  }

  #scheduleNext(): void {
    const t = this.#target;
    const gap = intBetween(this.#rng, this.#plan.intervalMsMin, this.#plan.intervalMsMax);
    t.schedule(t.nowMs + gap, () => {
      if (!this.#running) return;
      this.#inject();
      this.#scheduleNext();
    });
  }

  #duration(): number {
    return intBetween(this.#rng, this.#plan.durationMsMin, this.#plan.durationMsMax);
  }

  #shuffled(): SimNode[] {
    const nodes = this.#target.nodes.filter((n) => !n.isClosed);
    for (let i = nodes.length - 1; i > 0; i--) {
      const j = intBetween(this.#rng, 0, i);
      [nodes[i], nodes[j]] = [nodes[j] as SimNode, nodes[i] as SimNode];
    }
    return nodes;
  }

  #inject(): void {
    const kind = this.#plan.kinds[intBetween(this.#rng, 0, this.#plan.kinds.length - 1)] as FaultKind;
    const t = this.#target;
    const nodes = this.#shuffled();
    if (nodes.length < 2) return;
    this.injected.set(kind, (this.injected.get(kind) ?? 0) + 1);
    const healLater = (id: number) => t.schedule(t.nowMs + this.#duration(), () => t.unpartition(id));
    switch (kind) {
      case 'partition-halves': {
        const cut = intBetween(this.#rng, 1, nodes.length - 1);
        const [a, b] = [nodes.slice(0, cut), nodes.slice(cut)];
        healLater(t.partitionDirections(kind, cross(a, b, true)));
        return;
      }
      case 'partition-oneway': {
        const cut = intBetween(this.#rng, 1, nodes.length - 1);
        healLater(t.partitionDirections(kind, cross(nodes.slice(0, cut), nodes.slice(cut), false)));
        return;
      }
      case 'isolate': {
        const [one, ...rest] = nodes as [SimNode, ...SimNode[]];
        healLater(t.partitionDirections(kind, cross([one], rest, true)));
        return;
      }
      case 'crash': {
        const victim = nodes.find((n) => n.isUp);
        if (!victim) return;
        t.crashNode(victim);
        t.schedule(t.nowMs + this.#duration(), () => t.restartNode(victim));
        return;
      }
      case 'power-failure': {
        const up = nodes.filter((n) => n.isUp);
        const victims = up.slice(0, Math.min(up.length, Math.floor(nodes.length / 2) + 1));
        for (const v of victims) t.crashNode(v);
        const back = t.nowMs + this.#duration();
        t.schedule(back, () => {
          for (const v of victims) t.restartNode(v);
        });
        return;
      }
      case 'clock-skew': {
        const node = nodes[0] as SimNode;
        t.setClockOffset(node, intBetween(this.#rng, -this.#plan.clockSkewMsMax, this.#plan.clockSkewMsMax), 'skew');
        return;
      }
      case 'clock-jump': {
        const node = nodes[0] as SimNode;
        t.setClockOffset(node, node.clockOffsetMs + intBetween(this.#rng, -this.#plan.clockSkewMsMax, this.#plan.clockSkewMsMax), 'jump');
        return;
      }
      case 'slow-link': {
        const [a, b] = nodes as [SimNode, SimNode];
        t.setSlow(a, b, this.#plan.slowFactor);
        t.schedule(t.nowMs + this.#duration(), () => t.setSlow(a, b, undefined));
        return;
      }
    }
  }
}

function cross(a: readonly SimNode[], b: readonly SimNode[], symmetric: boolean): [SimNode, SimNode][] {
  const out: [SimNode, SimNode][] = [];
  for (const x of a) {
    for (const y of b) {
      out.push([x, y]);
      if (symmetric) out.push([y, x]);
    }
  }
  return out;
}
