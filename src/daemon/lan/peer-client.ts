// SPDX-License-Identifier: LGPL-2.1-or-later
// Requests to neighbours' passimd: their summaries and whether they hold an item, bounded in bytes and time.
// Their certificates are self-signed and unverifiable; what they say is a hint that a hash check settles.
import { Agent, request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Peer } from './peers.js';

/** Why a request to a neighbour failed; the neighbour is avoided for a while for any of these. */
export class PeerRequestError extends Error {}

/**
 * Connections to neighbours. Confirmations keep one open for a few seconds, so a burst of lookups costs a round
 * trip each rather than a handshake; summaries, fetched now and then, close theirs: every connection we hold
 * counts against the neighbour's per-address share of its MaxConnections.
 */
export function createPeerAgent(keepAlive: boolean): Agent {
  return keepAlive
    ? new Agent({ keepAlive: true, maxSockets: 2, maxFreeSockets: 1, rejectUnauthorized: false, timeout: 5000 })
    : new Agent({ keepAlive: false, maxSockets: 2, rejectUnauthorized: false });
}

/** `https://` authority of a peer: IPv6 in brackets. */
function hostOf(peer: Peer): string {
  return peer.address.includes(':') ? `[${peer.address}]` : peer.address;
}

function get(
  agent: Agent,
  peer: Peer,
  method: 'GET' | 'HEAD',
  path: string,
  timeoutMs: number,
  onResponse: (res: IncomingMessage, done: (err: Error | null, value?: Buffer) => void) => void,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let status = 0;
    const finish = (err: Error | null, body: Buffer = Buffer.alloc(0)): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err instanceof PeerRequestError ? err : new PeerRequestError(`${hostOf(peer)}: ${err.message}`));
      } else {
        resolve({ status, body });
      }
    };
    const req = request({ agent, host: peer.address, port: peer.port, method, path, headers: { 'User-Agent': 'passimd' } }, (res) => {
      status = res.statusCode ?? 0;
      onResponse(res, finish);
    });
    // One deadline for the whole exchange: a peer that trickles bytes cannot hold us past it.
    const timer = setTimeout(() => finish(new PeerRequestError(`${hostOf(peer)}: no complete answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => finish(err));
    req.end();
  });
}

/** The status a HEAD of `path` gets from `peer` within `timeoutMs`. */
export async function headStatus(agent: Agent, peer: Peer, path: string, timeoutMs: number): Promise<number> {
  const { status } = await get(agent, peer, 'HEAD', path, timeoutMs, (res, done) => {
    res.resume();
    res.once('end', () => done(null));
    res.once('error', (err) => done(err));
  });
  return status;
}

/**
 * The body of a 200 answer to GET `path`, at most `maxBytes`, complete within `timeoutMs`; null for a 304 (what we
 * hold is current); anything else fails.
 */
export async function getBounded(agent: Agent, peer: Peer, path: string, maxBytes: number, timeoutMs: number): Promise<Buffer | null> {
  const { status, body } = await get(agent, peer, 'GET', path, timeoutMs, (res, done) => {
    if (res.statusCode === 304) {
      res.resume();
      res.once('end', () => done(null));
      res.once('error', (err) => done(err));
      return;
    }
    if (res.statusCode !== 200) {
      res.resume();
      done(new PeerRequestError(`${hostOf(peer)} answered ${res.statusCode ?? '?'} for ${path}`));
      return;
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      done(new PeerRequestError(`${hostOf(peer)} sends ${declared} bytes for ${path}, more than ${maxBytes}`));
      return;
    }
    const chunks: Buffer[] = [];
    let length = 0;
    res.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > maxBytes) done(new PeerRequestError(`${hostOf(peer)} sent more than ${maxBytes} bytes for ${path}`));
      else chunks.push(chunk);
    });
    res.once('end', () => done(null, Buffer.concat(chunks, length)));
    res.once('error', (err) => done(err));
  });
  if (status === 304) return null;
  if (status !== 200) throw new PeerRequestError(`${hostOf(peer)} answered ${status} for ${path}`);
  return body;
}
