import { createBLAKE3 } from 'hash-wasm';
import type { NodeEvent } from '../core/node/io.ts';
import { describeEvent } from './describe.ts';

// One WebAssembly blake3 instance serves every trace: each Trace keeps its own saved state
// and loads it around each flush. (@noble's pure-JS blake3 runs at ~25 MB/s here, which
// would make hashing the trace the simulator's main cost; this one runs at ~300 MB/s.)
const wasm = await createBLAKE3();
wasm.init();
const EMPTY_STATE = wasm.save();

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
const encoder = new TextEncoder();

/**
 * The record of a run: every delivery, dial, close, timer, fault and emitted event. Each
 * record is hashed (blake3) in a compact binary form as it is written; two runs with the
 * same seed and code produce the same hash. A text line per record (`<ms> <what>`) is
 * built only when the trace is kept (`--trace FILE`, `sim.trace`): the first differing
 * line of two kept traces is where two runs diverged.
 */
export class Trace {
  readonly #lines: string[] | undefined;
  #state: Uint8Array = EMPTY_STATE;
  readonly #buffer = new Uint8Array(BUFFER_BYTES);
  readonly #view = new DataView(this.#buffer.buffer);
  #length = 0;
  #count = 0;

  constructor(options: { keepLines: boolean }) {
    this.#lines = options.keepLines ? [] : undefined;
  }

  /**
   * A record: a kind, four numbers and optional bytes (a frame body, a peer id) are hashed;
   * `detail` (an event, a key, a note's text) only feeds the text line, when lines are kept.
   */
  record(nowMs: number, kind: TraceKind, a: number, b: number, c: number, d: number, bytes?: Uint8Array, detail?: unknown): void {
    this.#count++;
    const size = 1 + 5 * 8 + 4 + (bytes?.length ?? 0);
    if (this.#length + size > BUFFER_BYTES) this.#flush();
    if (size > BUFFER_BYTES) {
      this.#writeHeader(nowMs, kind, a, b, c, d, bytes?.length ?? 0);
      this.#flush();
      this.#hash(bytes as Uint8Array);
    } else {
      this.#writeHeader(nowMs, kind, a, b, c, d, bytes?.length ?? 0);
      if (bytes) {
        this.#buffer.set(bytes, this.#length);
        this.#length += bytes.length;
      }
    }
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
    wasm.load(this.#state);
    return wasm.digest('hex');
  }

  /** The recorded lines, when the trace keeps them. */
  get lines(): readonly string[] {
    return this.#lines ?? [];
  }

  #writeHeader(nowMs: number, kind: TraceKind, a: number, b: number, c: number, d: number, byteCount: number): void {
    const view = this.#view;
    let at = this.#length;
    view.setUint8(at, kind);
    view.setFloat64(at + 1, nowMs);
    view.setFloat64(at + 9, a);
    view.setFloat64(at + 17, b);
    view.setFloat64(at + 25, c);
    view.setFloat64(at + 33, d);
    view.setUint32(at + 41, byteCount);
    at += 45;
    this.#length = at;
  }

  #flush(): void {
    if (this.#length === 0) return;
    this.#hash(this.#buffer.subarray(0, this.#length));
    this.#length = 0;
  }

  #hash(bytes: Uint8Array): void {
    wasm.load(this.#state);
    wasm.update(bytes);
    this.#state = wasm.save();
  }
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
