// SPDX-License-Identifier: LGPL-2.1-or-later
// The acquire method: each request with an expected SHA-256 is asked of the LAN first, through the local
// passimd; everything else, and everything the LAN cannot give, goes to apt's own method for the scheme.
import { openSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { validBasename } from '../shared/item.js';
import { ChildMethod } from './child-method.js';
import { expectedHashNames, hashFields, hashFile, matchesExpected } from './file-hashes.js';
import { fieldOf, formatMessage, type Message } from './message.js';
import { Publisher } from './publisher.js';
import { configOf, DEFAULT_SETTINGS, isIndexRequest, settingsOf, type Settings } from './settings.js';

/** A miss is answered at once; a passimd slower than this is treated as absent for the rest of the run. */
export const LOOKUP_TIMEOUT_MS = 2000;
/** A neighbour that sends nothing for this long is given up on, and the origin asked. */
export const STALL_TIMEOUT_MS = 10_000;
/** At exit, publishes still queued get this long before they are dropped (apt waits for us meanwhile). */
const PUBLISH_GRACE_MS = 5000;

const SHA256_HEX = /^[0-9a-f]{64}$/;
const SCHEME = /^([a-z][a-z0-9+.-]*):/;

export interface MethodIo {
  /** Writes to apt (our stdout). */
  write(text: string): void;
  exit(code: number): void;
  /** Becomes apt's sandbox user; throws when it cannot. */
  dropPrivileges(user: string): void;
}

/** A request handed to apt's method, remembered until it answers for it. */
interface Forwarded {
  scheme: string;
  expected: string | undefined;
  index: boolean;
  /** passimd was asked for it first: the bytes apt's method fetches are reported to it as from the origin. */
  askedLan: boolean;
}

/** The name a file has on the LAN: the last part of its URI's path (by-hash indexes: the hash). */
export function nameOf(uri: string): string {
  let path: string;
  try {
    path = new URL(uri).pathname;
  } catch {
    path = uri;
  }
  const last = path.slice(path.lastIndexOf('/') + 1);
  let name: string;
  try {
    name = decodeURIComponent(last);
  } catch {
    name = last;
  }
  return validBasename(name) ? name : 'file';
}

export class AptMethod {
  private settings: Settings = DEFAULT_SETTINGS;
  /** apt's 601 Configuration, relayed as received to each child before anything else. */
  private configuration: string | undefined;
  private readonly children = new Map<string, ChildMethod>();
  private readonly forwarded = new Map<string, Forwarded>();
  private readonly lookups = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private publisher: Publisher | undefined;
  /** Set once passimd took longer than LOOKUP_TIMEOUT_MS: not asked again in this run. */
  private lanUnusable = false;
  /** The LAN and D-Bus clients were asked to load. */
  private clientsLoading = false;
  private closing = false;

  constructor(private readonly io: MethodIo) {}

  receive(message: Message): void {
    if (this.closing) return;
    try {
      if (message.code === 601) this.configure(message);
      else if (message.code === 600) this.acquire(message);
      // Anything else (603 Media Changed…) concerns apt's methods: they all hear it.
      else for (const child of this.children.values()) child.send(message.raw);
    } catch (err) {
      // A bug of ours must not cost apt the file: what can be forwarded is.
      this.log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, true);
      const uri = fieldOf(message, 'URI');
      if (message.code === 600 && uri !== undefined) this.forward(message, uri, undefined, false);
    }
  }

  private configure(message: Message): void {
    this.configuration = message.raw;
    this.settings = settingsOf(configOf(message));
    if (!this.settings.noDropPrivs) {
      try {
        this.io.dropPrivileges(this.settings.sandboxUser);
      } catch (err) {
        this.fatal(err instanceof Error ? err.message : String(err));
      }
    }
  }

  /**
   * Loads the LAN and D-Bus clients once apt has the first file of a kind that is shared, typically InRelease
   * (no expected hash, so apt's method fetched it): while apt checks its signature, so that the first lookup
   * and the first publish do not wait for TLS, HTTP and D-Bus to load, and nothing waits on the loading. A run
   * that shares nothing never loads them.
   */
  private preloadClients(): void {
    if (this.clientsLoading) return;
    this.clientsLoading = true;
    import('../client/lan-fetch.js').catch(() => {});
    import('../client/client.js').catch(() => {});
  }

  private acquire(message: Message): void {
    const uri = fieldOf(message, 'URI');
    if (uri === undefined || uri === '') {
      this.log('600 URI Acquire without a URI: ignored', true);
      return;
    }
    const expected = fieldOf(message, 'Expected-SHA256')?.toLowerCase();
    const index = isIndexRequest(message);
    const scheme = SCHEME.exec(uri)?.[1];
    if (
      !this.sharing(index) ||
      this.lanUnusable ||
      expected === undefined ||
      !SHA256_HEX.test(expected) ||
      (scheme !== 'http' && scheme !== 'https') ||
      fieldOf(message, 'Filename') === undefined
    ) {
      this.forward(message, uri, expected, index);
      return;
    }
    const lookup = this.fromLan(message, uri, expected, index).finally(() => this.lookups.delete(lookup));
    this.lookups.add(lookup);
  }

  /** Asks the LAN; on anything but a verified file, hands the request to apt's method. */
  private async fromLan(message: Message, uri: string, expected: string, index: boolean): Promise<void> {
    const filename = fieldOf(message, 'Filename') ?? '';
    const name = nameOf(uri);
    try {
      const { fetchFromLan } = await import('../client/lan-fetch.js');
      const started = performance.now();
      const got = await fetchFromLan(name, expected, filename, {
        lookupTimeoutMs: LOOKUP_TIMEOUT_MS,
        stallTimeoutMs: STALL_TIMEOUT_MS,
        signal: this.abort.signal,
      });
      if (got === null) {
        if (performance.now() - started >= LOOKUP_TIMEOUT_MS && !this.lanUnusable) {
          this.lanUnusable = true;
          this.log('passimd did not answer in time: asking the origin for the rest of this run', true);
        }
      } else {
        // Reported hashes are apt's only check: they are computed here, over what is on disk now.
        const hashes = await hashFile(filename, expectedHashNames(message));
        if (matchesExpected(message, hashes)) {
          if (this.closing) return;
          // A neighbour's copy is shared on from here too: a share limit then does not end its spread.
          if (got.source === 'peer') this.share(uri, filename, index);
          this.io.write(
            formatMessage(200, 'URI Start', [
              ['URI', uri],
              ['Size', hashes.size],
            ]),
          );
          this.io.write(
            formatMessage(201, 'URI Done', [['URI', uri], ['Filename', filename], ['Size', hashes.size], ...hashFields(hashes)]),
          );
          this.log(`${name}: from the LAN (${got.source === 'peer' ? `neighbour ${got.peer}` : 'this machine'}, ${hashes.size} bytes)`);
          if (got.source === 'peer') this.passimd().report(expected, 'neighbour', hashes.size);
          return;
        }
        this.log(`${name}: what the LAN gave does not match the expected hashes; asking the origin`, true);
        await rm(filename, { force: true });
      }
    } catch (err) {
      // fetchFromLan renames only verified files into place: whatever is at `filename` is apt's or verified.
      this.log(`${name}: LAN fetch failed (${err instanceof Error ? err.message : String(err)}); asking the origin`, true);
    }
    if (!this.closing) this.forward(message, uri, expected, index, true);
  }

  private passimd(): Publisher {
    this.publisher ??= new Publisher((text) => this.log(text));
    return this.publisher;
  }

  private forward(message: Message, uri: string, expected: string | undefined, index: boolean, askedLan = false): void {
    const scheme = SCHEME.exec(uri)?.[1];
    if (scheme === undefined) {
      this.io.write(
        formatMessage(400, 'URI Failure', [
          ['URI', uri],
          ['Message', `no scheme in ${uri}`],
        ]),
      );
      return;
    }
    this.forwarded.set(uri, { scheme, expected, index, askedLan });
    this.childFor(scheme).send(message.raw);
  }

  private childFor(scheme: string): ChildMethod {
    const existing = this.children.get(scheme);
    if (existing?.alive) return existing;
    const child = new ChildMethod(join(this.settings.methodsDir, scheme), this.configuration, {
      onMessage: (message) => this.fromChild(message),
      onGone: (reason) => this.childGone(scheme, child, reason),
    });
    this.children.set(scheme, child);
    child.start();
    return child;
  }

  private fromChild(message: Message): void {
    if (this.closing) return;
    const uri = fieldOf(message, 'URI');
    const request = uri === undefined ? undefined : this.forwarded.get(uri);
    if (uri !== undefined && request && (message.code === 201 || message.code === 400 || message.code === 103)) {
      this.forwarded.delete(uri);
      if (message.code === 201) this.publishIfVerified(uri, request, message);
    }
    this.io.write(`${message.raw}\n\n`);
    if (message.code === 201 && request && this.sharing(request.index)) this.preloadClients();
  }

  /** Whether files of this kind are looked up on the LAN and published (Enable, Share-Indexes, Share-Packages). */
  private sharing(index: boolean): boolean {
    const { enable, shareIndexes, sharePackages } = this.settings;
    return enable && (index ? shareIndexes : sharePackages);
  }

  /** Publishes a file apt's method fetched when its SHA-256, as that method reports it, is the expected one. */
  private publishIfVerified(uri: string, request: Forwarded, done: Message): void {
    const size = Number(fieldOf(done, 'Size'));
    if (request.askedLan && request.expected !== undefined && Number.isSafeInteger(size) && size > 0) {
      this.passimd().report(request.expected, 'origin', size);
    }
    if (request.expected === undefined || fieldOf(done, 'SHA256-Hash')?.toLowerCase() !== request.expected) return;
    const filename = fieldOf(done, 'Filename');
    if (filename) this.share(uri, filename, request.index);
  }

  /**
   * Publishes a verified file when sharing of its kind is on. Called before apt hears of the file: it is
   * opened at once, so apt moving it on does not change what is published.
   */
  private share(uri: string, filename: string, index: boolean): void {
    if (!this.sharing(index)) return;
    const { maxAge, shareLimit } = this.settings;
    let fd: number;
    try {
      fd = openSync(filename, 'r');
    } catch (err) {
      this.log(`could not open ${filename} to publish it: ${err instanceof Error ? err.message : String(err)}`, true);
      return;
    }
    this.passimd().add({ fd, filename: nameOf(uri), maxAge, shareLimit });
  }

  private childGone(scheme: string, child: ChildMethod, reason: string): void {
    if (this.children.get(scheme) === child) this.children.delete(scheme);
    if (this.closing) return;
    for (const [uri, request] of this.forwarded) {
      if (request.scheme !== scheme) continue;
      this.forwarded.delete(uri);
      this.io.write(
        formatMessage(400, 'URI Failure', [
          ['URI', uri],
          ['Message', reason],
        ]),
      );
    }
  }

  /** `101 Log` reaches apt's debug output (Debug::pkgAcquire::Worker); routine lines only with Debug::Acquire::passim. */
  log(text: string, always = false): void {
    if ((!always && !this.settings.debug) || this.closing) return;
    this.io.write(formatMessage(101, 'Log', [['Message', text.replace(/[\r\n]+/g, ' ')]]));
  }

  /** 401 General Failure: apt fails every request of this method and stops it. */
  fatal(text: string): void {
    if (!this.closing) this.io.write(formatMessage(401, 'General Failure', [['Message', text.replace(/[\r\n]+/g, ' ')]]));
    this.closing = true;
    this.abort.abort();
    this.io.exit(100);
  }

  /** apt closed our stdin or sent SIGINT: children stop, queued publishes get a moment, then we exit. */
  async shutdown(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.abort.abort();
    await Promise.race([Promise.allSettled(this.lookups), new Promise((resolve) => setTimeout(resolve, 1000))]);
    await Promise.allSettled([...this.children.values()].map((child) => child.stop()));
    await this.publisher?.finish(PUBLISH_GRACE_MS);
    this.io.exit(0);
  }
}
