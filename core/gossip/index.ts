export type { HyParViewConfig, HyParViewInput } from './hyparview.ts';
export { DEFAULT_HYPARVIEW_CONFIG, HyParView } from './hyparview.ts';
export type { GossipCommand, GossipEvent, GossipInput, GossipOutput, GossipTimer } from './io.ts';
export type { BroadcastMessage, GossipMessage, GossipMessageType, IHave, MembershipMessage, PeerInfo, Priority } from './messages.ts';
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeGossipMessage,
  encodeGossipMessage,
  GOSSIP_ENVELOPE_BYTES,
  gossipCodec,
  gossipMessageSchema,
  MAX_IHAVES,
  MAX_PEER_DATA_BYTES,
  MAX_SHUFFLE_NODES,
  MESSAGE_ID_BYTES,
  MIN_MAX_MESSAGE_BYTES,
  maxPayloadBytes,
  messageIdOf,
} from './messages.ts';
export type { PlumTreeConfig, PlumTreeInput } from './plumtree.ts';
export { BroadcastTooLargeError, DEFAULT_PLUMTREE_CONFIG, PlumTree } from './plumtree.ts';
export type { GossipTopicConfig, GossipTopicOptions } from './topic.ts';
export { DEFAULT_GOSSIP_TOPIC_CONFIG, GossipTopic } from './topic.ts';
