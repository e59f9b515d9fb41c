/**
 * The simulator's agenda: events ordered by (time, sequence). The sequence number breaks
 * ties in insertion order, so two events at the same virtual millisecond always run in the
 * same order, which is what makes a seed reproduce a run exactly.
 */
export class EventQueue<T> {
  #times: number[] = [];
  #seqs: number[] = [];
  #items: T[] = [];
  #nextSeq = 0;

  get size(): number {
    return this.#items.length;
  }

  push(atMs: number, item: T): void {
    const times = this.#times;
    const seqs = this.#seqs;
    const items = this.#items;
    const seq = this.#nextSeq++;
    let i = items.length;
    times.push(atMs);
    seqs.push(seq);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent] as number;
      if (pt < atMs || (pt === atMs && (seqs[parent] as number) < seq)) break;
      times[i] = pt;
      seqs[i] = seqs[parent] as number;
      items[i] = items[parent] as T;
      i = parent;
    }
    times[i] = atMs;
    seqs[i] = seq;
    items[i] = item;
  }

  /** Time of the next event, or undefined when empty. */
  peekTime(): number | undefined {
    return this.#times[0];
  }

  pop(): T | undefined {
    const items = this.#items;
    if (items.length === 0) return undefined;
    const top = items[0] as T;
    const times = this.#times;
    const seqs = this.#seqs;
    const lastTime = times.pop() as number;
    const lastSeq = seqs.pop() as number;
    const lastItem = items.pop() as T;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        let child = left;
        if (right < n) {
          const lt = times[left] as number;
          const rt = times[right] as number;
          if (rt < lt || (rt === lt && (seqs[right] as number) < (seqs[left] as number))) child = right;
        }
        const ct = times[child] as number;
        if (lastTime < ct || (lastTime === ct && lastSeq < (seqs[child] as number))) break;
        times[i] = ct;
        seqs[i] = seqs[child] as number;
        items[i] = items[child] as T;
        i = child;
      }
      times[i] = lastTime;
      seqs[i] = lastSeq;
      items[i] = lastItem;
    }
    return top;
  }
}
