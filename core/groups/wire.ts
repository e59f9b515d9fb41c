import type { Entry, RaftMessage, RaftRoute } from '../raft/types.ts';
import { DEFAULT_MAX_FRAME_BYTES, type MessageCodec, msgpackCodec } from '../wire/codec.ts';
import { protocolId } from '../wire/protocol.ts';
import * as s from '../wire/schema.ts';
import type { Formation } from './formation.ts';
import { MAX_BATCH } from './limits.ts';

/**
 * The groups protocol (mosaik `/mosaik/groups/1`): one link per bond, i.e. per (peer, group).
 *
 * 1. dialer → `hello {network, group, proof, formation, leadership, member}`; the acceptor
 *    closes with GroupNotFound, GroupInvalidProof, GroupNotAllowed, GroupAlreadyBonded or
 *    GroupInvalidHandshake (a member id that is not the dialer's), or
 * 2. acceptor → `welcome {proof, formation, leadership, member}`, which the dialer checks the
 *    same way. The proofs are over the link's own secret (`bond-proof.ts`): a recorded proof
 *    is useless on any other link. `member` is the sender's member id (its Raft id), new
 *    whenever its group storage is (group.ts `memberId`).
 * 3. Then either side: `raft` (a Raft message without its sender and addressee, which are the
 *    bond's two members; tagged with the sender's formation so two histories never mix), `formation` (the sender formed or adopted one), `forward` /
 *    `forwardResp` (a follower's commands to the leader, acknowledged with their indices) or
 *    `forwardFull` (refused: the leader holds `maxUncommittedBytes` it has not committed),
 *    `readIndex` / `readIndexResp` (a follower's linearizable read), `ping`, `departure`.
 */
// 2: a formation carries its first configuration. 3: appends carry `ack` (commit notices go unanswered).
// 4: `forwardFull`, a leader's refusal for want of room.
export const GROUPS_PROTOCOL = protocolId('/mosaik/groups/4');

const MAX_MEMBERS = 1024;
/** A member id (`<peer hex>.<nonce hex>`, core/groups/group.ts `memberId`); checked against the link's peer on bonding. */
export const memberIdSchema = s.str({ maxLength: 96 });
const nodeId = memberIdSchema;
const bytes = s.bytes({ maxLength: DEFAULT_MAX_FRAME_BYTES });

export const confStateSchema = s.struct({ voters: s.array(nodeId, { maxLength: MAX_MEMBERS }), learners: s.array(nodeId, { maxLength: MAX_MEMBERS }) });

const entryData = s.union('kind', {
  command: s.struct({ bytes }),
  noop: s.struct({}),
  conf: s.struct({ conf: confStateSchema }),
});

const entry = s.struct({ term: s.uint, index: s.uint, data: entryData });
const snapshotMeta = s.struct({ index: s.uint, term: s.uint, conf: confStateSchema });

// No `from`/`to`: a bond joins exactly two members, named in its handshake, so the receiver
// knows both (group.ts `#onRaft`), and a member cannot speak for another. The two 81-byte
// ids were two thirds of an append response and most of its decoding.
const envelope = { term: s.uint };
const raftMessage = s.union('type', {
  vote: s.struct({ ...envelope, pre: s.bool, lastIndex: s.uint, lastTerm: s.uint, transfer: s.bool }),
  voteResp: s.struct({ ...envelope, pre: s.bool, granted: s.bool }),
  append: s.struct({ ...envelope, prevIndex: s.uint, prevTerm: s.uint, entries: s.array(entry, { maxLength: MAX_BATCH }), commit: s.uint, ack: s.bool }),
  appendResp: s.struct({ ...envelope, success: s.bool, index: s.uint, hintIndex: s.uint, hintTerm: s.uint }),
  heartbeat: s.struct({ ...envelope, commit: s.uint, round: s.uint }),
  heartbeatResp: s.struct({ ...envelope, round: s.uint }),
  snapshot: s.struct({ ...envelope, meta: snapshotMeta, offset: s.uint, total: s.uint, chunk: bytes }),
  snapshotResp: s.struct({ ...envelope, index: s.uint, received: s.uint }),
  timeoutNow: s.struct({ ...envelope }),
});

const formation = s.optional(s.struct({ id: s.bytes({ length: 32 }), formedAtMs: s.uint, conf: s.optional(confStateSchema) }));
const leadership = s.u8;

export type Leadership = 'normal' | 'reluctant' | 'observer';
const LEADERSHIP: readonly Leadership[] = ['normal', 'reluctant', 'observer'];
export const leadershipCode = (l: Leadership): number => LEADERSHIP.indexOf(l);
export const leadershipOf = (code: number): Leadership => LEADERSHIP[code] ?? 'observer';

/** A follower's request to the leader, acknowledged per batch. */
export type ForwardResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly leader: string | undefined; readonly reason: string };

/** A Raft message on a bond: its sender and addressee are the bond's two members. */
export type WireRaftMessage = RaftMessage extends infer M ? (M extends RaftMessage ? Omit<M, keyof RaftRoute> : never) : never;

export type BondMessage =
  | {
      readonly t: 'hello';
      readonly network: Uint8Array;
      readonly group: Uint8Array;
      readonly proof: Uint8Array;
      readonly formation: Formation | undefined;
      readonly leadership: number;
      readonly member: string;
    }
  | { readonly t: 'welcome'; readonly proof: Uint8Array; readonly formation: Formation | undefined; readonly leadership: number; readonly member: string }
  | { readonly t: 'raft'; readonly formation: Uint8Array; readonly msg: WireRaftMessage }
  | { readonly t: 'formation'; readonly formation: Formation | undefined }
  | { readonly t: 'forward'; readonly req: number; readonly commands: readonly Uint8Array[] }
  | {
      readonly t: 'forwardResp';
      readonly req: number;
      readonly ok: boolean;
      readonly index: number;
      readonly term: number;
      readonly leader: string | undefined;
    }
  | { readonly t: 'forwardFull'; readonly req: number }
  | { readonly t: 'readIndex'; readonly req: number }
  | { readonly t: 'readIndexResp'; readonly req: number; readonly ok: boolean; readonly index: number }
  | { readonly t: 'ping' }
  | { readonly t: 'departure' };

export const bondCodec = msgpackCodec(
  s.union('t', {
    hello: s.struct({
      network: s.bytes({ length: 32 }),
      group: s.bytes({ length: 32 }),
      proof: s.bytes({ length: 32 }),
      formation,
      leadership,
      member: nodeId,
    }),
    welcome: s.struct({ proof: s.bytes({ length: 32 }), formation, leadership, member: nodeId }),
    raft: s.struct({ formation: s.bytes({ length: 32 }), msg: raftMessage }),
    formation: s.struct({ formation }),
    forward: s.struct({ req: s.uint, commands: s.array(bytes, { maxLength: MAX_BATCH }) }),
    forwardResp: s.struct({ req: s.uint, ok: s.bool, index: s.uint, term: s.uint, leader: s.optional(nodeId) }),
    readIndex: s.struct({ req: s.uint }),
    readIndexResp: s.struct({ req: s.uint, ok: s.bool, index: s.uint }),
    ping: s.struct({}),
    departure: s.struct({}),
    // Last: a variant's place is its tag on the wire.
    forwardFull: s.struct({ req: s.uint }),
  }),
) as unknown as MessageCodec<BondMessage>;

/** Codec for the durable Raft state (entries and snapshot metadata), same encoding as the wire. */
export const entryCodec = msgpackCodec(entry) as unknown as MessageCodec<Entry>;
export const snapshotMetaCodec = msgpackCodec(snapshotMeta);
