import { DecodeError } from '../errors.ts';
import type { PeerId } from '../identity/keys.ts';
import { blake3 } from '../util/blake3.ts';
import { bytesToHex, equalBytes } from '../util/bytes.ts';
import { type Decoded, msgpackCodec } from '../wire/codec.ts';
import * as s from '../wire/schema.ts';

/**
 * The gossip wire: one flat union carrying both layers of a topic, HyParView membership
 * (join ... disconnect) and PlumTree broadcast (gossip ... ihave). iroh-gossip nests them as
 * `topic::Message::{Swarm, Gossip}` (`src/proto/topic.rs`); one level is enough here, and
 * the variant names say which layer owns them. Positional msgpack (`core/wire/schema.ts`):
 * new variants go at the end.
 */

/**
 * Largest encoded message, in bytes: iroh-gossip's `DEFAULT_MAX_MESSAGE_SIZE` (4096), which
 * mosaik keeps for its announce topic (reference §3 "Announce (gossip)").
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 4096;
/** Smallest allowed `maxMessageBytes`, as iroh's `MIN_MAX_MESSAGE_SIZE`: control messages must fit. */
export const MIN_MAX_MESSAGE_BYTES = 512;
/** Message ids are blake3 hashes of the content (iroh `MessageId::from_content`). */
export const MESSAGE_ID_BYTES = 32;
/** Opaque per-peer data (e.g. addresses) carried by joins, neighbors and shuffles. */
export const MAX_PEER_DATA_BYTES = 1024;
/** Peers in one shuffle or shuffle reply (defaults send at most 3 + 4 + 1). */
export const MAX_SHUFFLE_NODES = 32;
/** IHAVE entries in one message; a dispatch splits larger batches. */
export const MAX_IHAVES = 128;
/**
 * Bytes a `gossip` message adds around its content: array header (1), variant index (1),
 * id as bin8 (2 + 32), content bin16 header (3), round as uint16 (3). So a payload of
 * `maxMessageBytes - GOSSIP_ENVELOPE_BYTES` encodes to at most `maxMessageBytes`.
 */
export const GOSSIP_ENVELOPE_BYTES = 42;
/** Upper bound on one encoded IHAVE entry: array header (1), id (2 + 32), round (3). */
export const IHAVE_ENTRY_MAX_BYTES = 38;

/** Largest broadcast payload for a given message limit. */
export function maxPayloadBytes(maxMessageBytes: number): number {
  return maxMessageBytes - GOSSIP_ENVELOPE_BYTES;
}

/** A message id: blake3 of the content, 32 bytes. */
export function messageIdOf(content: Uint8Array): Uint8Array {
  return blake3(content);
}

export function messageIdHex(id: Uint8Array): string {
  return bytesToHex(id);
}

/**
 * Payloads whose id was checked recently, by id hex. A payload travels to every node of a
 * topic, and a simulator hosting them all would hash the same content once per node; a hit
 * requires the content to be byte-identical, so the answer is the hash's. Bounded; changes
 * no result.
 */
const CHECKED_IDS_SIZE = 16_384;
const checkedIds = new Map<string, Uint8Array>();

/**
 * When `id` (whose hex is `idHex`) is blake3 of `content`: the content as a compact copy
 * shared by everyone who receives it; otherwise undefined. The copy matters for memory: a
 * received payload is a view into the frame it came in, and a cache holding the view would
 * hold the whole frame buffer.
 */
export function checkedContent(idHex: string, id: Uint8Array, content: Uint8Array): Uint8Array | undefined {
  const known = checkedIds.get(idHex);
  if (known !== undefined && equalBytes(known, content)) return known;
  if (!equalBytes(messageIdOf(content), id)) return undefined;
  const copy = Uint8Array.from(content);
  if (checkedIds.size >= CHECKED_IDS_SIZE) checkedIds.delete(checkedIds.keys().next().value as string);
  checkedIds.set(idHex, copy);
  return copy;
}

/** HyParView's neighbor priority: `high` may not be refused (sent when the sender has no active peer). */
export type Priority = 'high' | 'low';

const priority: s.Schema<Priority> = {
  describe: 'priority',
  decode(wire, path) {
    if (wire === 0) return 'high';
    if (wire === 1) return 'low';
    throw new s.SchemaViolation('invalid', `${path || '<root>'}: expected priority 0|1`);
  },
  encode: (v) => (v === 'high' ? 0 : 1),
};

const peerData = s.optional(s.bytes({ maxLength: MAX_PEER_DATA_BYTES }));
const messageId = s.bytes({ length: MESSAGE_ID_BYTES });
const peerInfo = s.struct({ id: s.peerId, data: peerData });
const ihave = s.struct({ id: messageId, round: s.u16 });

export const gossipMessageSchema = s.union('type', {
  // ---- HyParView (iroh `hyparview::Message`) ----
  /** Sent to a contact peer to join the overlay. */
  join: s.struct({ data: peerData }),
  /** The contact's random walk introducing `peer`; `ttl` counts down from the active walk length. */
  forwardJoin: s.struct({ peer: peerInfo, ttl: s.u16 }),
  /** A random walk carrying a sample of `origin`'s views. */
  shuffle: s.struct({ origin: s.peerId, nodes: s.array(peerInfo, { maxLength: MAX_SHUFFLE_NODES }), ttl: s.u16 }),
  /** The walk's end answers the origin with a sample of its own views. */
  shuffleReply: s.struct({ nodes: s.array(peerInfo, { maxLength: MAX_SHUFFLE_NODES }) }),
  /** Both the request to become neighbors and the reply accepting it. */
  neighbor: s.struct({ priority, data: peerData }),
  /** Leaving the sender's active view; `alive` keeps the sender in the receiver's passive view. */
  disconnect: s.struct({ alive: s.bool }),
  // ---- PlumTree (iroh `plumtree::Message`) ----
  /** A payload; `round` counts hops from the broadcaster. */
  gossip: s.struct({ id: messageId, content: s.bytes({ maxLength: DEFAULT_MAX_MESSAGE_BYTES }), round: s.u16 }),
  /** Move the sender to the receiver's lazy set. */
  prune: s.struct({}),
  /** Move the sender to the receiver's eager set, and send `id`'s payload if set. */
  graft: s.struct({ id: s.optional(messageId), round: s.u16 }),
  /** Lazy announcements of payloads the sender holds. */
  ihave: s.struct({ entries: s.array(ihave, { maxLength: MAX_IHAVES }) }),
});

export type GossipMessage = s.Infer<typeof gossipMessageSchema>;
export type GossipMessageType = GossipMessage['type'];
export type MembershipMessage = Extract<GossipMessage, { type: 'join' | 'forwardJoin' | 'shuffle' | 'shuffleReply' | 'neighbor' | 'disconnect' }>;
export type BroadcastMessage = Extract<GossipMessage, { type: 'gossip' | 'prune' | 'graft' | 'ihave' }>;
export type PeerInfo = { id: PeerId; data: Uint8Array | undefined };
export type IHave = { id: Uint8Array; round: number };

const MEMBERSHIP_TYPES: ReadonlySet<string> = new Set(['join', 'forwardJoin', 'shuffle', 'shuffleReply', 'neighbor', 'disconnect']);

export function isMembershipMessage(message: GossipMessage): message is MembershipMessage {
  return MEMBERSHIP_TYPES.has(message.type);
}

export const gossipCodec = msgpackCodec(gossipMessageSchema);

export function encodeGossipMessage(message: GossipMessage): Uint8Array {
  return gossipCodec.encode(message);
}

/** Total: a body over `maxMessageBytes`, malformed or out of bounds is a DecodeError, never a throw. */
export function decodeGossipMessage(body: Uint8Array, maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES): Decoded<GossipMessage> {
  if (body.length > maxMessageBytes) {
    return { ok: false, error: new DecodeError('oversized', `gossip message of ${body.length} bytes exceeds ${maxMessageBytes}`) };
  }
  return gossipCodec.decode(body);
}
