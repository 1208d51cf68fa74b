// SPDX-License-Identifier: LGPL-2.1-or-later
// Fetching a file by its SHA-256 from the LAN through the local passimd: its own copy, or a neighbour's it
// redirects to. Any failure of the network or of a daemon is "the LAN cannot give it", never an exception.
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { Agent } from 'node:https';
import { SHA256_HEX } from '../shared/api.js';
import { PassimError } from '../shared/errors.js';
import { N_ } from '../shared/i18n.js';
import { httpGet } from './http-get.js';
import { saveVerified } from './verified-file.js';

export const DEFAULT_PORT = 27500;
/** Long enough for a lookup on a LAN (misses take under 300 ms, hits a HEAD to the neighbour more). */
const DEFAULT_LOOKUP_TIMEOUT_MS = 2000;
const DEFAULT_STALL_TIMEOUT_MS = 10_000;

export interface LanFetchOptions {
  /** passimd's HTTPS port on localhost; default 27500. */
  port?: number;
  /**
   * Whole time for the lookup and the transfer's start (the response of whoever sends the bytes); the body
   * may take longer while bytes keep coming. Default 2000 ms.
   */
  lookupTimeoutMs?: number;
  /** A transfer that moves no byte for this long is abandoned; default 10 s. */
  stallTimeoutMs?: number;
  /** Aborting ends the fetch: it resolves null and leaves nothing behind. */
  signal?: AbortSignal;
  /** Called with bytes received so far and the total when known (progress display). */
  onProgress?: (received: number, total: number | undefined) => void;
}

export interface LanFetchResult {
  source: 'local' | 'peer';
  /** the neighbour's address when source is 'peer' */
  peer?: string;
  size: number;
}

/** The body's length as announced, when it is one. */
export function announcedLength(res: IncomingMessage): number | undefined {
  const header = res.headers['content-length'];
  return header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
}

/** https://ADDRESS:PORT/NAME?sha256=HASH, ADDRESS an IPv4 address or an IPv6 one in brackets (zone %-encoded). */
// biome-ignore lint/complexity/noUselessEscapeInRegex: xgettext's JavaScript parser ends a regular expression at any unescaped slash
const NEIGHBOUR_URL = /^https:\/\/(?:\[([0-9A-Fa-f:.]+)(?:%25([^\]\/?#%]+))?\]|([0-9.]+)):(\d{1,5})\/([^\/?#]*)\?sha256=([0-9A-Fa-f]{64})$/;

/**
 * The neighbour a redirect of passimd names: only https://ADDRESS:PORT/NAME?sha256=HASH with an IP address
 * (passimd redirects to addresses it resolved, never to names), the same NAME and the same HASH, and
 * nothing else. Undefined for anything else. The URL is parsed here: WHATWG URLs cannot hold the zone of
 * a link-local IPv6 address (fe80::1%eth0), which passimd sends.
 */
export function neighbourOf(location: string, name: string, hash: string): { url: URL; address: string } | undefined {
  const match = NEIGHBOUR_URL.exec(location);
  if (!match) return undefined;
  const [, ipv6, zone, ipv4, port = '', encodedName = '', sha256 = ''] = match;
  const bare = ipv6 ?? ipv4 ?? '';
  if (isIP(bare) === 0 || Number(port) < 1 || Number(port) > 65535 || sha256.toLowerCase() !== hash) return undefined;
  try {
    if (decodeURIComponent(encodedName) !== name) return undefined;
  } catch {
    return undefined;
  }
  const address = zone === undefined ? bare : `${bare}%${zone}`;
  // The URL without the zone, for the request's path and Host header; the connection goes to `address`.
  const host = ipv6 === undefined ? bare : `[${bare}]`;
  const url = new URL(`https://${host}:${port}/${encodedName}?sha256=${sha256}`);
  return { url, address };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Connections to the local passimd, kept open between lookups: a miss then costs a request rather than a TLS
 * handshake (apt asks about hundreds of files in a run). Idle ones do not keep the process alive. Not capped
 * here: a lookup queued behind a local transfer would look like a slow passimd; the callers' own concurrency
 * (apt keeps at most 10 requests outstanding) stays within the share of MaxConnections passimd gives a local user.
 */
const localDaemon = new Agent({ keepAlive: true });
/** Connections to neighbours, kept open after a transfer that ended well: the next file skips the handshake. */
const neighbours = new Agent({ keepAlive: true });
/** An answer of passimd other than the content is read to its end, so that its connection can be reused, up to this size. */
const REUSABLE_BODY_MAX = 16 * 1024;

/** Lets the connection of a response we do not want go back to the pool when its body is small, else closes it. */
function discard(res: IncomingMessage): void {
  const length = announcedLength(res);
  if (length !== undefined && length <= REUSABLE_BODY_MAX) res.resume();
  else res.destroy();
}

/**
 * Writes the content whose SHA-256 is `hash` to `destination` — via a temporary file in the same folder,
 * renamed into place only once the hash matched, so no wrong byte ever reaches `destination` — fetched
 * from the local passimd (https://localhost:PORT/NAME?sha256=HASH) or from the neighbour it redirects to
 * (one redirect, only to a URL of the form https://ADDRESS:PORT/NAME?sha256=HASH with the same hash).
 * Resolves null when the LAN does not have it or cannot give it: passimd absent or refusing (connection
 * refused, 404, 403, 503, time-out, a peer that stalls or sends wrong bytes, anything unexpected), or
 * `signal` aborted; never throws for the network's or the daemon's failures. Rejects only for a problem
 * with `destination` itself (cannot create the temporary file, disk full), and for a `hash` that is not
 * 64 hex digits.
 */
export async function fetchFromLan(
  name: string,
  hash: string,
  destination: string,
  options: LanFetchOptions = {},
): Promise<LanFetchResult | null> {
  const sha256 = hash.toLowerCase();
  if (!SHA256_HEX.test(sha256)) throw new PassimError('invalid-argument', N_('"{hash}" is not a SHA-256 hash (64 hex digits)', { hash }));
  if (options.signal?.aborted) return null;
  const lookup = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, lookup.signal]) : lookup.signal;
  const timer = setTimeout(() => lookup.abort(), options.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS);
  let found: Awaited<ReturnType<typeof transferStart>>;
  try {
    found = await transferStart(name, sha256, options.port ?? DEFAULT_PORT, signal, options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS);
  } finally {
    // The transfer has started (or there is none): from here only a stall or `signal` ends it.
    clearTimeout(timer);
  }
  if (!found) return null;
  const { res, peer } = found;
  const total = announcedLength(res);
  options.onProgress?.(0, total);
  // saveVerified rejects only for the destination's failures; the connection's end in the outcome.
  const outcome = await saveVerified(res, sha256, destination, (received) => options.onProgress?.(received, total));
  if (outcome.kind !== 'saved') return null;
  return peer === undefined ? { source: 'local', size: outcome.size } : { source: 'peer', peer, size: outcome.size };
}

/**
 * The 200 response of passimd or of the neighbour it redirects to, with the neighbour's address; null for
 * any other answer or failure.
 */
async function transferStart(
  name: string,
  hash: string,
  port: number,
  signal: AbortSignal,
  stallTimeoutMs: number,
): Promise<{ res: IncomingMessage; peer: string | undefined } | null> {
  // The certificates of passimd and of its neighbours are self-signed: they are not verified, the hash of
  // the content is what is trusted.
  const local = new URL(`https://localhost:${port}/${encodeURIComponent(name)}?sha256=${hash}`);
  try {
    // passimd always listens on 127.0.0.1: connecting there skips resolving "localhost", whose first lookup
    // (loading the resolver's configuration in a thread) costs more than a miss.
    let res = await httpGet(local, { verifyCertificate: false, signal, stallTimeoutMs, agent: localDaemon, address: '127.0.0.1' });
    if (res.statusCode === 200) return { res, peer: undefined };
    discard(res);
    if (!REDIRECTS.has(res.statusCode ?? 0)) return null;
    const neighbour = neighbourOf(res.headers.location ?? '', name, hash);
    if (!neighbour) return null;
    res = await httpGet(neighbour.url, { verifyCertificate: false, signal, stallTimeoutMs, address: neighbour.address, agent: neighbours });
    if (res.statusCode === 200) return { res, peer: neighbour.address };
    // A neighbour's bodies other than the content are not read: closing the connection bounds what it can send.
    res.destroy();
    return null;
  } catch {
    return null;
  }
}
