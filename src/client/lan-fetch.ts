// SPDX-License-Identifier: LGPL-2.1-or-later
// Fetching a file by hash from the LAN through the local passimd, verified before it lands.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { sha256Hasher } from '../shared/hash.js';

export interface LanFetchOptions {
  port?: number;
  lookupTimeoutMs?: number;
  stallTimeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (received: number, total: number | undefined) => void;
}
export interface LanFetchResult {
  source: 'local' | 'peer';
  peer?: string;
  size: number;
}

const DEFAULT_PORT = 27500;

class DestinationError extends Error {}

function get(url: URL, options: RequestOptions, timeoutMs: number, signal?: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...options, rejectUnauthorized: false, signal });
    const timer = setTimeout(() => req.destroy(new Error('timed out')), timeoutMs);
    req.once('response', (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}

/**
 * Writes the content of `hash` to `destination` via a temporary file renamed into place once verified,
 * from the local passimd (https://localhost:PORT/NAME?sha256=HASH, self-signed, not verified) or the
 * neighbour it redirects to; null when the LAN cannot give it (never throws for network/daemon failures);
 * rejects only for a problem with `destination` itself.
 */
export async function fetchFromLan(
  name: string,
  hash: string,
  destination: string,
  options: LanFetchOptions = {},
): Promise<LanFetchResult | null> {
  const port = options.port ?? DEFAULT_PORT;
  const lookupTimeoutMs = options.lookupTimeoutMs ?? 5000;
  const stallTimeoutMs = options.stallTimeoutMs ?? 10_000;
  let res: IncomingMessage;
  let source: LanFetchResult['source'] = 'local';
  let peer: string | undefined;
  try {
    const local = new URL(`https://localhost:${port}/${encodeURIComponent(name)}?sha256=${hash}`);
    res = await get(local, {}, lookupTimeoutMs, options.signal);
    if (res.statusCode === 302 && res.headers.location) {
      res.resume();
      const next = new URL(res.headers.location, local);
      if (next.protocol !== 'https:') return null;
      source = 'peer';
      peer = next.hostname;
      res = await get(next, {}, lookupTimeoutMs, options.signal);
    }
  } catch {
    return null;
  }
  if (res.statusCode !== 200) {
    res.resume();
    return null;
  }
  const total = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
  const temporary = join(dirname(destination), `.${basename(destination)}.passim-${randomBytes(4).toString('hex')}`);
  const hasher = sha256Hasher();
  let received = 0;
  let stall: NodeJS.Timeout | undefined;
  const armStall = () => {
    clearTimeout(stall);
    stall = setTimeout(() => res.destroy(new Error('stalled')), stallTimeoutMs);
  };
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      armStall();
      received += chunk.length;
      hasher.update(chunk);
      options.onProgress?.(received, total);
      done(null, chunk);
    },
  });
  const out = createWriteStream(temporary, { flags: 'wx', mode: 0o644 });
  out.once('error', () => {});
  try {
    armStall();
    await pipeline(res, counter, out).catch((err: unknown) => {
      if (out.errored) throw new DestinationError(String(err));
      throw err;
    });
  } catch (err) {
    clearTimeout(stall);
    await rm(temporary, { force: true });
    if (err instanceof DestinationError) throw err;
    return null;
  }
  clearTimeout(stall);
  if (hasher.digest('hex') !== hash || (total !== undefined && total !== received)) {
    await rm(temporary, { force: true });
    return null;
  }
  try {
    await rename(temporary, destination);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
  return { source, peer, size: received };
}
