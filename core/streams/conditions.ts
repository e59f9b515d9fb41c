import type { PeerEntry } from '../discovery/peer-entry.ts';
import { Digest, type Tag } from '../identity/digest.ts';
import { assert } from '../util/assert.ts';

/**
 * When a producer or consumer counts as online, or a `when.subscribed()` condition holds
 * (mosaik `ChannelConditions`): met iff at least `minimum` connected channels have a peer
 * whose entry carries every tag in `tags` and passes every predicate; `unmet()` inverts it.
 * Immutable: every builder returns a new value.
 */
export class ChannelConditions {
  readonly minimum: number;
  readonly tags: readonly Tag[];
  readonly predicates: readonly ((peer: PeerEntry) => boolean)[];
  readonly inverted: boolean;

  private constructor(minimum: number, tags: readonly Tag[], predicates: readonly ((peer: PeerEntry) => boolean)[], inverted: boolean) {
    assert(Number.isSafeInteger(minimum) && minimum >= 0, `ChannelConditions: minimum must be a non-negative integer, got ${minimum}`);
    this.minimum = minimum;
    this.tags = tags;
    this.predicates = predicates;
    this.inverted = inverted;
  }

  /** At least `n` matching channels. The defaults: 1 for producers, 0 for consumers. */
  static minimumOf(n: number): ChannelConditions {
    return new ChannelConditions(n, [], [], false);
  }

  minimumOf(n: number): ChannelConditions {
    return new ChannelConditions(n, this.tags, this.predicates, this.inverted);
  }

  /** Only channels whose peer carries all these tags count (names are hashed with `Digest.from`). */
  withTags(...tags: readonly (string | Tag)[]): ChannelConditions {
    const added = tags.map((t) => (typeof t === 'string' ? Digest.from(t) : t));
    return new ChannelConditions(this.minimum, [...this.tags, ...added], this.predicates, this.inverted);
  }

  /** Only channels whose peer passes `f` count. */
  withPredicate(f: (peer: PeerEntry) => boolean): ChannelConditions {
    return new ChannelConditions(this.minimum, this.tags, [...this.predicates, f], this.inverted);
  }

  /** The negation: met exactly when the condition without it is not. */
  unmet(): ChannelConditions {
    return new ChannelConditions(this.minimum, this.tags, this.predicates, !this.inverted);
  }

  /** Whether one channel's peer counts. */
  matches(peer: PeerEntry): boolean {
    for (const tag of this.tags) if (!peer.tags.some((t) => t.equals(tag))) return false;
    for (const f of this.predicates) if (!f(peer)) return false;
    return true;
  }

  /** Evaluates the condition over the peers of the connected channels. */
  isMet(peers: Iterable<PeerEntry>): boolean {
    let count = 0;
    if (this.minimum > 0) {
      for (const peer of peers) {
        if (this.matches(peer)) count++;
        if (count >= this.minimum) break;
      }
    }
    return count >= this.minimum !== this.inverted;
  }
}
