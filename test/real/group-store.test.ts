import {
  AlreadyExistsError,
  GroupClosedError,
  type GroupId,
  type GroupStore,
  type GroupStoreWrite,
  InvalidArgumentError,
  Network,
  SecretKey,
  StorageError,
  TimeoutError,
} from 'mosaik';
import { afterEach, describe, expect, it } from 'vitest';
import { Simulation } from '../../net-sim/simulation.ts';
import { Counter } from '../groups/counter.ts';

// A group's Raft state on a store the application brings (`storage: GroupStore`), with
// production nodes on 127.0.0.1. A node without a data directory keeps its identity through
// `secretKey`, so a node made again with the same key and store is the same member.

/** A store in this process's memory; each `write` can be slowed down or made to fail. */
class MemoryStore implements GroupStore {
  readonly data = new Map<string, Uint8Array>();
  readonly batches: { readonly writes: readonly GroupStoreWrite[]; durableAt: number }[] = [];
  delayMs = 0;
  fail: Error | undefined;
  load(): Iterable<readonly [string, Uint8Array]> {
    return [...this.data];
  }
  async write(writes: readonly GroupStoreWrite[]): Promise<void> {
    const batch = { writes, durableAt: Number.POSITIVE_INFINITY };
    this.batches.push(batch);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.fail) throw this.fail;
    for (const w of writes) {
      if (w.value === null) this.data.delete(w.key);
      else this.data.set(w.key, w.value);
    }
    batch.durableAt = performance.now();
  }
}

/** A database cursor that dies after its first row. */
function* failingCursor(): Generator<[string, Uint8Array]> {
  yield ['member', new Uint8Array(0)];
  throw new Error('the cursor died');
}

const open: Network[] = [];
const errors: unknown[] = [];
const FAST = { bootstrapDelayMs: 50 }; // a one-member group forms at once (not part of the group id)

async function node(seed: string): Promise<Network> {
  const net = await Network.create({ network: 'group-store-test', secretKey: SecretKey.fromSeed(seed), onError: (e) => errors.push(e) });
  open.push(net);
  return net;
}

/** A node of `seed` runs group `key` on a new store, executes `count` increments of `by`, and closes: the store and the group's id. */
async function filledStore(seed: string, key: string, count: number, by: number): Promise<{ store: MemoryStore; id: GroupId }> {
  const store = new MemoryStore();
  const net = await node(seed);
  const g = net.groups.join({ key, machine: new Counter(), consensus: FAST, storage: store });
  await g.when.leaderElected();
  for (let i = 0; i < count; i++) await g.execute({ op: 'inc', by });
  await net.close();
  return { store, id: g.id };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((net) => net.close()));
  errors.splice(0);
});

describe('a group on a GroupStore', () => {
  it('keeps its member, votes and log in the store, and the same node resumes from it', async () => {
    const store = new MemoryStore();
    const first = await node('store-owner');
    const g = first.groups.join({ key: 'group-store', machine: new Counter(), consensus: FAST, storage: store });
    await g.when.leaderElected();
    expect((await g.execute({ op: 'inc', by: 1 })).result).toBe(1);
    expect((await g.execute({ op: 'inc', by: 2 })).result).toBe(3);
    const member = new TextDecoder().decode(store.data.get('member'));
    expect(member.startsWith(`${first.peerId.hex}.`)).toBe(true);
    expect([...store.data.keys()]).toEqual(expect.arrayContaining(['member', 'origins', 'formation', 'hs', 'e/1', 'e/2', 'e/3']));
    await first.close();

    const again = await node('store-owner');
    const h = again.groups.join({ key: 'group-store', machine: new Counter(), consensus: FAST, storage: store });
    await h.when.leaderElected();
    expect((await h.execute({ op: 'inc', by: 1 })).result).toBe(4);
    expect(new TextDecoder().decode(store.data.get('member'))).toBe(member);
    expect(errors).toEqual([]);
  });

  it('keeps a collection on a store the same way, and the same node resumes it', async () => {
    const store = new MemoryStore();
    const first = await node('collection-owner');
    const m = first.collections.map<string, number>('balances', { storage: store });
    await m.when.online();
    await m.insert('alice', 100);
    expect([...store.data.keys()].filter((k) => k.startsWith('e/')).length).toBeGreaterThan(0);
    await first.close();
    const again = await node('collection-owner');
    const r = again.collections.map<string, number>('balances', { storage: store });
    await r.when.online();
    await r.insert('bob', 5);
    expect([...r.entries()].sort()).toEqual([
      ['alice', 100],
      ['bob', 5],
    ]);
  });

  it('lets nothing that depends on a write out before the store says it is durable', async () => {
    const store = new MemoryStore();
    const net = await node('slow-store');
    const g = net.groups.join({ key: 'slow-store', machine: new Counter(), consensus: FAST, storage: store });
    await g.when.leaderElected();
    store.delayMs = 100;
    for (let i = 0; i < 3; i++) {
      const { index } = await g.execute({ op: 'inc', by: 1 });
      const resolvedAt = performance.now();
      const durable = store.batches.find((b) => b.writes.some((w) => w.key === `e/${index}`));
      expect(durable?.durableAt).toBeLessThanOrEqual(resolvedAt);
    }
    expect(errors).toEqual([]);
  });

  it('stops the node when the store fails a write: the call waiting on it fails with why, later calls as closed', async () => {
    const store = new MemoryStore();
    const net = await node('failing-store');
    const g = net.groups.join({ key: 'failing-store', machine: new Counter(), consensus: FAST, storage: store });
    await g.when.leaderElected();
    const before = new Map(store.data);
    store.fail = new Error('the disk is on fire');
    const error = await g.execute({ op: 'inc', by: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).reason).toBe('io');
    await expect(g.execute({ op: 'inc', by: 1 })).rejects.toBeInstanceOf(GroupClosedError);
    expect(errors.some((e) => e instanceof StorageError && /the disk is on fire/.test(e.message))).toBe(true);
    expect(store.data).toEqual(before);
  });

  it('closes though a write never settles: the call waiting on it fails as closed', async () => {
    const store = new MemoryStore();
    const net = await node('hung-store');
    const g = net.groups.join({ key: 'hung-store', machine: new Counter(), consensus: FAST, storage: store });
    await g.when.leaderElected();
    store.write = () => new Promise<void>(() => {}); // a database that stopped answering
    const call = g.execute({ op: 'inc', by: 1 }).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closed = await Promise.race([net.close().then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still closing'), 3_000))]);
    expect(closed).toBe('closed');
    expect(await call).toBeInstanceOf(GroupClosedError);
    expect(errors).toEqual([]);
  });

  it("starts afresh on a store that holds another peer's member, deleting what it held", async () => {
    const { store } = await filledStore('first-owner', 'shared-store', 5, 1);
    const b = await node('second-owner');
    const h = b.groups.join({ key: 'shared-store', machine: new Counter(), consensus: FAST, storage: store });
    await h.when.leaderElected();
    expect((await h.execute({ op: 'inc', by: 1 })).result).toBe(1); // a new one-member group, not a's history
    expect(new TextDecoder().decode(store.data.get('member')).startsWith(`${b.peerId.hex}.`)).toBe(true);
    expect(store.data.has('e/6')).toBe(false);
  });

  it("refuses a store that holds another group's state, and leaves it as it was", async () => {
    const { store, id } = await filledStore('one-store-two-groups', 'the-first-group', 3, 100);
    expect(store.data.get('group')).toEqual(id.bytes);
    const before = new Map(store.data);
    const again = await node('one-store-two-groups');
    const h = again.groups.join({ key: 'another-group', machine: new Counter(), consensus: FAST, storage: store });
    const error = await h.execute({ op: 'inc', by: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).reason).toBe('corrupted');
    expect((error as StorageError).message).toContain(`another group (${id.short})`);
    expect(store.data).toEqual(before);
    // The group it belongs to resumes from it.
    const back = again.groups.join({ key: 'the-first-group', machine: new Counter(), consensus: FAST, storage: store });
    await back.when.leaderElected();
    expect((await back.execute({ op: 'inc', by: 1 })).result).toBe(301);
  });

  it('bounds calls with a deadline while the store never loads; the others wait, and close ends them', async () => {
    const net = await node('hung-load');
    const hung: GroupStore = { load: () => new Promise(() => undefined), write: () => undefined };
    const g = net.groups.join({ key: 'hung-load', machine: new Counter(), consensus: FAST, storage: hung });
    const waiting = g.execute({ op: 'inc', by: 1 }).catch((e: unknown) => e);
    const started = performance.now();
    for (const [call, mayHaveApplied] of [
      [g.execute({ op: 'inc', by: 1 }, { timeoutMs: 150 }), false],
      [g.query(null, 'strong', { timeoutMs: 150 }), undefined],
    ] as const) {
      const error = await call.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).mayHaveApplied).toBe(mayHaveApplied);
      expect((error as TimeoutError).message).toContain('did not load');
    }
    expect(performance.now() - started).toBeLessThan(2_000);
    // Leaving ends the handle at once; the node never takes the join.
    const other = net.groups.join({
      key: 'hung-load-2',
      machine: new Counter(),
      consensus: FAST,
      storage: { load: () => new Promise(() => undefined), write: () => undefined },
    });
    const pending = other.execute({ op: 'inc', by: 1 }).catch((e: unknown) => e);
    await other.leave();
    expect(await pending).toBeInstanceOf(GroupClosedError);
    await net.close();
    expect(await waiting).toBeInstanceOf(GroupClosedError);
  });

  const badStores: { name: string; store: () => GroupStore; reason: StorageError['reason'] }[] = [
    {
      name: 'a load() that throws',
      store: () => ({
        load: () => {
          throw new Error('no such table');
        },
        write: () => undefined,
      }),
      reason: 'io',
    },
    { name: 'a load() that rejects', store: () => ({ load: () => Promise.reject(new Error('timeout')), write: () => undefined }), reason: 'io' },
    { name: 'a load() whose entries fail as they are read', store: () => ({ load: () => failingCursor(), write: () => undefined }), reason: 'io' },
    { name: 'a load() of something not iterable', store: () => ({ load: () => 42 as never, write: () => undefined }), reason: 'corrupted' },
    { name: 'a load() that resolves nothing', store: () => ({ load: async () => undefined as never, write: () => undefined }), reason: 'corrupted' },
    {
      name: 'a load() of entries that are not [string, bytes]',
      store: () => ({ load: () => [['hs', 'not bytes']] as never, write: () => undefined }),
      reason: 'corrupted',
    },
    { name: 'a hard state that does not decode', store: () => ({ load: () => [['hs', Uint8Array.of(0xc1)]], write: () => undefined }), reason: 'corrupted' },
  ];
  for (const bad of badStores) {
    it(`fails the join with StorageError for ${bad.name}; the node goes on`, async () => {
      const net = await node('bad-store');
      const g = net.groups.join({ key: 'bad-store', machine: new Counter(), consensus: FAST, storage: bad.store() });
      const error = await g.execute({ op: 'inc', by: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).reason).toBe(bad.reason);
      await expect(g.when.leaderElected()).rejects.toBeInstanceOf(StorageError);
      const other = net.groups.join({ key: 'after-bad-store', machine: new Counter(), consensus: FAST });
      await other.when.leaderElected();
      expect((await other.execute({ op: 'inc', by: 1 })).result).toBe(1);
    });
  }

  it('refuses what is not a store, one store for two groups, and two stores for one group', async () => {
    const net = await node('store-checks');
    expect(() => net.groups.join({ key: 'x', machine: new Counter(), storage: { load: () => [] } as never })).toThrow(InvalidArgumentError);
    const store = new MemoryStore();
    net.groups.join({ key: 'one', machine: new Counter(), consensus: FAST, storage: store });
    expect(() => net.groups.join({ key: 'two', machine: new Counter(), consensus: FAST, storage: store })).toThrow(AlreadyExistsError);
    expect(() => net.groups.join({ key: 'one', machine: new Counter(), consensus: FAST, storage: new MemoryStore() })).toThrow(AlreadyExistsError);
  });

  it('is refused on a simulated node, which keeps group state in its simulated storage', () => {
    const sim = new Simulation({ seed: 1 });
    const net = sim.node({ network: 'group-store-test' });
    expect(() => net.groups.join({ key: 'x', machine: new Counter(), storage: new MemoryStore() })).toThrow(InvalidArgumentError);
  });
});
