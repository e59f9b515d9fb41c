import { blake3 } from '@noble/hashes/blake3.js';
import { bytesToHex } from '../core/util/bytes.ts';

/**
 * The record of a run: every delivery, dial, close, timer, fault and emitted event, as one
 * text line each (`<ms> <kind> <details>`), hashed with blake3 as it is written. Two runs
 * with the same seed and code produce the same hash; the first differing line is where they
 * diverged. Lines are kept in memory only when asked for (`--trace FILE`, `sim.trace`).
 */
export class Trace {
  readonly #hasher = blake3.create();
  readonly #encoder = new TextEncoder();
  readonly #lines: string[] | undefined;
  #count = 0;

  constructor(options: { keepLines: boolean }) {
    this.#lines = options.keepLines ? [] : undefined;
  }

  record(nowMs: number, line: string, body?: Uint8Array): void {
    const text = `${nowMs} ${line}\n`;
    this.#hasher.update(this.#encoder.encode(text));
    if (body) this.#hasher.update(body);
    this.#lines?.push(text.slice(0, -1));
    this.#count++;
  }

  /** Number of records so far. */
  get count(): number {
    return this.#count;
  }

  /** blake3 of everything recorded so far, as 64 hex characters. */
  get hash(): string {
    return bytesToHex(this.#hasher.clone().digest());
  }

  /** The recorded lines, when the trace keeps them. */
  get lines(): readonly string[] {
    return this.#lines ?? [];
  }
}
