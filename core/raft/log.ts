import { assert } from '../util/assert.ts';
import { type Entry, entryBytes, type SnapshotMeta } from './types.ts';

/** What `takeCommitted` hands out when nothing is due: one list, not a new one per call (not frozen: see raft.ts `NONE`). */
const NO_ENTRIES: readonly Entry[] = [];

/**
 * The Raft log held in memory: a compacted prefix (described by the last snapshot's index and
 * term) followed by the entries after it. It also remembers the lowest index changed since
 * the driver last persisted (`takeUnpersisted`), so the Ready can say exactly what to write.
 *
 * Invariants: entries[k].index === offset + 1 + k; applied <= commit <= lastIndex();
 * offset <= commit (a snapshot only covers committed entries).
 */
export class RaftLog {
  /** Index of the last compacted entry (0: nothing compacted). */
  #offset = 0;
  #offsetTerm = 0;
  #entries: Entry[] = [];
  commit = 0;
  applied = 0;
  /** Counts truncations (so the configuration in force can be recomputed after one). */
  truncations = 0;
  /** Lowest index written since the last `takeUnpersisted` (Infinity: nothing). */
  #dirtyFrom = Number.POSITIVE_INFINITY;

  static restore(snapshot: SnapshotMeta | undefined, entries: readonly Entry[], commit: number): RaftLog {
    const log = new RaftLog();
    if (snapshot !== undefined) {
      log.#offset = snapshot.index;
      log.#offsetTerm = snapshot.term;
    }
    for (const [k, e] of entries.entries()) if (e.index !== log.#offset + 1 + k) assert(false, `restored log has a gap at ${e.index}`);
    log.#entries = [...entries];
    log.commit = Math.max(log.#offset, Math.min(commit, log.lastIndex()));
    log.applied = log.#offset;
    return log;
  }

  get offset(): number {
    return this.#offset;
  }

  firstIndex(): number {
    return this.#offset + 1;
  }

  lastIndex(): number {
    return this.#offset + this.#entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** The term of the entry at `index`; undefined when compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.#offset) return this.#offsetTerm;
    if (index < this.#offset || index > this.lastIndex()) return undefined;
    return this.#entries[index - this.#offset - 1]?.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.#offset) return undefined;
    return this.#entries[index - this.#offset - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries `from..`: at most `max` of them and, past the first, no more than `maxBytes` in
   * all (`entryBytes`); undefined when `from` is compacted (send a snapshot instead). The
   * first always comes along, however large: its proposer checked that it fits a message.
   */
  slice(from: number, max: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] | undefined {
    if (from <= this.#offset) return undefined;
    const start = from - this.#offset - 1;
    const end = Math.min(this.#entries.length, start + max);
    if (maxBytes === Number.POSITIVE_INFINITY) return this.#entries.slice(start, end);
    let at = start;
    for (let bytes = 0; at < end; at++) {
      bytes += entryBytes(this.#entries[at] as Entry);
      if (bytes > maxBytes && at > start) break;
    }
    return this.#entries.slice(start, at);
  }

  /** The leader appends its own entries. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    assert(entries[0]?.index === this.lastIndex() + 1, 'leader append must extend the log');
    this.#dirtyFrom = Math.min(this.#dirtyFrom, this.lastIndex() + 1);
    this.#entries.push(...entries);
  }

  /**
   * A follower takes the leader's entries after `prevIndex` (whose term already matched).
   * Every entry is checked, not only the first: an existing entry with a different term is
   * truncated along with everything after it, matching ones are kept as they are (a stale,
   * shorter append must not cut off entries a newer one already delivered).
   * Returns the index of the last entry this message vouches for.
   */
  appendFromLeader(prevIndex: number, entries: readonly Entry[]): number {
    for (const e of entries) {
      if (e.index <= this.#offset) continue; // covered by our snapshot: committed, hence equal
      const existing = this.term(e.index);
      if (existing === e.term) continue;
      if (existing !== undefined) {
        if (!(e.index > this.commit)) assert(false, `conflict at committed index ${e.index}`);
        this.#entries.length = e.index - this.#offset - 1;
        this.truncations++;
      }
      assert(e.index === this.lastIndex() + 1, 'append must be contiguous');
      this.#dirtyFrom = Math.min(this.#dirtyFrom, e.index);
      this.#entries.push(e);
    }
    return prevIndex + entries.length;
  }

  /** The first index of the term of the entry at `index` (the follower's rejection hint). */
  firstIndexOfTerm(index: number): number {
    const term = this.term(index);
    let i = index;
    while (i - 1 > this.#offset && this.term(i - 1) === term) i--;
    return i;
  }

  commitTo(index: number): boolean {
    if (index <= this.commit) return false;
    if (!(index <= this.lastIndex())) assert(false, `commit ${index} beyond the last index ${this.lastIndex()}`);
    this.commit = index;
    return true;
  }

  /** Committed entries not yet handed out for applying; marks them applied. */
  takeCommitted(max: number): readonly Entry[] {
    if (this.applied >= this.commit) return NO_ENTRIES;
    const out = this.slice(this.applied + 1, Math.min(max, this.commit - this.applied)) ?? [];
    if (out.length > 0) this.applied = out[out.length - 1]?.index ?? this.applied;
    return out;
  }

  /** Drops entries up to `index` (covered by a local snapshot of the applied state). */
  compact(index: number): void {
    assert(index <= this.applied, 'compacting past the applied index');
    if (index <= this.#offset) return;
    const term = this.term(index);
    assert(term !== undefined, 'compact index in the log');
    this.#entries = this.#entries.slice(index - this.#offset);
    this.#offset = index;
    this.#offsetTerm = term;
  }

  /**
   * Installs a leader's snapshot. If our log already holds the snapshot's last entry, only the
   * covered prefix goes (later entries stay, they match); otherwise the whole log does.
   */
  installSnapshot(meta: SnapshotMeta): void {
    if (this.matchTerm(meta.index, meta.term) && meta.index <= this.lastIndex()) {
      this.#entries = this.#entries.slice(meta.index - this.#offset);
    } else {
      this.#entries = [];
      this.#dirtyFrom = Math.min(this.#dirtyFrom, meta.index + 1);
    }
    this.#offset = meta.index;
    this.#offsetTerm = meta.term;
    this.commit = Math.max(this.commit, meta.index);
    this.applied = meta.index;
  }

  /** Whether some change still has to reach the driver (`takeUnpersisted`). */
  hasUnpersisted(): boolean {
    return this.#dirtyFrom !== Number.POSITIVE_INFINITY;
  }

  /** What changed since the last call: persist `entries` in place of everything from `from` on. */
  takeUnpersisted(): { from: number; entries: Entry[] } | undefined {
    if (this.#dirtyFrom === Number.POSITIVE_INFINITY) return undefined;
    const from = Math.max(this.#dirtyFrom, this.#offset + 1);
    this.#dirtyFrom = Number.POSITIVE_INFINITY;
    return { from, entries: this.slice(from, Number.POSITIVE_INFINITY) ?? [] };
  }

  /** Every entry held (for tests and checkers). */
  all(): readonly Entry[] {
    return this.#entries;
  }
}
