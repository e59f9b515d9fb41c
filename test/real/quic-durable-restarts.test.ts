import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Member, until } from './member-process.ts';

// Three member processes on their data directories, a client incrementing a counter through
// them, and every member in turn killed (SIGKILL, mid-write) and restarted on its directory.
// No acknowledged increment may be lost or applied twice, and all end with one value.

const ROUNDS = 4;
const ASK_TIMEOUT_MS = 3_000;

/** `member.ask`, or undefined if the member does not answer in time (it was killed). */
async function askWithin(member: Member, cmd: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => {
    timer = setTimeout(() => r(undefined), ASK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([member.ask(cmd), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a durable group under repeated kills (QUIC, three OS processes)', () => {
  const spawned: Member[] = [];
  const root = mkdtempSync(join(tmpdir(), 'mosaik-durable-restarts-'));

  afterAll(async () => {
    for (const m of spawned) if (m.alive) m.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    rmSync(root, { recursive: true, force: true });
  });

  it('loses no acknowledged write while each member in turn is killed and restarted on its directory', async () => {
    const network = `groups-durable-restarts-${process.pid}`;
    const dirs = [0, 1, 2].map((i) => join(root, `member-${i}`));
    const spawn = (i: number, bootstrap: string | undefined) => {
      const m = new Member(network, bootstrap, undefined, dirs[i]);
      spawned.push(m);
      return m;
    };
    const live: Member[] = [spawn(0, undefined)];
    const firstAddr = await (live[0] as Member).addr;
    live.push(spawn(1, firstAddr), spawn(2, firstAddr));
    await Promise.all(live.map((m) => m.addr));
    await until('a leader with three voters', 30_000, async () => {
      const s = await Promise.all(live.map((m) => m.ask({ cmd: 'status' })));
      return new Set(s.map((x) => x.leader)).size === 1 && s[0]?.leader && s.every((x) => (x.voters as string[]).length === 3) ? true : undefined;
    });

    // The client: increments through whichever members are up, one at a time.
    const results: number[] = [];
    let attempted = 0;
    let stop = false;
    const client = (async () => {
      for (let k = 0; !stop; k++) {
        const via = live[k % live.length];
        if (via === undefined) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        attempted++;
        const r = await askWithin(via, { cmd: 'execute', by: 1 });
        if (r !== undefined && r.error === undefined) results.push(r.result as number);
        else await new Promise((r) => setTimeout(r, 50));
      }
    })();

    for (let round = 0; round < ROUNDS; round++) {
      await new Promise((r) => setTimeout(r, 700));
      const i = round % 3;
      const victim = live[i] as Member;
      victim.child.kill('SIGKILL');
      live.splice(i, 1);
      await until('the victim gone', 5_000, async () => (victim.alive ? undefined : true));
      const back = spawn(i, await (live[0] as Member).addr);
      await back.addr;
      // Back as the member it was: three voters, no learner, caught up with the others.
      await until(`member ${i} back in the group`, 30_000, async () => {
        const s = await askWithin(back, { cmd: 'status' });
        return s?.leader && (s.voters as string[]).length === 3 && (s.learners as string[]).length === 0 ? true : undefined;
      });
      live.splice(i, 0, back);
    }
    stop = true;
    await client;

    // Every acknowledged increment was applied once: the results are distinct counter values,
    // and the final value lies between the acknowledged count and the attempted count.
    expect(results.length).toBeGreaterThan(20);
    expect(new Set(results).size).toBe(results.length);
    const finals = await until('one value everywhere', 20_000, async () => {
      const q = await Promise.all(live.map((m) => askWithin(m, { cmd: 'query', strong: true })));
      const values = new Set(q.map((x) => x?.result));
      return values.size === 1 && q[0]?.result !== undefined ? (q[0].result as number) : undefined;
    });
    expect(finals).toBeGreaterThanOrEqual(Math.max(results.length, ...results));
    expect(finals).toBeLessThanOrEqual(attempted);
  }, 150_000);
});
