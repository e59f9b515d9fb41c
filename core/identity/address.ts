import { PeerId } from './keys.ts';

/**
 * Where a peer can be reached: its id (checked against the transport's authenticated
 * identity on connect) and a transport location, e.g. `127.0.0.1:4433` or `sim:3`.
 * Text form: `<peer id hex>@<location>`, what `net.addr` prints and `bootstrap` takes.
 */
export interface PeerAddr {
  readonly peer: PeerId;
  readonly location: string;
}

export function formatPeerAddr(addr: PeerAddr): string {
  return `${addr.peer.hex}@${addr.location}`;
}

/** A PeerAddr object: a PeerId and a non-empty location (what an application may pass instead of the text form). */
export function isPeerAddr(value: unknown): value is PeerAddr {
  const v = value as Partial<PeerAddr> | null;
  return typeof v === 'object' && v !== null && v.peer instanceof PeerId && typeof v.location === 'string' && v.location.length > 0;
}

/** Parses the text form; undefined when it is not `<64 hex>@<non-empty location>`. */
export function parsePeerAddr(text: string): PeerAddr | undefined {
  const at = text.indexOf('@');
  if (at !== 64) return undefined;
  const peer = PeerId.parse(text.slice(0, at));
  const location = text.slice(at + 1);
  if (!peer || location.length === 0) return undefined;
  return { peer, location };
}
