import type { ApplyContext, StateMachine } from '../../api/groups.ts';

export type CounterCommand = { readonly op: 'inc'; readonly by: number } | { readonly op: 'dec'; readonly by: number };

/** mosaik's test machine: increments and decrements an integer; queries return it. */
export class Counter implements StateMachine<CounterCommand, null, number> {
  readonly signature = 'mosaik-ts/test/counter/1';
  value = 0;
  apply(command: CounterCommand, _ctx: ApplyContext): number {
    this.value += command.op === 'inc' ? command.by : -command.by;
    return this.value;
  }
  query(): number {
    return this.value;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.value));
  }
  restore(snapshot: Uint8Array): void {
    this.value = Number(new TextDecoder().decode(snapshot));
  }
}
