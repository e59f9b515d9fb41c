export { bondProof, checkBondProof } from './bond-proof.ts';
export { compareFormations, type Formation } from './formation.ts';
export type { Group, GroupSpec, GroupStatus, GroupsEvent, PlantedGroupBugs } from './group.ts';
export { type ConsensusConfig, DEFAULT_CONSENSUS, deriveGroupId, type GroupKey } from './group-id.ts';
export { type GroupsCommand, GroupsSubsystem } from './groups.ts';
export { type ApplyContext, ReplicatedState, type StateMachine } from './state-machine.ts';
export { GROUPS_PROTOCOL, type Leadership } from './wire.ts';
