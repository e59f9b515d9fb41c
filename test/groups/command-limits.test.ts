import { type ApplyContext, type DatumCodec, type Group, type GroupId, InvalidArgumentError, OversizedError, type StateMachine } from 'mosaik';
import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { COMMAND_OVERHEAD_BYTES, commandBudget, MAX_BATCH } from '../../core/groups/limits.ts';
import { DEFAULT_MAX_FRAME_BYTES, MIN_MAX_FRAME_BYTES } from '../../core/wire/codec.ts';
import { GroupWatch } from './helpers.ts';

// What a call may hand a group (core/groups/limits.ts). A call whose commands could not
// travel in one frame used to be proposed anyway: its forward or append was dropped as
// oversized, sent again, dropped again, and the call, and every call after it on the group,
// never returned. Now such a call is refused with a typed error before anything is proposed,
// and appends are cut by size, so a follower can always catch up.

/** Commands are raw bytes: a payload of n bytes is a command of n bytes. */
const raw: DatumCodec<Uint8Array> = { encode: (b) => b, decode: (b) => b };

/** Keeps the size of each command it applied. */
class Sizes implements StateMachine<Uint8Array, null, number[]> {
  readonly signature: string = 'test/command-limits/1';
  sizes: number[] = [];
  apply(command: Uint8Array, _ctx: ApplyContext): number {
    this.sizes.push(command.length);
    return command.length;
  }
  query(): number[] {
    return this.sizes;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.sizes));
  }
  restore(snapshot: Uint8Array): void {
    this.sizes = JSON.parse(new TextDecoder().decode(snapshot)) as number[];
  }
}

const MAX_FRAME = 1 << 20;
/** The largest command one call takes on nodes with `MAX_FRAME`. */
const LARGEST = commandBudget(MAX_FRAME) - COMMAND_OVERHEAD_BYTES;

type Setup = { sim: Simulation; nets: Network[]; machines: Sizes[]; watch: GroupWatch };

function setup(seed: number, maxFrameBytes = MAX_FRAME): Setup {
  const sim = new Simulation({ seed });
  const watch = new GroupWatch(sim);
  const a = sim.node({ network: 'command-limits', maxFrameBytes });
  const others = [1, 2].map(() => sim.node({ network: 'command-limits', maxFrameBytes, bootstrap: [a.addr] }));
  const nets = [a, ...others];
  return { sim, nets, machines: nets.map(() => new Sizes()), watch };
}

function join(
  s: Setup,
  machines: readonly StateMachine<Uint8Array, null, number[]>[] = s.machines,
  snapshotEveryEntries?: number,
): Group<Uint8Array, null, number[]>[] {
  return s.nets.map((net, i) =>
    net.groups.join({
      key: 'limits',
      machine: machines[i] as Sizes,
      codec: raw,
      bootstrapExpect: 3,
      ...(snapshotEveryEntries !== undefined && { consensus: { snapshotEveryEntries } }),
    }),
  );
}

/** Keeps every command it applied, bytes and all: its snapshot is as large as the commands. */
class Kept extends Sizes {
  override readonly signature = 'test/command-limits/kept';
  kept: Uint8Array[] = [];
  override apply(command: Uint8Array, ctx: ApplyContext): number {
    this.kept.push(command.slice());
    return super.apply(command, ctx);
  }
  override snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.kept.map((k) => Buffer.from(k).toString('base64'))));
  }
  override restore(snapshot: Uint8Array): void {
    this.kept = (JSON.parse(new TextDecoder().decode(snapshot)) as string[]).map((k) => new Uint8Array(Buffer.from(k, 'base64')));
    this.sizes = this.kept.map((k) => k.length);
  }
}

/** The leader's and one follower's handles, once a leader is known to all. */
async function roles(
  groups: Group<Uint8Array, null, number[]>[],
): Promise<{ leader: Group<Uint8Array, null, number[]>; follower: Group<Uint8Array, null, number[]> }> {
  await Promise.all(groups.map((g) => g.when.online()));
  const leader = groups.find((g) => g.isLeader);
  const follower = groups.find((g) => !g.isLeader);
  if (leader === undefined || follower === undefined) throw new Error('no leader and follower');
  return { leader, follower };
}

const bytes = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill);

describe('what one call may hand a group', () => {
  it('the largest command goes through from a follower; one byte more is refused with OversizedError, nothing proposed, the group goes on', async () => {
    const s = setup(1);
    await s.sim.run(async () => {
      const groups = join(s);
      const { leader, follower } = await roles(groups);
      expect((await follower.execute(bytes(LARGEST))).result).toBe(LARGEST);
      for (const g of [follower, leader]) {
        const before = g.committed;
        const refused = await g.execute(bytes(LARGEST + 1)).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(OversizedError);
        expect(refused).toMatchObject({ sizeBytes: LARGEST + 1 + COMMAND_OVERHEAD_BYTES, maxBytes: commandBudget(MAX_FRAME) });
        await expect(g.feed(bytes(LARGEST + 1))).rejects.toBeInstanceOf(OversizedError);
        expect(g.committed).toBe(before);
      }
      expect((await follower.execute(bytes(10))).result).toBe(10);
      await s.sim.sleep(500);
      for (const m of s.machines) expect(m.sizes).toEqual([LARGEST, 10]);
    });
    s.watch.expectSafe();
  });

  it(`executeMany: ${MAX_BATCH} commands go through from a follower; more, or more bytes than a frame, are refused`, async () => {
    const s = setup(2);
    await s.sim.run(async () => {
      const { follower } = await roles(join(s));
      const many = await follower.executeMany(Array.from({ length: MAX_BATCH }, () => bytes(1)));
      expect(many.range.end - many.range.start + 1).toBe(MAX_BATCH);
      await expect(follower.executeMany(Array.from({ length: MAX_BATCH + 1 }, () => bytes(1)))).rejects.toBeInstanceOf(InvalidArgumentError);
      // Each fits alone; together they do not.
      await expect(follower.executeMany([bytes(LARGEST / 2), bytes(LARGEST / 2), bytes(LARGEST / 2)])).rejects.toBeInstanceOf(OversizedError);
      expect((await follower.execute(bytes(3))).result).toBe(3);
      await s.sim.sleep(500);
      for (const m of s.machines) expect(m.sizes).toHaveLength(MAX_BATCH + 1);
    });
    s.watch.expectSafe();
  });

  it('a follower that was down while many large commands committed catches up, appends cut to size', async () => {
    const s = setup(3);
    await s.sim.run(async () => {
      const groups = join(s);
      const { leader } = await roles(groups);
      const down = s.nets[groups.findIndex((g) => !g.isLeader)] as Network;
      s.sim.crash(down);
      // 64 entries of a fifth of a frame: one append of all of them would be 13 frames.
      const size = Math.floor(LARGEST / 5);
      await Promise.all(Array.from({ length: 64 }, (_, i) => leader.execute(bytes(size, i))));
      s.sim.restart(down);
      const all = Array.from({ length: 64 }, () => size);
      for (let waited = 0; waited < 20_000 && s.machines.some((m) => m.sizes.length < 64); waited += 250) await s.sim.sleep(250);
      for (const m of s.machines) expect(m.sizes).toEqual(all);
    });
    s.watch.expectSafe();
  });
});

describe("members' frame limits", () => {
  it('with the smallest frame limit on every member, a follower that was down catches up from a snapshot many frames large', async () => {
    // The default chunk (256 KiB) is larger than such a frame: chunks used to be refused by
    // every receiver, and the follower never caught up. Chunks are now half a frame at most.
    const s = setup(4, MIN_MAX_FRAME_BYTES);
    const kept = s.nets.map(() => new Kept());
    await s.sim.run(async () => {
      const groups = join(s, kept, 5);
      const { leader } = await roles(groups);
      const downAt = groups.findIndex((g) => !g.isLeader);
      s.sim.crash(s.nets[downAt] as Network);
      const size = 60_000;
      for (let i = 0; i < 12; i++) await leader.execute(bytes(size, i));
      s.sim.restart(s.nets[downAt] as Network);
      const down = kept[downAt] as Kept;
      for (let waited = 0; waited < 20_000 && down.kept.length < 12; waited += 250) await s.sim.sleep(250);
      expect(down.snapshot().length).toBeGreaterThan(6 * MIN_MAX_FRAME_BYTES);
      for (const k of kept) expect(k.kept).toEqual(Array.from({ length: 12 }, (_, i) => bytes(size, i)));
    });
    s.watch.expectSafe();
  });

  it('a node whose frame limit is below the default is in a group of its own limit: another id, never bonded with the others', async () => {
    const sim = new Simulation({ seed: 5 });
    await sim.run(async () => {
      const a = sim.node({ network: 'frame-limits' });
      const b = sim.node({ network: 'frame-limits', bootstrap: [a.addr], maxFrameBytes: 2 * DEFAULT_MAX_FRAME_BYTES });
      const small = sim.node({ network: 'frame-limits', bootstrap: [a.addr], maxFrameBytes: MIN_MAX_FRAME_BYTES });
      const options = { key: 'frames', machine: new Sizes(), codec: raw };
      // A limit at or above the default leaves the id as it was.
      expect(b.groups.idOf(options).equals(a.groups.idOf(options))).toBe(true);
      expect(small.groups.idOf(options).equals(a.groups.idOf(options))).toBe(false);
      const [ga, gb, gs] = [a, b, small].map((n) => n.groups.join({ ...options, machine: new Sizes() }));
      await (ga as Group<Uint8Array, null, number[]>).when.online();
      for (let waited = 0; waited < 20_000 && ga?.members().voters.length !== 2; waited += 250) await sim.sleep(250);
      await sim.sleep(5_000);
      expect(ga?.members().voters.slice().sort()).toEqual([a.peerId.hex, b.peerId.hex].sort());
      expect(gs?.members().voters).toEqual([small.peerId.hex]);
      expect(gs?.members().bonds).toEqual([]);
      expect(gs?.id.equals(gb?.id as GroupId)).toBe(false);
    });
  });
});
