import type { NodeEvent } from '../core/node/io.ts';
import { closeCodeName } from '../core/wire/close-codes.ts';

/** A stable one-line text of an event for the trace: ids shortened, fields in fixed order. */
export function describeEvent(event: NodeEvent): string {
  switch (event.type) {
    case 'link.up':
      return `${event.type} L${event.link} ${event.dir} ${event.peer.short} ${event.protocol}`;
    case 'link.down':
      return `${event.type} L${event.link} ${event.peer.short} ${closeCodeName(event.code)} by=${event.by}`;
    case 'ping.sent':
      return `${event.type} #${event.id} ${event.peer.short}`;
    case 'ping.answered':
      return `${event.type} #${event.id} ${event.peer.short} rtt=${event.rttMs}`;
    case 'ping.failed':
      return `${event.type} #${event.id} ${event.peer.short} ${event.error}`;
  }
}
