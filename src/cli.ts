import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, unlinkSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { basename as pathBasename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { STATUS_NAMES, withClient, type DaemonProperties, type RemoteItem } from './client.js';
import { PassimError, errnoCode } from './errors.js';
import { formatDuration, formatSize, formatTime } from './format.js';
import { ItemFlags, SHA256_HEX, validBasename } from './item.js';
import { VERSION } from './version.js';

// The daemon records the publishing program by its name (as the original records its tool's).
process.title = 'passimctl';

const MAX_REDIRECTS = 5;
/** Below this a progress bar would only flicker. */
const PROGRESS_MIN_SIZE = 1024 * 1024;
/** A peer that stops sending for this long is given up on. */
const IDLE_TIMEOUT_MS = 60_000;
const U32_MAX = 0xffffffff;

/** An error whose message is meant for the user as-is. */
class UsageError extends PassimError {
  constructor(message: string) {
    super('invalid-argument', message);
  }
}

function statusName(status: number): string {
  return STATUS_NAMES[status] ?? `unknown (${status})`;
}

function flagNames(flags: number): string {
  const names: string[] = [];
  if (flags & ItemFlags.DISABLED) names.push('disabled');
  if (flags & ItemFlags.NEXT_REBOOT) names.push('next-reboot');
  return names.length > 0 ? names.join(',') : 'none';
}

function printStatus(props: DaemonProperties, items: RemoteItem[]): void {
  const out: string[] = [
    `Name:            ${props.name}`,
    `Status:          ${statusName(props.status)}`,
    `Download saving: ${formatSize(props.downloadSaving)}`,
    `Carbon saving:   ${props.carbonSaving.toFixed(3)} kg CO₂e`,
    `URI:             ${props.uri}`,
  ];
  if (items.length === 0) out.push('', 'No items published.');
  for (const item of items) {
    out.push(
      '',
      `${item.hash}`,
      `  Filename:    ${item.filename}`,
      `  Command:     ${item.cmdline || '(unknown)'}`,
      `  Max age:     ${formatDuration(item.maxAge)}`,
      `  Shared:      ${item.shareCount} of ${item.shareLimit}`,
      `  Size:        ${formatSize(item.size)}`,
      `  Flags:       ${flagNames(item.flags)}`,
      `  Published:   ${item.ctime > 0 ? formatTime(item.ctime) : '(unknown)'}`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

async function status(json: boolean): Promise<void> {
  const [props, items] = await withClient(async (c) => [await c.getProperties(), await c.getItems()] as const);
  if (json) {
    const doc = {
      name: props.name,
      status: statusName(props.status),
      uri: props.uri,
      downloadSaving: props.downloadSaving,
      carbonSaving: props.carbonSaving,
      version: props.daemonVersion,
      items,
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    printStatus(props, items);
  }
}

/** A command-line number that must fit a D-Bus 'u'. */
function parseU32(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > U32_MAX) {
    throw new UsageError(`${what} must be a whole number from 0 to ${U32_MAX}, not "${value}"`);
  }
  return Number(value);
}

/** SHA-256 of a file, read as a stream. */
async function hashFile(path: string, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash, { signal });
  return hash.digest('hex');
}

async function publish(file: string, maxAgeArg: string | undefined, maxShareArg: string | undefined,
  nextReboot: boolean): Promise<void> {
  const maxAge = parseU32(maxAgeArg, 'MAX-AGE');
  const shareLimit = parseU32(maxShareArg, 'MAX-SHARE');
  const filename = pathBasename(file);
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw new UsageError(`Cannot open ${file}: ${(err as Error).message}`);
  }
  try {
    if (!(await handle.stat()).isFile()) throw new UsageError(`${file} is not a regular file`);
    const interactive = process.stdin.isTTY === true;
    // The daemon does not return the hash; compute it from a second, independent open of the same file
    // while the daemon reads its fd, then only print it if the daemon really stored that hash.
    const hashing = new AbortController();
    const hashed = hashFile(file, hashing.signal).catch(() => undefined);
    let items: RemoteItem[];
    try {
      items = await withClient(async (client) => {
        await client.publish(handle.fd, { filename, maxAge, shareLimit, nextReboot }, { interactive });
        return client.getItems();
      });
    } catch (err) {
      // Do not keep reading a large file just to print nothing.
      hashing.abort();
      throw err;
    }
    const hash = await hashed;
    const stored = hash !== undefined && items.some((i) => i.hash === hash);
    process.stdout.write(stored ? `Published: ${filename} ${hash}\n` : `Published: ${filename}\n`);
  } finally {
    await handle.close();
  }
}

async function unpublish(hash: string): Promise<void> {
  const interactive = process.stdin.isTTY === true;
  await withClient((client) => client.unpublish(hash, { interactive }));
  process.stdout.write(`Unpublished: ${hash}\n`);
}

/** A one-line bar on stderr, redrawn only when the shown percentage changes. */
class ProgressBar {
  private shown = -1;

  constructor(private readonly label: string, private readonly total: number) {}

  update(done: number): void {
    const percent = Math.min(100, Math.floor((done * 100) / this.total));
    if (percent === this.shown) return;
    this.shown = percent;
    const text = ` ${String(percent).padStart(3)}% ${formatSize(done)} of ${formatSize(this.total)}`;
    const width = Math.max(10, Math.min(40, (process.stderr.columns || 80) - this.label.length - text.length - 4));
    const filled = Math.round((width * percent) / 100);
    process.stderr.write(`\r${this.label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}]${text}\x1b[K`);
  }

  clear(): void {
    if (this.shown >= 0) process.stderr.write('\r\x1b[K');
  }
}

function request(url: URL): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    // The content is checked against the hash, so the peers' self-signed certificates need no trust.
    const req = httpsGet(url, { rejectUnauthorized: false }, resolve);
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no data from ${url.host} for ${IDLE_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
  });
}

function httpError(res: IncomingMessage, url: URL, hash: string): PassimError {
  switch (res.statusCode) {
    case 404:
      return new PassimError('not-found', `No peer has ${hash}`);
    case 423:
      return new PassimError('locked', `${hash} is not shared until the next reboot`);
    case 403:
      return new PassimError('forbidden', `${url.host} refused the download (403 Forbidden)`);
    default:
      return new PassimError('internal', `Download from ${url.host} failed: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
  }
}

/** GETs `url`, following redirects to peers; resolves with the 200 response. */
async function fetchFollowing(start: URL, hash: string): Promise<IncomingMessage> {
  let url = start;
  for (let hop = 0; ; hop++) {
    let res: IncomingMessage;
    try {
      res = await request(url);
    } catch (err) {
      throw new PassimError('internal', `Cannot download from ${url.host}: ${(err as Error).message}`, { cause: err });
    }
    const status = res.statusCode ?? 0;
    if (status === 200) return res;
    res.resume();
    if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
      if (hop >= MAX_REDIRECTS) throw new PassimError('internal', `Too many redirects downloading ${hash}`);
      url = new URL(res.headers.location, url);
      if (url.protocol !== 'https:') throw new PassimError('internal', `Refusing to follow a redirect to ${url.protocol} ${url.host}`);
      continue;
    }
    throw httpError(res, url, hash);
  }
}

async function download(name: string, hashArg: string): Promise<void> {
  if (!validBasename(name)) throw new UsageError(`"${name}" is not a plain file name (no '/', no control characters)`);
  const hash = hashArg.toLowerCase();
  if (!SHA256_HEX.test(hash)) throw new UsageError(`"${hashArg}" is not a SHA-256 hash (64 hex digits)`);
  const { uri } = await withClient((client) => client.getProperties());
  const res = await fetchFollowing(new URL(`${uri}${encodeURIComponent(name)}?sha256=${hash}&localhost=false`), hash);
  const type = (res.headers['content-type'] ?? 'application/octet-stream').split(';')[0]?.trim() || 'application/octet-stream';
  const total = Number(res.headers['content-length'] ?? NaN);
  const bar = process.stderr.isTTY && total > PROGRESS_MIN_SIZE ? new ProgressBar(name, total) : undefined;

  // A name of our own, not derived from BASENAME, so a long BASENAME cannot exceed NAME_MAX here.
  const temp = join(process.cwd(), `.passimctl-${hash.slice(0, 16)}-${randomBytes(4).toString('hex')}.part`);
  const onInterrupt = (): void => {
    bar?.clear();
    try { unlinkSync(temp); } catch { /* not created yet */ }
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);
  let kept = false;
  try {
    const file = await open(temp, 'wx', 0o644);
    const digest = createHash('sha256');
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
      throw new PassimError('internal', `Downloaded data does not match the hash: expected ${hash}, got ${got}; nothing was saved`);
    }
    await rename(temp, name);
    kept = true;
    process.stdout.write(`Saved ${name} (${formatSize(size)} of ${type})\n`);
  } catch (err) {
    bar?.clear();
    // An unread response (e.g. the temporary file could not be created) would keep the process alive.
    res.destroy();
    if (err instanceof PassimError) throw err;
    throw new PassimError('internal', `Download of ${name} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    if (!kept) await unlink(temp).catch((err: unknown) => { if (errnoCode(err) !== 'ENOENT') throw err; });
    process.removeListener('SIGINT', onInterrupt);
    process.removeListener('SIGTERM', onInterrupt);
  }
}

async function printVersions(): Promise<void> {
  process.stdout.write(`client version: ${VERSION}\n`);
  const props = await withClient((client) => client.getProperties());
  process.stdout.write(`daemon version: ${props.daemonVersion}\n`);
}

/** Prints a failure the way a person wants to read it and sets the exit status. */
function report(err: unknown): void {
  let message = err instanceof Error ? err.message : String(err);
  if (err instanceof PassimError && err.kind === 'interactive-authorization-required') {
    message = `Permission denied: ${message}\nRun passimctl on a terminal so that polkit can ask for a password, or run it as root (for example with sudo).`;
  } else if (err instanceof PassimError && err.kind === 'access-denied') {
    message = `Permission denied: ${message}\nRun passimctl as root (for example with sudo), or ask an administrator to allow this with a polkit rule (see passimd(8)).`;
  }
  process.stderr.write(`${message}\n`);
  process.exitCode = 1;
}

/** Runs a command body, turning any failure into a message and exit status 1. */
function run(body: () => Promise<void>): Promise<void> {
  return body().catch(report);
}

const parser = yargs(hideBin(process.argv))
  .scriptName('passimctl')
  .usage('Usage: $0 <command> [options]')
  .epilogue('Query and control the local Passim caching daemon; see passimctl(1).')
  .version(false)
  .option('version', { type: 'boolean', describe: 'Show the client and daemon versions' })
  .command(['status', 'dump'], 'Show the daemon status and the published items',
    (y) => y.option('json', { type: 'boolean', default: false, describe: 'Print one JSON object' }),
    (argv) => run(() => status(argv.json)))
  .command('publish <file> [max-age] [max-share]', 'Publish a file (needs root or polkit authorization)',
    (y) => y
      .positional('file', { type: 'string', demandOption: true, describe: 'File to publish' })
      .positional('max-age', { type: 'string', describe: 'Seconds to keep the item (default 86400)' })
      .positional('max-share', { type: 'string', describe: 'Number of downloads before the item is removed (default 5)' })
      .option('next-reboot', { type: 'boolean', default: false, describe: 'Only share the file after the next reboot' }),
    (argv) => run(() => publish(argv.file, argv.maxAge, argv.maxShare, argv.nextReboot)))
  .command('unpublish <hash>', 'Remove a published item (needs root or polkit authorization)',
    (y) => y.positional('hash', { type: 'string', demandOption: true, describe: 'SHA-256 of the item' }),
    (argv) => run(() => unpublish(argv.hash)))
  .command('download <basename> <hash>', 'Download a file by hash from a LAN peer into the current folder',
    (y) => y
      .positional('basename', { type: 'string', demandOption: true, describe: 'File name to save as' })
      .positional('hash', { type: 'string', demandOption: true, describe: 'SHA-256 of the content' }),
    (argv) => run(() => download(argv.basename, argv.hash)))
  .strict()
  .help()
  .alias('help', 'h')
  .wrap(Math.min(120, process.stdout.columns || 120))
  .fail((msg, err, y) => {
    // Bad usage: the usage and what is wrong on stderr, exit 1. Throwing stops yargs from running the
    // command anyway; the catch below turns it into the exit status (yargs would call process.exit).
    y.showHelp((usage: string) => process.stderr.write(`${usage}\n\n`));
    throw new UsageError(msg ?? err?.message ?? 'Invalid usage');
  });

// Positionals are strings: numbers are validated by us so "1e3" or "-5" get a clear message.
parser.parserConfiguration({ 'parse-positional-numbers': false });

// --version wins over any command, like the original tool.
if (hideBin(process.argv).includes('--version')) {
  await run(printVersions);
} else {
  let argv;
  try {
    // yargs throws synchronously for bad usage, asynchronously otherwise; both land here.
    argv = await parser.parseAsync();
  } catch (err) {
    report(err);
  }
  if (argv && argv._.length === 0) {
    process.stderr.write(`${await parser.getHelp()}\n\nNo command given.\n`);
    process.exitCode = 1;
  }
}
