// SPDX-License-Identifier: LGPL-2.1-or-later
// Which addresses are neighbours: on a subnet of one of this machine's interfaces. mDNS is link-local, so a
// real peer always is; anything else came through a router, or is this machine itself.
import { isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

/** An address as a 128-bit number (IPv4 as IPv4-mapped IPv6), or undefined if it is not a numeric address. */
export function addressBits(address: string): bigint | undefined {
  const plain = address.split('%')[0] ?? '';
  const kind = isIP(plain);
  if (kind === 4) {
    const parts = plain.split('.').map(Number);
    return parts.reduce((acc, part) => (acc << 8n) | BigInt(part), 0xffffn);
  }
  if (kind !== 6) return undefined;
  let text = plain;
  // A trailing dotted quad (::ffff:10.0.0.1) becomes two hex groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array.from({ length: zeros }, () => '0'), ...tailGroups];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/** IPv4 inside the 128-bit space lives under ::ffff:0:0/96. */
const V4_PREFIX = 96;

function sameSubnet(a: bigint, b: bigint, prefix: number): boolean {
  const shift = BigInt(128 - prefix);
  return a >> shift === b >> shift;
}

/** IPv4-mapped IPv6 (from a dual-stack socket) as plain IPv4; any other address as it is. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** 127.0.0.0/8, ::1, or 127.0.0.0/8 mapped into IPv6 (::ffff:127.x.y.z), as Node and Avahi write them. */
export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}

interface Subnet {
  address: bigint;
  prefix: number;
  name: string;
}

/** This machine's interface addresses with their prefixes, loopback excluded. */
export function localSubnets(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): Subnet[] {
  const subnets: Subnet[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const info of infos ?? []) {
      if (info.internal) continue;
      const address = addressBits(info.address);
      const prefix = Number(info.cidr?.split('/')[1]);
      if (address === undefined || !Number.isInteger(prefix)) continue;
      subnets.push({ address, prefix: info.family === 'IPv4' ? V4_PREFIX + prefix : prefix, name });
    }
  }
  return subnets;
}

/** A unicast address, neither loopback, multicast, broadcast nor unspecified; undefined if it is none. */
function unicastBits(address: string): bigint | undefined {
  const bits = addressBits(address);
  if (bits === undefined || bits === 0n || isLoopback(address)) return undefined;
  const v4 = bits >> 32n === 0xffffn;
  // 224.0.0.0/4 and ff00::/8 are multicast; 255.255.255.255 is broadcast.
  if (v4 && ((bits >> 28n) & 0xfn) === 0xen) return undefined;
  if (v4 && (bits & 0xffffffffn) === 0xffffffffn) return undefined;
  if (!v4 && bits >> 120n === 0xffn) return undefined;
  return bits;
}

/**
 * True for a unicast address on one of `subnets`, this machine's own included: a client that reached us
 * without crossing a router.
 */
export function isOnLink(address: string, subnets: Subnet[] = localSubnets()): boolean {
  const bits = unicastBits(address);
  return bits !== undefined && subnets.some((subnet) => sameSubnet(subnet.address, bits, subnet.prefix));
}

/**
 * True for a unicast address on one of `subnets`, other than this machine's own addresses: a neighbour that
 * can have answered on the link.
 */
export function isNeighbour(address: string, subnets: Subnet[] = localSubnets()): boolean {
  const bits = unicastBits(address);
  if (bits === undefined || subnets.some((subnet) => subnet.address === bits)) return false;
  return isOnLink(address, subnets);
}

/**
 * This machine's own unicast addresses on its LAN interfaces, loopback excluded, IPv6 ones only if `ipv6`;
 * IPv6 link-local addresses carry their interface (`fe80::1%eth0`), which binding them needs.
 */
export function lanAddresses(ipv6: boolean, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string[] {
  const addresses: string[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const info of infos ?? []) {
      if (info.internal || (info.family === 'IPv6' && !ipv6)) continue;
      if (unicastBits(info.address) === undefined) continue;
      addresses.push(info.family === 'IPv6' && info.scopeid ? `${info.address}%${name}` : info.address);
    }
  }
  return addresses.sort();
}
