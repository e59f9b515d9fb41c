import type { DiscoveryOptions } from '../core/discovery/discovery.ts';
import { MAX_TAGS } from '../core/discovery/peer-entry.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import type { GroupsOptions } from '../core/groups/groups.ts';
import { isPeerAddr, type PeerAddr, parsePeerAddr } from '../core/identity/address.ts';
import { Digest } from '../core/identity/digest.ts';
import { SecretKey } from '../core/identity/keys.ts';
import { type BackoffConfig, resolveBackoff } from '../core/streams/backoff.ts';
import { MIN_MAX_FRAME_BYTES } from '../core/wire/codec.ts';

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

/**
 * The core's discovery options for a node reachable at `addresses`, checked before the node
 * starts (InvalidArgumentError): the core asserts on what it is given, so a NaN or a
 * negative here stopped a node (and a simulation) at start or later, and an interval of 0
 * spun the node without end.
 */
export function discoveryOptions(options: DiscoveryNodeOptions, addresses: readonly string[]): DiscoveryOptions {
  const bootstrap = arrayOption(options.bootstrap, 'bootstrap').map((b) => {
    const addr = typeof b === 'string' ? parsePeerAddr(b) : isPeerAddr(b) ? b : undefined;
    if (!addr) throw new InvalidArgumentError(`bootstrap: not a peer address: '${String(b)}'`);
    return addr;
  });
  const tags = arrayOption(options.tags, 'tags').map((t) => {
    if (typeof t !== 'string' || t.length === 0) throw new InvalidArgumentError(`tags: a tag is a non-empty string, got ${String(t)}`);
    return Digest.from(t);
  });
  if (new Set(tags.map((t) => t.hex)).size > MAX_TAGS) throw new InvalidArgumentError(`tags: at most ${MAX_TAGS} tags per node`);
  // Our checked values last: the timing object cannot replace them.
  return { ...checkedDiscoveryTiming(options.discovery), addresses, tags, bootstrap };
}

type DiscoveryTiming = NonNullable<DiscoveryNodeOptions['discovery']>;

/** The smallest period of discovery's timers: below it a node does little but announce and sync. */
export const MIN_DISCOVERY_INTERVAL_MS = 100;

/** `discovery`'s timing and gossip settings checked, each against what the core needs of it. */
function checkedDiscoveryTiming(timing: unknown): DiscoveryTiming {
  if (timing === undefined) return {};
  if (typeof timing !== 'object' || timing === null) throw new InvalidArgumentError(`discovery must be an object, got ${String(timing)}`);
  const t = timing as Record<string, unknown>;
  for (const key of ['addresses', 'tags', 'bootstrap'])
    if (key in t) throw new InvalidArgumentError(`discovery.${key}: give it as the node's own option, not inside discovery`);
  const integer = (name: string, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const v = t[name];
    if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max))
      throw new InvalidArgumentError(`discovery.${name} must be an integer from ${min} to ${max}, got ${String(v)}`);
  };
  for (const name of ['refreshIntervalMs', 'syncIntervalMs', 'rttProbeIntervalMs']) integer(name, MIN_DISCOVERY_INTERVAL_MS);
  integer('purgeAfterMs', 1);
  integer('maxTimeDriftMs', 0);
  integer('announceBatchMs', 0);
  integer('maxAnnounceBatchMs', 0);
  const views = t.gossipViews;
  if (views !== undefined) {
    if (typeof views !== 'object' || views === null) throw new InvalidArgumentError(`discovery.gossipViews must be an object, got ${String(views)}`);
    const { active, passive } = views as { active?: unknown; passive?: unknown };
    if (active !== undefined && !(Number.isSafeInteger(active) && (active as number) >= 1 && (active as number) <= 64))
      throw new InvalidArgumentError(`discovery.gossipViews.active must be an integer from 1 to 64, got ${String(active)}`);
    if (passive !== undefined && !(Number.isSafeInteger(passive) && (passive as number) >= 0 && (passive as number) <= 1024))
      throw new InvalidArgumentError(`discovery.gossipViews.passive must be an integer from 0 to 1024, got ${String(passive)}`);
  }
  return timing as DiscoveryTiming;
}

function arrayOption<T>(value: readonly T[] | undefined, name: string): readonly T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InvalidArgumentError(`${name} must be an array, got ${typeof value}`);
  return value;
}

/** A handshake deadline, when given, is a positive integer (else InvalidArgumentError): NaN stopped every link. */
function checkHandshakeTimeoutMs(value: unknown, name: string): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) > 0))
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
}

/** What both drivers take alike, outside discovery and the subsystems. */
export interface CommonNodeOptions {
  readonly network: unknown;
  readonly secretKey?: unknown;
  readonly maxFrameBytes?: unknown;
  readonly handshakeTimeoutMs?: unknown;
}

/**
 * The options every node takes, checked before anything of the node exists (its key is not
 * even made): InvalidArgumentError for a bad one. Returns the network's id.
 */
export function checkedNodeOptions(options: CommonNodeOptions): Digest {
  const networkId = networkIdOf(options.network);
  if (options.secretKey !== undefined && !(options.secretKey instanceof SecretKey))
    throw new InvalidArgumentError(`secretKey must be a SecretKey (SecretKey.generate() or .fromSeed()), got ${typeof options.secretKey}`);
  checkMaxFrameBytes(options.maxFrameBytes);
  checkHandshakeTimeoutMs(options.handshakeTimeoutMs, 'handshakeTimeoutMs');
  return networkId;
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
  checkHandshakeTimeoutMs(handshakeTimeoutMs, 'groups.handshakeTimeoutMs');
  return {
    defaults: options.streams?.backoff === undefined ? {} : { streams: { backoff: { ...options.streams.backoff } } },
    groups: handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs },
  };
}
