import { type Network, Simulation } from 'mosaik/sim';
import { expect } from 'vitest';
import type { CollectionOptions, Version } from '../../api/collections.ts';
import { scenarioCrypto } from '../../scenarios/scenario.ts';
import { cluster, converged, eventually } from '../streams/helpers.ts';

export { eventually };

/**
 * Helpers for mosaik's collection tests in the simulator (reference
 * `mosaik-streams-collections.md` §4 Collections and collections/sync): a quiet cluster, and
 * one driver per collection kind so the common cases run over every kind alike.
 */

/**
 * What the nodes applied, from the `group.applied` events: per node, the first index it
 * applied and how many commands. A member that caught up by snapshot never applies the
 * indices the snapshot covers (its first applied index is past them).
 */
export class Applied {
  readonly #first = new Map<Network, number>();
  readonly #count = new Map<Network, number>();

  constructor(sim: Simulation) {
    sim.addChecker({
      name: 'collections-applied',
      onEvent: (_view, net, event) => {
        if (event.type !== 'group.applied') return;
        const index = (event as unknown as { index: number }).index;
        if (!this.#first.has(net)) this.#first.set(net, index);
        this.#count.set(net, (this.#count.get(net) ?? 0) + 1);
      },
    });
  }

  /** The first index `net` applied (undefined: none yet). */
  first(net: Network): number | undefined {
    return this.#first.get(net);
  }

  /** How many commands `net` applied one by one. */
  count(net: Network): number {
    return this.#count.get(net) ?? 0;
  }
}

/** A quiet simulation of `n` nodes that all know each other (the platform's crypto: fast). */
export async function setup(
  seed: number,
  n: number,
  run: (sim: Simulation, nets: Network[], applied: Applied) => Promise<void>,
  maxSimulatedMs = 30 * 60_000,
): Promise<void> {
  const sim = new Simulation({ seed, maxSimulatedMs, ...scenarioCrypto });
  const applied = new Applied(sim);
  const nets = cluster(sim, n);
  await sim.run(async () => {
    await converged(sim, nets);
    await run(sim, nets, applied);
  });
}

/** What every handle, reader or writer, offers the common tests. */
export interface ReadColl {
  readonly kind: Kind;
  readonly version: Version;
  readonly when: { online(): Promise<void>; updated(): Promise<void>; reaches(v: Version): Promise<void> };
  /** The contents in iteration order, decoded (compare them across replicas). */
  contents(): unknown[];
}

/** A writer: item `i` is a key/element/value derived from `i`. */
export interface WriteColl extends ReadColl {
  write(i: number): Promise<Version>;
  /** Absent for cell and once. */
  extend?(is: readonly number[]): Promise<Version>;
  /** Removes item `i` (by key or element). Absent for vec, cell and once. */
  remove?(i: number): Promise<Version>;
  /** Absent for once. */
  clear?(): Promise<Version>;
}

export type Kind = 'map' | 'vec' | 'set' | 'cell' | 'once' | 'priorityQueue';

/** The value (or element) of item `i`: `v{i}` unless a test wants bigger ones. */
export type ValueOf = (i: number) => string;

export interface Driver {
  readonly kind: Kind;
  writer(net: Network, name: string, options?: CollectionOptions, value?: ValueOf): WriteColl;
  reader(net: Network, name: string, options?: CollectionOptions): ReadColl;
  /** The contents the writes of `model` (present items, in insertion order) give. */
  expected(model: readonly number[], value?: ValueOf): unknown[];
  /** Whether a write of an item already present adds it again (vec) or keeps one (the others). */
  readonly duplicates: boolean;
}

const key = (i: number) => `k${i}`;
const val: ValueOf = (i) => `v${i}`;
/** Priority-queue priorities: several items share one, so buckets hold many. */
const prio = (i: number) => i % 7;

function base<H extends { version: Version; when: ReadColl['when'] }>(kind: Kind, h: H, contents: () => unknown[]): ReadColl {
  return {
    kind,
    get version() {
      return h.version;
    },
    when: h.when,
    contents,
  };
}

export const mapDriver: Driver = {
  kind: 'map',
  duplicates: false,
  writer(net, name, options, value = val) {
    const h = net.collections.map<string, string>(name, options);
    return {
      ...base('map', h, () => [...h.entries()]),
      get version() {
        return h.version;
      },
      write: (i) => h.insert(key(i), value(i)),
      extend: (is) => h.extend(is.map((i) => [key(i), value(i)] as const)),
      remove: (i) => h.remove(key(i)),
      clear: () => h.clear(),
    };
  },
  reader(net, name, options) {
    const h = net.collections.map<string, string>(name, { ...options, reader: true });
    return base('map', h, () => [...h.entries()]);
  },
  expected: (model, value = val) => model.map((i) => [key(i), value(i)]),
};

export const vecDriver: Driver = {
  kind: 'vec',
  duplicates: true,
  writer(net, name, options, value = val) {
    const h = net.collections.vec<string>(name, options);
    return {
      ...base('vec', h, () => [...h.values()]),
      get version() {
        return h.version;
      },
      write: (i) => h.pushBack(value(i)),
      extend: (is) => h.extend(is.map(value)),
      clear: () => h.clear(),
    };
  },
  reader(net, name, options) {
    const h = net.collections.vec<string>(name, { ...options, reader: true });
    return base('vec', h, () => [...h.values()]);
  },
  expected: (model, value = val) => model.map(value),
};

export const setDriver: Driver = {
  kind: 'set',
  duplicates: false,
  writer(net, name, options, value = val) {
    const h = net.collections.set<string>(name, options);
    return {
      ...base('set', h, () => [...h.values()]),
      get version() {
        return h.version;
      },
      write: (i) => h.insert(value(i)),
      extend: (is) => h.extend(is.map(value)),
      remove: (i) => h.remove(value(i)),
      clear: () => h.clear(),
    };
  },
  reader(net, name, options) {
    const h = net.collections.set<string>(name, { ...options, reader: true });
    return base('set', h, () => [...h.values()]);
  },
  expected: (model, value = val) => model.map(value),
};

export const cellDriver: Driver = {
  kind: 'cell',
  /** The model's last item is the value: a rewrite of an old one is the new value. */
  duplicates: true,
  writer(net, name, options, value = val) {
    const h = net.collections.cell<string>(name, options);
    const read = () => {
      const v = h.read();
      return v === undefined ? [] : [v];
    };
    return {
      ...base('cell', h, read),
      get version() {
        return h.version;
      },
      write: (i) => h.write(value(i)),
      clear: () => h.clear(),
    };
  },
  reader(net, name, options) {
    const h = net.collections.cell<string>(name, { ...options, reader: true });
    return base('cell', h, () => {
      const v = h.read();
      return v === undefined ? [] : [v];
    });
  },
  /** The last write wins. */
  expected: (model, value = val) => (model.length === 0 ? [] : [value(model[model.length - 1] as number)]),
};

export const onceDriver: Driver = {
  kind: 'once',
  duplicates: false,
  writer(net, name, options, value = val) {
    const h = net.collections.once<string>(name, options);
    const read = () => {
      const v = h.read();
      return v === undefined ? [] : [v];
    };
    return {
      ...base('once', h, read),
      get version() {
        return h.version;
      },
      write: async (i) => (await h.write(value(i))).version,
    };
  },
  reader(net, name, options) {
    const h = net.collections.once<string>(name, { ...options, reader: true });
    return base('once', h, () => {
      const v = h.read();
      return v === undefined ? [] : [v];
    });
  },
  /** The first write wins. */
  expected: (model, value = val) => (model.length === 0 ? [] : [value(model[0] as number)]),
};

export const priorityQueueDriver: Driver = {
  kind: 'priorityQueue',
  duplicates: false,
  writer(net, name, options, value = val) {
    const h = net.collections.priorityQueue<number, string, string>(name, options);
    return {
      ...base('priorityQueue', h, () => [...h.entries()]),
      get version() {
        return h.version;
      },
      write: (i) => h.insert(prio(i), key(i), value(i)),
      extend: (is) => h.extend(is.map((i) => [prio(i), key(i), value(i)] as const)),
      remove: (i) => h.remove(key(i)),
      clear: () => h.clear(),
    };
  },
  reader(net, name, options) {
    const h = net.collections.priorityQueue<number, string, string>(name, { ...options, reader: true });
    return base('priorityQueue', h, () => [...h.entries()]);
  },
  /** Ascending priority; within one, insertion order (a stable sort of the insertion order). */
  expected: (model, value = val) =>
    model
      .map((i) => [prio(i), key(i), value(i)] as const)
      .sort((a, b) => a[0] - b[0])
      .map((e) => [...e]),
};

export const ALL_DRIVERS: readonly Driver[] = [mapDriver, vecDriver, setDriver, cellDriver, onceDriver, priorityQueueDriver];

/** The present items, in insertion order, as the writes so far leave them (the test's model). */
export class Model {
  items: number[] = [];
  constructor(
    readonly driver: Driver,
    readonly value: ValueOf = val,
  ) {}

  write(i: number): void {
    if (this.driver.kind === 'once' && this.items.length > 0) return;
    if (!this.driver.duplicates && this.items.includes(i)) return;
    this.items.push(i);
  }

  remove(i: number): void {
    this.items = this.items.filter((x) => x !== i);
  }

  clear(): void {
    this.items = [];
  }

  get expected(): unknown[] {
    return this.driver.expected(this.items, this.value);
  }
}

/** Waits until every handle has applied `v`, then checks they all hold `expected`, in the same order. */
export async function expectEverywhere(handles: readonly ReadColl[], v: Version, expected: unknown[]): Promise<void> {
  for (const h of handles) await h.when.reaches(v);
  for (const h of handles) expect(h.contents()).toEqual(expected);
}

/** Waits until every handle holds the same contents as the first and at its version (the writes are done). */
export async function expectConverged(sim: Simulation, handles: readonly ReadColl[], limitMs = 30_000): Promise<void> {
  const first = handles[0] as ReadColl;
  const v = Math.max(...handles.map((h) => h.version));
  await eventually(sim, () => handles.every((h) => h.version >= v), limitMs, `every ${first.kind} handle at version ${v}`);
  const contents = first.contents();
  for (const h of handles) expect(h.contents()).toEqual(contents);
}
