export type { BackoffConfig } from './backoff.ts';
export { backoffDelayMs, DEFAULT_BACKOFF } from './backoff.ts';
export { ChannelConditions } from './conditions.ts';
export type { DatumCodec } from './datum-codec.ts';
export { msgpackDatumCodec } from './datum-codec.ts';
export type {
  ChannelInfo,
  ChannelStats,
  ConsumerConfig,
  ConsumerView,
  PeerPredicate,
  PlantedStreamsBugs,
  ProducerConfig,
  ProducerView,
  StreamsCommand,
  StreamsEvent,
} from './streams.ts';
export { DEFAULT_BUFFER_SIZE, StreamsSubsystem, SUBSCRIBE_TIMEOUT_MS } from './streams.ts';
export type { StreamCloseReason, StreamsMessage } from './wire.ts';
export { isTerminal, MAX_WINDOW, reasonOfCode, STREAMS_PROTOCOL, streamsCodec } from './wire.ts';
