import type { GroupStore, GroupStoreWrite } from '../api/groups.ts';
import { AlreadyExistsError, StorageError } from '../core/errors.ts';

/**
 * The stores applications bring for their groups (`JoinOptions.storage`), by the node
 * storage prefix their writes go under. The driver stages each `persist` under a prefix
 * here instead of in the node's own storage, and a flush writes each store's batch in one
 * `write` call, alongside the node's own sync: the runtime holds what depends on the writes
 * until both are done (group commit, api/runtime.ts), and never starts a flush while one
 * runs, so a store sees one `write` at a time.
 */
export class AttachedStores {
  readonly #stores = new Map<string, { readonly store: GroupStore; pending: GroupStoreWrite[] }>();

  /** True when this call attached `store` (false: it was already, for this prefix). */
  attach(prefix: string, store: GroupStore): boolean {
    const attached = this.#stores.get(prefix);
    if (attached !== undefined && attached.store !== store)
      throw new AlreadyExistsError('this node already keeps that group on another store; join it again with the same store');
    if (attached !== undefined) return false;
    // Keys are relative to the group: two groups on one store would write over each other.
    for (const other of this.#stores.values())
      if (other.store === store) throw new AlreadyExistsError('this store already keeps another group; a GroupStore keeps one group');
    this.#stores.set(prefix, { store, pending: [] });
    return true;
  }

  /** Forgets `store` under `prefix` (a group whose store failed to load never joined): it may keep another group then. */
  detach(prefix: string, store: GroupStore): void {
    const attached = this.#stores.get(prefix);
    if (attached?.store === store && attached.pending.length === 0) this.#stores.delete(prefix);
  }

  /** Takes a write whose key is under an attached store's prefix; false for any other key. */
  stage(key: string, value: Uint8Array | null): boolean {
    if (this.#stores.size === 0) return false;
    for (const [prefix, attached] of this.#stores) {
      if (!key.startsWith(prefix)) continue;
      attached.pending.push({ key: key.slice(prefix.length), value });
      return true;
    }
    return false;
  }

  /** Hands each store what was staged for it; undefined when nothing was. */
  flush(): Promise<void> | undefined {
    const writes: Promise<void>[] = [];
    for (const attached of this.#stores.values()) {
      if (attached.pending.length === 0) continue;
      const batch = attached.pending;
      attached.pending = [];
      writes.push(
        new Promise<void>((resolve) => resolve(attached.store.write(batch))).catch((error: unknown) => {
          throw new StorageError('io', `a group store's write() failed: ${error instanceof Error ? error.message : String(error)}`);
        }),
      );
    }
    if (writes.length === 0) return undefined;
    return Promise.all(writes).then(() => undefined);
  }
}
