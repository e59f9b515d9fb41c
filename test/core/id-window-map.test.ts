import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdWindowMap } from '../../core/util/id-window-map.ts';

type Op =
  | { readonly kind: 'next'; readonly skip: number } // set the next id (ids handed out in order, some never set)
  | { readonly kind: 'reset'; readonly pick: number } // set an id already used again
  | { readonly kind: 'delete'; readonly pick: number }
  | { readonly kind: 'jump'; readonly by: number } // a far id: the window moves and leaves values behind
  | { readonly kind: 'clear' };

const ops: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    { weight: 10, arbitrary: fc.record({ kind: fc.constant('next' as const), skip: fc.oneof(fc.constant(0), fc.nat(3)) }) },
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('reset' as const), pick: fc.nat() }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('jump' as const), by: fc.oneof(fc.integer({ min: 10, max: 80 }), fc.integer({ min: 81, max: 5_000 })) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const) }) },
  ),
  { maxLength: 600 },
);

interface IdMapLike {
  readonly size: number;
  get(id: number): string | undefined;
  has(id: number): boolean;
  set(id: number, value: string): unknown;
  delete(id: number): boolean;
  clear(): void;
  entries(): IterableIterator<[number, string]>;
}

/** Runs `list` on `map` and on a `Map`; returns the first difference (entries compared in increasing id order). */
function difference(map: IdMapLike, list: readonly Op[]): string | undefined {
  const model = new Map<number, string>();
  const used: number[] = [];
  let next = 1;
  for (const op of list) {
    switch (op.kind) {
      case 'next':
      case 'jump': {
        next += op.kind === 'next' ? op.skip : op.by;
        const id = next++;
        used.push(id);
        map.set(id, `v${id}`);
        model.set(id, `v${id}`);
        break;
      }
      case 'reset': {
        if (used.length === 0) break;
        const id = used[op.pick % used.length] as number;
        map.set(id, `w${id}`);
        model.set(id, `w${id}`);
        break;
      }
      case 'delete': {
        if (used.length === 0) break;
        // Mostly recent ids, as replies come back; sometimes an old one.
        const recent = used.slice(-12);
        const id = (op.pick % 5 === 0 ? used[op.pick % used.length] : recent[op.pick % recent.length]) as number;
        const a = map.delete(id);
        const b = model.delete(id);
        if (a !== b) return `delete(${id}) gave ${a}, expected ${b}`;
        break;
      }
      case 'clear':
        map.clear();
        model.clear();
        break;
    }
    if (map.size !== model.size) return `size ${map.size}, expected ${model.size}`;
  }
  for (let id = 0; id <= next; id++) {
    if (map.get(id) !== model.get(id)) return `get(${id}) gave ${map.get(id)}, expected ${model.get(id)}`;
    if (map.has(id) !== model.has(id)) return `has(${id}) gave ${map.has(id)}`;
  }
  const want = [...model].sort((a, b) => a[0] - b[0]);
  const got = [...map.entries()];
  if (JSON.stringify(got) !== JSON.stringify(want)) return `entries ${JSON.stringify(got.slice(0, 8))}…, expected ${JSON.stringify(want.slice(0, 8))}…`;
  return undefined;
}

describe('IdWindowMap', () => {
  it('agrees with a Map under in-order ids, gaps, old ids set again, deletes, far jumps and clears', () => {
    fc.assert(
      fc.property(ops, (list) => {
        expect(difference(new IdWindowMap<string>(), list)).toBeUndefined();
      }),
      { numRuns: 400 },
    );
  });

  it('the check fails on a window that forgets what it leaves behind', () => {
    // Planted: a map that drops every id more than 16 below the newest, as a ring without its side table would.
    class Forgetful implements IdMapLike {
      readonly #map = new Map<number, string>();
      #newest = 0;
      get size(): number {
        this.#forget();
        return this.#map.size;
      }
      get(id: number): string | undefined {
        this.#forget();
        return this.#map.get(id);
      }
      has(id: number): boolean {
        return this.get(id) !== undefined;
      }
      set(id: number, value: string): void {
        this.#newest = Math.max(this.#newest, id);
        this.#map.set(id, value);
      }
      delete(id: number): boolean {
        this.#forget();
        return this.#map.delete(id);
      }
      clear(): void {
        this.#map.clear();
      }
      entries(): IterableIterator<[number, string]> {
        this.#forget();
        return [...this.#map].sort((a, b) => a[0] - b[0])[Symbol.iterator]();
      }
      #forget(): void {
        for (const id of [...this.#map.keys()]) if (id < this.#newest - 16) this.#map.delete(id);
      }
    }
    const result = fc.check(
      fc.property(ops, (list) => difference(new Forgetful(), list) === undefined),
      { numRuns: 400, seed: 11 },
    );
    expect(result.failed).toBe(true);
  });

  it('keeps a straggler while thousands of ids pass it', () => {
    const map = new IdWindowMap<string>();
    map.set(1, 'long-lived');
    for (let id = 2; id < 100_000; id++) {
      map.set(id, 'short');
      map.delete(id);
    }
    expect(map.get(1)).toBe('long-lived');
    expect(map.size).toBe(1);
    expect([...map.entries()]).toEqual([[1, 'long-lived']]);
  });

  it('refuses ids that are not non-negative integers', () => {
    const map = new IdWindowMap<string>();
    expect(() => map.set(-1, 'x')).toThrow(RangeError);
    expect(() => map.set(1.5, 'x')).toThrow(RangeError);
    map.set(1, 'one');
    expect(map.get(1.5)).toBeUndefined();
    expect(map.delete(1.5)).toBe(false);
    expect(map.get(1)).toBe('one');
  });
});
