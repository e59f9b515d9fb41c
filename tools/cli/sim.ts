import { writeFileSync } from 'node:fs';
import { scenarios } from '../../scenarios/index.ts';
import type { Scenario, ScenarioOptions, ScenarioResult } from '../../scenarios/scenario.ts';
import { parseArgs, parseInteger, parseSeedRange, UsageError } from './args.ts';
import { defaultJobs, runSeeds } from './campaign-pool.ts';

const RUN_FLAGS = {
  seed: 'string',
  nodes: 'string',
  json: 'boolean',
  trace: 'string',
  faults: 'string',
  'plant-bug': 'strings',
  'corrupt-frames': 'string',
  'check-budget': 'string',
  'max-uncommitted-bytes': 'string',
} as const;
const CAMPAIGN_FLAGS = {
  seeds: 'string',
  nodes: 'string',
  json: 'boolean',
  faults: 'string',
  'plant-bug': 'strings',
  'corrupt-frames': 'string',
  'check-budget': 'string',
  'max-uncommitted-bytes': 'string',
  jobs: 'string',
} as const;

export const SIM_USAGE = `Usage:
  mosaik sim list
  mosaik sim run <scenario> --seed N [--nodes N] [--faults swarm|none|slow-disk] [--corrupt-frames P] [--check-budget N] [--max-uncommitted-bytes N] [--json] [--trace FILE] [--plant-bug NAME]...
  mosaik sim campaign <scenario> --seeds A-B [--nodes N] [--faults swarm|none|slow-disk] [--corrupt-frames P] [--check-budget N] [--max-uncommitted-bytes N] [--jobs N] [--json] [--plant-bug NAME]...
      (--jobs: worker threads running seeds in parallel; default one per core)
      (--check-budget N: steps for each linearizability search. A search that uses them up is
       inconclusive: listed as such, neither a pass nor a violation)
      (--faults slow-disk: swarm faults on storage whose syncs take 20-150 ms, with power failures)
      (--max-uncommitted-bytes N: every group member's maxUncommittedBytes, in the group scenarios;
       a few hundred make leaders refuse proposals for want of room all the time)
      (--corrupt-frames P: a robustness fuzz; each frame is corrupted in flight with probability P
       until the faults stop. No node may crash; Raft's safety checkers may report violations,
       since a corrupted frame that still decodes is a Byzantine message. See docs/simulation.md.)

Exit code: 0 when every run holds its invariants, 1 on any violation, 2 on a usage error.`;

/** Runs `mosaik sim ...`; returns the process exit code. */
export async function simCommand(argv: readonly string[], out: (line: string) => void): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'list':
      for (const s of scenarios.values()) {
        out(`${s.name}  (default ${s.defaultNodes} nodes)  ${s.description}`);
        for (const [bug, what] of Object.entries(s.plantedBugs)) out(`    --plant-bug ${bug}: ${what}`);
      }
      return 0;
    case 'run':
      return runOne(rest, out);
    case 'campaign':
      return campaign(rest, out);
    default:
      throw new UsageError(verb ? `unknown sim command '${verb}'` : 'missing sim command');
  }
}

function scenarioOf(name: string | undefined): Scenario {
  if (!name) throw new UsageError('missing scenario name (see `mosaik sim list`)');
  const scenario = scenarios.get(name);
  if (!scenario) throw new UsageError(`unknown scenario '${name}'; known: ${[...scenarios.keys()].join(', ')}`);
  return scenario;
}

/**
 * The most nodes a scenario may be asked for: 200 nodes of discovery-converge run ~100 s
 * (docs/benchmarks.md), so ten thousand is already far past a useful run. Without a cap a
 * typo (`--nodes 1000000`) spent minutes building nodes before anything ran.
 */
const MAX_NODES = 10_000;

function commonOptions(
  scenario: Scenario,
  flags: {
    nodes?: string;
    faults?: string;
    'plant-bug'?: string[];
    'corrupt-frames'?: string;
    'check-budget'?: string;
    'max-uncommitted-bytes'?: string;
  },
): Omit<ScenarioOptions, 'seed'> {
  const nodes = parseInteger(flags.nodes, '--nodes', 1, MAX_NODES);
  const faults = flags.faults ?? 'swarm';
  if (faults !== 'swarm' && faults !== 'none' && faults !== 'slow-disk') throw new UsageError(`--faults must be swarm, none or slow-disk, got '${faults}'`);
  const plantedBugs = flags['plant-bug'] ?? [];
  for (const bug of plantedBugs) {
    if (!Object.hasOwn(scenario.plantedBugs, bug))
      throw new UsageError(`${scenario.name} has no planted bug '${bug}'; known: ${Object.keys(scenario.plantedBugs).join(', ')}`);
  }
  const corruptText = flags['corrupt-frames'];
  const corruptFrames = corruptText === undefined ? undefined : Number(corruptText);
  if (corruptFrames !== undefined && !(corruptText !== '' && corruptFrames >= 0 && corruptFrames <= 1)) {
    throw new UsageError(`--corrupt-frames takes a probability in [0, 1], got '${corruptText}'`);
  }
  const checkBudget = parseInteger(flags['check-budget'], '--check-budget', 1);
  const maxUncommittedBytes = parseInteger(flags['max-uncommitted-bytes'], '--max-uncommitted-bytes', 1);
  return {
    ...(nodes !== undefined && { nodes }),
    faults,
    plantedBugs,
    ...(corruptFrames !== undefined && { corruptFrames }),
    ...(checkBudget !== undefined && { checkBudget }),
    ...(maxUncommittedBytes !== undefined && { maxUncommittedBytes }),
  };
}

/** The command that replays one run exactly. */
export function replayCommand(scenario: string, seed: number, options: Omit<ScenarioOptions, 'seed'>): string {
  const parts = ['npx mosaik sim run', scenario, '--seed', String(seed)];
  if (options.nodes !== undefined) parts.push('--nodes', String(options.nodes));
  if (options.faults && options.faults !== 'swarm') parts.push('--faults', options.faults);
  for (const bug of options.plantedBugs ?? []) parts.push('--plant-bug', bug);
  if (options.corruptFrames !== undefined) parts.push('--corrupt-frames', String(options.corruptFrames));
  if (options.checkBudget !== undefined) parts.push('--check-budget', String(options.checkBudget));
  if (options.maxUncommittedBytes !== undefined) parts.push('--max-uncommitted-bytes', String(options.maxUncommittedBytes));
  return parts.join(' ');
}

async function runOne(argv: readonly string[], out: (line: string) => void): Promise<number> {
  const { positionals, flags } = parseArgs(argv, RUN_FLAGS);
  const scenario = scenarioOf(positionals[0]);
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  const seed = parseInteger(flags.seed, '--seed');
  if (seed === undefined) throw new UsageError('--seed N is required');
  const options = commonOptions(scenario, flags);
  const result = await scenario.run({ ...options, seed, keepTrace: flags.trace !== undefined });
  if (flags.trace !== undefined) writeFileSync(flags.trace, `${(result.trace ?? []).join('\n')}\n`);
  const { trace: _trace, ...printable } = result;
  if (flags.json) {
    out(JSON.stringify(printable));
  } else {
    out(summaryLine(result));
    for (const v of result.violations) out(`  violation [${v.checker}] at ${v.atMs} ms: ${v.message}`);
    for (const what of result.inconclusive) out(`  inconclusive: ${what}`);
    if (!result.ok) out(`  replay: ${replayCommand(scenario.name, seed, options)}`);
  }
  return result.ok ? 0 : 1;
}

function summaryLine(r: ScenarioResult): string {
  const verdict = r.ok ? (r.inconclusive.length > 0 ? `ok (${r.inconclusive.length} inconclusive)` : 'ok') : `FAILED (${r.violations.length} violations)`;
  return `${r.scenario} seed=${r.seed} ${verdict} simulated=${r.simulatedMs}ms wall=${r.wallMs}ms events=${r.events} messages=${r.messages} trace=${r.traceHash.slice(0, 16)}`;
}

async function campaign(argv: readonly string[], out: (line: string) => void): Promise<number> {
  const { positionals, flags } = parseArgs(argv, CAMPAIGN_FLAGS);
  const scenario = scenarioOf(positionals[0]);
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  const { from, to } = parseSeedRange(flags.seeds);
  const options = commonOptions(scenario, flags);
  const wallStart = performance.now();
  const failures: { seed: number; violations: ScenarioResult['violations']; replay: string }[] = [];
  // Seeds with a check that could not decide: passed, but not shown to hold.
  const inconclusive: { seed: number; checks: readonly string[]; replay: string }[] = [];
  let simulatedMs = 0;
  let events = 0;
  let messages = 0;
  const seeds = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const jobs = parseInteger(flags.jobs, '--jobs', 1) ?? defaultJobs();
  await runSeeds(scenario, seeds, options, jobs, (outcome) => {
    const { seed } = outcome;
    const replay = replayCommand(scenario.name, seed, options);
    if ('error' in outcome) {
      // A run that throws is a bug in the simulator or the scenario: report it as a failure with its replay.
      failures.push({ seed, violations: [{ checker: 'crash', atMs: 0, message: outcome.error }], replay });
      if (!flags.json) out(`${scenario.name} seed=${seed} CRASHED: ${outcome.error.split('\n')[0]}\n  replay: ${replay}`);
      return;
    }
    const { result } = outcome;
    simulatedMs += result.simulatedMs;
    events += result.events;
    messages += result.messages;
    if (!result.ok) failures.push({ seed, violations: result.violations, replay });
    if (result.inconclusive.length > 0) inconclusive.push({ seed, checks: result.inconclusive, replay });
    if (!flags.json) {
      out(summaryLine(result));
      if (!result.ok) out(`  replay: ${replay}`);
    }
  });
  const runs = to - from + 1;
  const summary = {
    scenario: scenario.name,
    seeds: `${from}-${to}`,
    runs,
    passed: runs - failures.length,
    failed: failures.length,
    violations: failures.reduce((n, f) => n + f.violations.length, 0),
    failures,
    inconclusive,
    simulatedMs,
    wallMs: Math.round(performance.now() - wallStart),
    jobs,
    events,
    messages,
  };
  if (flags.json) out(JSON.stringify(summary));
  else {
    const undecided = inconclusive.length > 0 ? `, ${inconclusive.length} inconclusive (seeds ${inconclusive.map((i) => i.seed).join(', ')})` : '';
    out(`campaign ${scenario.name} seeds ${from}-${to}: ${summary.passed} passed, ${summary.failed} failed${undecided} (${summary.wallMs} ms wall)`);
  }
  return failures.length === 0 ? 0 : 1;
}
