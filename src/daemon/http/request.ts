// SPDX-License-Identifier: LGPL-2.1-or-later
// What a request asks for: the client's address, the file query, the byte range, conditional headers.
import type { IncomingMessage } from 'node:http';
import { SHA256_HEX } from '../../shared/api.js';
import { PassimError } from '../../shared/errors.js';
import { N_ } from '../../shared/i18n.js';
import { plainAddress } from '../lan/subnets.js';
import { parsePosition, type SummaryPosition } from '../lan/summary-position.js';

/** The client's address, with IPv4-mapped IPv6 (from a dual-stack socket) shown as plain IPv4. */
export function clientAddress(req: IncomingMessage): string {
  return plainAddress(req.socket.remoteAddress ?? '');
}

export function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new PassimError('bad-request', N_('The address has malformed percent-encoding.'));
  }
}

export interface FileQuery {
  hash: string;
  /** undefined when not given. */
  localhost: boolean | undefined;
}

/**
 * The values of the keys `names` in a query string (`a=1&b=2`), decoded; other keys are ignored, and a key
 * given twice is refused rather than guessed at.
 */
export function queryArguments<K extends string>(query: string, names: readonly K[]): Partial<Record<K, string>> {
  const found: Partial<Record<K, string>> = {};
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = decodeComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeComponent(pair.slice(eq + 1));
    if (!names.includes(key as K)) continue;
    if (found[key as K] !== undefined)
      throw new PassimError('bad-request', N_('The {argument} argument was given more than once.', { argument: `${key}=` }));
    found[key as K] = value;
  }
  return found;
}

/** Parses `sha256=HASH[&localhost=true|false]`; other keys are ignored. */
export function parseFileQuery(query: string): FileQuery {
  const { sha256: hash, localhost } = queryArguments(query, ['sha256', 'localhost']);
  if (hash === undefined) throw new PassimError('bad-request', N_('The {argument} argument is required.', { argument: 'sha256=' }));
  if (!SHA256_HEX.test(hash.toLowerCase())) {
    throw new PassimError('not-acceptable', N_('The sha256 hash must be exactly 64 hexadecimal digits.'));
  }
  if (localhost !== undefined && localhost !== 'true' && localhost !== 'false') {
    throw new PassimError('bad-request', N_('The {argument} argument must be true or false.', { argument: 'localhost=' }));
  }
  return { hash: hash.toLowerCase(), localhost: localhost === undefined ? undefined : localhost === 'true' };
}

/** Parses the query of a summary request: nothing, or `since=<epoch>.<generation>` (other keys are ignored). */
export function parseSummaryQuery(query: string): SummaryPosition | undefined {
  const { since } = queryArguments(query, ['since']);
  if (since === undefined) return undefined;
  const position = parsePosition(since);
  if (position === undefined) {
    throw new PassimError('bad-request', N_('The {argument} argument must be an epoch and a generation.', { argument: 'since=' }));
  }
  return position;
}

/** Inclusive byte offsets. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * A single `bytes=` range resolved against `size`. Anything we do not handle (other units, several ranges,
 * bad syntax) gives undefined, meaning "send the whole file", which RFC 9110 allows.
 */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const first = match[1] ?? '';
  const last = match[2] ?? '';
  if (first === '') {
    if (last === '') return undefined;
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}

/** If-None-Match: a list of entity tags (weak ones compare equal too) or `*`. */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}
