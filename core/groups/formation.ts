import type { PeerId } from '../identity/keys.ts';
import type { ConfState } from '../raft/types.ts';
import { blake3 } from '../util/blake3.ts';
import { bytesToHex, compareBytes, concatBytes, equalBytes } from '../util/bytes.ts';

/**
 * One history of a group. A group id names a set of nodes that *may* form a group; a
 * formation is one actual Raft cluster of them, started by one bootstrap. Two formations of
 * one group can exist when members formed apart (each alone with `bootstrapExpect` 1, or a
 * partition at start-up). Their logs must never be merged: entry 5 of one has nothing to
 * do with entry 5 of the other (mosaik merges them and diverges, §5.1).
 *
 * When two formations meet, the **earlier** one wins: smaller `formedAtMs`, then smaller
 * id. Every node compares the same two records, so all agree on the winner without talking.
 * The loser's members discard their state (surfacing `group.formationLost` and failing
 * their pending calls) and join the winner as new members. Wall clocks only decide which
 * history is kept, never whether the kept one is consistent.
 */
export interface Formation {
  readonly id: Uint8Array;
  readonly formedAtMs: number;
  /**
   * The first configuration, entry 1 of this history. Every member that learns the
   * formation writes that same entry 1 into its empty log, as etcd's initial members all
   * start from the same configuration entries: the voters can then elect a leader among
   * themselves even if the one that formed the group fails before replicating anything.
   * Undefined for formations stored by an earlier version (they wait for the entry).
   */
  readonly conf: ConfState | undefined;
}

export function newFormation(by: PeerId, formedAtMs: number, nonce: Uint8Array, conf: ConfState): Formation {
  const at = new Uint8Array(8);
  new DataView(at.buffer).setBigUint64(0, BigInt(Math.max(0, Math.floor(formedAtMs))));
  return { id: blake3(concatBytes(by.bytes, at, nonce)), formedAtMs: Math.max(0, Math.floor(formedAtMs)), conf };
}

/** What identifies and orders formations. */
export type FormationKey = Pick<Formation, 'id' | 'formedAtMs'>;

export function sameFormation(a: FormationKey | undefined, b: FormationKey | undefined): boolean {
  return a !== undefined && b !== undefined && equalBytes(a.id, b.id);
}

/** Negative when `a` wins over `b`. */
export function compareFormations(a: FormationKey, b: FormationKey): number {
  return a.formedAtMs - b.formedAtMs || compareBytes(a.id, b.id);
}

/** Made once per formation: every applied entry's event carries it. */
const shortHexes = new WeakMap<Formation, string>();

export function formationHex(f: Formation | undefined): string {
  if (f === undefined) return 'none';
  let hex = shortHexes.get(f);
  if (hex === undefined) {
    hex = bytesToHex(f.id.subarray(0, 5));
    shortHexes.set(f, hex);
  }
  return hex;
}
