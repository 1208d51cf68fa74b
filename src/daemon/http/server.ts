// SPDX-License-Identifier: LGPL-2.1-or-later
// The HTTPS server: routing, item transfers, redirects to peers, the index page and its assets.
import { createReadStream, fstatSync, read } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream';
import { PassimError, errnoCode, toPassimError } from '../../shared/errors.js';
import { N_, loadCatalogReader, needsCatalogReader, translatorForAcceptLanguage } from '../../shared/i18n.js';
import { isDisabled, validBasename, type Item } from '../../shared/item.js';
import type { Logger } from '../../shared/log.js';
import { VERSION } from '../../shared/version.js';
import type { Config } from '../config.js';
import type { Discovery, Peer } from '../lan/peers.js';
import { SUMMARY_PATH, type SummaryPosition } from '../lan/summary-position.js';
import { isLoopback, isNeighbour, isOnLink, plainAddress } from '../lan/subnets.js';
import type { Store, StoreChange } from '../store/store.js';
import { BufferPool } from './buffer-pool.js';
import { ConnectionLimits, type Holder } from './connection-limits.js';
import { loopbackOwner } from './loopback-owner.js';
import { Listeners } from './listeners.js';
import { contentType } from './content-type.js';
import { Cooldown } from './cooldown.js';
import { OpenFiles } from './open-files.js';
import { indexListing, parseIndexQuery } from './index-page.js';
import { errorPage, indexPage, reasonPhrase, redirectPage } from './pages.js';
import type { Overview } from './status-page.js';
import { RateLimiter } from './rate-limit.js';
import { clientAddress, decodeComponent, matchesEtag, parseFileQuery, parseRange, parseSummaryQuery } from './request.js';
import { ShareTracker } from './share-tracker.js';
import { SmallFiles } from './small-files.js';
import { MIN_CHUNK, sendRange } from './transfer.js';
import { DEFAULT_FAVICON_ICO, DEFAULT_STYLE_CSS } from './web-assets.js';
import { sha256Hex, sha256Of } from '../../shared/hash.js';

/** Our summary for neighbours (lan/shared-summary.ts): the message for one that holds `since`, null if it is up to date. */
export interface SummarySource {
  encodeFor(since: SummaryPosition | undefined): Buffer | null;
}

export interface FileServerOptions {
  config: Config;
  /** Served at SUMMARY_PATH; without it that path is not found. */
  summary?: SummarySource;
  store: Store;
  discovery: Discovery;
  credentials: { key: string; cert: string };
  log: Logger;
  /** Folder that may hold style.css and favicon.ico to override the built-in ones. */
  webDir: string;
  /** Listening sockets passed by systemd (socket activation): the loopback listeners, instead of binding. */
  inheritedSockets?: readonly number[];
  /** Called on every connection opened or closed: the daemon's idle timer restarts. */
  onActivity?: () => void;
  /** Title of the index page, e.g. the daemon's D-Bus Name; default 'Passim'. */
  name?: string;
  /** Which peer addresses may be redirected to; default: neighbours on this machine's links (lan/subnets.ts). */
  isNeighbour?: (address: string) => boolean;
  /** Told of bytes served and of lookups answered, for the traffic figures. */
  traffic?: TrafficObserver;
  /** What the index page shows above the items. */
  overview?: () => Overview;
}

export interface TrafficObserver {
  served(bytes: number, loopback: boolean): void;
  lookedUp(hash: string, outcome: 'redirect' | 'miss'): void;
}

/** Idle keep-alive connections are closed after this; long enough for a client fetching several items. */
const KEEP_ALIVE_TIMEOUT_MS = 15_000;
/** A connection that neither sends nor takes a byte for this long is dropped (a client that stopped reading). */
const IDLE_CONNECTION_MS = 60_000;
/** Lookups on the LAN that loopback misses may run at once; more get 503, since each holds Avahi objects. */
const MAX_LOOKUPS = 16;
/** How long a local connection over its user's share waits for a slot before it gets 503. */
const LOCAL_SLOT_WAIT_MS = 2000;
/** Seconds an over-limit client is told to wait. */
const RETRY_AFTER_S = 5;
const SERVER_HEADER = `Passim/${VERSION}`;
/** Refused off-link addresses remembered so as to log each once. */
const MAX_REFUSALS_LOGGED = 1024;

/** Headers of a page in the language of `locale` (a Translator's; undefined is English), which Accept-Language chose. */
function languageHeaders(locale: string | undefined): OutgoingHttpHeaders {
  return { 'Content-Language': locale ?? 'en', Vary: 'Accept-Language' };
}

/** One response carrying (part of) an item's content. */
interface Transfer {
  req: IncomingMessage;
  res: ServerResponse;
  item: Item;
  client: string;
  /** First byte and byte count of the body. */
  start: number;
  length: number;
  status: number;
  headers: OutgoingHttpHeaders;
  loopback: boolean;
  /** The file's ctime when the transfer began: the version of the content that a check vouches for. */
  ctime?: bigint;
}

/** HTTPS server for the published items, the index page and its assets. */
export class FileServer {
  private readonly config: Config;
  private readonly store: Store;
  private readonly discovery: Discovery;
  private readonly summary: SummarySource | undefined;
  private readonly log: Logger;
  private readonly webDir: string;
  private readonly name: string;
  private readonly listeners: Listeners;
  private readonly inheritedSockets: readonly number[];
  private readonly onActivity: () => void;
  /** Connections open now, on every listener, handshakes included. */
  private connections = 0;
  /** Off-link addresses whose refusal was logged; bounded, so a scan of the internet cannot grow it. */
  private readonly refusedLogged = new Set<string>();
  private readonly cooldown: Cooldown;
  private readonly files = new OpenFiles();
  private readonly buffers = new BufferPool();
  private readonly smallFiles = new SmallFiles();
  private readonly shares = new ShareTracker();
  private readonly uploads: RateLimiter;
  private readonly limits: ConnectionLimits;
  /**
   * Connections accepted over MaxConnections, with whom they count against: a request on a remote one gets 503
   * and the connection closes; one on a local one first waits for a slot (see waitForSlot).
   */
  private readonly overLimit = new WeakMap<Socket, Holder>();
  /** Local over-limit connections waiting for a slot: their later requests wait for the same answer. */
  private readonly slotWaits = new WeakMap<Socket, Promise<boolean>>();
  /** Local connections whose user is being looked up, before they are counted. */
  private readonly admissions = new WeakMap<Socket, Promise<void>>();
  private lookups = 0;
  private readonly isNeighbour: (address: string) => boolean;
  private readonly traffic: TrafficObserver | undefined;
  private readonly overview: (() => Overview) | undefined;
  /** Closes kept descriptors of items that went away; a share changes no file, so it needs no pass. */
  private readonly onStoreChanged = (change: StoreChange): void => {
    if (change === 'shared') return;
    this.files.prune((hash, path) => this.store.get(hash)?.path === path);
    this.smallFiles.prune((hash, path) => this.store.get(hash)?.path === path);
  };

  constructor(options: FileServerOptions) {
    this.config = options.config;
    this.cooldown = new Cooldown(options.config.cooldown);
    this.store = options.store;
    this.discovery = options.discovery;
    this.summary = options.summary;
    this.log = options.log;
    this.webDir = options.webDir;
    this.name = options.name ?? 'Passim';
    this.isNeighbour = options.isNeighbour ?? ((address) => isNeighbour(address));
    this.inheritedSockets = options.inheritedSockets ?? [];
    this.traffic = options.traffic;
    this.overview = options.overview;
    this.onActivity = options.onActivity ?? (() => {});
    this.uploads = new RateLimiter(options.config.maxUploadRate);
    this.limits = new ConnectionLimits(options.config.maxConnections);
    this.listeners = new Listeners({
      createServer: (lan) => this.createServer(options.credentials, lan),
      log: this.log,
    });
  }

  /** Listens on loopback: the sockets systemd passed, else 127.0.0.1 and ::1 on the configured port (0 picks one). */
  async start(): Promise<void> {
    await this.listeners.openLoopback(this.config.port, this.inheritedSockets);
    this.store.on('changed', this.onStoreChanged);
  }

  /** The LAN addresses to accept other machines on from now on (none while nothing is shared); resolves with binding problems. */
  setLanAddresses(addresses: readonly string[]): Promise<string[]> {
    return this.listeners.setLanAddresses(addresses);
  }

  /** Connections open now, on any listener. */
  get connectionCount(): number {
    return this.connections;
  }

  /** Stops accepting connections; those open go on. For an idle exit, when systemd keeps the sockets. */
  stopAccepting(): void {
    this.listeners.stopAccepting();
  }

  /** Stops listening and drops every connection, including transfers in progress. */
  async stop(): Promise<void> {
    this.store.off('changed', this.onStoreChanged);
    await this.listeners.close();
    this.files.closeAll();
  }

  /** The port listened on once started, else the configured one. */
  get port(): number {
    return this.listeners.port || this.config.port;
  }

  private createServer(credentials: { key: string; cert: string }, lan: boolean): Server {
    const server = createServer(
      {
        key: credentials.key,
        cert: credentials.cert,
        minVersion: 'TLSv1.2',
        requireHostHeader: false, // the original accepted HTTP/1.0-style requests without Host
      },
      (req, res) => this.onRequest(req, res),
    );
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.timeout = IDLE_CONNECTION_MS;
    // Beyond what the limits answer with 503, handshakes in flight included, connections are not even accepted.
    server.maxConnections = 4 * this.config.maxConnections;
    // Ahead of the TLS layer: an off-link client costs no handshake.
    server.prependListener('connection', (socket: Socket) => {
      if (lan && !this.admitFromLan(socket)) return;
      this.connections += 1;
      this.onActivity();
      socket.once('close', () => {
        this.connections -= 1;
        this.onActivity();
      });
    });
    server.on('secureConnection', (socket: Socket) => this.countConnection(socket));
    server.on('tlsClientError', (err) => this.log.debug(`TLS handshake failed: ${err.message}`));
    return server;
  }

  /**
   * Only machines on one of our links: mDNS never crosses a router, so anything else is not a peer that
   * found us on the LAN. Refused before any TLS or file work.
   */
  private admitFromLan(socket: Socket): boolean {
    const address = plainAddress(socket.remoteAddress ?? '');
    if (isOnLink(address)) return true;
    if (!this.refusedLogged.has(address)) {
      if (this.refusedLogged.size >= MAX_REFUSALS_LOGGED) this.refusedLogged.clear();
      this.refusedLogged.add(address);
      this.log.info(`refused a connection from ${address}: not on a subnet of this machine's interfaces`);
    }
    socket.destroy();
    return false;
  }

  /** Counts a connection against MaxConnections: a remote one by its address, a local one by its user. */
  private countConnection(socket: Socket): void {
    const plain = plainAddress(socket.remoteAddress ?? '');
    const admit = (holder: Holder): void => {
      if (socket.destroyed) return;
      if (this.limits.open(holder)) this.holdSlot(socket, holder);
      else this.overLimit.set(socket, holder);
    };
    if (!isLoopback(plain)) {
      admit({ key: plain, loopback: false });
      return;
    }
    // The owner is read from /proc/net/tcp: a request that comes before the answer waits for it.
    const admitted = loopbackOwner(socket)
      .catch(() => undefined)
      .then((uid) => {
        this.admissions.delete(socket);
        admit({ key: uid === undefined ? 'unknown user' : `uid ${uid}`, loopback: true });
      });
    this.admissions.set(socket, admitted);
  }

  /** The admitted `socket` gives its slot back when it closes. */
  private holdSlot(socket: Socket, holder: Holder): void {
    if (socket.destroyed) this.limits.close(holder);
    else socket.once('close', () => this.limits.close(holder));
  }

  /**
   * A program on this machine over its user's share (apt's method, a burst from one user) waits up to
   * LOCAL_SLOT_WAIT_MS for one of that user's connections to close rather than being refused at once.
   */
  private waitForSlot(socket: Socket, holder: Holder): Promise<boolean> {
    let wait = this.slotWaits.get(socket);
    if (!wait) {
      this.log.debug(`a connection of ${holder.key} over its share waits for a slot`);
      const closed = new Promise((resolve) => socket.once('close', resolve));
      wait = this.limits.waitForSlot(holder, LOCAL_SLOT_WAIT_MS, closed).then((admitted) => {
        if (admitted) {
          this.overLimit.delete(socket);
          this.holdSlot(socket, holder);
        }
        this.slotWaits.delete(socket);
        return admitted;
      });
      this.slotWaits.set(socket, wait);
    }
    return wait;
  }

  // Every response names the server in the headers given to writeHead: a setHeader() beforehand would make
  // Node merge every header one by one into a second table, a cost paid by each small request.
  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    // The first client that wants a translated page waits for the catalogs to be read; nobody else does.
    if (needsCatalogReader(req.headers['accept-language'])) {
      loadCatalogReader()
        .catch((err: unknown) => this.log.warn(`cannot load the translations, pages stay English: ${(err as Error).message}`))
        .finally(() => this.onRequest(req, res));
      return;
    }
    const admission = this.admissions.get(req.socket);
    if (admission) {
      void admission.then(() => this.onRequest(req, res));
      return;
    }
    const over = this.overLimit.get(req.socket);
    if (over?.loopback) {
      void this.waitForSlot(req.socket, over).then((admitted) => {
        if (admitted) this.onRequest(req, res);
        else this.refuseOverLimit(req, res);
      });
      return;
    }
    if (over) {
      this.refuseOverLimit(req, res);
      return;
    }
    try {
      this.route(req, res);
    } catch (err) {
      this.fail(req, res, err);
    }
  }

  private refuseOverLimit(req: IncomingMessage, res: ServerResponse): void {
    res.shouldKeepAlive = false;
    this.fail(req, res, new PassimError('unavailable', N_('Too many connections; try again later.')), {
      'Retry-After': String(RETRY_AFTER_S),
    });
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.fail(req, res, new PassimError('method-not-allowed', N_('Only GET and HEAD are supported.')), { Allow: 'GET, HEAD' });
      return;
    }
    const url = req.url ?? '';
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    const client = clientAddress(req);
    const loopback = isLoopback(client);

    switch (path) {
      case '/':
        this.requireLoopback(loopback);
        this.sendIndex(req, res);
        return;
      case '/style.css':
        this.requireLoopback(loopback);
        this.sendAsset(req, res, 'style.css', 'text/css; charset=utf-8', DEFAULT_STYLE_CSS);
        return;
      case '/favicon.ico':
        this.requireLoopback(loopback);
        this.sendAsset(req, res, 'favicon.ico', 'image/vnd.microsoft.icon', DEFAULT_FAVICON_ICO);
        return;
      case SUMMARY_PATH:
        this.sendSummary(req, res, parseSummaryQuery(queryAt < 0 ? '' : url.slice(queryAt + 1)), loopback).catch((err: unknown) =>
          this.fail(req, res, err),
        );
        return;
    }

    if (!path.startsWith('/')) throw new PassimError('bad-request', N_('The address must be a path.'));
    const basename = decodeComponent(path.slice(1));
    if (!validBasename(basename)) throw new PassimError('bad-request', N_('The address must name a single file.'));
    // TRANSLATORS: NAME and HASH stand for a file name and its SHA-256; they may be translated
    if (queryAt < 0) throw new PassimError('bad-request', N_('A file is asked for as /NAME?sha256=HASH.'));
    const query = parseFileQuery(url.slice(queryAt + 1));

    // localhost=false asks for a neighbour's copy even when we hold one.
    const item = query.localhost === false ? undefined : this.store.get(query.hash);
    if (item) {
      this.sendItem(req, res, item, client, loopback);
      return;
    }
    if (query.localhost !== false && this.store.isLoading) {
      // The file may be in the data folder, not checked yet: have it checked now rather than answer without it.
      this.store
        .lookup(query.hash)
        .then((found) => {
          if (found) this.sendItem(req, res, found, client, loopback);
          else this.sendAbsent(req, res, basename, query.hash, loopback);
        })
        .catch((err: unknown) => this.fail(req, res, err));
      return;
    }
    this.sendAbsent(req, res, basename, query.hash, loopback);
  }

  /** A file we do not hold: a neighbour's address for this machine, refused for others. */
  private sendAbsent(req: IncomingMessage, res: ServerResponse, basename: string, hash: string, loopback: boolean): void {
    // Only this machine may make us search the network on its behalf.
    if (!loopback) throw new PassimError('forbidden', N_('This file is not available here.'));
    if (this.lookups >= MAX_LOOKUPS) {
      this.fail(req, res, new PassimError('unavailable', N_('Too many searches on the network at once; try again later.')), {
        'Retry-After': String(RETRY_AFTER_S),
      });
      return;
    }
    this.lookups += 1;
    this.redirectToPeer(req, res, basename, hash)
      .catch((err: unknown) => this.fail(req, res, err))
      .finally(() => {
        this.lookups -= 1;
      });
  }

  private requireLoopback(loopback: boolean): void {
    if (!loopback) throw new PassimError('forbidden', N_('This page is only available on this machine.'));
  }

  /** Refuses a remote client that received `hash` whole less than Cooldown seconds ago. */
  private enforceCooldown(client: string, hash: string): void {
    if (this.cooldown.blocks(client, hash)) {
      throw new PassimError('forbidden', N_('This file was sent to you recently; try again later.'));
    }
  }

  private sendItem(req: IncomingMessage, res: ServerResponse, item: Item, client: string, loopback: boolean): void {
    if (isDisabled(item)) throw new PassimError('locked', N_('This file is not shared until the next reboot.'));
    const head = req.method === 'HEAD';
    if (!loopback) this.enforceCooldown(client, item.hash);

    const etag = `"${item.hash}"`;
    if (matchesEtag(req.headers['if-none-match'], etag)) {
      res.writeHead(304, { Server: SERVER_HEADER, ETag: etag, 'Accept-Ranges': 'bytes' });
      res.end();
      return;
    }

    const size = item.size;
    const rangeHeader = req.headers.range;
    const ifRange = req.headers['if-range'];
    // If-Range names the version the client already has part of; anything but our ETag means "start over".
    const range = rangeHeader !== undefined && (ifRange === undefined || ifRange === etag) ? parseRange(rangeHeader, size) : undefined;
    if (range === 'unsatisfiable') {
      this.fail(req, res, new PassimError('range-not-satisfiable', N_('The requested range is outside the file.')), {
        'Content-Range': `bytes */${size}`,
      });
      return;
    }

    const start = range ? range.start : 0;
    const length = range ? range.end - range.start + 1 : size;
    const headers: OutgoingHttpHeaders = {
      Server: SERVER_HEADER,
      'Content-Type': contentType(item.basename),
      'Content-Length': length,
      'Content-Disposition': `attachment; filename="${encodeURIComponent(item.basename)}"`,
      ETag: etag,
      'Accept-Ranges': 'bytes',
    };
    if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
    const status = range ? 206 : 200;

    if (head) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    const transfer: Transfer = { req, res, item, client, start, length, status, headers, loopback };
    if (length === 0) {
      res.writeHead(status, headers);
      res.once('finish', () => this.delivered(transfer, 0));
      res.end();
      return;
    }
    this.files.acquire(item, (openError, fd) => {
      if (openError) {
        // Deleted since the lookup (share limit reached, unpublished, expired).
        const gone = errnoCode(openError) === 'ENOENT';
        this.fail(req, res, gone ? new PassimError('not-found', N_('This file is no longer available.')) : openError);
        return;
      }
      const send = this.checkAndSend(transfer, fd);
      send.catch((err: unknown) => this.fail(req, res, err)).finally(() => this.files.release(item));
    });
  }

  /**
   * The content is checked against the hash once per version of the file (its ctime): a whole-file transfer
   * hashes the bytes as they go and is cut before the last one on a mismatch; anything else hashes the file
   * first. Hashing costs about as much CPU as TLS, so a file that has not changed is not hashed again.
   */
  private async checkAndSend(transfer: Transfer, fd: number): Promise<void> {
    const { item, start, length } = transfer;
    const ctime = fstatSync(fd, { bigint: true }).ctimeNs;
    transfer.ctime = ctime;
    const whole = start === 0 && length === item.size;
    let verify: string | undefined;
    if (this.store.contentVerified(item.hash, ctime)) {
      // The file still holds the version that was checked: a small one may be answered from memory.
      const kept = this.smallFiles.get(item);
      if (kept) {
        await this.sendBody(transfer, kept.subarray(start, start + length));
        return;
      }
    } else {
      if (whole) {
        verify = item.hash;
      } else {
        const actual = await sha256Of(createReadStream('', { fd, autoClose: false, start: 0 }));
        if (actual !== item.hash) {
          this.corrupt(item, 'its content no longer matches its hash');
          throw new PassimError('not-found', N_('This file is no longer available.'));
        }
        this.store.setContentVerified(item.hash, ctime);
      }
    }
    if (length <= MIN_CHUNK) await this.sendSmall(transfer, fd, verify);
    else await this.sendLarge(transfer, fd, verify);
  }

  /** A body that fits one read: a single pread and one write (most items are small). */
  private async sendSmall(transfer: Transfer, fd: number, verify: string | undefined): Promise<void> {
    const { item, start, length } = transfer;
    const body = Buffer.allocUnsafe(length);
    const bytesRead = await new Promise<number>((resolve, reject) => {
      read(fd, body, 0, length, start, (err, n) => (err ? reject(err) : resolve(n)));
    });
    if (bytesRead !== length) {
      this.corrupt(item, `the stored file is shorter than ${start + length} bytes`);
      throw new PassimError('not-found', N_('This file is no longer available.'));
    }
    if (verify) {
      if (sha256Hex(body) !== verify) {
        this.corrupt(item, 'its content no longer matches its hash');
        throw new PassimError('not-found', N_('This file is no longer available.'));
      }
      this.verified(transfer);
    }
    if (start === 0 && length === item.size) this.smallFiles.put(item, body);
    await this.sendBody(transfer, body);
  }

  /** Sends `body`, all of the response's content, in one write. */
  private async sendBody(transfer: Transfer, body: Buffer): Promise<void> {
    const { res, status, headers, length } = transfer;
    if (!transfer.loopback) await this.uploads.take(length);
    res.writeHead(status, headers);
    // 'finish' means the whole response went to the kernel; a client hanging up first gives 'close' only.
    res.once('finish', () => this.delivered(transfer, length));
    res.end(body);
  }

  private async sendLarge(transfer: Transfer, fd: number, verify: string | undefined): Promise<void> {
    const { res, item, client, start, length, status, headers, loopback } = transfer;
    res.writeHead(status, headers);
    const outcome = await sendRange({ fd, start, length, res, pool: this.buffers, verify, limiter: loopback ? undefined : this.uploads });
    if (outcome.corrupt) this.corrupt(item, 'its content no longer matches its hash; the transfer was cut short');
    else if (outcome.short) this.corrupt(item, `the stored file is shorter than ${start + length} bytes`);
    if (outcome.complete) {
      if (verify) this.verified(transfer);
      res.end();
    } else {
      this.log.debug(`transfer of ${item.hash} to ${client} stopped after ${outcome.delivered} of ${length} bytes`);
    }
    this.delivered(transfer, outcome.delivered);
  }

  /** The content matched its hash; recorded before the share, whose xattr write moves the ctime. */
  private verified({ item, ctime }: Transfer): void {
    if (ctime !== undefined) this.store.setContentVerified(item.hash, ctime);
  }

  /** `count` bytes reached the client; each item-size worth of them is a share (see share-tracker.ts). */
  private delivered({ item, client, loopback }: Transfer, count: number): void {
    this.traffic?.served(count, loopback);
    const shares = this.shares.delivered(client, item.hash, item.size, count);
    if (shares === 0) return;
    // The cooldown starts once a remote client has had the whole file, so a resumed download can finish.
    if (!loopback) this.cooldown.start(client, item.hash);
    for (let i = 0; i < shares; i++) this.recordShare(item, client);
  }

  /** A stored file that does not hold what its name promises: never advertised or served again unless it checks out. */
  private corrupt(item: Item, reason: string): void {
    this.log.warn(`${item.path}: ${reason}; withdrawn until it is checked again`);
    this.store
      .recheck(item.hash)
      .catch((err: unknown) => this.log.warn(`checking ${item.hash} again failed: ${toPassimError(err).message}`));
  }

  private recordShare(item: Item, client: string): void {
    this.store.recordShare(item.hash, client).catch((err: unknown) => {
      const error = toPassimError(err);
      // not-found: a concurrent transfer already took the item to its share limit.
      const message = `cannot record the share of ${item.hash} to ${client}: ${error.message}`;
      if (error.kind === 'not-found') this.log.debug(message);
      else this.log.warn(message);
    });
  }

  private async redirectToPeer(req: IncomingMessage, res: ServerResponse, basename: string, hash: string): Promise<void> {
    let peers: Peer[];
    try {
      peers = await this.discovery.find(hash);
    } catch (err) {
      this.log.warn(`searching the network for ${hash} failed: ${(err as Error).message}`);
      peers = [];
    }
    // Only a neighbour on our own link may be trusted with our clients: an answer naming loopback, this
    // machine or an address behind a router is a spoofed or misconfigured one.
    const neighbours = peers.filter((p) => this.isNeighbour(p.address));
    if (neighbours.length < peers.length) {
      this.log.debug(
        `ignoring peers for ${hash} that are not neighbours: ${peers
          .filter((p) => !neighbours.includes(p))
          .map((p) => p.address)
          .join(', ')}`,
      );
    }
    const peer = neighbours[0];
    this.traffic?.lookedUp(hash, peer ? 'redirect' : 'miss');
    if (!peer) throw new PassimError('not-found', N_('This file is not available here or on the local network.'));
    // IPv6 needs brackets, and a zone (fe80::1%eth0) must have its '%' percent-encoded inside them.
    const host = peer.address.includes(':') ? `[${peer.address.replace(/%/g, '%25')}]` : peer.address;
    const location = `https://${host}:${peer.port}/${encodeURIComponent(basename)}?sha256=${hash}`;
    const tr = translatorForAcceptLanguage(req.headers['accept-language']);
    const body = redirectPage(location, tr);
    res.writeHead(302, {
      Server: SERVER_HEADER,
      Location: location,
      ...languageHeaders(tr.locale),
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  /**
   * What we share, for neighbours (the LAN listeners only admit machines on our links) and this machine. It
   * counts against MaxUploadRate like a file: a million items are about 3 MB.
   */
  private async sendSummary(
    req: IncomingMessage,
    res: ServerResponse,
    since: SummaryPosition | undefined,
    loopback: boolean,
  ): Promise<void> {
    if (!this.summary) throw new PassimError('not-found', N_('This file is not available here.'));
    const body = this.summary.encodeFor(since);
    if (body === null) {
      res.writeHead(304, { Server: SERVER_HEADER, 'Cache-Control': 'no-store' });
      res.end();
      return;
    }
    const head = req.method === 'HEAD';
    if (!head && !loopback) await this.uploads.take(body.length);
    res.writeHead(200, {
      Server: SERVER_HEADER,
      'Content-Type': 'application/octet-stream',
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
    });
    res.end(head ? undefined : body);
  }

  private sendIndex(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    const queryAt = url.indexOf('?');
    const listing = indexListing(this.store, parseIndexQuery(queryAt < 0 ? '' : url.slice(queryAt + 1)));
    const tr = translatorForAcceptLanguage(req.headers['accept-language']);
    const body = indexPage(this.name, listing, Date.now() / 1000, tr, this.overview?.());
    res.writeHead(200, {
      Server: SERVER_HEADER,
      ...languageHeaders(tr.locale),
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** Serves `<webDir>/<name>` if it is installed, else the built-in default. */
  private sendAsset(req: IncomingMessage, res: ServerResponse, name: string, type: string, builtIn: string | Buffer): void {
    const sendBuiltIn = (): void => {
      res.writeHead(200, { Server: SERVER_HEADER, 'Content-Type': type, 'Content-Length': Buffer.byteLength(builtIn) });
      res.end(req.method === 'HEAD' ? undefined : builtIn);
    };
    const sendFile = async (): Promise<void> => {
      let handle: FileHandle;
      try {
        handle = await open(join(this.webDir, name), 'r');
      } catch (err) {
        const code = errnoCode(err);
        if (code !== 'ENOENT' && code !== 'ENOTDIR') this.log.warn(`cannot open ${name} in ${this.webDir}: ${(err as Error).message}`);
        sendBuiltIn();
        return;
      }
      try {
        const stat = await handle.stat();
        if (!stat.isFile()) throw new PassimError('internal', `${join(this.webDir, name)} is not a regular file`);
        res.writeHead(200, { Server: SERVER_HEADER, 'Content-Type': type, 'Content-Length': stat.size });
        if (req.method === 'HEAD') {
          res.end();
          await handle.close();
          return;
        }
      } catch (err) {
        await handle.close();
        throw err;
      }
      pipeline(handle.createReadStream(), res, (err) => {
        if (err) this.log.debug(`sending ${name} stopped: ${err.message}`);
      });
    };
    sendFile().catch((err: unknown) => this.fail(req, res, err));
  }

  /**
   * The one place that turns an error into a response: the PassimError kind decides the status; anything
   * else is a 500 whose detail goes to the log, never to the client.
   */
  private fail(req: IncomingMessage, res: ServerResponse, err: unknown, extraHeaders: OutgoingHttpHeaders = {}): void {
    const error = toPassimError(err);
    const internal = error.kind === 'internal';
    if (internal) this.log.warn(`${req.method ?? '?'} ${req.url ?? ''}: ${error.message}`);
    if (res.headersSent) {
      // Mid-body: the only honest signal left is to cut the connection.
      res.destroy();
      return;
    }
    const status = error.httpStatus;
    const tr = translatorForAcceptLanguage(req.headers['accept-language']);
    const message = internal ? tr.translate(N_('The server could not handle this request.')) : error.localized(tr);
    const body = errorPage(status, reasonPhrase(status, tr), message, tr);
    res.writeHead(status, {
      Server: SERVER_HEADER,
      ...extraHeaders,
      ...languageHeaders(tr.locale),
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
