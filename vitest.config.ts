import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests import the package by name, as users do; point the names at the sources.
    alias: [
      { find: /^mosaik\/sim$/, replacement: root('./net-sim/index.ts') },
      { find: /^mosaik$/, replacement: root('./index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 30_000,
    reporters: ['default', './tools/vitest/summary-reporter.ts'],
  },
});
