import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Member, until } from './member-process.ts';

describe('groups over QUIC between three OS processes', () => {
  const members: Member[] = [];

  afterAll(() => {
    for (const m of members) {
      m.child.stdin?.end();
      setTimeout(() => m.alive && m.child.kill('SIGKILL'), 4_000).unref();
    }
  });

  it('elects a leader, executes from a follower, survives killing the leader, answers a strong query, takes the leader back under its key', async () => {
    const network = `groups-three-process-${process.pid}`;
    const seed = (i: number) => `${network}-member-${i}`;
    const first = new Member(network, undefined, seed(0));
    members.push(first);
    const addr = await first.addr;
    members.push(new Member(network, addr, seed(1)), new Member(network, addr, seed(2)));
    await Promise.all(members.map((m) => m.addr));

    // Everyone agrees on one leader with three voters.
    const leader = await until('a leader with three voters', 30_000, async () => {
      const s = await Promise.all(members.map((m) => m.ask({ cmd: 'status' })));
      const leaders = new Set(s.map((x) => x.leader));
      return leaders.size === 1 && s[0]?.leader && s.every((x) => (x.voters as string[]).length === 3) ? (s[0].leader as string) : undefined;
    });
    const statuses = await Promise.all(members.map((m) => m.ask({ cmd: 'status' })));
    const leaderAt = statuses.findIndex((s) => s.isLeader === true);
    expect(leaderAt).toBeGreaterThanOrEqual(0);
    const followers = members.filter((_, i) => i !== leaderAt);

    // A follower's command is forwarded, committed and applied.
    const first5 = await (followers[0] as Member).ask({ cmd: 'execute', by: 5 });
    expect(first5.result).toBe(5);

    // Kill the leader: the two others elect a new one and keep going.
    (members[leaderAt] as Member).child.kill('SIGKILL');
    const next = await until('a new leader', 30_000, async () => {
      const s = await Promise.all(followers.map((m) => m.ask({ cmd: 'status' })));
      const l = s[0]?.leader;
      return l && l !== leader && s.every((x) => x.leader === l) ? l : undefined;
    });
    expect(next).not.toBe(leader);
    const plus7 = await until('an execute after the failover', 20_000, async () => {
      const r = await (followers[1] as Member).ask({ cmd: 'execute', by: 7 });
      return r.error === undefined ? r : undefined;
    });
    expect(plus7.result).toBe(12);
    for (const f of followers) {
      const q = await f.ask({ cmd: 'query', strong: true });
      expect(q.result).toBe(12);
    }

    // The killed process comes back with the same key and empty (in-memory) storage: it joins
    // as a new member, catches up, and its commands count (they were once taken for repeats
    // of its first life's, and it never caught up).
    const back = new Member(network, await (followers[0] as Member).addr, seed(leaderAt));
    members.push(back);
    await back.addr;
    const plus100 = await until('an execute from the restarted member', 30_000, async () => {
      const r = await back.ask({ cmd: 'execute', by: 100 });
      return r.error === undefined ? r : undefined;
    });
    expect(plus100.result).toBe(112);
    expect((await (followers[0] as Member).ask({ cmd: 'query', strong: true })).result).toBe(112);
    await until('three voters again, the restarted member among them', 30_000, async () => {
      const s = await back.ask({ cmd: 'status' });
      // The old identity is out and the new one promoted: three voters, no learner left.
      const voters = s.voters as string[];
      return voters.length === 3 && new Set(voters).size === 3 && (s.learners as string[]).length === 0 && (s.committed as number) >= (plus100.index as number)
        ? s
        : undefined;
    });
  }, 120_000);

  it('comes back whole when every member is killed and restarted on its data directory', async () => {
    const network = `groups-durable-${process.pid}`;
    const root = mkdtempSync(join(tmpdir(), 'mosaik-durable-'));
    const dirs = [0, 1, 2].map((i) => join(root, `member-${i}`));
    try {
      const start = async (bootstrap: string | undefined) => {
        // No key given: each member makes one on first start and keeps it in its directory.
        const first = new Member(network, bootstrap, undefined, dirs[0]);
        const addr = await first.addr;
        const all = [first, new Member(network, addr, undefined, dirs[1]), new Member(network, addr, undefined, dirs[2])];
        members.push(...all);
        await Promise.all(all.map((m) => m.addr));
        return all;
      };
      const threeVoters = (group: Member[], what: string) =>
        until(what, 30_000, async () => {
          const s = await Promise.all(group.map((m) => m.ask({ cmd: 'status' })));
          const leaders = new Set(s.map((x) => x.leader));
          return leaders.size === 1 && s[0]?.leader && s.every((x) => (x.voters as string[]).length === 3 && (x.learners as string[]).length === 0)
            ? s
            : undefined;
        });

      const before = await start(undefined);
      const formed = await threeVoters(before, 'a leader with three voters');
      expect((await (before[0] as Member).ask({ cmd: 'execute', by: 5 })).result).toBe(5);
      const plus7 = await (before[1] as Member).ask({ cmd: 'execute', by: 7 });
      expect(plus7.result).toBe(12);

      // Every process dies at once: in memory, the group and its 12 would be gone.
      for (const m of before) m.child.kill('SIGKILL');
      await until('all three processes gone', 10_000, async () => (before.every((m) => !m.alive) ? true : undefined));

      const after = await start(undefined);
      const reformed = await threeVoters(after, 'a leader with three voters after the restart');
      // The same three peers (keys from the directories) as the same members (no learner, no
      // voter listed twice), with the log they had.
      expect(new Set(reformed[0]?.voters as string[])).toEqual(new Set(formed[0]?.voters as string[]));
      // Every member has the entries; a member may come back knowing an older commit index
      // (it is written along with other writes, not synced on its own) and learns the
      // current one from the new leader.
      await until('every member knows the entries before the kill committed', 20_000, async () => {
        const s = await Promise.all(after.map((m) => m.ask({ cmd: 'status' })));
        return s.every((x) => (x.committed as number) >= (plus7.index as number)) ? true : undefined;
      });
      const plus100 = await until('an execute after the restart', 20_000, async () => {
        const r = await (after[2] as Member).ask({ cmd: 'execute', by: 100 });
        return r.error === undefined ? r : undefined;
      });
      expect(plus100.result).toBe(112);
      expect((plus100.index as number) > (plus7.index as number)).toBe(true);
      for (const m of after) expect((await m.ask({ cmd: 'query', strong: true })).result).toBe(112);
    } finally {
      for (const m of members) m.alive && m.child.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});
