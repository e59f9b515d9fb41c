import type { Network } from '../../api/network.ts';
import { formationHex } from '../../core/groups/formation.ts';
import type { GroupsSubsystem } from '../../core/groups/groups.ts';
import type { NodeEvent } from '../../core/node/io.ts';
import type { Checker, CheckerView } from '../checker.ts';

/**
 * Raft's safety properties, watched from outside through the events every member emits,
 * per group and per formation (two formations are two histories; see core/groups/formation.ts):
 *
 * - election safety: at most one leader per term;
 * - state-machine safety: no two nodes apply different entries at one index (entries are
 *   named by `origin#seq` for commands, so the same command retried is the same entry);
 * - leader completeness: a new leader's log holds every entry applied anywhere before,
 *   with the same term (checked on its machine when it takes office; compacted prefixes
 *   are covered by its snapshot, which only holds committed entries);
 *
 * Log matching for entries not yet applied is left to the property tests of the Raft
 * machine (test/raft), which see every log.
 */
export function raftSafetyChecker(): Checker {
  const name = 'raft-safety';
  const leaders = new Map<string, string>();
  // By group, then formation (two lookups: a key string built per applied entry cost more).
  const applied = new Map<string, Map<string, Map<number, { id: string; term: number }>>>();
  const history = (group: string, formation: string): Map<number, { id: string; term: number }> => {
    let byFormation = applied.get(group);
    if (byFormation === undefined) {
      byFormation = new Map();
      applied.set(group, byFormation);
    }
    let h = byFormation.get(formation);
    if (h === undefined) {
      h = new Map();
      byFormation.set(formation, h);
    }
    return h;
  };
  return {
    name,
    onEvent(view: CheckerView, net: Network, event: NodeEvent) {
      if (event.type === 'group.role' && event.role === 'leader') {
        const key = `${event.group.hex}/${event.formation}/${event.term}`;
        const me = net.peerId.hex;
        const other = leaders.get(key);
        if (other !== undefined && other !== me)
          view.violate(
            name,
            `two leaders in term ${event.term} of group ${event.group.short} (formation ${event.formation}): ${other.slice(0, 10)} and ${me.slice(0, 10)}`,
          );
        leaders.set(key, me);
        checkLeaderCompleteness(view, net, event.group.hex, history(event.group.hex, event.formation), event.formation, event.term);
      } else if (event.type === 'group.applied') {
        const h = history(event.group.hex, event.formation);
        const seen = h.get(event.index);
        if (seen === undefined) h.set(event.index, { id: event.id, term: event.term });
        else if (seen.id !== event.id || seen.term !== event.term)
          view.violate(
            name,
            `index ${event.index} of group ${event.group.short} (formation ${event.formation}): ${net.peerId.short} applied ${event.id}@t${event.term}, another node ${seen.id}@t${seen.term}`,
          );
      }
    },
  };
}

function checkLeaderCompleteness(
  view: CheckerView,
  net: Network,
  groupHex: string,
  history: Map<number, { id: string; term: number }>,
  formation: string,
  term: number,
): void {
  const machine = view.machineOf(net);
  const groups = machine?.subsystem('groups') as GroupsSubsystem | undefined;
  const group = groups?.groups().find((g) => g.hex === groupHex);
  if (group === undefined) return;
  // The log is read now, the event may be older: on storage that takes time to sync, events
  // wait for the writes before them (api/runtime.ts). A leader's log only grows within its
  // term, so while it still leads in that term and formation its log now holds what it
  // held on taking office; once it has moved on, that log is gone and there is nothing to read.
  const current = group.formation;
  if (current === undefined || formationHex(current) !== formation || group.raft.term !== term || group.raft.role !== 'leader') return;
  const log = group.raft.log;
  for (const [index, { term, id }] of history) {
    if (index <= log.offset) continue;
    const held = log.term(index);
    if (held !== term)
      view.violate(
        'raft-safety',
        `leader completeness: new leader ${net.peerId.short} of formation ${formation} lacks applied entry ${index} (${id}@t${term}); its log has ${held === undefined ? 'nothing' : `term ${held}`} there`,
      );
  }
}
