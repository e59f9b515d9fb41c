import type { Network } from '../../api/network.ts';
import { formationHex } from '../../core/groups/formation.ts';
import type { Group } from '../../core/groups/group.ts';
import type { GroupsSubsystem } from '../../core/groups/groups.ts';
import type { GroupId } from '../../core/identity/digest.ts';
import type { NodeEvent } from '../../core/node/io.ts';
import type { Checker, CheckerView } from '../checker.ts';

/**
 * Raft's safety properties, watched from outside through the events every member emits,
 * per group and per formation (two formations are two histories; see core/groups/formation.ts):
 *
 * - election safety: at most one leader per term;
 * - state-machine safety: no two nodes apply different entries at one index (entries are
 *   named by `origin#seq` for commands, so the same command retried is the same entry);
 * - leader completeness: a new leader's log holds every entry applied anywhere before and
 *   known to be committed in an earlier term than its own, with the same term (checked on
 *   its machine when it takes office; compacted prefixes are covered by its snapshot, which
 *   only holds committed entries). An entry was committed in the lowest term any node was in
 *   when it applied it, or earlier: a node learns of a commit only from a leader of the
 *   committing term or a later one. A leader of an older term elected late (its votes
 *   delayed on a slow link) need not hold what a newer term committed, and does not.
 *
 * Log matching for entries not yet applied is left to the property tests of the Raft
 * machine (test/raft), which see every log.
 */
export function raftSafetyChecker(): Checker {
  const name = 'raft-safety';
  const leaders = new Map<string, string>();
  // By group, then formation (two lookups: a key string built per applied entry cost more).
  const applied = new Map<string, Map<string, Map<number, AppliedEntry>>>();
  const history = (group: string, formation: string): Map<number, AppliedEntry> => {
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
        checkLeaderCompleteness(view, net, event.group, history(event.group.hex, event.formation), event.formation, event.term);
      } else if (event.type === 'group.applied') {
        const h = history(event.group.hex, event.formation);
        const seen = h.get(event.index);
        const appliedInTerm = termOf(view, net, event.group, event.formation);
        if (seen === undefined) h.set(event.index, { id: event.id, term: event.term, appliedInTerm });
        else if (appliedInTerm < seen.appliedInTerm) seen.appliedInTerm = appliedInTerm;
        if (seen !== undefined && (seen.id !== event.id || seen.term !== event.term))
          view.violate(
            name,
            `index ${event.index} of group ${event.group.short} (formation ${event.formation}): ${net.peerId.short} applied ${event.id}@t${event.term}, another node ${seen.id}@t${seen.term}`,
          );
      }
    },
  };
}

/** An entry applied somewhere, and the lowest term a node that applied it was in (see above). */
interface AppliedEntry {
  readonly id: string;
  readonly term: number;
  appliedInTerm: number;
}

function groupOn(view: CheckerView, net: Network, group: GroupId): Group | undefined {
  return (view.machineOf(net)?.subsystem('groups') as GroupsSubsystem | undefined)?.group(group);
}

/**
 * The term `net` is in for this group's formation, read when its event is seen: events may
 * wait for storage writes, so this may be later than the apply, never earlier. Infinity if
 * it is in another formation now (a new formation's Raft starts again at term 0).
 */
function termOf(view: CheckerView, net: Network, groupId: GroupId, formation: string): number {
  const group = groupOn(view, net, groupId);
  const current = group?.formation;
  if (group === undefined || current === undefined || formationHex(current) !== formation) return Number.POSITIVE_INFINITY;
  return group.term;
}

function checkLeaderCompleteness(view: CheckerView, net: Network, groupId: GroupId, history: Map<number, AppliedEntry>, formation: string, term: number): void {
  const group = groupOn(view, net, groupId);
  if (group === undefined) return;
  // The log is read now, the event may be older: on storage that takes time to sync, events
  // wait for the writes before them (api/runtime.ts). A leader's log only grows within its
  // term, so while it still leads in that term and formation its log now holds what it
  // held on taking office; once it has moved on, that log is gone and there is nothing to read.
  const current = group.formation;
  if (current === undefined || formationHex(current) !== formation || group.raft.term !== term || group.raft.role !== 'leader') return;
  const log = group.raft.log;
  for (const [index, entry] of history) {
    if (entry.appliedInTerm >= term || index <= log.offset) continue; // maybe committed in its term or later; or in its snapshot
    const held = log.term(index);
    if (held !== entry.term)
      view.violate(
        'raft-safety',
        `leader completeness: new leader ${net.peerId.short} of formation ${formation} (term ${term}) lacks entry ${index} (${entry.id}@t${entry.term}) applied in term ${entry.appliedInTerm}; its log has ${held === undefined ? 'nothing' : `term ${held}`} there`,
      );
  }
}
