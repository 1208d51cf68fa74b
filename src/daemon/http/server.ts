// SPDX-License-Identifier: LGPL-2.1-or-later
// The HTTPS server: routing, item transfers, redirects to peers, the index page and its assets.
import { createReadStream, open as fsOpen, read } from 'node:fs';
import { open } from 'node:fs/promises';
import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream';
import { PassimError, errnoCode, toPassimError } from '../../shared/errors.js';
import { isDisabled, validBasename, type Item } from '../../shared/item.js';
import type { Logger } from '../../shared/log.js';
import { VERSION } from '../../shared/version.js';
import type { Config } from '../config.js';
import type { Discovery, Peer } from '../lan/peers.js';
import type { Store, StoreChange } from '../store/store.js';
import { contentType } from './content-type.js';
import { Cooldown } from './cooldown.js';
import { OpenFiles } from './open-files.js';
import { errorPage, indexPage, redirectPage } from './pages.js';
import { clientAddress, decodeComponent, isLoopback, matchesEtag, parseFileQuery, parseRange } from './request.js';
import { DEFAULT_FAVICON_ICO, DEFAULT_STYLE_CSS } from './web-assets.js';

export interface FileServerOptions {
  config: Config;
  store: Store;
  discovery: Discovery;
  credentials: { key: string; cert: string };
  log: Logger;
  /** Folder that may hold style.css and favicon.ico to override the built-in ones. */
  webDir: string;
  /** Address to listen on; default '0.0.0.0', or '::' when config.ipv6. */
  host?: string;
  /** Title of the index page, e.g. the daemon's D-Bus Name; default 'Passim'. */
  name?: string;
}

/** Large reads keep the TLS layer busy with few round trips through the event loop. */
const STREAM_CHUNK = 1024 * 1024;
/** Idle keep-alive connections are closed after this; long enough for a client fetching several items. */
const KEEP_ALIVE_TIMEOUT_MS = 15_000;
/** File-system calls for a ReadStream over a cached descriptor: everything but closing it. */
const KEEP_OPEN = { open: fsOpen, read, close: (_fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => callback(null) };
const SERVER_HEADER = `Passim/${VERSION}`;

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
  /** Whether a completed transfer is a share. */
  counts: boolean;
}

/** HTTPS server for the published items, the index page and its assets. */
export class FileServer {
  readonly #config: Config;
  readonly #store: Store;
  readonly #discovery: Discovery;
  readonly #log: Logger;
  readonly #webDir: string;
  readonly #host: string;
  readonly #name: string;
  readonly #server: Server;
  readonly #cooldown: Cooldown;
  readonly #files = new OpenFiles();
  /** Closes kept descriptors of items that went away; a share changes no file, so it needs no pass. */
  readonly #onStoreChanged = (change: StoreChange): void => {
    if (change !== 'shared') this.#files.prune((hash, path) => this.#store.get(hash)?.path === path);
  };

  constructor(options: FileServerOptions) {
    this.#config = options.config;
    this.#cooldown = new Cooldown(options.config.cooldown);
    this.#store = options.store;
    this.#discovery = options.discovery;
    this.#log = options.log;
    this.#webDir = options.webDir;
    this.#host = options.host ?? (options.config.ipv6 ? '::' : '0.0.0.0');
    this.#name = options.name ?? 'Passim';
    this.#server = createServer(
      {
        key: options.credentials.key,
        cert: options.credentials.cert,
        minVersion: 'TLSv1.2',
        requireHostHeader: false, // the original accepted HTTP/1.0-style requests without Host
      },
      (req, res) => this.#onRequest(req, res),
    );
    this.#server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    this.#server.on('tlsClientError', (err) => this.#log.debug(`TLS handshake failed: ${err.message}`));
  }

  /** Listens on the configured port (0 picks a free one). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new PassimError('internal', `cannot listen on ${this.#host} port ${this.#config.port}: ${err.message}`, { cause: err }));
      };
      this.#server.once('error', onError);
      this.#server.listen(this.#config.port, this.#host, () => {
        this.#server.off('error', onError);
        this.#store.on('changed', this.#onStoreChanged);
        this.#server.on('error', (err) => this.#log.warn(`HTTPS server: ${err.message}`));
        this.#log.debug(`serving HTTPS on ${this.#host} port ${this.port}`);
        resolve();
      });
    });
  }

  /** Stops listening and drops every connection, including transfers in progress. */
  stop(): Promise<void> {
    this.#store.off('changed', this.#onStoreChanged);
    return new Promise((resolve) => {
      this.#server.close(() => {
        this.#files.closeAll();
        resolve();
      });
      this.#server.closeAllConnections();
    });
  }

  /** The bound port once started, else the configured one. */
  get port(): number {
    const address = this.#server.address();
    return address !== null && typeof address === 'object' ? (address as AddressInfo).port : this.#config.port;
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('Server', SERVER_HEADER);
    try {
      this.#route(req, res);
    } catch (err) {
      this.#fail(req, res, err);
    }
  }

  #route(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.#fail(req, res, new PassimError('method-not-allowed', 'Only GET and HEAD are supported.'), { Allow: 'GET, HEAD' });
      return;
    }
    const url = req.url ?? '';
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    const client = clientAddress(req);
    const loopback = isLoopback(client);

    switch (path) {
      case '/':
        this.#requireLoopback(loopback);
        this.#sendIndex(req, res);
        return;
      case '/style.css':
        this.#requireLoopback(loopback);
        this.#sendAsset(req, res, 'style.css', 'text/css; charset=utf-8', DEFAULT_STYLE_CSS);
        return;
      case '/favicon.ico':
        this.#requireLoopback(loopback);
        this.#sendAsset(req, res, 'favicon.ico', 'image/vnd.microsoft.icon', DEFAULT_FAVICON_ICO);
        return;
    }

    if (!path.startsWith('/')) throw new PassimError('bad-request', 'The address must be a path.');
    const basename = decodeComponent(path.slice(1));
    if (!validBasename(basename)) throw new PassimError('bad-request', 'The address must name a single file.');
    if (queryAt < 0) throw new PassimError('bad-request', 'A file is asked for as /NAME?sha256=HASH.');
    const query = parseFileQuery(url.slice(queryAt + 1));

    // localhost=false asks for a neighbour's copy even when we hold one.
    const item = query.localhost === false ? undefined : this.#store.get(query.hash);
    if (item) {
      this.#sendItem(req, res, item, client, loopback);
      return;
    }
    // Only this machine may make us search the network on its behalf.
    if (!loopback) throw new PassimError('forbidden', 'This file is not available here.');
    this.#redirectToPeer(res, basename, query.hash).catch((err: unknown) => this.#fail(req, res, err));
  }

  #requireLoopback(loopback: boolean): void {
    if (!loopback) throw new PassimError('forbidden', 'This page is only available on this machine.');
  }

  /**
   * Refuses a remote client that asked for `hash` less than Cooldown seconds ago. A GET starts the cooldown
   * and withdraws it if the response does not finish, so an interrupted download can resume at once; a HEAD
   * is refused during a cooldown but does not start one.
   */
  #enforceCooldown(res: ServerResponse, client: string, hash: string, isGet: boolean): void {
    if (this.#cooldown.blocks(client, hash)) {
      throw new PassimError('forbidden', 'This file was sent to you recently; try again later.');
    }
    if (!isGet) return;
    const withdraw = this.#cooldown.start(client, hash);
    res.once('close', () => {
      if (!res.writableFinished) withdraw();
    });
  }

  #sendItem(req: IncomingMessage, res: ServerResponse, item: Item, client: string, loopback: boolean): void {
    if (isDisabled(item)) throw new PassimError('locked', 'This file is not shared until the next reboot.');
    const head = req.method === 'HEAD';
    if (!loopback) this.#enforceCooldown(res, client, item.hash, !head);

    const etag = `"${item.hash}"`;
    if (matchesEtag(req.headers['if-none-match'], etag)) {
      res.writeHead(304, { ETag: etag, 'Accept-Ranges': 'bytes' });
      res.end();
      return;
    }

    const size = item.size;
    const rangeHeader = req.headers.range;
    const ifRange = req.headers['if-range'];
    // If-Range names the version the client already has part of; anything but our ETag means "start over".
    const range = rangeHeader !== undefined && (ifRange === undefined || ifRange === etag) ? parseRange(rangeHeader, size) : undefined;
    if (range === 'unsatisfiable') {
      this.#fail(req, res, new PassimError('range-not-satisfiable', 'The requested range is outside the file.'), {
        'Content-Range': `bytes */${size}`,
      });
      return;
    }

    const start = range ? range.start : 0;
    const length = range ? range.end - range.start + 1 : size;
    const headers: OutgoingHttpHeaders = {
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
    // Only a whole file delivered counts as a share; a range is part of a resumed download.
    const transfer: Transfer = { req, res, item, client, start, length, status, headers, counts: !range };
    if (length === 0) {
      this.#finishSmall(transfer, Buffer.alloc(0));
      return;
    }
    this.#files.acquire(item, (openError, fd) => {
      if (openError) {
        // Deleted since the lookup (share limit reached, unpublished, expired).
        const gone = errnoCode(openError) === 'ENOENT';
        this.#fail(req, res, gone ? new PassimError('not-found', 'This file is no longer available.') : openError);
        return;
      }
      if (length <= STREAM_CHUNK) this.#sendSmall(transfer, fd);
      else this.#sendStream(transfer, fd);
    });
  }

  /** A body that fits one read: a single pread, no stream machinery (most items are small). */
  #sendSmall(transfer: Transfer, fd: number): void {
    const { req, res, item, start, length } = transfer;
    const body = Buffer.allocUnsafe(length);
    read(fd, body, 0, length, start, (err, bytesRead) => {
      this.#files.release(item);
      if (err || bytesRead !== length) {
        this.#fail(req, res, err ?? new PassimError('internal', `${item.hash}: the stored file is shorter than ${start + length} bytes`));
        return;
      }
      this.#finishSmall(transfer, body);
    });
  }

  #finishSmall({ res, item, client, status, headers, counts }: Transfer, body: Buffer): void {
    res.writeHead(status, headers);
    // 'finish' means the whole response went to the kernel; a client hanging up first gives 'close' only.
    if (counts) res.once('finish', () => this.#recordShare(item, client));
    res.end(body);
  }

  #sendStream({ res, item, client, start, length, status, headers, counts }: Transfer, fd: number): void {
    // Positional reads on the shared descriptor; the stream must not close it, the cache does. Released on
    // 'close', which a destroyed stream emits only after its last read came back.
    const file = createReadStream('', { fd, fs: KEEP_OPEN, start, end: start + length - 1, highWaterMark: STREAM_CHUNK });
    file.once('close', () => this.#files.release(item));
    res.writeHead(status, headers);
    pipeline(file, res, (err) => {
      if (err) {
        // Usually the client going away; the transfer does not count.
        this.#log.debug(`transfer of ${item.hash} to ${client} stopped: ${err.message}`);
        return;
      }
      if (file.bytesRead !== length) {
        // The file on disk is shorter than the item says; the client cannot have what it was promised.
        this.#log.warn(`${item.hash}: sent ${file.bytesRead} of ${length} bytes, the stored file is short`);
        res.destroy();
        return;
      }
      if (counts) this.#recordShare(item, client);
    });
  }

  #recordShare(item: Item, client: string): void {
    this.#store.recordShare(item.hash, client).catch((err: unknown) => {
      const error = toPassimError(err);
      // not-found: a concurrent transfer already took the item to its share limit.
      const message = `cannot record the share of ${item.hash} to ${client}: ${error.message}`;
      if (error.kind === 'not-found') this.#log.debug(message);
      else this.#log.warn(message);
    });
  }

  async #redirectToPeer(res: ServerResponse, basename: string, hash: string): Promise<void> {
    let peers: Peer[];
    try {
      peers = await this.#discovery.find(hash);
    } catch (err) {
      this.#log.warn(`searching the network for ${hash} failed: ${(err as Error).message}`);
      peers = [];
    }
    const peer = peers[0];
    if (!peer) throw new PassimError('not-found', 'This file is not available here or on the local network.');
    // IPv6 needs brackets, and a zone (fe80::1%eth0) must have its '%' percent-encoded inside them.
    const host = peer.address.includes(':') ? `[${peer.address.replace(/%/g, '%25')}]` : peer.address;
    const location = `https://${host}:${peer.port}/${encodeURIComponent(basename)}?sha256=${hash}`;
    const body = redirectPage(location);
    res.writeHead(302, {
      Location: location,
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  #sendIndex(req: IncomingMessage, res: ServerResponse): void {
    const body = indexPage(this.#name, this.#store.list(), Date.now() / 1000);
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** Serves `<webDir>/<name>` if it is installed, else the built-in default. */
  #sendAsset(req: IncomingMessage, res: ServerResponse, name: string, type: string, builtIn: string | Buffer): void {
    const sendBuiltIn = (): void => {
      res.writeHead(200, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(builtIn) });
      res.end(req.method === 'HEAD' ? undefined : builtIn);
    };
    const sendFile = async (): Promise<void> => {
      let handle;
      try {
        handle = await open(join(this.#webDir, name), 'r');
      } catch (err) {
        const code = errnoCode(err);
        if (code !== 'ENOENT' && code !== 'ENOTDIR') this.#log.warn(`cannot open ${name} in ${this.#webDir}: ${(err as Error).message}`);
        sendBuiltIn();
        return;
      }
      try {
        const stat = await handle.stat();
        if (!stat.isFile()) throw new PassimError('internal', `${join(this.#webDir, name)} is not a regular file`);
        res.writeHead(200, { 'Content-Type': type, 'Content-Length': stat.size });
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
        if (err) this.#log.debug(`sending ${name} stopped: ${err.message}`);
      });
    };
    sendFile().catch((err: unknown) => this.#fail(req, res, err));
  }

  /**
   * The one place that turns an error into a response: the PassimError kind decides the status; anything
   * else is a 500 whose detail goes to the log, never to the client.
   */
  #fail(req: IncomingMessage, res: ServerResponse, err: unknown, extraHeaders: OutgoingHttpHeaders = {}): void {
    const error = toPassimError(err);
    const internal = error.kind === 'internal';
    if (internal) this.#log.warn(`${req.method ?? '?'} ${req.url ?? ''}: ${error.message}`);
    if (res.headersSent) {
      // Mid-body: the only honest signal left is to cut the connection.
      res.destroy();
      return;
    }
    const status = error.httpStatus;
    const reason = STATUS_CODES[status] ?? 'Error';
    const message = internal ? 'The server could not handle this request.' : error.message;
    const body = errorPage(status, reason, message);
    res.writeHead(status, {
      ...extraHeaders,
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
