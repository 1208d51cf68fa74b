// The TCP sockets listening inside a network namespace, read from /proc/net/tcp and /proc/net/tcp6 there
// (each namespace has its own): what `ss -ltn` would show, without depending on ss.
import { readFile } from 'node:fs/promises';
import { nsExec } from './netns.js';

const LISTEN = '0A';

/**
 * An address of /proc/net/tcp{,6}: hex words in host (little-endian) byte order, then the port.
 * @param {string} hex e.g. 0100007F:6B6C
 */
function decodeAddress(hex) {
  const [address = '', port = ''] = hex.split(':');
  const bytes = Buffer.from(address, 'hex');
  // Each 32-bit word is stored in host order: swap it back to network order.
  for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
  const text =
    bytes.length === 4
      ? [...bytes].join('.')
      : Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16))
          .join(':')
          .replace(/(^|:)0(:0)+(:|$)/, '::')
          .replace(/:{3,}/, '::');
  return { address: text, port: parseInt(port, 16) };
}

/**
 * Local addresses listening on `port` in namespace `ns` (the main namespace when undefined), sorted.
 * @param {string | undefined} ns
 * @param {number} port
 * @returns {Promise<string[]>}
 */
export async function listeningAddresses(ns, port) {
  const found = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const { code, stdout } = ns ? await nsExec(ns, 'cat', [file]) : { code: 0, stdout: await readFile(file, 'utf8').catch(() => '') };
    if (code !== 0) continue; // no IPv6 in this kernel
    for (const line of stdout.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== LISTEN || !fields[1]) continue;
      const local = decodeAddress(fields[1]);
      if (local.port === port) found.push(local.address);
    }
  }
  return found.sort();
}
