import type { TimerId } from '../core/node/io.ts';

/** setTimeout's longest delay; longer timers are re-armed in steps. */
const MAX_DELAY_MS = 2_147_483_647;

/**
 * The machine's timers on real time: `arm` at an absolute time of the node's clock (re-arming
 * replaces), `cancel`, and `clear` on close so that no timer keeps the process alive.
 */
export class RealTimers {
  readonly #now: () => number;
  readonly #fire: (timer: TimerId) => void;
  readonly #handles = new Map<TimerId, NodeJS.Timeout>();

  constructor(now: () => number, fire: (timer: TimerId) => void) {
    this.#now = now;
    this.#fire = fire;
  }

  arm(timer: TimerId, atMs: number): void {
    this.cancel(timer);
    this.#schedule(timer, atMs);
  }

  cancel(timer: TimerId): void {
    const handle = this.#handles.get(timer);
    if (handle === undefined) return;
    clearTimeout(handle);
    this.#handles.delete(timer);
  }

  clear(): void {
    for (const handle of this.#handles.values()) clearTimeout(handle);
    this.#handles.clear();
  }

  get size(): number {
    return this.#handles.size;
  }

  #schedule(timer: TimerId, atMs: number): void {
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, Math.ceil(atMs - this.#now())));
    const handle = setTimeout(() => {
      // setTimeout counts whole ms on its own clock, so it can fire a fraction early: never
      // hand the machine a timer before its time.
      if (this.#now() < atMs) {
        this.#schedule(timer, atMs);
        return;
      }
      this.#handles.delete(timer);
      this.#fire(timer);
    }, delay);
    this.#handles.set(timer, handle);
  }
}
