import type { ApplyContext, StateMachine } from '../groups/state-machine.ts';
import { isBytes, opOf, own } from './bytes-key.ts';
import type { Bytes, OnceCommand, WriteResult } from './commands.ts';
import { decodeOptionalSnapshot, encodeSnapshot } from './snapshot-codec.ts';

const FORMAT = 'once/1';

/**
 * The replicated Once (mosaik `Once<T>`): a value written at most once. The first committed
 * `write` sets it and resolves `{ swapped: true }`; every later write is committed but changes
 * nothing and resolves `{ swapped: false }` (even when it writes the same bytes).
 */
export class OnceMachine implements StateMachine<OnceCommand, unknown, unknown> {
  readonly signature: string;
  #value: Bytes | undefined;

  constructor(signature: string) {
    this.signature = signature;
  }

  /** Applies one command. A malformed command changes nothing and gives undefined; `apply` never throws. */
  apply(command: OnceCommand, _ctx?: ApplyContext): WriteResult | undefined {
    const c = command as unknown as Record<string, unknown>;
    if (opOf(command) !== 'write' || !isBytes(c.v)) return undefined;
    if (this.#value !== undefined) return { swapped: false };
    this.#value = own(c.v);
    return { swapped: true };
  }

  /** Collections read locally; there is no query. */
  query(_query: unknown): undefined {
    return undefined;
  }

  /** The value's bytes (the machine's own: do not mutate), or undefined before the first write. */
  read(): Bytes | undefined {
    return this.#value;
  }

  /** msgpack of `["once/1", []]` or `["once/1", [v]]`. */
  snapshot(): Uint8Array {
    return encodeSnapshot(FORMAT, this.#value === undefined ? [] : [this.#value]);
  }

  /** Replaces the whole state. Throws (changing nothing) on bytes that are not a once snapshot. */
  restore(snapshot: Uint8Array): void {
    this.#value = decodeOptionalSnapshot(FORMAT, snapshot);
  }
}
