import { InvalidArgumentError } from '../core/errors.ts';

/**
 * What a node holds of frames it has received only in part. A frame is handed on only once
 * all of it has arrived, so until then its bytes wait in the link's decoder. Each link holds
 * at most one unfinished frame of up to `maxFrameBytes` (8 MiB by default), but a peer opens
 * up to `maxStreamsPerConnection` links (1,024) on a connection and may open more
 * connections: by sending every frame but its last byte, one peer could make a node hold
 * gigabytes. QUIC's flow control does not stop that, because the node reads what arrives
 * (so its windows move on) and keeps it itself.
 *
 * So the bytes held are counted per connection and for the whole node. A connection past
 * its own bound is dropped; when the node is past its bound, the connection that holds the
 * most is dropped, until it is back under. A dropped connection's links are lost
 * (`LinkLost`, with the reason), as when a peer vanishes; an honest peer dials again.
 */

/** A connection as the budget sees it: how many bytes its links hold now. */
export interface Holder {
  held: number;
}

/**
 * What one buffered chunk costs besides its bytes: each native read hands back a fresh
 * ArrayBuffer of exactly what arrived, so a chunk is a view, a buffer object and a backing
 * store record (a few hundred bytes in V8). A peer that sends a frame a byte at a time must
 * not make the node hold hundreds of times what it is charged.
 */
export const CHUNK_OVERHEAD_BYTES = 256;

/** A connection dropped for going past the connection's bound or for holding the most when the node went past its own. */
export interface Overrun<C> {
  readonly conn: C;
  readonly bound: 'connection' | 'node';
}

export class ReadBudget<C extends Holder> {
  readonly maxPerConnection: number;
  readonly maxTotal: number;
  readonly #holders = new Set<C>();
  #total = 0;

  constructor(maxPerConnection: number, maxTotal: number) {
    this.maxPerConnection = maxPerConnection;
    this.maxTotal = maxTotal;
  }

  /** Bytes held over all connections. */
  get total(): number {
    return this.#total;
  }

  /**
   * `conn`'s links now hold `delta` bytes more (or fewer, if negative). Returns the
   * connections to drop, already forgotten here, and which bound each went past: `conn` if
   * it is past its own, else the largest holders while the node is past its bound.
   */
  change(conn: C, delta: number): Overrun<C>[] {
    if (delta === 0) return [];
    conn.held += delta;
    this.#total += delta;
    if (conn.held > 0) this.#holders.add(conn);
    else this.#holders.delete(conn);
    if (conn.held > this.maxPerConnection) {
      this.forget(conn);
      return [{ conn, bound: 'connection' }];
    }
    const dropped: Overrun<C>[] = [];
    while (this.#total > this.maxTotal) {
      let largest: C | undefined;
      for (const h of this.#holders) if (largest === undefined || h.held > largest.held) largest = h;
      if (largest === undefined) break;
      this.forget(largest);
      dropped.push({ conn: largest, bound: 'node' });
    }
    return dropped;
  }

  /** `conn` is gone: what its links held no longer counts. */
  forget(conn: C): void {
    this.#total -= conn.held;
    conn.held = 0;
    this.#holders.delete(conn);
  }
}

/** The defaults: room for eight of the largest frames on a connection, and 512 MiB over the node. */
const DEFAULT_PER_CONNECTION_BYTES = 64 * 1024 * 1024;
const DEFAULT_TOTAL_BYTES = 512 * 1024 * 1024;
/** Room a connection's bound leaves beyond one largest frame: its header and chunk overhead. */
const FRAME_SLACK_BYTES = 1024 * 1024;

/**
 * The node's read budget from its options (`quic.maxPartialBytesPerConnection`,
 * `quic.maxPartialBytes`), checked against its frame limit: a connection must be able to
 * hold one frame of the largest size the node accepts, and the node one connection's worth.
 */
export function readBudgetLimits(
  maxFrameBytes: number,
  quic: { readonly maxPartialBytesPerConnection?: number; readonly maxPartialBytes?: number } = {},
): { readonly maxPartialBytesPerConnection: number; readonly maxPartialBytes: number } {
  const floor = maxFrameBytes + FRAME_SLACK_BYTES;
  const perConnection = quic.maxPartialBytesPerConnection ?? Math.max(DEFAULT_PER_CONNECTION_BYTES, 2 * floor);
  if (perConnection < floor)
    throw new InvalidArgumentError(`quic.maxPartialBytesPerConnection must be at least maxFrameBytes + 1 MiB (${floor}), got ${perConnection}`);
  const total = quic.maxPartialBytes ?? Math.max(DEFAULT_TOTAL_BYTES, perConnection);
  if (total < perConnection)
    throw new InvalidArgumentError(`quic.maxPartialBytes must be at least quic.maxPartialBytesPerConnection (${perConnection}), got ${total}`);
  return { maxPartialBytesPerConnection: perConnection, maxPartialBytes: total };
}
