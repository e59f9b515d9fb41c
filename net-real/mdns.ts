import makeMdns from 'multicast-dns';
import { type PeerAddr, parsePeerAddr } from '../core/identity/address.ts';
import type { NetworkId } from '../core/identity/digest.ts';
import type { PeerId } from '../core/identity/keys.ts';

/**
 * Local discovery over multicast DNS (`Network.create({ mdns: true })`), as mosaik's iroh
 * endpoint offers: each node answers queries for `_mosaik._udp.local` with a TXT record
 * naming its network and its address, and asks every `intervalMs`. A node of the same
 * network heard that way, and not yet in the catalog, gets a catalog exchange
 * (`syncWith`), after which discovery's own gossip takes over. Nothing heard over mDNS is
 * trusted: the address only says where to dial, and the dial checks the peer id against
 * the QUIC/TLS identity, so a forged answer costs one failed dial (and is throttled).
 */
export const MDNS_SERVICE = '_mosaik._udp.local';
/** How often a node asks, and the least time between two exchanges it starts with one address. */
export const DEFAULT_MDNS_INTERVAL_MS = 10_000;
/** Addresses remembered for throttling; beyond it the oldest half is forgotten (a flood cannot grow memory). */
const MAX_REMEMBERED = 1_024;

/** The part of `multicast-dns` used here; tests pass sockets of their own (`setMdnsSocketFactory`). */
export interface MdnsSocket {
  query(query: { questions: { name: string; type: 'PTR' }[] }): void;
  respond(response: { answers: MdnsRecord[] }): void;
  on(event: 'query', listener: (query: { questions?: { name: string; type: string }[] }) => void): unknown;
  on(event: 'response', listener: (response: { answers?: MdnsRecord[]; additionals?: MdnsRecord[] }) => void): unknown;
  on(event: 'error' | 'warning', listener: (error: Error) => void): unknown;
  destroy(callback?: () => void): void;
}

export type MdnsRecord =
  | { readonly name: string; readonly type: 'PTR'; readonly ttl?: number; readonly data: string }
  | { readonly name: string; readonly type: 'TXT'; readonly ttl?: number; readonly data: string | Uint8Array | (string | Uint8Array)[] }
  | { readonly name: string; readonly type: string; readonly data?: unknown };

/** The standard socket: multicast 224.0.0.251:5353, shared with other mDNS responders on the host. */
let socketFactory: () => MdnsSocket = () => makeMdns({ reuseAddr: true }) as unknown as MdnsSocket;

/** Test-only: where new nodes get their mDNS socket (tests stay on 127.0.0.1). Returns the previous factory. */
export function setMdnsSocketFactory(factory: () => MdnsSocket): () => MdnsSocket {
  const previous = socketFactory;
  socketFactory = factory;
  return previous;
}

export interface MdnsNode {
  readonly networkId: NetworkId;
  readonly peerId: PeerId;
  /** This node's address, `<peer id>@<location>`. */
  readonly addr: string;
  /** Whether discovery already has a fresh signed entry of `peer` (then nothing is done). */
  knows(peer: PeerId): boolean;
  /** Starts a catalog exchange with a peer heard of. */
  sync(addr: PeerAddr): Promise<void>;
  /** Unexpected errors (a socket that cannot bind is reported once, and mDNS stops). */
  onError(error: unknown): void;
}

export class MdnsDiscovery {
  readonly #socket: MdnsSocket;
  readonly #node: MdnsNode;
  readonly #intervalMs: number;
  readonly #nowMs: () => number;
  /** Address text → when an exchange with it was last started. */
  readonly #lastTried = new Map<string, number>();
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #records: MdnsRecord[];
  #closed = false;

  constructor(node: MdnsNode, options: { intervalMs?: number; nowMs: () => number }) {
    this.#node = node;
    this.#intervalMs = options.intervalMs ?? DEFAULT_MDNS_INTERVAL_MS;
    this.#nowMs = options.nowMs;
    // A DNS label holds at most 63 bytes: the instance name uses half the peer id.
    const instance = `${node.peerId.hex.slice(0, 32)}.${MDNS_SERVICE}`;
    this.#records = [
      { name: MDNS_SERVICE, type: 'PTR', ttl: 120, data: instance },
      { name: instance, type: 'TXT', ttl: 120, data: ['v=1', `net=${node.networkId.hex}`, `addr=${node.addr}`] },
    ];
    this.#socket = socketFactory();
    this.#socket.on('error', (error) => {
      node.onError(new Error(`mDNS stopped: ${error.message}`));
      this.close();
    });
    this.#socket.on('warning', () => undefined); // undecodable packets from other responders
    this.#socket.on('query', (query) => {
      if (query.questions?.some((q) => q.name === MDNS_SERVICE && (q.type === 'PTR' || q.type === 'ANY'))) this.#announce();
    });
    this.#socket.on('response', (response) => this.#heard([...(response.answers ?? []), ...(response.additionals ?? [])]));
    this.#timer = setInterval(() => this.#ask(), this.#intervalMs);
    this.#timer.unref();
    this.#announce();
    this.#ask();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#socket.destroy();
  }

  #ask(): void {
    if (!this.#closed) this.#socket.query({ questions: [{ name: MDNS_SERVICE, type: 'PTR' }] });
  }

  #announce(): void {
    if (!this.#closed) this.#socket.respond({ answers: this.#records });
  }

  #heard(records: readonly MdnsRecord[]): void {
    for (const record of records) {
      if (record.type !== 'TXT' || !record.name.endsWith(`.${MDNS_SERVICE}`)) continue;
      const fields = txtFields(record.data);
      if (fields.get('v') !== '1' || fields.get('net') !== this.#node.networkId.hex) continue;
      const text = fields.get('addr');
      const addr = text === undefined ? undefined : parsePeerAddr(text);
      if (addr === undefined || addr.peer.equals(this.#node.peerId) || this.#node.knows(addr.peer)) continue;
      const now = this.#nowMs();
      const last = this.#lastTried.get(text as string);
      if (last !== undefined && now - last < this.#intervalMs) continue;
      this.#remember(text as string, now);
      // A failed exchange (a forged or stale answer) is retried at the next answer after the interval.
      this.#node.sync(addr).catch(() => undefined);
    }
  }

  #remember(text: string, now: number): void {
    if (this.#lastTried.size >= MAX_REMEMBERED) {
      let drop = this.#lastTried.size / 2;
      for (const key of this.#lastTried.keys()) {
        if (drop-- <= 0) break;
        this.#lastTried.delete(key);
      }
    }
    this.#lastTried.delete(text);
    this.#lastTried.set(text, now);
  }
}

/** TXT strings `key=value` as a map (the first `=` splits; strings without one are ignored). */
function txtFields(data: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  const items = Array.isArray(data) ? data : [data];
  for (const item of items) {
    const text = typeof item === 'string' ? item : item instanceof Uint8Array ? new TextDecoder().decode(item) : undefined;
    if (text === undefined) continue;
    const at = text.indexOf('=');
    if (at > 0 && !fields.has(text.slice(0, at))) fields.set(text.slice(0, at), text.slice(at + 1));
  }
  return fields;
}
