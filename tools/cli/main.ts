import { UsageError } from './args.ts';
import { SIM_USAGE, simCommand } from './sim.ts';

const USAGE = `mosaik: self-organizing distributed systems, simulation-first.

${SIM_USAGE}`;

/** The `mosaik` command; returns the exit code. */
export async function main(argv: readonly string[], out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'sim':
        return await simCommand(rest, out);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof RangeError) {
      process.stderr.write(`mosaik: ${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.env.MOSAIK_CLI_MAIN === '1') {
  process.exitCode = await main(process.argv.slice(2));
}
