import { Digest, SecretKey } from 'mosaik';
import { describe, expect, it } from 'vitest';
import { GroupStorageKeys } from '../../core/groups/storage-keys.ts';
import type { NodeOutput } from '../../core/node/io.ts';
import { NodeMachine } from '../../core/node/node.ts';
import type { NodeContext, StorageKey } from '../../core/node/subsystem.ts';
import { AssertionError } from '../../core/util/assert.ts';
import { scriptedSubsystem } from './scripted-subsystem.ts';

const rng = { u32: () => 7, float: () => 0.5, bytes: (n: number) => new Uint8Array(n) };

function machine(storage?: Map<string, Uint8Array>): NodeMachine {
  const m = new NodeMachine({
    secretKey: SecretKey.fromSeed('storage-keys'),
    networkId: Digest.from('n'),
    rng,
    subsystems: [scriptedSubsystem('a'), scriptedSubsystem('b')],
    ...(storage && { storage }),
  });
  m.handle({ type: 'start' }, 0);
  return m;
}

let nextReq = 1;
function run(m: NodeMachine, to: 'a' | 'b', script: (ctx: NodeContext) => void): readonly NodeOutput[] {
  return m.handle({ type: 'command', req: nextReq++, command: { to, cmd: script } as never }, 0);
}

const persisted = (out: readonly NodeOutput[]) => out.flatMap((o) => (o.type === 'persist' ? [{ key: o.key, value: o.value }] : []));

describe('NodeContext.storageKey', () => {
  it('names the same entry as the string key: same output, same stored value, either way round', () => {
    const m = machine(new Map([['a/kept', Uint8Array.of(9)]]));
    let key: StorageKey | undefined;
    const out = run(m, 'a', (ctx) => {
      key = ctx.storageKey('x');
      ctx.persist(key, Uint8Array.of(1));
      expect(ctx.stored('x')).toEqual(Uint8Array.of(1));
      ctx.persist('x', Uint8Array.of(2));
      expect(ctx.stored(key as StorageKey)).toEqual(Uint8Array.of(2));
      // What the node found in storage at start is there through a made key too.
      expect(ctx.stored(ctx.storageKey('kept'))).toEqual(Uint8Array.of(9));
    });
    expect(persisted(out)).toEqual([
      { key: 'a/x', value: Uint8Array.of(1) },
      { key: 'a/x', value: Uint8Array.of(2) },
    ]);
    // A deletion through the key, in a later input: gone, and the output says so.
    const out2 = run(m, 'a', (ctx) => {
      ctx.persist(key as StorageKey, null);
      expect(ctx.stored('x')).toBeUndefined();
    });
    expect(persisted(out2)).toEqual([{ key: 'a/x', value: null }]);
  });

  it('keeps subsystems apart: a key works only with the context of the subsystem that made it', () => {
    const m = machine();
    let aKey: StorageKey | undefined;
    run(m, 'a', (ctx) => {
      aKey = ctx.storageKey('secret');
      ctx.persist(aKey, Uint8Array.of(1));
    });
    run(m, 'b', (ctx) => {
      expect(() => ctx.persist(aKey as StorageKey, Uint8Array.of(2))).toThrow(AssertionError);
      expect(() => ctx.stored(aKey as StorageKey)).toThrow(AssertionError);
      // Nor is anything that merely looks like one accepted.
      expect(() => ctx.stored({ scoped: 'a/secret' } as unknown as StorageKey)).toThrow(AssertionError);
      // b's own key of the same name is another entry.
      expect(ctx.stored(ctx.storageKey('secret'))).toBeUndefined();
    });
  });
});

describe('GroupStorageKeys', () => {
  /** A context that counts the keys it makes. */
  function counting(): { ctx: NodeContext; made: string[] } {
    const made: string[] = [];
    const storageKey = (key: string): StorageKey => {
      made.push(key);
      return { key } as unknown as StorageKey;
    };
    const ctx = { storageKey } as NodeContext;
    return { ctx, made };
  }

  it('makes each key once, and an entry key again only after it was forgotten', () => {
    const { ctx, made } = counting();
    const keys = new GroupStorageKeys('ab12');
    const hs = keys.part(ctx, 'hs');
    expect(keys.part(ctx, 'hs')).toBe(hs);
    const e7 = keys.entry(ctx, 7);
    expect(keys.entry(ctx, 7)).toBe(e7);
    expect(keys.entry(ctx, 8)).not.toBe(e7);
    keys.forgetEntry(7);
    expect(keys.entry(ctx, 7)).not.toBe(e7);
    expect(made).toEqual(['groups/ab12/hs', 'groups/ab12/e/7', 'groups/ab12/e/8', 'groups/ab12/e/7']);
  });
});
