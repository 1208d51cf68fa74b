// SPDX-License-Identifier: LGPL-2.1-or-later
// Finding peers that hold a hash: from our neighbours' summaries when they have them, else by browsing for its
// subtype and resolving the answers through Avahi, as the original daemon does.
import { isIP } from 'node:net';
import { SERVICE_TYPE, subtypeOf } from './dns-sd.js';
import { type Avahi, AvahiInterface, Backoff, IF_UNSPEC, LookupResultFlag, ProblemLog, Protocol } from './avahi.js';
import { NeighbourSummaries } from './neighbour-summaries.js';
import type { Discovery, Peer } from './peers.js';
import type { Logger } from '../../shared/log.js';

/**
 * Without an answer by then, nobody has the hash. Peers delay answers to shared records by 20–120 ms
 * (RFC 6762 §6) after Avahi sends the query, so this leaves room for a cold cache while staying far below
 * Avahi's own one-second "all for now".
 */
const MISS_TIMEOUT_MS = 290;
/** Once a peer has answered, resolving its address may take this long at most. */
const RESOLVE_TIMEOUT_MS = 2000;
/** After the first address, other peers' answers already on their way are collected for this long. */
const SPREAD_WINDOW_MS = 15;
/**
 * A lookup whose browser Avahi has not even created by then is answered as a miss: an Avahi that is stuck or
 * overloaded must not hold up the client's request (the browser is freed whenever it does arrive).
 */
const SETUP_TIMEOUT_MS = 1000;
const MAX_ROTATIONS = 1024;

export interface AvahiDiscoveryOptions {
  avahi: Avahi;
  ipv6: boolean;
  log: Logger;
  /** Addresses that may be neighbours (on one of our links, not ours). */
  isNeighbour: (address: string) => boolean;
}

/**
 * Finds peers holding a hash: from the summaries of the neighbours that serve one, and only when some instance on
 * the LAN serves none (the original daemon) by browsing the hash's DNS-SD subtype, resolving every answer at once.
 */
export class AvahiDiscovery implements Discovery {
  private readonly avahi: Avahi;
  private readonly protocol: number;
  /** Other Passim instances on the LAN, from a long-lived `_cache._tcp` browser. */
  private readonly instances = new Set<string>();
  private instancesKnown = false;
  private instanceBrowser: string | null = null;
  private browseRetry: NodeJS.Timeout | null = null;
  /** Bumped when Avahi goes away: a browser created before that belongs to an instance that is gone. */
  private epoch = 0;
  private readonly browseBackoff = new Backoff();
  private readonly browseProblems: ProblemLog;
  /** Failed lookups are warned about when the reason changes, not once per request. */
  private readonly lookupProblems: ProblemLog;
  /** Per hash, how often we answered: rotates the choice between several peers. */
  private readonly rotations = new Map<string, number>();
  readonly summaries: NeighbourSummaries;

  constructor(private readonly options: AvahiDiscoveryOptions) {
    this.avahi = options.avahi;
    this.summaries = new NeighbourSummaries({
      avahi: options.avahi,
      log: options.log,
      isNeighbour: options.isNeighbour,
      ipv6: options.ipv6,
    });
    this.protocol = options.ipv6 ? Protocol.UNSPEC : Protocol.INET;
    this.browseProblems = new ProblemLog(options.log, 'cannot browse for other Passim instances');
    this.lookupProblems = new ProblemLog(options.log, 'cannot look up items on the network');
    this.avahi.on('up', () => {
      this.browseBackoff.reset();
      this.browseInstancesUntilDone();
    });
    this.avahi.on('down', () => {
      this.epoch += 1;
      this.clearBrowseRetry();
      this.instanceBrowser = null;
      this.instances.clear();
      this.instancesKnown = false;
      this.summaries.reset();
    });
  }

  async stop(): Promise<void> {
    this.clearBrowseRetry();
    this.summaries.stop();
    if (this.instanceBrowser) await this.avahi.free(this.instanceBrowser, AvahiInterface.SERVICE_BROWSER);
    this.instanceBrowser = null;
  }

  async find(hash: string): Promise<Peer[]> {
    if (!this.avahi.available) {
      this.options.log.debug(`not looking for ${hash}: Avahi is not available`);
      return [];
    }
    // Nobody else runs Passim here: a miss needs no network round trip.
    if (this.instancesKnown && this.instances.size === 0) {
      this.options.log.debug(`not looking for ${hash}: no other Passim instance on the network`);
      return [];
    }
    const turn = this.nextTurn(hash);
    const answer = await this.summaries.lookup(hash, turn);
    if (answer.holders.length > 0) return answer.holders;
    if (answer.final && this.instancesKnown) {
      this.options.log.debug(`${hash}: no neighbour's summary has it, and every neighbour has a summary`);
      return [];
    }
    const peers = (await this.lookup(hash)).filter((peer) => !this.summaries.avoided(peer.address));
    return this.rotate(peers, turn);
  }

  /** Without this browser every lookup goes to the network: worth retrying while Avahi is up. */
  private browseInstancesUntilDone(): void {
    this.clearBrowseRetry();
    this.browseInstances().then(
      () => {
        this.browseBackoff.reset();
        this.browseProblems.resolved();
      },
      (err: unknown) => {
        if (!this.avahi.available) return; // retried on 'up'
        const delay = this.browseBackoff.next();
        this.browseProblems.report(err, delay);
        this.browseRetry = setTimeout(() => {
          this.browseRetry = null;
          if (this.avahi.available && this.instanceBrowser === null) this.browseInstancesUntilDone();
        }, delay);
      },
    );
  }

  private clearBrowseRetry(): void {
    if (this.browseRetry) clearTimeout(this.browseRetry);
    this.browseRetry = null;
  }

  private async browseInstances(): Promise<void> {
    const epoch = this.epoch;
    const path = await this.avahi.create('ServiceBrowser', 'iissu', [IF_UNSPEC, this.protocol, SERVICE_TYPE, '', 0]);
    this.avahi.watch(path, (member, body) => {
      const [iface, protocol, name, , domain, flags] = body;
      const key = `${String(iface)}/${String(protocol)}/${String(name)}/${String(domain)}`;
      const id = { iface: Number(iface), protocol: Number(protocol), name: String(name), domain: String(domain) };
      if (member === 'ItemNew' && (Number(flags) & LookupResultFlag.LOCAL) === 0) {
        this.instances.add(key);
        this.summaries.instanceNew(id);
      } else if (member === 'ItemRemove') {
        this.instances.delete(key);
        this.summaries.instanceGone(id);
      } else if (member === 'AllForNow') this.instancesKnown = true;
      else if (member === 'Failure') this.instancesKnown = false;
    });
    try {
      await this.avahi.startObject(path, AvahiInterface.SERVICE_BROWSER);
    } catch (err) {
      await this.avahi.free(path, AvahiInterface.SERVICE_BROWSER);
      throw err;
    }
    if (epoch === this.epoch) this.instanceBrowser = path;
  }

  /** One lookup: a browser for the hash's subtype plus a resolver per answer, all freed before returning. */
  private lookup(hash: string): Promise<Peer[]> {
    const { avahi } = this;
    const found: Peer[] = [];
    const resolvers = new Set<string>();
    /** Answers being resolved, counted from ItemNew on: a resolver's path only exists once Avahi has replied. */
    let resolving = 0;
    let browser: string | null = null;
    let answered = false;
    let allForNow = false;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;

    return new Promise<Peer[]>((resolve) => {
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        if (browser) void avahi.free(browser, AvahiInterface.SERVICE_BROWSER);
        for (const r of resolvers) void avahi.free(r, AvahiInterface.SERVICE_RESOLVER);
        resolve(found);
      };
      const restartTimer = (ms: number): void => {
        clearTimeout(timer);
        timer = setTimeout(finish, ms);
      };
      const resolved = (): void => {
        resolving -= 1;
        if (resolving === 0 && (allForNow || found.length > 0)) finish();
      };
      const resolverDone = (path: string): void => {
        resolvers.delete(path);
        void avahi.free(path, AvahiInterface.SERVICE_RESOLVER);
        resolved();
      };
      const resolveItem = async (body: unknown[]): Promise<void> => {
        const [iface, protocol, name, type, domain] = body;
        const path = await avahi.create('ServiceResolver', 'iisssiu', [iface, protocol, name, type, domain, this.protocol, 0]);
        if (finished) {
          void avahi.free(path, AvahiInterface.SERVICE_RESOLVER);
          return;
        }
        resolvers.add(path);
        avahi.watch(path, (member, args) => {
          if (member === 'Found') {
            const address = String(args[7]);
            const port = Number(args[8]);
            if (isIP(address) === 0 || !(port > 0 && port < 65536)) {
              this.options.log.warn(`ignoring peer ${String(args[2])}: not a numeric address and port: ${address}:${port}`);
            } else if (!found.some((p) => p.address === address && p.port === port)) {
              if (found.length === 0) restartTimer(SPREAD_WINDOW_MS);
              found.push({ address, port });
            }
            resolverDone(path);
          } else if (member === 'Failure') {
            resolverDone(path);
          }
        });
        await avahi.startObject(path, AvahiInterface.SERVICE_RESOLVER);
      };

      const start = async (): Promise<void> => {
        restartTimer(SETUP_TIMEOUT_MS);
        const path = await avahi.create('ServiceBrowser', 'iissu', [IF_UNSPEC, this.protocol, subtypeOf(hash), '', 0]);
        if (finished) {
          void avahi.free(path, AvahiInterface.SERVICE_BROWSER);
          return;
        }
        browser = path;
        // Before watch(): a browser made through Server may have answered already, and those answers set their own timers.
        restartTimer(MISS_TIMEOUT_MS);
        avahi.watch(path, (member, body) => {
          if (member === 'ItemNew') {
            if ((Number(body[5]) & LookupResultFlag.LOCAL) !== 0) return;
            if (!answered) {
              answered = true;
              restartTimer(RESOLVE_TIMEOUT_MS);
            }
            resolving += 1;
            resolveItem(body).catch((err: unknown) => {
              this.options.log.debug(`resolving ${String(body[2])}: ${(err as Error).message}`);
              resolved();
            });
          } else if (member === 'AllForNow') {
            allForNow = true;
            if (resolving === 0) finish();
          } else if (member === 'Failure') {
            this.options.log.debug(`browsing for ${hash} failed: ${String(body[0])}`);
            finish();
          }
        });
        await avahi.startObject(path, AvahiInterface.SERVICE_BROWSER);
      };
      start().then(
        () => {
          if (browser !== null) this.lookupProblems.resolved();
        },
        (err: unknown) => {
          this.lookupProblems.report(err);
          this.options.log.debug(`looking up ${hash} failed: ${(err as Error).message}`);
          finish();
        },
      );
    });
  }

  /** How often `hash` was asked for: the round-robin turn that spreads repeated requests over its holders. */
  private nextTurn(hash: string): number {
    const turn = this.rotations.get(hash) ?? 0;
    this.rotations.delete(hash);
    if (this.rotations.size >= MAX_ROTATIONS) this.rotations.delete(this.rotations.keys().next().value as string);
    this.rotations.set(hash, turn + 1);
    return turn;
  }

  private rotate(peers: Peer[], turn: number): Peer[] {
    if (peers.length < 2) return peers;
    const sorted = [...peers].sort((a, b) => a.address.localeCompare(b.address) || a.port - b.port);
    const offset = turn % sorted.length;
    return [...sorted.slice(offset), ...sorted.slice(0, offset)];
  }
}
