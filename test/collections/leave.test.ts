import { GroupClosedError } from 'mosaik';
import { describe, expect, it } from 'vitest';
import { setup } from './helpers.ts';

// A collection stays joined for the node's life unless it leaves: `leave()` stops hosting it
// on this node (its group's `leave`), and opening it again joins anew.

describe('collections: leave', () => {
  it('ends every handle of the collection on that node; the others go on; opening it again catches up', async () => {
    await setup(31, 3, async (sim, [a, b, c]) => {
      if (a === undefined || b === undefined || c === undefined) throw new Error('three nodes');
      const [ma, mb, mc] = [a, b, c].map((n) => n.collections.map<string, number>('ledger'));
      const reader = c.collections.map<string, number>('ledger', { reader: true });
      await Promise.all([ma, mb, mc].map((m) => m?.when.online()));
      const v1 = await (ma as NonNullable<typeof ma>).insert('x', 1);
      await mc?.when.reaches(v1);
      expect(reader.get('x')).toBe(1);

      await mc?.leave();
      // The copy it kept, and its version, stay as they were when it left.
      const left = mc?.version ?? 0;
      expect(left).toBeGreaterThanOrEqual(v1);
      expect([mc?.get('x'), reader.version]).toEqual([1, left]);
      await expect(mc?.insert('z', 3)).rejects.toBeInstanceOf(GroupClosedError);
      await expect(reader.when.current()).rejects.toBeInstanceOf(GroupClosedError);
      await mc?.leave(); // again: nothing more to do

      // The other two go on without it, and it sees none of it.
      const v2 = await (mb as NonNullable<typeof mb>).insert('y', 2);
      await ma?.when.reaches(v2);
      await sim.sleep(2_000);
      expect(mc?.get('y')).toBeUndefined();
      expect(mc?.version).toBe(left);

      // Opened again: a new member, which catches up.
      const again = c.collections.map<string, number>('ledger');
      await again.when.online();
      await again.when.reaches(v2);
      expect([again.get('x'), again.get('y')]).toEqual([1, 2]);
      const v3 = await again.insert('w', 4);
      await ma?.when.reaches(v3);
      expect(ma?.get('w')).toBe(4);
    });
  });
});
