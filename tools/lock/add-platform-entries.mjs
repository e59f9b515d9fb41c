#!/usr/bin/env node
// The npm registry reachable from our machines serves only some platforms' builds of the
// packages that ship prebuilt native code (@chainsafe/libp2p-quic, @napi-rs/blake-hash), so
// `npm install` here writes a lockfile without the other platforms' optional packages, and
// `npm ci` on a clean clone then refuses the lock ("Missing: @chainsafe/libp2p-quic-darwin-arm64@
// from lock file"). This adds the entries npm would write on a machine that can see them:
// version, os/cpu/libc, optional, no resolved/integrity. Re-run after any `npm install`
// that touches the lock.
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
/** The platform suffixes of napi-rs packages (`<package>-<suffix>`) and what npm records for each. */
const platforms = {
  'android-arm64': { os: ['android'], cpu: ['arm64'] },
  'darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  'darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  'freebsd-x64': { os: ['freebsd'], cpu: ['x64'] },
  'linux-arm-gnueabihf': { os: ['linux'], cpu: ['arm'] },
  'linux-arm64-gnu': { os: ['linux'], cpu: ['arm64'], libc: ['glibc'] },
  'linux-arm64-musl': { os: ['linux'], cpu: ['arm64'], libc: ['musl'] },
  'linux-ppc64-gnu': { os: ['linux'], cpu: ['ppc64'], libc: ['glibc'] },
  'linux-s390x-gnu': { os: ['linux'], cpu: ['s390x'], libc: ['glibc'] },
  'linux-x64-gnu': { os: ['linux'], cpu: ['x64'], libc: ['glibc'] },
  'linux-x64-musl': { os: ['linux'], cpu: ['x64'], libc: ['musl'] },
  'win32-arm64-msvc': { os: ['win32'], cpu: ['arm64'] },
  'win32-ia32-msvc': { os: ['win32'], cpu: ['ia32'] },
  'win32-x64-msvc': { os: ['win32'], cpu: ['x64'] },
};
const nativePackages = ['@chainsafe/libp2p-quic', '@napi-rs/blake-hash'];
let added = 0;
for (const [path, pkg] of Object.entries(lock.packages)) {
  const name = nativePackages.find((n) => path.endsWith(`node_modules/${n}`));
  if (name === undefined) continue;
  for (const [dep, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (lock.packages[key]) continue;
    const suffix = dep.replace(`${name}-`, '');
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
