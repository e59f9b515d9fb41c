import type { PeerEntry } from '../discovery/peer-entry.ts';
import { InvalidArgumentError } from '../errors.ts';
import { Digest, type Tag } from '../identity/digest.ts';
import { assert } from '../util/assert.ts';

/**
 * When a producer or consumer counts as online, or a `when.subscribed()` condition holds
 * (mosaik `ChannelConditions`): met iff at least `minimum` connected channels have a peer
 * whose entry carries every tag in `tags` and passes every predicate; `unmet()` inverts it.
 * Immutable: every builder returns a new value, and refuses arguments of the wrong type with
 * InvalidArgumentError (conditions are evaluated inside the node, where nothing may throw).
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
    return new ChannelConditions(checkedMinimum(n), [], [], false);
  }

  minimumOf(n: number): ChannelConditions {
    return new ChannelConditions(checkedMinimum(n), this.tags, this.predicates, this.inverted);
  }

  /** Only channels whose peer carries all these tags count (names are hashed with `Digest.from`). */
  withTags(...tags: readonly (string | Tag)[]): ChannelConditions {
    const added = tags.map(checkedTag);
    return new ChannelConditions(this.minimum, [...this.tags, ...added], this.predicates, this.inverted);
  }

  /** Only channels whose peer passes `f` count; a peer on which `f` throws does not. */
  withPredicate(f: (peer: PeerEntry) => boolean): ChannelConditions {
    if (typeof f !== 'function') throw new InvalidArgumentError(`withPredicate takes a function, got ${typeName(f)}`);
    return new ChannelConditions(this.minimum, this.tags, [...this.predicates, f], this.inverted);
  }

  /** The negation: met exactly when the condition without it is not. */
  unmet(): ChannelConditions {
    return new ChannelConditions(this.minimum, this.tags, this.predicates, !this.inverted);
  }

  /** Whether one channel's peer counts. */
  matches(peer: PeerEntry): boolean {
    for (const tag of this.tags) if (!peer.tags.some((t) => t.equals(tag))) return false;
    for (const f of this.predicates) if (!holds(f, peer)) return false;
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

function checkedMinimum(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`minimumOf takes a non-negative integer, got ${typeName(n)} ${String(n)}`);
  return n;
}

function checkedTag(tag: string | Tag): Tag {
  if (typeof tag === 'string') return Digest.from(tag);
  if (tag instanceof Digest) return tag;
  throw new InvalidArgumentError(`withTags takes tag names or Digests, got ${typeName(tag)}`);
}

/** The application's predicate runs inside the node (see `matches`): a throw must not escape, so it counts as no match. */
function holds(f: (peer: PeerEntry) => boolean, peer: PeerEntry): boolean {
  try {
    return Boolean(f(peer));
  } catch {
    return false;
  }
}

function typeName(x: unknown): string {
  return x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x;
}
