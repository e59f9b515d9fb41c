import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/group-member.ts', import.meta.url));

/** A member process and a line-based request/response channel to it. */
class Member {
  readonly child: ChildProcess;
  readonly addr: Promise<string>;
  #next = 1;
  readonly #waiting = new Map<number, (reply: Record<string, unknown>) => void>();

  constructor(network: string, bootstrap?: string) {
    this.child = spawn(process.execPath, ['--import', 'tsx', fixture, network, ...(bootstrap ? [bootstrap] : [])], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let resolveAddr: (a: string) => void = () => {};
    this.addr = new Promise((r) => {
      resolveAddr = r;
    });
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!line.startsWith('{')) {
        if (line.includes('@')) resolveAddr(line.trim());
        return;
      }
      const reply = JSON.parse(line) as Record<string, unknown>;
      this.#waiting.get(reply.id as number)?.(reply);
      this.#waiting.delete(reply.id as number);
    });
  }

  ask(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.child.stdin?.write(`${JSON.stringify({ id, ...cmd })}\n`);
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
}

/** Polls `f` every 100 ms until it returns a value, or fails after `ms`. */
async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('groups over QUIC between three OS processes', () => {
  const members: Member[] = [];

  afterAll(() => {
    for (const m of members) {
      m.child.stdin?.end();
      setTimeout(() => m.alive && m.child.kill('SIGKILL'), 4_000).unref();
    }
  });

  it('elects a leader, executes from a follower, survives killing the leader, answers a strong query', async () => {
    const network = `groups-three-process-${process.pid}`;
    const first = new Member(network);
    members.push(first);
    const addr = await first.addr;
    members.push(new Member(network, addr), new Member(network, addr));
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
  }, 90_000);
});
