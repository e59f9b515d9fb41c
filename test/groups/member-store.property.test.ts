import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONSENSUS, deriveGroupId } from '../../core/groups/group-id.ts';
import { memberId } from '../../core/groups/member-id.ts';
import { type GroupStorage, MemberStore } from '../../core/groups/member-store.ts';
import { externalStorePrefix } from '../../core/groups/storage-keys.ts';
import type { NodeContext, StorageKey } from '../../core/node/subsystem.ts';
import type { Entry, HardState, Ready } from '../../core/raft/types.ts';

// A member's durable state, driven by generated sequences of what Raft's Ready asks to
// persist (appends, truncations, snapshots taken or installed, hard states) and restarts,
// on each kind of storage. Whatever the sequence, a restart restores exactly the log since
// the last snapshot, that snapshot and the last hard state, and storage holds no entry
// outside that log (nothing lost, nothing stale).

const GROUP = deriveGroupId('member-store-property', DEFAULT_CONSENSUS, 'counter/1');
const SELF = memberId('0a'.repeat(32), new Uint8Array(8));
const SUB = 'groups'; // the subsystem's scope, as the node adds it

/** The node's storage, and a store of the application's fed from the persists under its prefix. */
class Storage {
  readonly node = new Map<string, Uint8Array>();
  readonly external = new Map<string, Uint8Array>();
  readonly ctx: NodeContext;
  constructor() {
    const scoped = (key: string | StorageKey) => (typeof key === 'string' ? `${SUB}/${key}` : (key as unknown as { scoped: string }).scoped);
    const prefix = externalStorePrefix(GROUP.hex);
    this.ctx = {
      storageKey: (key: string) => ({ scoped: `${SUB}/${key}` }) as unknown as StorageKey,
      persist: (key: string | StorageKey, value: Uint8Array | null) => {
        const k = scoped(key);
        const [map, rel] = k.startsWith(prefix) ? [this.external, k.slice(prefix.length)] : [this.node, k];
        if (value === null) map.delete(rel);
        else map.set(rel, value);
      },
      stored: (key: string | StorageKey) => this.node.get(scoped(key)),
    } as unknown as NodeContext;
  }
  /** Entry indexes the storage holds for the group. */
  entryIndexes(): number[] {
    const keys = [...this.node.keys(), ...this.external.keys()];
    return keys
      .map((k) => /(?:^|\/)e\/(\d+)$/.exec(k)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }
}

type Op =
  | { readonly kind: 'append'; readonly back: number; readonly count: number; readonly termUp: number }
  | { readonly kind: 'snapshot'; readonly ahead: number }
  | { readonly kind: 'hardState'; readonly term: number; readonly commit: number }
  | { readonly kind: 'restart' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), back: fc.nat(4), count: fc.nat(4), termUp: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const), ahead: fc.integer({ min: -3, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('hardState' as const), term: fc.nat(20), commit: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

const NONE: readonly never[] = [];
function ready(parts: Partial<Pick<Ready, 'hardState' | 'log' | 'snapshot'>>): Ready {
  return {
    hardState: parts.hardState,
    hardStateMustSync: true,
    log: parts.log,
    snapshot: parts.snapshot,
    messages: NONE,
    committed: NONE,
    readStates: NONE,
    readsFailed: NONE,
    softState: undefined,
  };
}

function run(kind: 'node' | 'memory' | 'external', ops: readonly Op[]): void {
  const storage = new Storage();
  const open = (): MemberStore =>
    new MemberStore(GROUP, (kind === 'external' ? { kind: 'external', loaded: new Map(storage.external) } : kind) as GroupStorage);
  let store = open();
  store.restore(storage.ctx);
  // The model: the log after the snapshot, the snapshot's index, the last hard state.
  let log: Entry[] = [];
  let offset = 0;
  let term = 1;
  let hardState: HardState | undefined;
  const last = () => offset + log.length;
  for (const op of ops) {
    switch (op.kind) {
      case 'append': {
        const from = Math.max(offset + 1, last() + 1 - op.back);
        term += op.termUp;
        const entries: Entry[] = Array.from({ length: op.count }, (_, k) => ({
          index: from + k,
          term,
          data: { kind: 'command', bytes: Uint8Array.of(from + k, term) },
        }));
        store.persistReady(storage.ctx, ready({ log: { from, entries } }));
        log = [...log.slice(0, from - offset - 1), ...entries];
        break;
      }
      case 'snapshot': {
        // Taken locally (at or before the last entry) or installed from a leader (past it).
        const index = Math.max(offset + 1, last() + op.ahead);
        const meta = { index, term, conf: { voters: [SELF], learners: [] } };
        store.persistReady(storage.ctx, ready({ snapshot: { snapshot: { meta, data: Uint8Array.of(index) }, installed: index > last() } }));
        log = index >= last() ? [] : log.slice(index - offset);
        offset = index;
        break;
      }
      case 'hardState':
        hardState = { term: op.term, vote: op.term % 2 === 0 ? SELF : undefined, commit: op.commit };
        store.persistReady(storage.ctx, ready({ hardState }));
        break;
      case 'restart':
        // A memory member's state lives as long as its store: it restores from the same one.
        if (kind !== 'memory') store = open();
        break;
    }
    const restored = store.restore(storage.ctx);
    expect(restored.entries).toEqual(log);
    expect(restored.snapshot?.meta.index ?? 0).toBe(offset);
    expect(restored.hardState).toEqual(hardState);
    if (kind !== 'memory') expect(storage.entryIndexes()).toEqual(log.map((e) => e.index));
  }
}

describe('a member store restores exactly what Raft asked it to keep', () => {
  for (const kind of ['node', 'memory', 'external'] as const) {
    it(`on ${kind} storage, through appends, truncations, snapshots and restarts`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => run(kind, ops)),
        { numRuns: 300 },
      );
    });
  }
});
