import type { ApplyContext, StateMachine } from '../groups/state-machine.ts';
import { bytesEqual, isBytes, isBytesOrNull, opOf, own } from './bytes-key.ts';
import type { Bytes, CellCommand, WriteResult } from './commands.ts';
import { decodeOptionalSnapshot, encodeSnapshot } from './snapshot-codec.ts';

const FORMAT = 'cell/1';

/**
 * The replicated Cell (mosaik `Cell<T>`): one optional encoded value.
 *
 * `cas` compares encoded bytes: `expected` null means "empty". When the comparison holds it
 * swaps (`next` null empties the cell) and resolves `{ swapped: true }`, even when nothing
 * changes (null → null on an empty cell, or `next` equal to the current value); otherwise
 * `{ swapped: false }` and nothing changes. Either way the command is committed.
 */
export class CellMachine implements StateMachine<CellCommand, unknown, unknown> {
  readonly signature: string;
  #value: Bytes | undefined;

  constructor(signature: string) {
    this.signature = signature;
  }

  /** Applies one command: `cas` resolves `{ swapped }`, `write` and `clear` undefined. A malformed command changes nothing; `apply` never throws. */
  apply(command: CellCommand, _ctx?: ApplyContext): WriteResult | undefined {
    const c = command as unknown as Record<string, unknown>;
    switch (opOf(command)) {
      case 'write':
        if (!isBytes(c.v)) return undefined;
        this.#value = own(c.v);
        return undefined;
      case 'clear':
        this.#value = undefined;
        return undefined;
      case 'cas': {
        const { expected, next } = c;
        if (!isBytesOrNull(expected) || !isBytesOrNull(next)) return undefined;
        const current = this.#value;
        const matches = expected === null ? current === undefined : current !== undefined && bytesEqual(current, expected);
        if (!matches) return { swapped: false };
        this.#value = next === null ? undefined : own(next);
        return { swapped: true };
      }
      default:
        return undefined;
    }
  }

  /** Collections read locally; there is no query. */
  query(_query: unknown): undefined {
    return undefined;
  }

  /** The value's bytes (the machine's own: do not mutate), or undefined when empty. */
  read(): Bytes | undefined {
    return this.#value;
  }

  /** msgpack of `["cell/1", []]` or `["cell/1", [v]]`. */
  snapshot(): Uint8Array {
    return encodeSnapshot(FORMAT, this.#value === undefined ? [] : [this.#value]);
  }

  /** Replaces the whole state. Throws (changing nothing) on bytes that are not a cell snapshot. */
  restore(snapshot: Uint8Array): void {
    this.#value = decodeOptionalSnapshot(FORMAT, snapshot);
  }
}
