// SPDX-License-Identifier: LGPL-2.1-or-later
// One HTTP or HTTPS GET, with no redirect followed, that gives up on a connection that moves no byte.
import { get as plainGet, type IncomingMessage } from 'node:http';
import { type Agent, get as tlsGet } from 'node:https';
import { PassimError } from '../shared/errors.js';
import { N_ } from '../shared/i18n.js';
import { VERSION } from '../shared/version.js';

export interface GetOptions {
  /**
   * Whether an HTTPS server's certificate must be valid for its name (Node's default CA store). passimd
   * and its neighbours have self-signed certificates, so fetches from them do not verify.
   */
  verifyCertificate: boolean;
  signal?: AbortSignal;
  /** The connection is destroyed when no byte moves for this long, before the response or during its body. */
  stallTimeoutMs: number;
  /**
   * The address to connect to instead of the URL's host: an IPv6 address with a zone (fe80::1%eth0), which
   * a URL cannot hold.
   */
  address?: string;
  /** Connections to reuse; Node's global agent otherwise. */
  agent?: Agent;
}

/** A connection that moved no byte for too long. */
function stalled(url: URL, ms: number): PassimError {
  return new PassimError('internal', N_('no data from {host} for {seconds} s', { host: url.host, seconds: ms / 1000 }));
}

/** Resolves with the response (any status; its body unread), rejects when the request fails or is aborted. */
export function httpGet(url: URL, options: GetOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const get = url.protocol === 'http:' ? plainGet : tlsGet;
    const req = get(
      url,
      {
        ...(options.address !== undefined ? { hostname: options.address } : {}),
        ...(options.agent !== undefined ? { agent: options.agent } : {}),
        signal: options.signal,
        // Set on the socket from its creation, so that a connection that never completes counts too.
        timeout: options.stallTimeoutMs,
        headers: { 'User-Agent': `passim/${VERSION}` },
        ...(url.protocol === 'https:' ? { rejectUnauthorized: options.verifyCertificate } : {}),
      },
      resolve,
    );
    // The socket's idle timer runs for the response's body too: a stalled transfer ends in an error there.
    req.on('timeout', () => req.destroy(stalled(url, options.stallTimeoutMs)));
    req.on('error', reject);
  });
}
