// SPDX-License-Identifier: LGPL-2.1-or-later
// Fetching a file from where it is published (its origin) over HTTP or HTTPS, saved only if its SHA-256
// matches, for clients that try the LAN first.
import type { IncomingMessage } from 'node:http';
import { SHA256_HEX } from '../shared/api.js';
import { PassimError, reasonOf } from '../shared/errors.js';
import { N_ } from '../shared/i18n.js';
import { httpGet } from './http-get.js';
import { announcedLength } from './lan-fetch.js';
import { saveVerified } from './verified-file.js';

const MAX_REDIRECTS = 5;
const DEFAULT_STALL_TIMEOUT_MS = 60_000;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface OriginFetchOptions {
  /** A connection that moves no byte for this long (connecting, waiting for the answer, or during the body) fails; default 60 s. */
  stallTimeoutMs?: number;
  /** Aborting rejects with an OriginError and leaves nothing behind. */
  signal?: AbortSignal;
  /** Called with bytes received so far and the total when known (progress display). */
  onProgress?: (received: number, total: number | undefined) => void;
}

export interface OriginFetchResult {
  size: number;
  /** Where the bytes came from, after redirects. */
  url: URL;
}

/** The origin could not give the file: unreachable, an HTTP error, too many redirects, a broken transfer. */
export class OriginError extends PassimError {}

/** The origin sent a whole file, but not the one asked for; nothing was saved. */
export class HashMismatchError extends PassimError {
  constructor(
    readonly url: URL,
    readonly expected: string,
    readonly got: string,
  ) {
    super(
      'internal',
      N_('The data from {host} does not match the hash: expected {expected}, got {got}; nothing was saved', {
        host: url.host,
        expected,
        got,
      }),
    );
  }
}

/** The 200 response for `start`, after at most MAX_REDIRECTS redirects to http or https URLs. */
async function originResponse(
  start: URL,
  signal: AbortSignal | undefined,
  stallTimeoutMs: number,
): Promise<{ res: IncomingMessage; url: URL }> {
  let url = start;
  for (let hop = 0; ; hop++) {
    let res: IncomingMessage;
    try {
      // Verified against Node's CA store (built in, plus NODE_EXTRA_CA_CERTS): an origin has a certificate for its name.
      res = await httpGet(url, { verifyCertificate: true, ...(signal ? { signal } : {}), stallTimeoutMs });
    } catch (err) {
      throw new OriginError('internal', N_('Cannot download from {host}: {reason}', { host: url.host, reason: reasonOf(err) }), {
        cause: err,
      });
    }
    const status = res.statusCode ?? 0;
    if (status === 200) return { res, url };
    res.destroy();
    const location = res.headers.location;
    if (!REDIRECTS.has(status) || location === undefined) {
      const text = `HTTP ${status} ${res.statusMessage ?? ''}`.trim();
      throw new OriginError('internal', N_('Download from {host} failed: {status}', { host: url.host, status: text }));
    }
    if (hop >= MAX_REDIRECTS) throw new OriginError('internal', N_('Too many redirects downloading {url}', { url: start.href }));
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new OriginError('internal', N_('{host} redirected to an invalid address', { host: url.host }));
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new OriginError(
        'internal',
        N_('Refusing to follow a redirect to {protocol} {host}', { protocol: next.protocol, host: next.host }),
      );
    }
    url = next;
  }
}

/**
 * Writes the content of `url` (http or https, up to 5 redirects) to `destination` if its SHA-256 is `hash`,
 * through a temporary file in the same folder renamed into place once the hash matched. HTTPS certificates
 * are verified. Rejects with an OriginError when the origin cannot give it, a HashMismatchError when the
 * bytes are not the content asked for (nothing is written in either case), and with the file system's
 * error for a problem with `destination` itself.
 */
export async function fetchFromOrigin(
  url: string | URL,
  hash: string,
  destination: string,
  options: OriginFetchOptions = {},
): Promise<OriginFetchResult> {
  const sha256 = hash.toLowerCase();
  if (!SHA256_HEX.test(sha256)) throw new PassimError('invalid-argument', N_('"{hash}" is not a SHA-256 hash (64 hex digits)', { hash }));
  const start = new URL(url);
  const { res, url: from } = await originResponse(start, options.signal, options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS);
  const total = announcedLength(res);
  options.onProgress?.(0, total);
  const outcome = await saveVerified(res, sha256, destination, (received) => options.onProgress?.(received, total));
  switch (outcome.kind) {
    case 'saved':
      return { size: outcome.size, url: from };
    case 'mismatch':
      throw new HashMismatchError(from, sha256, outcome.got);
    case 'source-failed':
      throw new OriginError('internal', N_('Download from {host} failed: {status}', { host: from.host, status: reasonOf(outcome.error) }), {
        cause: outcome.error,
      });
  }
}
