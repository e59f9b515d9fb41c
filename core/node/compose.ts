import { type DiscoveryOptions, DiscoverySubsystem } from '../discovery/discovery.ts';
import { type GroupsOptions, GroupsSubsystem, type PlantedGroupBugs } from '../groups/groups.ts';
import type { NetworkId } from '../identity/digest.ts';
import type { SecretKey } from '../identity/keys.ts';
import { nobleVerifier, type SignatureVerifier } from '../identity/verifier.ts';
import { PingSubsystem, type PlantedPingBugs } from '../ping/ping.ts';
import { type PlantedStreamsBugs, StreamsSubsystem } from '../streams/streams.ts';
import type { Rng } from '../util/rng.ts';
import { NodeMachine } from './node.ts';

export interface NodeOptions {
  readonly secretKey: SecretKey;
  readonly networkId: NetworkId;
  readonly rng: Rng;
  readonly storage?: ReadonlyMap<string, Uint8Array>;
  readonly incarnation?: number;
  readonly maxFrameBytes?: number;
  readonly handshakeTimeoutMs?: number;
  readonly verifier?: SignatureVerifier;
  /** Discovery: this node's addresses, tags, bootstrap peers and timing. Without it the node runs no discovery (bare protocol tests). */
  readonly discovery?: DiscoveryOptions;
  /** Node-wide groups settings. */
  readonly groups?: GroupsOptions;
  /** Test-only: switch on planted bugs to show a checker catches them. */
  readonly plantedBugs?: { readonly ping?: PlantedPingBugs; readonly streams?: PlantedStreamsBugs; readonly groups?: PlantedGroupBugs };
}

/** A node with every subsystem of this version; both drivers build nodes through here. */
export function createNodeMachine(options: NodeOptions): NodeMachine {
  const discovery = options.discovery ? new DiscoverySubsystem(options.discovery, options.verifier ?? nobleVerifier) : undefined;
  return new NodeMachine({
    ...options,
    subsystems: [
      new PingSubsystem({ bugs: options.plantedBugs?.ping ?? {} }),
      ...(discovery ? [discovery] : []),
      new StreamsSubsystem(discovery, options.plantedBugs?.streams ?? {}),
      new GroupsSubsystem(discovery, options.plantedBugs?.groups ?? {}, options.groups ?? {}),
    ],
  });
}
