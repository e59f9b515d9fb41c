#!/usr/bin/env node
// The npm registry reachable from our machines serves only the linux-x64-gnu build of
// @chainsafe/libp2p-quic, so `npm install` here writes a lockfile without the other
// platforms' optional packages, and `npm ci` on a clean clone then refuses the lock
// ("Missing: @chainsafe/libp2p-quic-darwin-arm64@ from lock file"). This adds the entries
// npm would write on a machine that can see them: version, os/cpu/libc, optional, no
// resolved/integrity. Re-run after any `npm install` that touches the lock.
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const platforms = {
  'darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  'darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  'linux-arm64-gnu': { os: ['linux'], cpu: ['arm64'], libc: ['glibc'] },
  'linux-arm64-musl': { os: ['linux'], cpu: ['arm64'], libc: ['musl'] },
  'linux-x64-gnu': { os: ['linux'], cpu: ['x64'], libc: ['glibc'] },
  'linux-x64-musl': { os: ['linux'], cpu: ['x64'], libc: ['musl'] },
  'win32-x64-msvc': { os: ['win32'], cpu: ['x64'] },
};
let added = 0;
for (const [path, pkg] of Object.entries(lock.packages)) {
  if (!path.endsWith('node_modules/@chainsafe/libp2p-quic')) continue;
  for (const [dep, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (lock.packages[key]) continue;
    const suffix = dep.replace('@chainsafe/libp2p-quic-', '');
    const platform = platforms[suffix];
    if (!platform) throw new Error(`unknown platform package ${dep}`);
    lock.packages[key] = { version, ...platform, optional: true };
    added++;
  }
}
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
lock.packages = sorted;
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} platform entries`);
