import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { advertisedLocations, formatHostPort, parseHostPort } from '../../net-real/address.ts';

const iface = (address: string, family: 'IPv4' | 'IPv6', internal: boolean): NetworkInterfaceInfo =>
  ({ address, family, internal, netmask: '', mac: '00:00:00:00:00:00', cidr: null, ...(family === 'IPv6' && { scopeid: 0 }) }) as NetworkInterfaceInfo;

const interfaces = {
  lo: [iface('127.0.0.1', 'IPv4', true), iface('::1', 'IPv6', true)],
  eth0: [iface('192.168.1.20', 'IPv4', false), iface('fe80::1', 'IPv6', false), iface('2001:db8::20', 'IPv6', false)],
};

describe('transport locations', () => {
  it('parses and formats host:port and [v6]:port, refusing what is malformed', () => {
    expect(parseHostPort('127.0.0.1:4433')).toEqual({ host: '127.0.0.1', port: 4433 });
    expect(parseHostPort('[::1]:4433')).toEqual({ host: '::1', port: 4433 });
    for (const bad of ['::1:4433', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', ':4433', '[::1]4433']) expect(parseHostPort(bad)).toBeUndefined();
    expect(formatHostPort({ host: '::1', port: 1 })).toBe('[::1]:1');
  });

  it('a node listening on a wildcard address advertises its interfaces, external first; any other host is itself', () => {
    expect(advertisedLocations('127.0.0.1', 4433, interfaces)).toEqual(['127.0.0.1:4433']);
    expect(advertisedLocations('192.168.1.20', 4433, interfaces)).toEqual(['192.168.1.20:4433']);
    expect(advertisedLocations('0.0.0.0', 4433, interfaces)).toEqual(['192.168.1.20:4433', '127.0.0.1:4433']);
    expect(advertisedLocations('::', 4433, interfaces)).toEqual(['192.168.1.20:4433', '[2001:db8::20]:4433', '127.0.0.1:4433', '[::1]:4433']);
    // No interface at all: loopback, never the wildcard.
    expect(advertisedLocations('0.0.0.0', 4433, {})).toEqual(['127.0.0.1:4433']);
  });
});
