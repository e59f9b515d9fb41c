export { bytesEqual, bytesFromKey, bytesKey, isBytes } from './bytes-key.ts';
export { CellMachine } from './cell.ts';
export type {
  Bytes,
  CellCommand,
  MapCommand,
  OnceCommand,
  Priority,
  PriorityQueueCommand,
  SetCommand,
  VecCommand,
  WriteResult,
} from './commands.ts';
export { MapMachine } from './map.ts';
export { OnceMachine } from './once.ts';
export { comparePriorities, isPriority, PriorityQueueMachine } from './priority-queue.ts';
export { SetMachine } from './set.ts';
export { VecMachine } from './vec.ts';
