/** A small, strict argument parser: unknown flags are errors, not silently ignored. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface FlagSpec {
  readonly [name: string]: 'boolean' | 'string' | 'strings';
}

export type Parsed<S extends FlagSpec> = {
  positionals: string[];
  flags: { [K in keyof S]?: S[K] extends 'boolean' ? boolean : S[K] extends 'strings' ? string[] : string };
};

export function parseArgs<S extends FlagSpec>(argv: readonly string[], spec: S): Parsed<S> {
  const positionals: string[] = [];
  const flags: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option --${name}`);
    if (kind === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
    if (kind === 'strings') flags[name] = [...((flags[name] as string[]) ?? []), value];
    else flags[name] = value;
  }
  return { positionals, flags } as Parsed<S>;
}

export function parseInteger(text: string | undefined, what: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text)) throw new UsageError(`${what} must be an integer, got '${text}'`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${what} must be an integer >= ${min}, got '${text}'`);
  if (n > max) throw new UsageError(`${what} must be at most ${max}, got '${text}'`);
  return n;
}

/** `A-B` (inclusive) or a single `N`. */
export function parseSeedRange(text: string | undefined): { from: number; to: number } {
  if (text === undefined) throw new UsageError('--seeds A-B is required');
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!m) throw new UsageError(`--seeds must look like 1-200, got '${text}'`);
  const from = Number(m[1]);
  const to = Number(m[2] ?? m[1]);
  if (to < from) throw new UsageError(`--seeds range is empty: ${text}`);
  return { from, to };
}
