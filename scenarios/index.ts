import { collectionsCatchup } from './collections-catchup.ts';
import { collectionsChaos } from './collections-chaos.ts';
import { discoveryConverge, discoveryDeparture, discoveryIsolation } from './discovery.ts';
import { pingMesh } from './ping-mesh.ts';
import { raftChaos } from './raft-chaos.ts';
import { raftCore } from './raft-core.ts';
import { raftMembership } from './raft-membership.ts';
import { raftStartupSplit } from './raft-startup-split.ts';
import type { Scenario } from './scenario.ts';
import { streamsFanout } from './streams.ts';
import { streamsChurn } from './streams-churn.ts';
import { ticketsAttack } from './tickets.ts';

export type { Scenario, ScenarioOptions, ScenarioResult } from './scenario.ts';

/** Every scenario the CLI can run, by name. */
export const scenarios: ReadonlyMap<string, Scenario> = new Map(
  [
    pingMesh,
    discoveryConverge,
    discoveryDeparture,
    discoveryIsolation,
    streamsFanout,
    streamsChurn,
    ticketsAttack,
    raftChaos,
    raftCore,
    raftMembership,
    raftStartupSplit,
    collectionsChaos,
    collectionsCatchup,
  ].map((s) => [s.name, s]),
);
