export { RaftLog } from './log.ts';
export { isMajority, Progress, quorumIndex } from './progress.ts';
export { type RaftConfig, RaftNode, type RaftRestore, validateConfChange } from './raft.ts';
export type {
  ConfState,
  Entry,
  EntryData,
  HardState,
  NodeId,
  RaftMessage,
  RaftRefusal,
  RaftRoute,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SnapshotMeta,
  SoftState,
  UnsafeRaftVariant,
} from './types.ts';
