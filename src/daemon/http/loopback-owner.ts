// SPDX-License-Identifier: LGPL-2.1-or-later
// Which user a loopback TCP connection comes from. TCP has no SO_PEERCRED, but the client's end of the
// connection is a socket of this machine: /proc/net/tcp (or tcp6) lists it with its owner's UID, which is
// what `ss -tpe` reads too. Programs on this machine then share MaxConnections per user, not all at once.
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { addressBits } from '../lan/subnets.js';

/**
 * An address and port as /proc/net/tcp{,6} writes them: each 32-bit word of the address in the kernel's
 * (little-endian) byte order, in upper-case hex, then the port: 127.0.0.1:27500 is 0100007F:6B6C.
 */
export function procNetAddress(address: string, port: number, v6: boolean): string | undefined {
  const bits = addressBits(address);
  if (bits === undefined) return undefined;
  const words = v6 ? 4 : 1;
  let hex = '';
  for (let i = words - 1; i >= 0; i--) {
    const word = Number((bits >> BigInt(32 * i)) & 0xffffffffn);
    const swapped = ((word & 0xff) << 24) | ((word & 0xff00) << 8) | ((word >>> 8) & 0xff00) | (word >>> 24);
    hex += (swapped >>> 0).toString(16).toUpperCase().padStart(8, '0');
  }
  return `${hex}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The UID on the line of `table` whose local end is `client` and remote end `server`. */
export function ownerInTable(table: string, client: string, server: string): number | undefined {
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === client && fields[2] === server) {
      const uid = Number(fields[7]);
      return Number.isInteger(uid) ? uid : undefined;
    }
  }
  return undefined;
}

/** The UID of the program at the other end of a loopback connection; undefined if it cannot be told. */
export async function loopbackOwner(socket: Socket): Promise<number | undefined> {
  const v6 = socket.remoteFamily === 'IPv6';
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (!remoteAddress || !remotePort || !localAddress || !localPort) return undefined;
  const client = procNetAddress(remoteAddress, remotePort, v6);
  const server = procNetAddress(localAddress, localPort, v6);
  if (!client || !server) return undefined;
  const table = await readFile(v6 ? '/proc/net/tcp6' : '/proc/net/tcp', 'utf8').catch(() => '');
  return ownerInTable(table, client, server);
}
