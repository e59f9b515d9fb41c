import { assert } from '../util/assert.ts';

/**
 * The bytes of the proposals a leader made in its term and has not committed, released in
 * log order as the commit index passes them: Raft's bound on what a leader holds
 * (`maxUncommittedBytes`), and the groups' count of a leader's own calls (its share of that
 * bound). Proposals of an earlier term count for nothing: a leader that stepped down and came
 * back holds none of them as its own.
 */
export class UncommittedProposals {
  /** (last index, bytes) of each proposal, in log order; those before `#head` are released. */
  readonly #proposals: { readonly last: number; readonly bytes: number }[] = [];
  #head = 0;
  #term = 0;
  #bytes = 0;

  /** A proposal of `term` whose entries end at `last`. */
  add(term: number, last: number, bytes: number): void {
    if (term !== this.#term) this.#reset(term);
    this.#proposals.push({ last, bytes });
    this.#bytes += bytes;
  }

  /** The commit index reached `commit`: the proposals it covers are released. */
  commit(commit: number): void {
    const proposals = this.#proposals;
    let head = this.#head;
    for (let p = proposals[head]; p !== undefined && p.last <= commit; p = proposals[++head]) this.#bytes -= p.bytes;
    if (head === proposals.length) {
      proposals.length = 0;
      head = 0;
    } else if (head > 1024 && head * 2 > proposals.length) {
      proposals.splice(0, head); // amortized O(1) a proposal
      head = 0;
    }
    this.#head = head;
    assert(this.#bytes >= 0 && (proposals.length > head || this.#bytes === 0), 'uncommitted bytes match the proposals held');
  }

  /** Bytes held uncommitted in `term` (0 for any other term). */
  bytes(term: number): number {
    return term === this.#term ? this.#bytes : 0;
  }

  /** Forgets every proposal (the node stopped leading, or starts to). */
  clear(): void {
    this.#reset(this.#term);
  }

  #reset(term: number): void {
    this.#proposals.length = 0;
    this.#head = 0;
    this.#term = term;
    this.#bytes = 0;
  }
}
