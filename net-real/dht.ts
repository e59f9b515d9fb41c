import { createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import DHT from 'bittorrent-dht';
import { type PeerAddr, parsePeerAddr } from '../core/identity/address.ts';
import type { Digest, NetworkId } from '../core/identity/digest.ts';
import { PeerId } from '../core/identity/keys.ts';

/**
 * Rendezvous over the BitTorrent Mainline DHT (`Network.create({ dht: true })`), as mosaik's
 * pkarr bootstrap: nodes of one network, with no address of each other, meet at 16 slots
 * whose keys everyone in the network can derive.
 *
 * - Slot 0's id is the network id; slot i+1's is `blake3(id_i ‖ id_i)`. A slot's key pair
 *   is the ed25519 key whose seed is its id, so any node of the network may write it (BEP 44
 *   mutable item, signed with that key; `seq` is the write's time in seconds).
 * - A record names one node: `{ i: peer id, a: [locations], t: seconds }`.
 * - Every cycle a node reads every slot. For a node it does not know it starts a catalog
 *   exchange (`syncWith`): a slot whose node does not answer, an empty one, and one holding
 *   this node's old addresses are candidates. If no slot holds this node with its current
 *   addresses, and it has not written one in the last 10 minutes, it writes itself into a
 *   random candidate (compare-and-swap on the old `seq`).
 * - Cycles run every 5 s (+ up to a third) while the node has no catalog peers, else every
 *   60 s: the DHT finds the first peers, discovery's gossip does the rest.
 *
 * Nothing read from the DHT is trusted beyond a place to dial: the dial checks the peer id
 * against the QUIC/TLS identity. Anyone who knows the network name can overwrite slots
 * (as in mosaik); a node written over writes itself again on a later cycle.
 */
export const DHT_SLOTS = 16;
const REPUBLISH_AFTER_MS = 10 * 60_000;
const LOOKUP_TIMEOUT_MS = 5_000;
/** BEP 44 values are at most 1000 bytes bencoded: a record keeps at most this many locations. */
const MAX_LOCATIONS = 8;

export interface DhtNode {
  readonly networkId: NetworkId;
  readonly peerId: PeerId;
  /** The locations this node is reachable at (its QUIC listen address). */
  readonly locations: readonly string[];
  knows(peer: PeerId): boolean;
  /** How many peers the catalog holds (0: look for some more often). */
  peerCount(): number;
  sync(addr: PeerAddr): Promise<void>;
  onError(error: unknown): void;
}

export interface DhtOptions {
  /** DHT routers to join through, `host:port`. @default bittorrent-dht's (router.bittorrent.com, ...) */
  readonly bootstrap?: readonly string[];
  /** Where the DHT's UDP socket listens. @default the node's listen host, any free port */
  readonly host: string;
  readonly port?: number;
  /** Cycle period override (tests); by default 5 s without peers, 60 s with. */
  readonly intervalMs?: number;
}

interface Slot {
  readonly index: number;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  /** sha1 of the public key: where BEP 44 stores the item. */
  readonly target: Buffer;
}

type SlotState =
  | { readonly kind: 'empty' }
  | { readonly kind: 'self'; readonly current: boolean; readonly seq: number }
  | { readonly kind: 'other'; readonly addr: PeerAddr; readonly seq: number }
  | { readonly kind: 'unreadable'; readonly seq: number };

/** The slots of a network (pure: the same for every node of it). */
export function networkSlots(networkId: NetworkId, count = DHT_SLOTS): Slot[] {
  const slots: Slot[] = [];
  let id: Digest = networkId;
  for (let index = 0; index < count; index++) {
    const secretKey = id.bytes;
    const publicKey = ed25519.getPublicKey(secretKey);
    slots.push({ index, publicKey, secretKey, target: createHash('sha1').update(publicKey).digest() });
    id = id.derive(id.bytes);
  }
  return slots;
}

export class DhtRendezvous {
  readonly #dht: DHT;
  readonly #node: DhtNode;
  readonly #options: DhtOptions;
  readonly #slots: Slot[];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastPublishedAt = Number.NEGATIVE_INFINITY;
  #closed = false;

  constructor(node: DhtNode, options: DhtOptions) {
    this.#node = node;
    this.#options = options;
    this.#slots = networkSlots(node.networkId);
    this.#dht = new DHT({
      ...(options.bootstrap !== undefined && { bootstrap: [...options.bootstrap] }),
      host: options.host,
      verify: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => {
        try {
          return ed25519.verify(signature, message, publicKey);
        } catch {
          return false;
        }
      },
    });
    this.#dht.on('error', (error: Error) => {
      node.onError(new Error(`DHT stopped: ${error.message}`));
      this.close();
    });
    this.#dht.on('warning', () => undefined); // malformed packets from the internet
    this.#dht.listen(options.port ?? 0, options.host);
    this.#dht.once('ready', () => this.#schedule(0));
  }

  /** The DHT's own UDP address (tests bootstrap other DHT nodes from it). */
  get address(): { address: string; port: number } | undefined {
    return this.#dht.listening ? this.#dht.address() : undefined;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#dht.destroy();
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#cycle().then(
        () => this.#schedule(this.#nextDelayMs()),
        (error: unknown) => {
          this.#node.onError(error);
          this.#schedule(this.#nextDelayMs());
        },
      );
    }, delayMs);
    this.#timer.unref();
  }

  #nextDelayMs(): number {
    if (this.#options.intervalMs !== undefined) return this.#options.intervalMs;
    const base = this.#node.peerCount() === 0 ? 5_000 : 60_000;
    return base + Math.floor(Math.random() * (base / 3));
  }

  async #cycle(): Promise<void> {
    const states = await Promise.all(this.#slots.map((slot) => this.#read(slot)));
    if (this.#closed) return;
    const candidates: { slot: Slot; seq: number | undefined }[] = [];
    let ownStale: { slot: Slot; seq: number } | undefined;
    let present = false;
    await Promise.all(
      states.map(async (state, i) => {
        const slot = this.#slots[i] as Slot;
        if (state.kind === 'empty') candidates.push({ slot, seq: undefined });
        else if (state.kind === 'unreadable') candidates.push({ slot, seq: state.seq });
        else if (state.kind === 'self') {
          if (state.current) present = true;
          else ownStale = { slot, seq: state.seq }; // our old addresses: the slot to fix
        } else if (!this.#node.knows(state.addr.peer)) {
          // Whoever answers is worth knowing; whoever does not frees the slot.
          await this.#node.sync(state.addr).catch(() => candidates.push({ slot, seq: state.seq }));
        }
      }),
    );
    if (present || this.#closed) return;
    if (ownStale !== undefined) return this.#write(ownStale.slot, ownStale.seq);
    if (candidates.length === 0 || Date.now() - this.#lastPublishedAt < REPUBLISH_AFTER_MS) return;
    const pick = candidates[Math.floor(Math.random() * candidates.length)] as (typeof candidates)[number];
    await this.#write(pick.slot, pick.seq);
  }

  #read(slot: Slot): Promise<SlotState> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ kind: 'empty' }), LOOKUP_TIMEOUT_MS);
      timer.unref(); // a lookup in flight must not keep a closed node's process alive
      this.#dht.get(slot.target, (error, item) => {
        clearTimeout(timer);
        if (error || item === undefined || item === null) return resolve({ kind: 'empty' });
        resolve(this.#parse(slot, item));
      });
    });
  }

  #parse(slot: Slot, item: { v?: unknown; seq?: number; k?: Uint8Array }): SlotState {
    const seq = typeof item.seq === 'number' ? item.seq : 0;
    if (item.k === undefined || !Buffer.from(item.k).equals(Buffer.from(slot.publicKey))) return { kind: 'unreadable', seq };
    const v = item.v as { i?: unknown; a?: unknown } | undefined;
    if (!(v?.i instanceof Uint8Array) || v.i.length !== 32 || !Array.isArray(v.a)) return { kind: 'unreadable', seq };
    let peer: PeerId;
    try {
      peer = PeerId.fromBytes(new Uint8Array(v.i));
    } catch {
      return { kind: 'unreadable', seq };
    }
    const locations = v.a.filter((a): a is Uint8Array => a instanceof Uint8Array).map((a) => Buffer.from(a).toString('utf8'));
    if (peer.equals(this.#node.peerId)) {
      const current = locations.length === this.#node.locations.length && locations.every((l, k) => l === this.#node.locations[k]);
      return { kind: 'self', current, seq };
    }
    const addr = locations.length > 0 ? parsePeerAddr(`${peer.hex}@${locations[0]}`) : undefined;
    return addr === undefined ? { kind: 'unreadable', seq } : { kind: 'other', addr, seq };
  }

  #write(slot: Slot, previousSeq: number | undefined): Promise<void> {
    const seq = Math.max(Math.floor(Date.now() / 1_000), (previousSeq ?? 0) + 1);
    const v = {
      i: Buffer.from(this.#node.peerId.bytes),
      a: this.#node.locations.slice(0, MAX_LOCATIONS).map((l) => Buffer.from(l, 'utf8')),
      t: Math.floor(Date.now() / 1_000),
    };
    return new Promise((resolve) => {
      this.#dht.put(
        {
          k: Buffer.from(slot.publicKey),
          v,
          seq,
          ...(previousSeq !== undefined && { cas: previousSeq }),
          sign: (message: Uint8Array) => Buffer.from(ed25519.sign(message, slot.secretKey)),
        },
        (error: Error | null) => {
          // A lost compare-and-swap (someone wrote first) is retried at the next cycle.
          if (!error) this.#lastPublishedAt = Date.now();
          resolve();
        },
      );
    });
  }
}
