import { pathToFileURL } from 'node:url';
import { UsageError } from './args.ts';
import { SIM_USAGE, simCommand } from './sim.ts';

const USAGE = `mosaik: self-organizing distributed systems, simulation-first.

${SIM_USAGE}`;

/** The `mosaik` command; returns the exit code. */
export async function main(
  argv: readonly string[],
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  err: (text: string) => void = (t) => process.stderr.write(t),
): Promise<number> {
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
      err(`mosaik: ${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
}

/** `mosaik ... | head` closes our stdout early: that ends the command quietly, not with a stack trace. */
export function exitQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

// Run directly (`tsx tools/cli/main.ts ...`, as `npm run sim` does); the installed bin imports `main`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  exitQuietlyOnClosedPipe();
  process.exitCode = await main(process.argv.slice(2));
}
