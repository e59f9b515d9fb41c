import type { ApplyContext, StateMachine } from '../../api/groups.ts';

/** The benches' state machine: adds each command (a number) to a counter; a query returns it. */
export class Counter implements StateMachine<number, null, number> {
  readonly signature = 'mosaik-ts/bench/counter/1';
  value = 0;
  apply(by: number, _ctx: ApplyContext): number {
    this.value += by;
    return this.value;
  }
  query(): number {
    return this.value;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.value));
  }
  restore(s: Uint8Array): void {
    this.value = Number(new TextDecoder().decode(s));
  }
}
