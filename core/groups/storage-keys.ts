import type { NodeContext, StorageKey } from '../node/subsystem.ts';

const EXTERNAL_DIR = 'ext';

/**
 * Where the node keys of a group kept on a store the application brings begin
 * (`groups/ext/<group>/`, the groups subsystem's scope included): the driver sends the
 * writes under it to that store, with the prefix cut off (`member`, `hs`, `e/12`, ...),
 * rather than to the node's own storage.
 */
export function externalStorePrefix(groupHex: string): string {
  return `groups/${EXTERNAL_DIR}/${groupHex}/`;
}

/** The parts of a group's durable state besides its log entries. */
export const DURABLE_PARTS = ['member', 'origins', 'hs', 'snap', 'formation'] as const;
export type DurablePart = (typeof DURABLE_PARTS)[number];

/**
 * The node storage keys of one group's durable state (`groups/<group>/<part>`, and
 * `groups/<group>/e/<index>` for a log entry), each made once. The hard state is written on
 * every commit, and an entry's key is written with the entry and again when compaction or
 * truncation deletes it. A key built afresh each time is a new string for the storage to
 * flatten and hash (~0.3 µs at these lengths): ~2% of raft-chaos's instructions went to
 * building, flattening and hashing key strings, and making each key once halves that.
 */
export class GroupStorageKeys {
  readonly #prefix: string;
  readonly #parts = new Map<DurablePart, StorageKey>();
  /** Keys of the entries in storage (at most the log since the last snapshot). */
  readonly #entries = new Map<number, StorageKey>();

  /** `external`: the keys of a group on a store the application brings (`externalStorePrefix`). */
  constructor(groupHex: string, external = false) {
    this.#prefix = external ? `${EXTERNAL_DIR}/${groupHex}/` : `groups/${groupHex}/`;
  }

  part(ctx: NodeContext, part: DurablePart): StorageKey {
    let key = this.#parts.get(part);
    if (key === undefined) {
      key = ctx.storageKey(this.#prefix + part);
      this.#parts.set(part, key);
    }
    return key;
  }

  entry(ctx: NodeContext, index: number): StorageKey {
    let key = this.#entries.get(index);
    if (key === undefined) {
      key = ctx.storageKey(`${this.#prefix}e/${index}`);
      this.#entries.set(index, key);
    }
    return key;
  }

  /** Any other key under this group's prefix (made afresh: for rare writes). */
  other(ctx: NodeContext, relative: string): StorageKey {
    return ctx.storageKey(this.#prefix + relative);
  }

  /** The entry is gone from storage (its deletion was persisted): its key is not kept. */
  forgetEntry(index: number): void {
    this.#entries.delete(index);
  }
}
