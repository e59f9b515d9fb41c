import { describe, expect, it } from 'vitest';
import { sendSplitting } from '../../core/discovery/announce-mesh.ts';
import { ClosedError, OversizedError } from '../../core/errors.ts';
import type { GossipMessage } from '../../core/gossip/messages.ts';
import type { NodeContext } from '../../core/node/subsystem.ts';

// A neighbor link carries up to 64 gossip messages a frame; 64 full messages are more than
// the smallest frame a node may set. A batch the link cannot carry goes out in halves.

/** A context whose links carry at most `most` messages a frame; it records what was sent. */
function linkOf(most: number, closedAfter = Number.POSITIVE_INFINITY): { ctx: NodeContext; frames: number[][] } {
  const frames: number[][] = [];
  const ctx = {
    send(_link: number, batch: readonly number[]) {
      if (frames.length >= closedAfter) return new ClosedError('link closed');
      if (batch.length > most) return new OversizedError(batch.length, most);
      frames.push([...batch]);
      return undefined;
    },
  } as unknown as NodeContext;
  return { ctx, frames };
}

const batch = (n: number) => Array.from({ length: n }, (_, i) => i) as unknown as GossipMessage[];

describe('announce batches larger than the link carries', () => {
  it('go out in halves, every message once, in order', () => {
    for (const [n, most] of [
      [64, 64],
      [64, 10],
      [37, 1],
      [5, 4],
    ] as const) {
      const { ctx, frames } = linkOf(most);
      expect(sendSplitting(ctx, 1, batch(n))).toBeUndefined();
      expect(frames.flat()).toEqual(batch(n));
      for (const f of frames) expect(f.length).toBeLessThanOrEqual(most);
      if (n <= most) expect(frames).toHaveLength(1);
    }
  });

  it('stop at another error, and report it', () => {
    const { ctx, frames } = linkOf(8, 2);
    expect(sendSplitting(ctx, 1, batch(64))).toBeInstanceOf(ClosedError);
    expect(frames.flat()).toEqual(batch(16));
  });

  it('report a single message the link cannot carry', () => {
    const { ctx } = linkOf(0);
    expect(sendSplitting(ctx, 1, batch(3))).toBeInstanceOf(OversizedError);
  });
});
