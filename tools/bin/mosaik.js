#!/usr/bin/env node
// The `mosaik` command. The sources are TypeScript; tsx compiles them on the fly.
import { register } from 'tsx/esm/api';

register();
const { main, exitQuietlyOnClosedPipe } = await import('../cli/main.ts');
exitQuietlyOnClosedPipe();
process.exitCode = await main(process.argv.slice(2));
