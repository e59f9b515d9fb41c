import type { TimerId } from '../core/node/io.ts';
import type { SimNode } from './sim-node.ts';

/**
 * A node timer in the queue. Timers are armed and cancelled once per request, so they are
 * plain records rather than closures. Timers run on the monotonic clock, which is virtual
 * time: wall-clock skew and jumps do not move them, as with real timers.
 */
export class TimerEvent {
  constructor(
    readonly node: SimNode,
    readonly timer: TimerId,
    readonly incarnation: number,
  ) {}
}

/** An object that is its own event (a link direction's pump): no closure per schedule. */
export interface Runnable {
  run(): void;
}

/** What the queue holds: a scheduled action, a node timer, or an object that runs itself. */
export type SimEvent = (() => void) | TimerEvent | Runnable;
