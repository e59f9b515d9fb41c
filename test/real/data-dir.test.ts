import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, Network, SecretKey, StorageError } from 'mosaik';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStorage } from '../../net-real/file-storage.ts';
import { Counter } from '../groups/counter.ts';

// `Network.create({ dataDir })` on 127.0.0.1: the directory keeps the node's identity, and
// belongs to one node at a time. (That a group survives every member restarting on its
// directory is shown between processes in quic-groups.test.ts.)

const roots: string[] = [];
const open: Network[] = [];
const errors: unknown[] = [];

function freshDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'mosaik-data-dir-'));
  roots.push(root);
  return join(root, 'node'); // not there yet: made on first use
}

async function node(dataDir: string, secretKey?: SecretKey): Promise<Network> {
  const net = await Network.create({ network: 'data-dir-test', dataDir, onError: (e) => errors.push(e), ...(secretKey && { secretKey }) });
  open.push(net);
  return net;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((net) => net.close()));
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  expect(errors).toEqual([]);
});

describe('a node with a data directory', () => {
  it('keeps the key it made there, so a restarted node is the same peer', async () => {
    const dir = freshDir();
    const first = await node(dir);
    const peer = first.peerId.hex;
    await first.close();
    const again = await node(dir);
    expect(again.peerId.hex).toBe(peer);
  });

  it('is one node at a time: a second node on the directory is refused while the first runs', async () => {
    const dir = freshDir();
    const first = await node(dir);
    const error = await Network.create({ network: 'data-dir-test', dataDir: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).reason).toBe('locked');
    await first.close();
    await node(dir); // released on close
  });

  it('a create refused for a bad option leaves the directory unlocked and nothing listening', async () => {
    const dir = freshDir();
    const bad: Record<string, unknown>[] = [
      { discovery: { purgeAfterMs: 0 } },
      { discovery: { syncIntervalMs: 0 } },
      { discovery: { refreshIntervalMs: Number.NaN } },
      { discovery: { gossipViews: { active: -1 } } },
      { discovery: { bootstrap: ['x'] } },
      { bootstrap: [{}] },
      { bootstrap: 'not a list' },
      { tags: [''] },
      { handshakeTimeoutMs: Number.NaN },
      { quic: { maxQueuedBytesPerLink: -5 } },
      { quic: { idleTimeoutMs: -1 } },
      { quic: { maxStreamsPerConnection: Number.NaN } },
      { secretKey: 'not a key' },
    ];
    for (const extra of bad) {
      const error = await Network.create({ network: 'data-dir-test', dataDir: dir, ...extra }).catch((e: unknown) => e);
      expect(error, JSON.stringify(extra)).toBeInstanceOf(InvalidArgumentError);
    }
    await node(dir); // not locked by any of them
  });

  it('refuses a secretKey of another peer than the state it holds, and takes its own', async () => {
    const dir = freshDir();
    const key = SecretKey.fromSeed('data-dir-owner');
    await (await node(dir, key)).close();
    const error = await Network.create({ network: 'data-dir-test', dataDir: dir, secretKey: SecretKey.fromSeed('someone else') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(String(error)).toMatch(/holds the state of peer/);
    const same = await node(dir, key);
    expect(same.peerId.hex).toBe(key.peerId.hex);
  });

  it("keeps a group's state with storage 'node', none of it with 'memory', and deletes what 'node' left when 'memory' takes over", async () => {
    const dir = freshDir();
    const groupKeys = () => {
      const store = FileStorage.open(dir);
      const keys = [...store.entries().keys()].filter((k) => k.startsWith('groups/'));
      store.close();
      return keys;
    };
    const run = async (storage: 'node' | 'memory' | undefined) => {
      const net = await node(dir);
      const g = net.groups.join({ key: 'storage-option', machine: new Counter(), ...(storage && { storage }) });
      await g.when.leaderElected();
      const { result } = await g.execute({ op: 'inc', by: 1 });
      await net.close();
      return result;
    };
    // The default: the node's storage, so the log survives the process.
    expect(await run(undefined)).toBe(1);
    expect(groupKeys().length).toBeGreaterThan(0);
    expect(await run('node')).toBe(2);
    // In memory: the member starts afresh (a new member of a new one-node group here), and
    // what the earlier lives stored is gone, so a later 'node' life cannot resume it stale.
    expect(await run('memory')).toBe(1);
    expect(groupKeys()).toEqual([]);
    expect(await run('node')).toBe(1);
  });

  it("refuses a storage option other than 'node', 'memory' or a GroupStore", async () => {
    const net = await node(freshDir());
    expect(() => net.groups.join({ key: 'x', machine: new Counter(), storage: 'disk' as never })).toThrow(InvalidArgumentError);
  });
});
