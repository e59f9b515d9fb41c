/**
 * The bytes of a leader's own calls it proposed in its term and has not committed: what
 * keeps it to its share of `maxUncommittedBytes` while followers wait for room. Entries of
 * an earlier term count for nothing (a leader that stepped down and came back holds none of
 * them as its own proposals).
 */
export class OwnUncommitted {
  /** (last index, bytes) of each proposal, in log order; those before `#head` are released. */
  readonly #proposals: { last: number; bytes: number }[] = [];
  #head = 0;
  #term = 0;
  #bytes = 0;

  /** A proposal of this term whose entries end at `last`. */
  add(term: number, last: number, bytes: number): void {
    if (term !== this.#term) this.#reset(term);
    this.#proposals.push({ last, bytes });
    this.#bytes += bytes;
  }

  /** The commit index reached `commit`: the proposals it covers are released. */
  commit(commit: number): void {
    const proposals = this.#proposals;
    while (this.#head < proposals.length && (proposals[this.#head] as { last: number }).last <= commit) {
      this.#bytes -= (proposals[this.#head] as { bytes: number }).bytes;
      this.#head++;
    }
    if (this.#head === proposals.length) this.#reset(this.#term);
    else if (this.#head > 1024 && this.#head * 2 > proposals.length) {
      proposals.splice(0, this.#head); // amortized O(1) a proposal
      this.#head = 0;
    }
  }

  /** Bytes held uncommitted in `term` (0 for any other term). */
  bytes(term: number): number {
    return term === this.#term ? this.#bytes : 0;
  }

  #reset(term: number): void {
    this.#proposals.length = 0;
    this.#head = 0;
    this.#term = term;
    this.#bytes = 0;
  }
}
