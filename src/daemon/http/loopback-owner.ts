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

/** Every connection of a /proc/net/tcp{,6} table, "local remote" (procNetAddress's form) → UID. */
export function ownersInTable(table: string): Map<string, number> {
  const owners = new Map<string, number>();
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const uid = Number(fields[7]);
    if (fields[1] && fields[2] && Number.isInteger(uid)) owners.set(`${fields[1]} ${fields[2]}`, uid);
  }
  return owners;
}

/**
 * Reads of one table, shared: a lookup waits for the next read that starts after it was asked, and all the
 * lookups waiting then share that read. A flood of connections costs a read per round, not one each (the
 * table grows with the connections, so reading it per connection would cost their square).
 */
class TableReader {
  private next: Promise<Map<string, number>> | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly path: string) {}

  owners(): Promise<Map<string, number>> {
    this.next ??= this.running.then(() => {
      this.next = undefined;
      const read = readFile(this.path, 'utf8')
        .catch(() => '')
        .then(ownersInTable);
      this.running = read;
      return read;
    });
    return this.next;
  }
}

const tables = { v4: new TableReader('/proc/net/tcp'), v6: new TableReader('/proc/net/tcp6') };

/** The UID of the program at the other end of a loopback connection; undefined if it cannot be told. */
export async function loopbackOwner(socket: Socket): Promise<number | undefined> {
  const v6 = socket.remoteFamily === 'IPv6';
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (!remoteAddress || !remotePort || !localAddress || !localPort) return undefined;
  const client = procNetAddress(remoteAddress, remotePort, v6);
  const server = procNetAddress(localAddress, localPort, v6);
  if (!client || !server) return undefined;
  return (await (v6 ? tables.v6 : tables.v4).owners()).get(`${client} ${server}`);
}
