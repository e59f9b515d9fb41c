/**
 * Member ids: how Raft knows the members of a group. A member id is the node's peer id and a
 * nonce drawn when the node first writes the group's storage (`Group`, `#loadMember`), so it
 * lives exactly as long as that storage: a node back without it is a new member.
 */

/** Random bytes that tell one storage life of a member from another (16 hex digits). */
export const MEMBER_NONCE_BYTES = 8;
const PEER_HEX_LENGTH = 64;

/**
 * A member id: `<peer id hex>.<nonce hex>`. Raft knows members by it, so a node that lost
 * its storage comes back as a different member rather than as one that forgot its votes.
 */
export function memberId(peerHex: string, nonce: Uint8Array): string {
  let hex = '';
  for (const b of nonce) hex += b.toString(16).padStart(2, '0');
  return `${peerHex}.${hex}`;
}

/** The peer id (hex) of a member id. */
export function peerOfMember(member: string): string {
  return member.slice(0, PEER_HEX_LENGTH);
}

/** Whether `member` is a well-formed member id of the peer `peerHex`. */
export function isMemberOf(member: string, peerHex: string): boolean {
  return (
    member.length === PEER_HEX_LENGTH + 1 + 2 * MEMBER_NONCE_BYTES && member.startsWith(`${peerHex}.`) && /^[0-9a-f]+$/.test(member.slice(PEER_HEX_LENGTH + 1))
  );
}

/**
 * Member ids as the peers they belong to (the API speaks of peers). Not deduplicated: while
 * a node that lost its storage is both an old member on its way out and a new one, its peer
 * is listed twice, which is what the configuration is.
 */
export function peersOf(members: readonly string[]): string[] {
  return members.map(peerOfMember);
}
