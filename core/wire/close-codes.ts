/**
 * Application close codes carried when a link is closed, as mosaik's QUIC ApplicationClose
 * codes (reference `mosaik-discovery-net-tickets.md` §6). 0–199 are reserved for the
 * network layer; each subsystem owns a range. Codes compare by number only.
 */
export const CloseCode = {
  // network layer
  UnknownProtocol: 100, // mosaik: InvalidAlpn
  DifferentNetwork: 101,
  Cancelled: 102,
  UnexpectedClose: 103,
  /** Ours: the transport gave up on the link (idle timeout, peer crashed, path lost). */
  LinkLost: 104,
  /** Ours: the link handshake did not finish in time. */
  HandshakeTimeout: 105,
  Success: 200,
  GracefulShutdown: 204,
  ProtocolViolation: 400,
  UnknownPeer: 401,
  // streams
  StreamNotAllowed: 10_403,
  StreamNotFound: 10_404,
  StreamNoCapacity: 10_509,
  // groups
  GroupInvalidHandshake: 30_400,
  GroupNotAllowed: 30_403,
  GroupNotFound: 30_404,
  GroupInvalidProof: 30_405,
  GroupTimeout: 30_408,
  GroupAlreadyBonded: 30_429,
  // streams, added with the streams subsystem
  /** A consumer fell `bufferSize` datums behind and the producer disconnected it (mosaik TooSlow). */
  StreamTooSlow: 10_413,
} as const;

export type CloseCodeName = keyof typeof CloseCode;

const names = new Map<number, CloseCodeName>(Object.entries(CloseCode).map(([name, code]) => [code, name as CloseCodeName]));

/** The name of a known code, or `Unknown(<n>)`. */
export function closeCodeName(code: number): string {
  return names.get(code) ?? `Unknown(${code})`;
}
