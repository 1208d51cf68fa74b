// SPDX-License-Identifier: LGPL-2.1-or-later
// passimctl download: fetch an item through the local daemon, following its redirect to a peer, and keep
// it only if its SHA-256 matches.
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SHA256_HEX } from '../shared/api.js';
import { PassimError, errnoCode, reasonOf } from '../shared/errors.js';
import { formatSize } from '../shared/format.js';
import { _, N_, localTranslator } from '../shared/i18n.js';
import { sha256Hasher } from '../shared/hash.js';
import { validBasename } from '../shared/item.js';
import { withClient } from '../client/client.js';
import { httpGet } from '../client/http-get.js';
import { neighbourOf } from '../client/lan-fetch.js';
import { ProgressBar } from './progress.js';

const MAX_REDIRECTS = 5;
/** Below this a progress bar would only flicker. */
const PROGRESS_MIN_SIZE = 1024 * 1024;
/** A peer that stops sending for this long is given up on. */
const IDLE_TIMEOUT_MS = 60_000;

function httpError(res: IncomingMessage, url: URL, hash: string): PassimError {
  switch (res.statusCode) {
    case 404:
      // TRANSLATORS: a peer is another machine on the local network that runs Passim
      return new PassimError('not-found', N_('No peer has {hash}', { hash }));
    case 423:
      return new PassimError('locked', N_('{hash} is not shared until the next reboot', { hash }));
    case 403:
      return new PassimError('forbidden', N_('{host} refused the download (403 Forbidden)', { host: url.host }));
    default:
      return new PassimError(
        'internal',
        N_('Download from {host} failed: {status}', { host: url.host, status: `HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim() }),
      );
  }
}

/** GETs `url`, following redirects to peers; resolves with the 200 response. */
async function fetchFollowing(start: URL, name: string, hash: string): Promise<IncomingMessage> {
  let url = start;
  let address: string | undefined;
  for (let hop = 0; ; hop++) {
    let res: IncomingMessage;
    try {
      // The content is checked against the hash, so the peers' self-signed certificates need no trust.
      res = await httpGet(url, {
        verifyCertificate: false,
        stallTimeoutMs: IDLE_TIMEOUT_MS,
        ...(address !== undefined ? { address } : {}),
      });
    } catch (err) {
      throw new PassimError('internal', N_('Cannot download from {host}: {reason}', { host: url.host, reason: reasonOf(err) }), {
        cause: err,
      });
    }
    const status = res.statusCode ?? 0;
    if (status === 200) return res;
    res.resume();
    if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
      if (hop >= MAX_REDIRECTS) throw new PassimError('internal', N_('Too many redirects downloading {hash}', { hash }));
      // passimd redirects to a neighbour's address, which for a link-local IPv6 one carries a zone that a URL
      // cannot hold: such a redirect is read as the neighbour's, anything else as a URL.
      const neighbour = neighbourOf(res.headers.location, name, hash);
      address = neighbour?.address;
      try {
        url = neighbour?.url ?? new URL(res.headers.location, url);
      } catch {
        throw new PassimError('internal', N_('{host} redirected to an address that is not a URL', { host: url.host }));
      }
      if (url.protocol !== 'https:') {
        throw new PassimError(
          'internal',
          N_('Refusing to follow a redirect to {protocol} {host}', { protocol: url.protocol, host: url.host }),
        );
      }
      continue;
    }
    throw httpError(res, url, hash);
  }
}

export async function download(name: string, hashArg: string): Promise<void> {
  if (!validBasename(name)) {
    throw new PassimError('invalid-argument', N_('"{name}" is not a plain file name (no "/", no control characters)', { name }));
  }
  const hash = hashArg.toLowerCase();
  if (!SHA256_HEX.test(hash))
    throw new PassimError('invalid-argument', N_('"{hash}" is not a SHA-256 hash (64 hex digits)', { hash: hashArg }));
  const { uri } = await withClient((client) => client.getProperties());
  const res = await fetchFollowing(new URL(`${uri}${encodeURIComponent(name)}?sha256=${hash}&localhost=false`), name, hash);
  const type = (res.headers['content-type'] ?? 'application/octet-stream').split(';')[0]?.trim() || 'application/octet-stream';
  const total = Number(res.headers['content-length'] ?? NaN);
  const bar = process.stderr.isTTY && total > PROGRESS_MIN_SIZE ? new ProgressBar(name, total) : undefined;

  // A name of our own, not derived from BASENAME, so a long BASENAME cannot exceed NAME_MAX here.
  const temp = join(process.cwd(), `.passimctl-${hash.slice(0, 16)}-${randomBytes(4).toString('hex')}.part`);
  const onInterrupt = (): void => {
    bar?.clear();
    try {
      unlinkSync(temp);
    } catch {
      /* not created yet */
    }
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);
  let kept = false;
  try {
    const file = await open(temp, 'wx', 0o644);
    const digest = sha256Hasher();
    let size = 0;
    await pipeline(
      res,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          digest.update(chunk);
          size += chunk.length;
          bar?.update(size);
          yield chunk;
        }
      },
      file.createWriteStream(),
    );
    bar?.clear();
    const got = digest.digest('hex');
    if (got !== hash) {
      throw new PassimError(
        'internal',
        N_('Downloaded data does not match the hash: expected {expected}, got {got}; nothing was saved', { expected: hash, got }),
      );
    }
    await rename(temp, name);
    kept = true;
    // TRANSLATORS: e.g. "Saved firmware.cab (3.1 MB of application/vnd.ms-cab-compressed)"; {type} is a MIME type
    process.stdout.write(`${_('Saved {name} ({size} of {type})', { name, size: formatSize(size, localTranslator().locale), type })}\n`);
  } catch (err) {
    bar?.clear();
    // An unread response (e.g. the temporary file could not be created) would keep the process alive.
    res.destroy();
    if (err instanceof PassimError) throw err;
    throw new PassimError('internal', N_('Download of {name} failed: {reason}', { name, reason: reasonOf(err) }), { cause: err });
  } finally {
    if (!kept)
      await unlink(temp).catch((err: unknown) => {
        if (errnoCode(err) !== 'ENOENT') throw err;
      });
    process.removeListener('SIGINT', onInterrupt);
    process.removeListener('SIGTERM', onInterrupt);
  }
}
