import type { DiscoveryOptions } from '../core/discovery/discovery.ts';
import { MAX_TAGS } from '../core/discovery/peer-entry.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import type { GroupsOptions } from '../core/groups/groups.ts';
import { type PeerAddr, parsePeerAddr } from '../core/identity/address.ts';
import { Digest } from '../core/identity/digest.ts';
import { type BackoffConfig, resolveBackoff } from '../core/streams/backoff.ts';

/**
 * The smallest `maxFrameBytes` a node takes: a signed peer entry may take 64 KiB
 * (`MAX_SIGNED_ENTRY_BYTES`), and the frames that carry one add to it.
 */
export const MIN_MAX_FRAME_BYTES = 128 * 1024;
/** The largest: a frame's length prefix is a u32, and a frame is held in memory whole. */
export const MAX_MAX_FRAME_BYTES = 1024 * 1024 * 1024;

/** A node's `network` option as its id: a non-empty string (hashed) or a Digest, else InvalidArgumentError. */
export function networkIdOf(network: unknown): Digest {
  if (network instanceof Digest) return network;
  if (typeof network === 'string' && network.length > 0) return Digest.from(network);
  throw new InvalidArgumentError(`network must be a non-empty string or a Digest, got ${network === undefined ? 'nothing' : typeof network}`);
}

/** `maxFrameBytes`, when given, is an integer in [128 KiB, 1 GiB] (else InvalidArgumentError). */
export function checkMaxFrameBytes(value: unknown): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || (value as number) < MIN_MAX_FRAME_BYTES || (value as number) > MAX_MAX_FRAME_BYTES)
    throw new InvalidArgumentError(`maxFrameBytes must be an integer from ${MIN_MAX_FRAME_BYTES} to ${MAX_MAX_FRAME_BYTES}, got ${String(value)}`);
}

/** What both `Network.create` and `sim.node` take for discovery. */
export interface DiscoveryNodeOptions {
  /** Role tags this node advertises (names, hashed with `Digest.from`). */
  readonly tags?: readonly string[];
  /** Addresses (`<peer id>@<location>`) of peers to exchange catalogs with at start. */
  readonly bootstrap?: readonly (string | PeerAddr)[];
  /** Discovery's timing and gossip settings; see `DiscoveryOptions` for each one's meaning and default. */
  readonly discovery?: Omit<DiscoveryOptions, 'addresses' | 'tags' | 'bootstrap'>;
}

/** The core's discovery options for a node reachable at `addresses`; bad bootstrap addresses are an InvalidArgumentError. */
export function discoveryOptions(options: DiscoveryNodeOptions, addresses: readonly string[]): DiscoveryOptions {
  const bootstrap = (options.bootstrap ?? []).map((b) => {
    const addr = typeof b === 'string' ? parsePeerAddr(b) : b;
    if (!addr) throw new InvalidArgumentError(`bootstrap: not a peer address: '${String(b)}'`);
    return addr;
  });
  const tags = (options.tags ?? []).map((t) => Digest.from(t));
  if (new Set(tags.map((t) => t.hex)).size > MAX_TAGS) throw new InvalidArgumentError(`tags: at most ${MAX_TAGS} tags per node`);
  return { addresses, tags, bootstrap, ...options.discovery };
}

/**
 * Node-wide settings of streams and groups, which both `Network.create` and `sim.node` take
 * (mosaik's `streams::Config` and `groups::Config`).
 */
export interface SubsystemNodeOptions {
  readonly streams?: {
    /** Every consumer's retry policy unless it gives its own (fields merge). @default DEFAULT_BACKOFF: 500 ms, ×1.5, ±50%, at most 60 s, given up after 300 s */
    readonly backoff?: Partial<BackoffConfig>;
  };
  readonly groups?: {
    /** How long an accepted bond link may take to say which group it is for. @default 2000 (mosaik's `handshake_timeout`) */
    readonly handshakeTimeoutMs?: number;
  };
}

/** What the API layer keeps of them (the groups part goes into the machine). */
export interface NodeDefaults {
  readonly streams?: { readonly backoff?: Partial<BackoffConfig> };
}

/** Checks the node-wide settings: InvalidArgumentError for bad ones, before the node starts. */
export function subsystemOptions(options: SubsystemNodeOptions): { readonly defaults: NodeDefaults; readonly groups: GroupsOptions } {
  if (options.streams?.backoff !== undefined) resolveBackoff(options.streams.backoff);
  const handshakeTimeoutMs = options.groups?.handshakeTimeoutMs;
  if (handshakeTimeoutMs !== undefined && !(Number.isSafeInteger(handshakeTimeoutMs) && handshakeTimeoutMs > 0)) {
    throw new InvalidArgumentError(`groups.handshakeTimeoutMs must be a positive integer, got ${handshakeTimeoutMs}`);
  }
  return {
    defaults: options.streams?.backoff === undefined ? {} : { streams: { backoff: { ...options.streams.backoff } } },
    groups: handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs },
  };
}
