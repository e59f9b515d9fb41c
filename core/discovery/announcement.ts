import { type GossipMessage, gossipMessageSchema } from '../gossip/messages.ts';
import type { SignatureVerifier } from '../identity/verifier.ts';
import { memoByObject } from '../util/memo.ts';
import { type MessageCodec, msgpackCodec } from '../wire/codec.ts';
import { protocolId } from '../wire/protocol.ts';
import * as s from '../wire/schema.ts';
import { type Departure, departureSchema } from './departure.ts';
import { MAX_ADDRESS_LENGTH, MAX_ADDRESSES, type SignedPeerEntry, signedPeerEntrySchemaWith } from './peer-entry.ts';

/**
 * The announce topic's wire (mosaik `/mosaik/discovery/announce/1.0`): links between gossip
 * neighbors carry batches of gossip messages (HyParView membership and PlumTree broadcast,
 * `core/gossip/`); the broadcast payloads are announcements.
 */
export const ANNOUNCE_PROTOCOL = protocolId('/mosaik/discovery/announce/1');

/**
 * Gossip messages in one frame. A neighbor link carries one frame per batch window, so a
 * node's frame count follows its view size and the window, not the network's size.
 */
export const MAX_BATCH_MESSAGES = 64;

/** One frame on an announce link: the gossip messages for that neighbor since the last flush, in order. */
export const announceFrameCodec: MessageCodec<GossipMessage[]> = msgpackCodec(s.array(gossipMessageSchema, { maxLength: MAX_BATCH_MESSAGES }));

/** What discovery broadcasts (mosaik `AnnouncementMessage`): a new version of the sender's entry, or its signed goodbye. */
export type Announcement = { readonly t: 'entry'; readonly signed: SignedPeerEntry } | { readonly t: 'departure'; readonly departure: Departure };

/**
 * Announcements as broadcast payloads. Decoding verifies the entry's signature (a bad one
 * fails the decode); a departure's signature is checked with its drift by `checkDeparture`.
 * One codec per verifier (its decoders are compiled, see core/util/memo.ts).
 */
export const announcementCodec: (verifier: SignatureVerifier) => MessageCodec<Announcement> = memoByObject(
  (verifier) =>
    msgpackCodec(
      s.union('t', {
        entry: s.struct({ signed: signedPeerEntrySchemaWith(verifier) }),
        departure: s.struct({ departure: departureSchema }),
      }),
    ) as MessageCodec<Announcement>,
);

/** The peer data a node attaches to its gossip joins and shuffles: its addresses, so peers that hear of it through the overlay can dial it. */
export const addressesCodec: MessageCodec<string[]> = msgpackCodec(s.array(s.str({ maxLength: MAX_ADDRESS_LENGTH }), { maxLength: MAX_ADDRESSES }));
