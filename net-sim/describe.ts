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

const encoder = new TextEncoder();

/**
 * The binary form of an event for the trace hash: a code, two numbers and some bytes.
 * Frequent events are all numbers and ids; rare ones hash their full text.
 */
export function eventRecord(event: NodeEvent): [code: number, a: number, b: number, bytes: Uint8Array] {
  switch (event.type) {
    case 'link.up':
      return [1, event.link, event.dir === 'in' ? 0 : 1, event.peer.bytes];
    case 'ping.sent':
      return [3, event.id, 0, event.peer.bytes];
    case 'ping.answered':
      return [4, event.id, event.rttMs, event.peer.bytes];
    case 'link.down':
    case 'ping.failed':
      return [event.type === 'link.down' ? 2 : 5, 0, 0, encoder.encode(describeEvent(event))];
  }
}
