/**
 * A replicated key-value store on three simulated nodes: they find each other, form a Raft
 * group and elect a leader; the leader is cut off mid-run, the other two elect another and
 * go on taking writes; the partition heals and every replica ends with the same state.
 * Raft's safety checker watches every node throughout, and the run is one seed: run it
 * again and the trace hash is the same.
 *
 *   npx tsx examples/groups-sim.ts [seed]
 *
 * The same `StateMachine` and calls run on a real network with `Network.create`
 * (test/real/quic-groups.test.ts does it between OS processes).
 */
import { type ApplyContext, type Group, OfflineError, type StateMachine, TimeoutError } from 'mosaik';
import { raftSafetyChecker, Simulation } from 'mosaik/sim';

type Command = { readonly op: 'put'; readonly key: string; readonly value: string } | { readonly op: 'delete'; readonly key: string };

/** Deterministic: the same commands in the same order give the same map on every node. */
class KvStore implements StateMachine<Command, string, string | undefined> {
  readonly signature = 'examples/kv/1'; // part of the group id: members must run the same machine
  #map = new Map<string, string>();
  apply(command: Command, _ctx: ApplyContext): number {
    if (command.op === 'put') this.#map.set(command.key, command.value);
    else this.#map.delete(command.key);
    return this.#map.size;
  }
  query(key: string): string | undefined {
    return this.#map.get(key);
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify([...this.#map]));
  }
  restore(snapshot: Uint8Array): void {
    this.#map = new Map(JSON.parse(new TextDecoder().decode(snapshot)) as [string, string][]);
  }
  dump(): string {
    return JSON.stringify([...this.#map].sort());
  }
}

const seed = Number(process.argv[2] ?? 1);
const sim = new Simulation({ seed });
sim.addChecker(raftSafetyChecker());
const a = sim.node({ network: 'kv' });
const b = sim.node({ network: 'kv', bootstrap: [a.addr] });
const c = sim.node({ network: 'kv', bootstrap: [a.addr] });
const nets = [a, b, c];
const machines = nets.map(() => new KvStore());

/** Waits in virtual time until `test` holds. */
async function until(test: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !test(); waited += 50) {
    if (waited > 60_000) throw new Error(`no ${what} within a minute`);
    await sim.sleep(50);
  }
}

/** `list[i]` for an index the code just found. */
function nth<T>(list: readonly T[], i: number): T {
  const item = list[i];
  if (item === undefined) throw new Error(`no item ${i}`);
  return item;
}

/** A call that met no leader (an election under way) is safe to retry: it never reached one. */
async function retrying<T>(call: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (e) {
      if (!(e instanceof OfflineError)) throw e;
      await sim.sleep(100);
    }
  }
}

await sim.run(async () => {
  const groups: Group<Command, string, string | undefined>[] = nets.map((net, i) =>
    net.groups.join({ key: 'kv-example', machine: nth(machines, i), bootstrapExpect: 3 }),
  );
  await until(() => groups.every((g) => g.members().voters.length === 3 && g.leader !== undefined), 'three voters and a leader');
  const first = groups.findIndex((g) => g.isLeader);
  console.log(`${sim.now} ms: group formed, leader n${first}`);

  // Writes from any member: a follower forwards them to the leader.
  for (const [i, g] of groups.entries()) await retrying(() => g.execute({ op: 'put', key: `k${i}`, value: `v${i}` }));

  sim.isolate(nth(nets, first));
  // The cut-off leader can append but not commit. A call with a deadline gives up, and says
  // whether its command may still be applied: here it may, had the leader kept its term.
  const late = await nth(groups, first)
    .execute({ op: 'put', key: 'cut-off', value: 'write' }, { timeoutMs: 500 })
    .catch((e: unknown) => e);
  if (late instanceof TimeoutError) console.log(`${sim.now} ms: a write on cut-off n${first} timed out (mayHaveApplied: ${late.mayHaveApplied})`);
  const others = groups.filter((_, i) => i !== first);
  await until(() => others.some((g) => g.isLeader), 'new leader on the majority side');
  const second = groups.findIndex((g, i) => i !== first && g.isLeader);
  console.log(`${sim.now} ms: n${first} cut off, n${second} leads term ${nth(groups, second).term}`);
  const { result } = await retrying(() => nth(others, 0).execute({ op: 'put', key: 'during', value: 'partition' }));
  console.log(`${sim.now} ms: a write on the majority side, ${result} keys`);

  sim.heal();
  const { index } = await retrying(() => nth(groups, second).execute({ op: 'delete', key: 'k0' }));
  await until(() => groups.every((g) => g.committed >= index), 'every replica applies the last write');
  const strong = await retrying(() => nth(groups, first).query('during', 'strong'));
  console.log(`${sim.now} ms: healed; n${first} reads during=${strong.result} (strong)`);
});

const states = new Set(machines.map((m) => m.dump()));
const violations = sim.finishCheckers();
console.log(`replicas agree: ${states.size === 1} ${[...states][0]}`);
console.log(`safety violations: ${violations.length}`);
console.log(`trace hash: ${sim.traceHash}`);
if (states.size !== 1 || violations.length > 0) process.exit(1);
