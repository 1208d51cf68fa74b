// SPDX-License-Identifier: LGPL-2.1-or-later
// passimctl fetch: a file by URL and SHA-256, from the LAN through the local passimd when a machine there
// has it, else from the URL itself; saved only once the hash matched, and published on request.
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SHA256_HEX } from '../shared/api.js';
import { PassimError, reasonOf } from '../shared/errors.js';
import { formatSize } from '../shared/format.js';
import { _, N_, localTranslator } from '../shared/i18n.js';
import { validBasename } from '../shared/item.js';
import { withClient } from '../client/client.js';
import { DEFAULT_PORT, fetchFromLan, type LanFetchResult } from '../client/lan-fetch.js';
import { fetchFromOrigin, type OriginFetchResult } from '../client/origin-fetch.js';
import { ProgressBar } from './progress.js';
import { publish } from './publish.js';

/** Below this a progress bar would only flicker. */
const PROGRESS_MIN_SIZE = 1024 * 1024;
/** A person waits anyway, and a miss on the LAN costs a download from the origin. */
const LOOKUP_TIMEOUT_MS = 5000;
/** What `-o` takes to mean standard output. */
const STDOUT = '-';

export interface FetchRequest {
  url: string;
  hash: string;
  /** A path, STDOUT, or undefined for the URL's last segment in the current folder. */
  output: string | undefined;
  /** MAX-AGE and SHARE-LIMIT as given after --publish; undefined without --publish. */
  publish: { maxAge: string | undefined; shareLimit: string | undefined } | undefined;
}

/** The file was saved, but publishing it failed: `cause` says why. */
export class PublishAfterFetchError extends PassimError {
  constructor(readonly failure: unknown) {
    super('internal', reasonOf(failure), { cause: failure });
  }
}

/** The port of the local passimd's HTTPS server from its Uri property; the default when it cannot be asked. */
async function localPort(): Promise<number> {
  try {
    const { uri } = await withClient((client) => client.getProperties());
    const port = Number(new URL(uri).port);
    return Number.isInteger(port) && port > 0 ? port : DEFAULT_PORT;
  } catch {
    return DEFAULT_PORT;
  }
}

/**
 * Tells this machine's passimd where the bytes came from, for its traffic figures. Best effort: a daemon
 * that is gone, the original one, or one that does not believe the report changes nothing for the user.
 */
async function reportTransfer(hash: string, source: 'neighbour' | 'origin', bytes: number): Promise<void> {
  try {
    await withClient((client) => client.reportTransfer(hash, source, bytes));
  } catch {
    // The figures are the daemon's; the file is saved either way.
  }
}

/** The file name a URL's last path segment gives, if it is a plain one. */
function nameOf(url: URL): string | undefined {
  const segment = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
  try {
    const name = decodeURIComponent(segment);
    return validBasename(name) ? name : undefined;
  } catch {
    return undefined;
  }
}

/** A progress bar on a terminal, made when the size is known and large enough; cleared between attempts. */
class Progress {
  private bar: ProgressBar | undefined;
  constructor(private readonly label: string) {}

  readonly update = (received: number, total: number | undefined): void => {
    if (!process.stderr.isTTY || total === undefined || total <= PROGRESS_MIN_SIZE) return;
    this.bar ??= new ProgressBar(this.label, total);
    this.bar.update(received);
  };

  clear(): void {
    this.bar?.clear();
    this.bar = undefined;
  }
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new PassimError('invalid-argument', N_('"{url}" is not a URL', { url: text }));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new PassimError('invalid-argument', N_('Only http and https URLs can be fetched, not "{url}"', { url: text }));
  }
  return url;
}

export async function fetch(request: FetchRequest): Promise<void> {
  const url = parseUrl(request.url);
  const hash = request.hash.toLowerCase();
  if (!SHA256_HEX.test(hash))
    throw new PassimError('invalid-argument', N_('"{hash}" is not a SHA-256 hash (64 hex digits)', { hash: request.hash }));
  const name = nameOf(url);
  if (name === undefined) {
    // TRANSLATORS: -o is an option of passimctl fetch, keep it as it is
    throw new PassimError('invalid-argument', N_('{url} does not end in a file name; give one with -o', { url: request.url }));
  }
  const toStdout = request.output === STDOUT;
  // Standard output gets the bytes only once they are checked: they go through a file of our own first.
  const scratch = toStdout ? await mkdtemp(join(tmpdir(), 'passimctl-')) : undefined;
  const destination = scratch !== undefined ? join(scratch, name) : resolve(request.output ?? name);
  const shown = request.output === undefined || toStdout ? name : request.output;
  // Messages go to standard error when standard output carries the file.
  const say = (text: string): void => {
    (toStdout ? process.stderr : process.stdout).write(`${text}\n`);
  };

  const interrupted = new AbortController();
  const onInterrupt = (): void => interrupted.abort();
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);
  const progress = new Progress(shown);
  try {
    const { locale } = localTranslator();
    const size = (bytes: number): string => formatSize(bytes, locale);
    let fromLan: LanFetchResult | null;
    try {
      fromLan = await fetchFromLan(name, hash, destination, {
        port: await localPort(),
        lookupTimeoutMs: LOOKUP_TIMEOUT_MS,
        signal: interrupted.signal,
        onProgress: progress.update,
      });
    } catch (err) {
      throw cannotWrite(shown, err);
    } finally {
      progress.clear();
    }
    if (interrupted.signal.aborted) throw interruption();
    if (fromLan?.source === 'local') {
      say(_("Saved {file} ({size}) from this machine's passimd", { file: shown, size: size(fromLan.size) }));
    } else if (fromLan) {
      await reportTransfer(hash, 'neighbour', fromLan.size);
      // TRANSLATORS: a neighbour is another machine on the local network that runs Passim; {address} is its IP address
      say(_('Saved {file} ({size}) from neighbour {address}', { file: shown, size: size(fromLan.size), address: fromLan.peer ?? '' }));
    } else {
      let fromOrigin: OriginFetchResult;
      try {
        fromOrigin = await fetchFromOrigin(url, hash, destination, { signal: interrupted.signal, onProgress: progress.update });
      } catch (err) {
        if (interrupted.signal.aborted) throw interruption();
        if (err instanceof PassimError) throw err;
        throw cannotWrite(shown, err);
      } finally {
        progress.clear();
      }
      await reportTransfer(hash, 'origin', fromOrigin.size);
      // TRANSLATORS: {host} is the server named in the URL (or the one it redirected to)
      say(_('Saved {file} ({size}) from {host}', { file: shown, size: size(fromOrigin.size), host: fromOrigin.url.host }));
    }
    if (request.publish) {
      try {
        await publish(destination, request.publish.maxAge, request.publish.shareLimit, false, say);
      } catch (err) {
        // This machine's passimd already has it (it may be where the bytes came from): what was asked holds.
        if (err instanceof PassimError && err.kind === 'exists') say(_('Already published: {hash}', { hash }));
        else throw new PublishAfterFetchError(err);
      }
    }
    if (toStdout) await pipeline(createReadStream(destination), process.stdout);
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    process.removeListener('SIGTERM', onInterrupt);
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  }
}

function cannotWrite(file: string, err: unknown): PassimError {
  return new PassimError('internal', N_('Cannot save {file}: {reason}', { file, reason: reasonOf(err) }), { cause: err });
}

/** Ends passimctl with the status of a process killed by SIGINT, as download does. */
export class Interrupted extends PassimError {}

function interruption(): Interrupted {
  return new Interrupted('internal', N_('Interrupted; nothing was saved'));
}
