import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os';

/** A transport location, `host:port` or `[ipv6]:port`, split but not yet resolved. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` / `[v6]:port`; undefined when malformed or the port is out of range. */
export function parseHostPort(location: string): HostPort | undefined {
  let host: string;
  let portText: string;
  if (location.startsWith('[')) {
    const close = location.indexOf(']');
    if (close < 0 || location[close + 1] !== ':') return undefined;
    host = location.slice(1, close);
    portText = location.slice(close + 2);
  } else {
    const colon = location.lastIndexOf(':');
    if (colon <= 0) return undefined;
    host = location.slice(0, colon);
    portText = location.slice(colon + 1);
    if (host.includes(':')) return undefined; // a bare IPv6 address needs brackets
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65_535 || host.length === 0) return undefined;
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The IP to dial for `host` (the native endpoint takes IP literals only). Rejects on lookup failure. */
export async function resolveHost(host: string): Promise<{ ip: string; family: 4 | 6 }> {
  const family = isIP(host);
  if (family === 4 || family === 6) return { ip: host, family };
  const found = await lookup(host);
  return { ip: found.address, family: found.family === 6 ? 6 : 4 };
}

/**
 * Where peers can reach a node that listens on `host:port`. A node listening on a wildcard
 * address (`0.0.0.0`, `::`) is reachable at its interfaces' addresses, not at the wildcard
 * (which a peer would take for itself): those come first, external ones before loopback,
 * IPv4 before IPv6 (link-local IPv6 needs a scope and is left out). Any other host is its
 * own location.
 */
export function advertisedLocations(host: string, port: number, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string[] {
  const wildcard4 = host === '0.0.0.0';
  const wildcard6 = host === '::';
  if (!wildcard4 && !wildcard6) return [formatHostPort({ host, port })];
  const all = Object.values(interfaces).flatMap((list) => list ?? []);
  const usable = all.filter((i) => i.family === 'IPv4' || (wildcard6 && i.family === 'IPv6' && !i.address.toLowerCase().startsWith('fe80')));
  const rank = (i: NetworkInterfaceInfo) => (i.internal ? 2 : 0) + (i.family === 'IPv6' ? 1 : 0);
  const ordered = [...usable].sort((a, b) => rank(a) - rank(b));
  const locations = [...new Set(ordered.map((i) => formatHostPort({ host: i.address, port })))];
  return locations.length > 0 ? locations : [formatHostPort({ host: wildcard4 ? '127.0.0.1' : '::1', port })];
}
