export { MAX_QUEUED_MESSAGES } from './announce-mesh.ts';
export type { Announcement } from './announcement.ts';
export { ANNOUNCE_PROTOCOL, announcementCodec, MAX_BATCH_MESSAGES } from './announcement.ts';
export type { CatalogOptions, UpsertOutcome } from './catalog.ts';
export { Catalog, DEFAULT_PURGE_AFTER_MS } from './catalog.ts';
export type { DigestLine, SyncMessage } from './catalog-exchange.ts';
export { MAX_SNAPSHOT_ENTRIES, SYNC_PROTOCOL, syncCodec } from './catalog-exchange.ts';
export { bucketOf, CatalogSummary, SUMMARY_BUCKETS, SUMMARY_BYTES } from './catalog-summary.ts';
export type { Departure } from './departure.ts';
export {
  checkDeparture,
  DEFAULT_MAX_TIME_DRIFT_MS,
  DEPARTURE_SIGNING_DOMAIN,
  departureSchema,
  departureSigningMessage,
  signDeparture,
  withinDrift,
} from './departure.ts';
export type { DiscoveryStats } from './discovery.ts';
export type { PeerEntry, PeerEntryInit, PeerEntryVersion, SignedPeerEntry, Ticket, VerifiedDecoded } from './peer-entry.ts';
export {
  compareVersions,
  decodeSignedPeerEntry,
  encodeSignedPeerEntry,
  incrementVersion,
  initialVersion,
  isNewer,
  MAX_ADDRESS_LENGTH,
  MAX_ADDRESSES,
  MAX_ENTRY_BYTES,
  MAX_GROUPS,
  MAX_SIGNED_ENTRY_BYTES,
  MAX_STREAMS,
  MAX_TAGS,
  MAX_TICKET_DATA_BYTES,
  MAX_TICKETS,
  PEER_ENTRY_SIGNING_DOMAIN,
  peerEntry,
  peerEntrySigningMessage,
  signedPeerEntryCodec,
  signedPeerEntrySchema,
  signedPeerEntrySchemaWith,
  signPeerEntry,
  ticketId,
} from './peer-entry.ts';
export type { PeerInfo, RttEstimate } from './rtt.ts';
export { addRttSample, peerInfo, rttBelow } from './rtt.ts';
export type { PingMessage } from './rtt-probe.ts';
export { DEFAULT_RTT_PROBE_INTERVAL_MS, PING_PROTOCOL, PING_TIMEOUT_MS, pingCodec, RTT_PROBES_PER_TICK } from './rtt-probe.ts';
