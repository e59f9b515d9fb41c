/**
 * Versioned protocol identifiers, the role ALPN plays in mosaik: a link is opened for one
 * protocol, and a node that does not serve it closes with `UnknownProtocol`. A breaking
 * change to a protocol's messages gets a new version, so old and new nodes fail cleanly
 * instead of misreading each other.
 */
export type ProtocolId = string & { readonly __protocol: unique symbol };

const PATTERN = /^\/mosaik\/[a-z][a-z0-9-]*(\/[a-z][a-z0-9-]*)*\/[0-9]+(\.[0-9]+)?$/;

export function protocolId(text: string): ProtocolId {
  if (!PATTERN.test(text)) throw new TypeError(`invalid protocol id '${text}'`);
  return text as ProtocolId;
}

/** The protocols that exist today, one place to look them up. */
export const Protocols = {
  ping: protocolId('/mosaik/ping/1'),
} as const;
