import type { NodeEvent } from '../core/node/io.ts';
import { describeEvent } from './describe.ts';
import { createTraceHasher, type TraceHasher } from './trace-hasher.ts';

/** Codes of the hot-path records, hashed in binary form. */
export const TraceKind = {
  note: 1,
  deliver: 2,
  dial: 3,
  accept: 5,
  open: 6,
  closed: 7,
  close: 9,
  timer: 10,
  persist: 11,
  event: 12,
  sync: 13,
} as const;
export type TraceKind = (typeof TraceKind)[keyof typeof TraceKind];

const BUFFER_BYTES = 64 * 1024;
/** The most a record's header takes: its kind and six numbers of up to nine bytes each. */
const MAX_HEADER_BYTES = 1 + 6 * 9;
/** Peer ids in events are hashed by their first bytes: 64 random bits tell peers apart. */
export const ID_PREFIX_BYTES = 8;
const encoder = new TextEncoder();

/**
 * The record of a run: every delivery, dial, close, timer, fault and emitted event. Each
 * record is hashed (blake3) in a compact binary form as it is written; two runs with the
 * same seed and code produce the same hash. A text line per record (`<ms> <what>`) is
 * built only when the trace is kept (`--trace FILE`, `sim.trace`): the first differing
 * line of two kept traces is where two runs diverged.
 *
 * The hashed form of a record: its kind (a byte); the time since the previous record, its
 * four numbers and its byte count, each as a compact number; then the bytes. A compact
 * number is one byte for 0-239, else a tag byte and a big-endian u16 (240), u32 (241) or
 * float64 (242, for anything else). The form is prefix-free, so two different runs never
 * feed the hash the same input. The form is small because the WebAssembly blake3 costs ~20
 * instructions a byte: with 45 bytes of header a record, hashing was three quarters of what
 * the trace cost a simulated message (docs/benchmarks.md). Where the native blake3 loads
 * (net-sim/trace-hasher.ts) a byte costs a tenth of that; the hash is the same.
 */
export class Trace {
  readonly #lines: string[] | undefined;
  readonly #hasher: TraceHasher = createTraceHasher();
  readonly #buffer = new Uint8Array(BUFFER_BYTES);
  readonly #view = new DataView(this.#buffer.buffer);
  #length = 0;
  #count = 0;
  #lastMs = 0;

  constructor(options: { keepLines: boolean }) {
    this.#lines = options.keepLines ? [] : undefined;
  }

  /**
   * A record: a kind, four numbers and optional bytes (a frame body, a peer id) are hashed,
   * of the bytes only the first `hashed` (all by default); `detail` (an event, a key, a
   * note's text) only feeds the text line, when lines are kept.
   */
  record(
    nowMs: number,
    kind: TraceKind,
    a: number,
    b: number,
    c: number,
    d: number,
    bytes?: Uint8Array,
    detail?: unknown,
    hashed = bytes === undefined ? 0 : bytes.length,
  ): void {
    this.#count++;
    const count = bytes === undefined ? 0 : Math.min(hashed, bytes.length);
    if (this.#length + MAX_HEADER_BYTES + count > BUFFER_BYTES) this.#flush();
    const buffer = this.#buffer;
    const view = this.#view;
    let at = this.#length;
    buffer[at++] = kind;
    at = writeNumber(buffer, view, at, nowMs - this.#lastMs);
    this.#lastMs = nowMs;
    at = writeNumber(buffer, view, at, a);
    at = writeNumber(buffer, view, at, b);
    at = writeNumber(buffer, view, at, c);
    at = writeNumber(buffer, view, at, d);
    at = writeNumber(buffer, view, at, count);
    if (count > 0) {
      const body = bytes as Uint8Array;
      if (at + count > BUFFER_BYTES) {
        this.#length = at;
        this.#flush();
        this.#hash(count === body.length ? body : body.subarray(0, count));
        at = 0;
      } else if (count <= 16) {
        // A few bytes (an id's prefix) by hand: `set` is a builtin call.
        for (let i = 0; i < count; i++) buffer[at + i] = body[i] as number;
        at += count;
      } else {
        buffer.set(count === body.length ? body : body.subarray(0, count), at);
        at += count;
      }
    }
    this.#length = at;
    this.#lines?.push(`${nowMs} ${formatRecord(kind, a, b, c, d, bytes, detail)}`);
  }

  /** A rare record given as text (faults, node creation): hashed as its UTF-8 bytes. */
  note(nowMs: number, text: string): void {
    this.record(nowMs, TraceKind.note, 0, 0, 0, 0, encoder.encode(text), text);
  }

  /** Number of records so far. */
  get count(): number {
    return this.#count;
  }

  /** blake3 of everything recorded so far, as 64 hex characters. */
  get hash(): string {
    this.#flush();
    return this.#hasher.hex();
  }

  /** The recorded lines, when the trace keeps them. */
  get lines(): readonly string[] {
    return this.#lines ?? [];
  }

  #flush(): void {
    if (this.#length === 0) return;
    this.#hash(this.#buffer.subarray(0, this.#length));
    this.#length = 0;
  }

  #hash(bytes: Uint8Array): void {
    this.#hasher.update(bytes);
  }
}

/** Writes `n` at `at` as a compact number (see `Trace`); returns where the next byte goes. */
export function writeNumber(buffer: Uint8Array, view: DataView, at: number, n: number): number {
  if ((n | 0) === n && n >= 0) {
    if (n < 240) {
      buffer[at] = n;
      return at + 1;
    }
    if (n < 0x10000) {
      buffer[at] = 240;
      buffer[at + 1] = n >>> 8;
      buffer[at + 2] = n & 0xff;
      return at + 3;
    }
  }
  if (n >= 0 && n <= 0xffff_ffff && Math.floor(n) === n) {
    buffer[at] = 241;
    view.setUint32(at + 1, n);
    return at + 5;
  }
  buffer[at] = 242;
  view.setFloat64(at + 1, n);
  return at + 9;
}

/** The text line of a record, for people reading a kept trace. */
function formatRecord(kind: TraceKind, a: number, b: number, c: number, d: number, bytes: Uint8Array | undefined, detail: unknown): string {
  switch (kind) {
    case TraceKind.note:
      return String(detail);
    case TraceKind.deliver:
      return `deliver L${a} n${b}>n${c} #${d} ${bytes?.length ?? 0}B`;
    case TraceKind.dial:
      return `dial n${a}/${b} -> ${c >= 0 ? `n${c}` : '(no such node)'}`;
    case TraceKind.accept:
      return `accept n${a}/${b} <- n${c} L${d}`;
    case TraceKind.open:
      return `open n${a}/${b} L${c}`;
    case TraceKind.closed:
      return `closed n${a}/${b} L${c} code=${d}`;
    case TraceKind.close:
      return `close n${a}/${b} code=${c}`;
    case TraceKind.timer:
      return `timer n${a} T${b}`;
    case TraceKind.persist:
      return `persist n${a} ${String(detail)} ${bytes ? `${bytes.length}B` : 'deleted'}`;
    case TraceKind.event:
      return `n${a} ${describeEvent(detail as NodeEvent)}`;
    case TraceKind.sync:
      return `sync n${a} ${b} writes${c ? ' LOST (crashed first)' : ''}`;
    default:
      return `kind${kind} ${a} ${b} ${c} ${d}`;
  }
}
