import type { Network } from '../api/network.ts';
import type { NodeEvent } from '../core/node/io.ts';
import type { NodeMachine } from '../core/node/node.ts';

/** A broken invariant, with the virtual time it was seen. */
export interface Violation {
  readonly checker: string;
  readonly atMs: number;
  readonly message: string;
}

/** What a checker can see of the simulation. */
export interface CheckerView {
  readonly nowMs: number;
  readonly networks: readonly Network[];
  isUp(net: Network): boolean;
  /** The node's running machine (undefined while it is down), for checkers that inspect state. */
  machineOf(net: Network): NodeMachine | undefined;
  /** Records a violation; the run's result is then not ok. */
  violate(checker: string, message: string): void;
}

/**
 * An invariant watched from outside the machines, TigerBeetle style: it sees every emitted
 * event as it happens (`onEvent`) and gets a last look when the run ends (`finish`).
 * Checkers must not change the simulation; they only observe and report.
 */
export interface Checker {
  readonly name: string;
  onEvent?(view: CheckerView, net: Network, event: NodeEvent): void;
  finish?(view: CheckerView): void;
}
