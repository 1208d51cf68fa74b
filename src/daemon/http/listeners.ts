// SPDX-License-Identifier: LGPL-2.1-or-later
// The sockets the HTTPS server accepts on: loopback always (bound here or passed by systemd), this machine's
// LAN addresses only while something is shared. One server per address, so each can close on its own.
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { PassimError, errnoCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';

const LOOPBACK_ADDRESSES = ['127.0.0.1', '::1'] as const;

/** Errors binding an address that this kernel or network does not have: skipped, not fatal. */
const ABSENT_ADDRESS = new Set(['EADDRNOTAVAIL', 'EAFNOSUPPORT', 'EPROTONOSUPPORT']);

export interface ListenersOptions {
  /** Makes a configured HTTPS server; `lan` servers serve other machines. */
  createServer: (lan: boolean) => Server;
  log: Logger;
}

export class Listeners {
  private readonly loopback: Server[] = [];
  /** LAN listeners by the address they are bound to. */
  private readonly lan = new Map<string, Server>();
  private boundPort = 0;
  /** Listeners closed while connections they accepted are still open. */
  private readonly closing = new Set<Server>();

  constructor(private readonly options: ListenersOptions) {}

  /**
   * Starts the loopback listeners: the sockets systemd passed, if any, else 127.0.0.1 and ::1 on `port`
   * (0 picks a free one). A kernel without IPv6 loopback just has no ::1.
   */
  async openLoopback(port: number, inherited: readonly number[]): Promise<void> {
    if (inherited.length > 0) {
      for (const fd of inherited) {
        const server = await this.listen({ fd }, false, `the socket passed as descriptor ${fd}`);
        this.loopback.push(server);
        this.boundPort ||= (server.address() as AddressInfo).port;
      }
      this.options.log.debug(`serving HTTPS on ${inherited.length} sockets passed by systemd, port ${this.boundPort}`);
      return;
    }
    this.boundPort = port;
    for (const host of LOOPBACK_ADDRESSES) {
      const server = await this.listenOrSkip(host);
      if (!server) continue;
      this.loopback.push(server);
      this.boundPort ||= (server.address() as AddressInfo).port;
    }
    if (this.loopback.length === 0) throw new PassimError('internal', `cannot listen on the loopback addresses, port ${port}`);
    this.options.log.debug(`serving HTTPS on localhost port ${this.boundPort}`);
  }

  /**
   * Listens on exactly these LAN addresses from now on (none closes the LAN side); loopback is untouched.
   * Resolves with the problems of the addresses that could not be bound; the others are open.
   */
  async setLanAddresses(addresses: readonly string[]): Promise<string[]> {
    const wanted = new Set(addresses);
    for (const [address, server] of this.lan) {
      if (wanted.has(address)) continue;
      this.lan.delete(address);
      this.retire(server);
      this.options.log.info(`no longer listening on ${address} port ${this.boundPort}`);
    }
    const problems: string[] = [];
    for (const address of wanted) {
      if (this.lan.has(address)) continue;
      try {
        const server = await this.listen({ host: address, port: this.boundPort }, true, `${address} port ${this.boundPort}`);
        this.lan.set(address, server);
        this.options.log.info(`listening on ${address} port ${this.boundPort} for the LAN`);
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    return problems;
  }

  get port(): number {
    return this.boundPort;
  }

  private get servers(): Server[] {
    return [...this.loopback, ...this.lan.values()];
  }

  /** Stops accepting everywhere; connections already accepted go on (idle keep-alive ones are closed). */
  stopAccepting(): void {
    for (const server of this.servers) this.retire(server);
    this.loopback.length = 0;
    this.lan.clear();
  }

  /** Stops accepting and drops every connection, transfers in progress included; resolves once all are gone. */
  async close(): Promise<void> {
    this.stopAccepting();
    const closing = [...this.closing];
    for (const server of closing) server.closeAllConnections();
    await Promise.all(closing.map((server) => new Promise((resolve) => server.once('close', resolve))));
  }

  /** Closes a listener; its connections go on, tracked until they end so that close() can still drop them. */
  private retire(server: Server): void {
    this.closing.add(server);
    server.close(() => this.closing.delete(server));
  }

  /** A loopback listener, or none if this kernel lacks the address (no IPv6). */
  private async listenOrSkip(host: string): Promise<Server | undefined> {
    try {
      return await this.listen({ host, port: this.boundPort }, false, `${host} port ${this.boundPort}`);
    } catch (err) {
      const code = errnoCode((err as Error).cause);
      if (code === undefined || !ABSENT_ADDRESS.has(code)) throw err;
      this.options.log.debug(`not listening on ${host}: ${code}`);
      return undefined;
    }
  }

  private listen(where: { fd: number } | { host: string; port: number }, lan: boolean, what: string): Promise<Server> {
    const server = this.options.createServer(lan);
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new PassimError('internal', `cannot listen on ${what}: ${err.message}`, { cause: err }));
      };
      server.once('error', onError);
      server.listen(where, () => {
        server.off('error', onError);
        server.on('error', (err) => this.options.log.warn(`HTTPS server on ${what}: ${err.message}`));
        resolve(server);
      });
    });
  }
}
