import type { GroupId } from '../identity/digest.ts';
import type { PeerId } from '../identity/keys.ts';
import { blake3 } from '../util/blake3.ts';
import { concatBytes, equalBytes } from '../util/bytes.ts';
import { type GroupKey, groupKeyDigest } from './group-id.ts';

/**
 * Proof that the prover knows the group key, bound to one link: blake3(blake3(key ‖
 * linkSecret ‖ groupId) ‖ prover). `linkSecret` is fresh per link and known only to its two
 * ends (mosaik uses the TLS exporter; our link handshake derives one, and so does the
 * simulator), so a proof overheard or replayed on another link is worthless. The prover's id
 * is in it so the acceptor's own proof cannot be echoed back.
 */
export function bondProof(key: GroupKey, linkSecret: Uint8Array, group: GroupId, prover: PeerId): Uint8Array {
  const inner = blake3(concatBytes(groupKeyDigest(key).bytes, linkSecret, group.bytes));
  return blake3(concatBytes(inner, prover.bytes));
}

export function checkBondProof(key: GroupKey, linkSecret: Uint8Array, group: GroupId, prover: PeerId, proof: Uint8Array): boolean {
  return equalBytes(bondProof(key, linkSecret, group, prover), proof);
}
