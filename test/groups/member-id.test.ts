import { describe, expect, it } from 'vitest';
import { isMemberOf, memberId, peerOfMember, peersOf } from '../../core/groups/member-id.ts';

const peer = 'ab'.repeat(32);
const other = 'cd'.repeat(32);

describe('member ids', () => {
  it('are the peer id and 16 hex digits, and give the peer back', () => {
    const id = memberId(peer, Uint8Array.from([0, 1, 2, 3, 0xfc, 0xfd, 0xfe, 0xff]));
    expect(id).toBe(`${peer}.00010203fcfdfeff`);
    expect(peerOfMember(id)).toBe(peer);
    expect(isMemberOf(id, peer)).toBe(true);
  });

  it('of another peer, or malformed, are refused at the bond handshake', () => {
    const nonce = new Uint8Array(8);
    expect(isMemberOf(memberId(other, nonce), peer)).toBe(false);
    expect(isMemberOf(peer, peer)).toBe(false); // a bare peer id
    expect(isMemberOf(`${peer}.${'0'.repeat(15)}`, peer)).toBe(false);
    expect(isMemberOf(`${peer}.${'0'.repeat(17)}`, peer)).toBe(false);
    expect(isMemberOf(`${peer}.${'A'.repeat(16)}`, peer)).toBe(false);
    expect(isMemberOf(`${peer}-${'0'.repeat(16)}`, peer)).toBe(false);
  });

  it('list as their peers, a peer twice while it is both its old and its new member', () => {
    const a = memberId(peer, new Uint8Array(8));
    const b = memberId(peer, new Uint8Array(8).fill(1));
    expect(peersOf([a, memberId(other, new Uint8Array(8)), b])).toEqual([peer, other, peer]);
  });
});
