/**
 * mosaik: the production entry point. `Network.create` starts a node on a real QUIC
 * network; `mosaik/sim` gives the same `Network` inside the deterministic simulator.
 */

export type {
  CellReader,
  CollectionOptions,
  KeyedOptions,
  MapReader,
  OnceReader,
  PriorityQueueReader,
  SetReader,
  ValueOptions,
  VecReader,
  Version,
} from './api/collections.ts';
export { CellHandle, Collections, MapHandle, OnceHandle, PriorityQueueHandle, SetHandle, VecHandle } from './api/collections.ts';
export type { DiscoveryEvent } from './api/discovery.ts';
export type { Lagged } from './api/event-stream.ts';
export type {
  ApplyContext,
  CallOptions,
  ConsensusConfig,
  GroupKey,
  GroupStats,
  GroupStatus,
  GroupStorage,
  GroupStore,
  GroupStoreWrite,
  JoinOptions,
  Leadership,
  StateMachine,
} from './api/groups.ts';
export { Group, Groups } from './api/groups.ts';
export type { PingOptions } from './api/network.ts';
export { Network } from './api/network.ts';
export type {
  BackoffConfig,
  ChannelInfo,
  ConsumerOptions,
  ConsumerStats,
  DatumCodec,
  PeerPredicate,
  ProducerOptions,
  ProducerStats,
  StreamStats,
} from './api/streams.ts';
export { ChannelConditions, Condition, Consumer, Producer, Streams } from './api/streams.ts';
export type { IssueJwtTicketOptions, IssueTdxTicketOptions, QuoteProvider } from './api/tickets.ts';
export { issueJwtTicket, issueTdxTicket, QuoteGenerationError, TdxUnavailableError } from './api/tickets.ts';
export type { DiscoveryStats, PeerEntry, PeerEntryVersion, PeerInfo, RttEstimate } from './core/discovery/index.ts';
export { ticketId } from './core/discovery/index.ts';
export { ApplyError, EncodingError, FormationLostError, GroupClosedError, NotAllowedError, QueryError, StorageError } from './core/errors.ts';
export type {
  Expiration,
  GroupId,
  JwtAlg,
  JwtValidatorOptions,
  JwtVerifyKey,
  Measurements,
  NetworkId,
  PeerAddr,
  PingResult,
  Rng,
  StoreId,
  StreamId,
  Tag,
  TdxMeasurementCriteria,
  TdxValidatorOptions,
  Ticket,
  TicketRejection,
  TicketRejectionCode,
  TicketsValidation,
  TicketValidator,
  ValidationResult,
} from './core/index.ts';
export {
  AlreadyExistsError,
  CloseCode,
  ClosedError,
  ConnectError,
  closeCodeName,
  DecodeError,
  Digest,
  expiresAt,
  FullError,
  formatPeerAddr,
  InvalidArgumentError,
  JWT_TICKET_CLASS,
  JwtValidator,
  LinkClosedError,
  MosaikError,
  NEVER,
  NodeDownError,
  OfflineError,
  OversizedError,
  PeerId,
  parsePeerAddr,
  SecretKey,
  SimulatedIntel,
  simulatedMeasurements,
  TDX_TICKET_CLASS,
  TdxValidator,
  TimeoutError,
  validateTickets,
} from './core/index.ts';
export type { StreamCloseReason } from './core/streams/index.ts';
export type { PrometheusOptions } from './net-real/metrics.ts';
export type { CreateNetworkOptions, QuicOptions } from './net-real/options.ts';
/** The OS CSPRNG as an `Rng`: `SecretKey.generate(new CryptoRng())` makes a fresh random key. */
export { CryptoRng } from './net-real/rng.ts';
export { ConfigfsTsmQuoteProvider } from './net-real/tdx-configfs.ts';
