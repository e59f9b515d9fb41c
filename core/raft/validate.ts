import type { RaftMessage } from './types.ts';

/**
 * Why `m` cannot come from a correct peer, or undefined. The wire schema has already checked
 * every field's type and bounds; this checks what the fields claim together: an append's
 * entries follow its `prevIndex` one by one, with terms that never go down and never pass
 * the message's term; a snapshot chunk lies inside its snapshot. Such a message is refused,
 * never stepped: trusting it would break the log's own invariants (which the machine
 * asserts), and a member that sends one is faulty, whatever the cause.
 */
export function malformedRaftMessage(m: RaftMessage): string | undefined {
  switch (m.type) {
    case 'append': {
      if (m.prevTerm > m.term) return `append: prevTerm ${m.prevTerm} above the message term ${m.term}`;
      if (m.prevIndex === 0 && m.prevTerm !== 0) return `append: prevTerm ${m.prevTerm} for index 0`;
      let term = m.prevTerm;
      for (let i = 0; i < m.entries.length; i++) {
        const e = m.entries[i] as (typeof m.entries)[number];
        if (e.index !== m.prevIndex + 1 + i) return `append: entry ${i} has index ${e.index}, expected ${m.prevIndex + 1 + i}`;
        if (e.term < term || e.term > m.term) return `append: entry ${e.index} has term ${e.term}, outside ${term}..${m.term}`;
        term = e.term;
      }
      return undefined;
    }
    case 'snapshot':
      if (m.meta.index === 0) return 'snapshot: at index 0';
      if (m.meta.term > m.term) return `snapshot: term ${m.meta.term} above the message term ${m.term}`;
      if (m.offset + m.chunk.length > m.total) return `snapshot: chunk ${m.offset}+${m.chunk.length} beyond the total ${m.total}`;
      return undefined;
    case 'vote':
      if (m.lastTerm > m.term) return `vote: lastTerm ${m.lastTerm} above the message term ${m.term}`;
      if (m.lastIndex === 0 && m.lastTerm !== 0) return `vote: lastTerm ${m.lastTerm} for index 0`;
      return undefined;
    default:
      return undefined;
  }
}
