// SPDX-License-Identifier: LGPL-2.1-or-later
// What our neighbours share, from their summaries: every `_cache._tcp` instance on the LAN is resolved once;
// one whose TXT record announces a summary has it fetched, and then followed through that TXT record's
// generation. Lookups are then answered from memory: a hit is confirmed with the neighbour, a miss is final
// when every instance on the LAN belongs to a neighbour whose summary we hold (or which we avoid).
import { isIP } from 'node:net';
import type { Agent } from 'node:https';
import type { Logger } from '../../shared/log.js';
import { type Avahi, AvahiInterface, Protocol } from './avahi.js';
import { GENERATION_TXT_KEY, SUMMARY_TXT_KEY } from './advertiser.js';
import { SERVICE_TYPE } from './dns-sd.js';
import { createPeerAgent, getBounded, headStatus } from './peer-client.js';
import type { Peer } from './peers.js';
import { applyDelta, containsPrefix, decodeSummary, maxEncodedBytes, prefixOf } from './summary-format.js';
import {
  SUMMARY_PATH,
  formatPosition,
  parsePosition,
  parseTxtRecord,
  samePosition,
  txtValue,
  type SummaryPosition,
} from './summary-position.js';

/** Entries one neighbour's summary may hold: twice the store size we are built for; 8 MB of memory. */
export const MAX_SUMMARY_ENTRIES = 2_000_000;
/** Entries of all neighbours' summaries together (64 MB); a neighbour past it is asked the old way. */
export const MAX_TOTAL_ENTRIES = 16_000_000;
/** Instances followed; past this, lookups also ask the LAN the old way. */
const MAX_INSTANCES = 1024;
/** A summary, whole, must arrive within this (a million entries are about 3 MB). */
const FETCH_TIMEOUT_MS = 20_000;
/** Summaries fetched at once. */
const PARALLEL_FETCHES = 2;
/** Resolving an instance's address, port and TXT record. */
const RESOLVE_TIMEOUT_MS = 5000;
/** A neighbour's answer to whether it holds an item, before we give up on it for this lookup. */
const CONFIRM_TIMEOUT_MS = 1000;
/**
 * One neighbour's summary is fetched at most this often: a burst of announcements costs one delta, and a
 * neighbour whose answers lag behind its announcements cannot keep us fetching.
 */
const MIN_FETCH_INTERVAL_MS = 1000;
/** TXT announcements can be lost: a held summary is brought up to date this often regardless. */
const REFRESH_INTERVAL_MS = 5 * 60 * 1000;
/**
 * A neighbour that failed us is avoided for this long, doubling with each failure in a row up to AVOID_MAX_MS.
 * The first while is short: a neighbour that starts sharing announces itself just before it listens.
 */
const AVOID_FIRST_MS = 2000;
const AVOID_MAX_MS = 10 * 60 * 1000;
/** Items a neighbour's summary claimed but it denied having, before it counts as a failure. */
const MAX_DENIALS = 3;
const DNS_CLASS_IN = 1;
const DNS_TYPE_TXT = 16;
const RESOLVE_RETRY_MS = 30_000;

/** One `_cache._tcp` instance, as the instance browser reported it. */
export interface InstanceId {
  iface: number;
  protocol: number;
  name: string;
  domain: string;
}

interface Instance {
  id: InstanceId;
  /** The neighbour it resolved to; undefined while resolving or after resolving failed. */
  peerKey?: string;
  /** Whether it announces a summary (and so has a TXT record browser). */
  announces: boolean;
  resolver: string | null;
  txtBrowser: string | null;
  retry: NodeJS.Timeout | null;
  gone: boolean;
}

interface Neighbour {
  peer: Peer;
  /** What its TXT record says it has; null for a neighbour that announces no summary (the original daemon). */
  announced: SummaryPosition | null;
  /** The summary we hold and where it stands. */
  prefixes: Uint32Array | null;
  position: SummaryPosition | null;
  fetching: boolean;
  /** Failures in a row, and until when it is avoided. */
  failures: number;
  avoidUntil: number;
  denials: number;
  lastFetch: number;
  /** A fetch waiting for MIN_FETCH_INTERVAL_MS to pass. */
  fetchTimer: NodeJS.Timeout | null;
  /** Instances resolving to it. */
  instances: Set<string>;
  /** When it last resolved, sent its summary or confirmed an item (ms since the epoch). */
  lastSeen: number;
}

/** A neighbour as the status page and the Neighbours property show it. */
export interface NeighbourView {
  address: string;
  port: number;
  /** Whether it announces a summary (our passimd); false for the original daemon. */
  summary: boolean;
  /** Entries of its summary we hold; undefined when we hold none (the original, or not fetched yet). */
  items: number | undefined;
  lastSeen: number;
}

export interface NeighbourSummariesOptions {
  avahi: Avahi;
  log: Logger;
  /** Addresses that may be neighbours (on one of our links, not ours). */
  isNeighbour: (address: string) => boolean;
  ipv6: boolean;
}

/** A lookup answered from the summaries. */
export interface SummaryAnswer {
  /** Neighbours that confirmed holding the item (at most one: the first that did). */
  holders: Peer[];
  /** True when no instance on the LAN could hold it unless a summary said so: no need to ask the LAN. */
  final: boolean;
}

const instanceKey = (id: InstanceId): string => `${id.iface}/${id.protocol}/${id.name}/${id.domain}`;
const peerKey = (peer: Peer): string => `${peer.address} ${peer.port}`;

/** A DNS label in the text form Avahi parses: dots and backslashes escaped. */
function escapeLabel(label: string): string {
  return label.replace(/[\\.]/g, (c) => `\\${c}`);
}

export class NeighbourSummaries {
  private readonly instances = new Map<string, Instance>();
  private readonly neighbours = new Map<string, Neighbour>();
  private readonly confirmations: Agent = createPeerAgent(true);
  private readonly fetches: Agent = createPeerAgent(false);
  private fetchesUnderWay = 0;
  private totalEntries = 0;
  /** Some instance was not followed (past MAX_INSTANCES): until Avahi restarts, misses ask the LAN. */
  private overflowed = false;
  private refreshTimer: NodeJS.Timeout;
  /** Bumped when Avahi goes away: objects made before that are gone. */
  private epoch = 0;

  constructor(private readonly options: NeighbourSummariesOptions) {
    this.refreshTimer = setInterval(() => this.refreshAll(), REFRESH_INTERVAL_MS);
    this.refreshTimer.unref();
  }

  /** A `_cache._tcp` instance appeared (not our own). */
  instanceNew(id: InstanceId): void {
    const key = instanceKey(id);
    if (this.instances.has(key)) return;
    if (this.instances.size >= MAX_INSTANCES) {
      this.overflowed = true;
      return;
    }
    const instance: Instance = { id, announces: false, resolver: null, txtBrowser: null, retry: null, gone: false };
    this.instances.set(key, instance);
    this.resolve(instance);
  }

  instanceGone(id: InstanceId): void {
    const key = instanceKey(id);
    const instance = this.instances.get(key);
    if (!instance) return;
    this.instances.delete(key);
    this.release(instance);
    this.detach(key, instance);
  }

  /** Avahi went away: its objects are gone, and what it told us may be stale. */
  reset(): void {
    this.epoch += 1;
    for (const instance of this.instances.values()) {
      instance.gone = true;
      if (instance.retry) clearTimeout(instance.retry);
    }
    this.instances.clear();
    this.overflowed = false;
    for (const neighbour of this.neighbours.values()) this.drop(neighbour);
    this.neighbours.clear();
  }

  stop(): void {
    clearInterval(this.refreshTimer);
    for (const instance of this.instances.values()) this.release(instance);
    this.instances.clear();
    this.confirmations.destroy();
    this.fetches.destroy();
  }

  /** The neighbours known now, by address; a copy, so the caller cannot change what lookups use. */
  snapshot(): NeighbourView[] {
    return [...this.neighbours.values()]
      .map((n) => ({
        address: n.peer.address,
        port: n.peer.port,
        summary: n.announced !== null,
        items: n.prefixes?.length,
        lastSeen: n.lastSeen,
      }))
      .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
  }

  /** Whether `address` belongs to a neighbour we avoid now. */
  avoided(address: string): boolean {
    const now = Date.now();
    for (const neighbour of this.neighbours.values()) {
      if (neighbour.peer.address === address && neighbour.avoidUntil > now) return true;
    }
    return false;
  }

  /**
   * Neighbours whose summaries hold `hash`, confirmed one after the other until one says it has it; `final`
   * when nobody else on the LAN could have it.
   */
  async lookup(hash: string, start: number): Promise<SummaryAnswer> {
    const prefix = prefixOf(hash);
    const now = Date.now();
    const candidates: Neighbour[] = [];
    for (const neighbour of this.neighbours.values()) {
      if (neighbour.avoidUntil > now || !neighbour.prefixes) continue;
      if (containsPrefix(neighbour.prefixes, prefix)) candidates.push(neighbour);
    }
    const final = this.complete(now);
    // Rotate, so that repeated requests for a popular item spread over the neighbours holding it.
    const offset = candidates.length > 0 ? start % candidates.length : 0;
    const ordered = [...candidates.slice(offset), ...candidates.slice(0, offset)];
    for (const neighbour of ordered) {
      if (await this.confirm(neighbour, hash)) return { holders: [neighbour.peer], final };
    }
    return { holders: [], final };
  }

  /** Every instance is resolved to a neighbour whose summary we hold, or that we avoid, or that is not a neighbour. */
  private complete(now: number): boolean {
    if (this.overflowed) return false;
    for (const [key, instance] of this.instances) {
      if (instance.peerKey === undefined) {
        if (instance.resolver !== null || instance.retry !== null) return false;
        continue; // resolved to an address that is no neighbour: never asked
      }
      const neighbour = this.neighbours.get(instance.peerKey);
      if (!neighbour?.instances.has(key)) return false;
      if (neighbour.avoidUntil > now) continue;
      if (!neighbour.prefixes) return false;
    }
    return true;
  }

  /** Asks the neighbour whether it has `hash` (a HEAD, no transfer): its summary may be stale or false. */
  private async confirm(neighbour: Neighbour, hash: string): Promise<boolean> {
    let status: number;
    try {
      status = await headStatus(this.confirmations, neighbour.peer, `/${hash}?sha256=${hash}`, CONFIRM_TIMEOUT_MS);
    } catch (err) {
      this.failed(neighbour, `confirming ${hash}: ${(err as Error).message}`);
      return false;
    }
    neighbour.lastSeen = Date.now();
    if (status === 200) {
      neighbour.denials = 0;
      return true;
    }
    // 403: it sent this machine the file recently (Cooldown) or it is not shared now; not a fault of its summary.
    if (status === 404) {
      neighbour.denials += 1;
      this.options.log.debug(`${neighbour.peer.address} does not have ${hash} after all (${neighbour.denials} in a row)`);
      if (neighbour.denials >= MAX_DENIALS) this.failed(neighbour, `its summary listed ${MAX_DENIALS} items it did not have`);
      else this.fetch(neighbour, true);
    }
    return false;
  }

  private resolve(instance: Instance): void {
    const { avahi } = this.options;
    const epoch = this.epoch;
    const { id } = instance;
    const protocol = this.options.ipv6 ? Protocol.UNSPEC : Protocol.INET;
    let timer: NodeJS.Timeout | undefined;
    const done = (path: string | null): void => {
      clearTimeout(timer);
      if (path) void avahi.free(path, AvahiInterface.SERVICE_RESOLVER);
      if (instance.resolver === path) instance.resolver = null;
    };
    const failed = (reason: string): void => {
      this.options.log.debug(`cannot resolve ${id.name}: ${reason}; trying again in ${RESOLVE_RETRY_MS / 1000} s`);
      if (instance.gone || epoch !== this.epoch) return;
      instance.retry = setTimeout(() => {
        instance.retry = null;
        if (!instance.gone && epoch === this.epoch) this.resolve(instance);
      }, RESOLVE_RETRY_MS);
      instance.retry.unref();
    };
    instance.resolver = 'pending';
    avahi
      .create('ServiceResolver', 'iisssiu', [id.iface, id.protocol, id.name, SERVICE_TYPE, id.domain, protocol, 0])
      .then(async (path) => {
        if (instance.gone || epoch !== this.epoch) {
          void avahi.free(path, AvahiInterface.SERVICE_RESOLVER);
          return;
        }
        instance.resolver = path;
        timer = setTimeout(() => {
          done(path);
          failed('no answer');
        }, RESOLVE_TIMEOUT_MS);
        avahi.watch(path, (member, args) => {
          if (member === 'Found') {
            done(path);
            this.resolved(instance, String(args[7]), Number(args[8]), args[9]);
          } else if (member === 'Failure') {
            done(path);
            failed(String(args[0]));
          }
        });
        await avahi.startObject(path, AvahiInterface.SERVICE_RESOLVER);
      })
      .catch((err: unknown) => {
        done(instance.resolver === 'pending' ? null : instance.resolver);
        instance.resolver = null;
        failed((err as Error).message);
      });
  }

  private resolved(instance: Instance, address: string, port: number, txt: unknown): void {
    if (instance.gone) return;
    if (isIP(address) === 0 || !(port > 0 && port < 65536) || !this.options.isNeighbour(address)) {
      this.options.log.debug(`ignoring ${instance.id.name} at ${address} port ${port}: not a neighbour`);
      return;
    }
    const strings = Array.isArray(txt) ? txt.map((bytes) => Buffer.from(bytes as Uint8Array).toString('latin1')) : [];
    const peer: Peer = { address, port };
    const key = peerKey(peer);
    const ikey = instanceKey(instance.id);
    if (instance.peerKey !== undefined && instance.peerKey !== key) this.detach(ikey, instance);
    instance.peerKey = key;
    let neighbour = this.neighbours.get(key);
    if (!neighbour) {
      neighbour = {
        peer,
        announced: null,
        prefixes: null,
        position: null,
        fetching: false,
        failures: 0,
        avoidUntil: 0,
        denials: 0,
        lastFetch: 0,
        fetchTimer: null,
        instances: new Set(),
        lastSeen: Date.now(),
      };
      this.neighbours.set(key, neighbour);
    }
    neighbour.instances.add(ikey);
    neighbour.lastSeen = Date.now();
    if (txtValue(strings, SUMMARY_TXT_KEY) === '1') {
      instance.announces = true;
      this.announce(neighbour, txtValue(strings, GENERATION_TXT_KEY));
      this.followTxt(instance);
    }
  }

  /** Follows the TXT record of a summary-announcing instance: a new generation there is fetched. */
  private followTxt(instance: Instance): void {
    if (instance.txtBrowser !== null) return;
    const { avahi } = this.options;
    const { id } = instance;
    const epoch = this.epoch;
    instance.txtBrowser = 'pending';
    const name = `${escapeLabel(id.name)}.${SERVICE_TYPE}.${id.domain}`;
    avahi
      .create('RecordBrowser', 'iisqqu', [id.iface, id.protocol, name, DNS_CLASS_IN, DNS_TYPE_TXT, 0])
      .then(async (path) => {
        if (instance.gone || epoch !== this.epoch) {
          void avahi.free(path, AvahiInterface.RECORD_BROWSER);
          return;
        }
        instance.txtBrowser = path;
        avahi.watch(path, (member, args) => {
          if (member !== 'ItemNew' || instance.peerKey === undefined) return;
          const strings = parseTxtRecord(Buffer.from(args[5] as Uint8Array));
          const neighbour = this.neighbours.get(instance.peerKey);
          if (strings && neighbour && txtValue(strings, SUMMARY_TXT_KEY) === '1')
            this.announce(neighbour, txtValue(strings, GENERATION_TXT_KEY));
        });
        await avahi.startObject(path, AvahiInterface.RECORD_BROWSER);
      })
      .catch((err: unknown) => {
        instance.txtBrowser = null;
        this.options.log.debug(`cannot follow the TXT record of ${id.name}: ${(err as Error).message}`);
      });
  }

  /** The neighbour announced generation `value` (`<epoch>.<generation>`). */
  private announce(neighbour: Neighbour, value: string | undefined): void {
    const position = value === undefined ? undefined : parsePosition(value);
    if (!position) {
      this.options.log.debug(`${neighbour.peer.address} announces a summary without a valid generation: ${value ?? '(none)'}`);
      neighbour.announced = { epoch: '0000000000000000', generation: 0 };
    } else {
      if (samePosition(position, neighbour.announced)) return;
      neighbour.announced = position;
    }
    if (!samePosition(neighbour.announced, neighbour.position)) this.fetch(neighbour);
  }

  /** Fetches the neighbour's summary (a delta from what we hold) unless one is on its way or it is avoided. */
  private fetch(neighbour: Neighbour, force = false): void {
    if (neighbour.fetching || neighbour.fetchTimer || neighbour.announced === null) return;
    const now = Date.now();
    if (neighbour.avoidUntil > now) return;
    if (!force && samePosition(neighbour.announced, neighbour.position)) return;
    const wait = neighbour.lastFetch + MIN_FETCH_INTERVAL_MS - now;
    if (wait > 0) {
      neighbour.fetchTimer = setTimeout(() => {
        neighbour.fetchTimer = null;
        if (this.neighbours.get(peerKey(neighbour.peer)) === neighbour) this.fetch(neighbour, force);
      }, wait);
      neighbour.fetchTimer.unref();
      return;
    }
    if (this.fetchesUnderWay >= PARALLEL_FETCHES) return; // picked up when a fetch ends
    neighbour.fetching = true;
    this.fetchesUnderWay += 1;
    this.fetchNow(neighbour)
      .then(
        () => {
          neighbour.failures = 0;
        },
        (err: unknown) => this.failed(neighbour, `fetching its summary: ${(err as Error).message}`),
      )
      .finally(() => {
        neighbour.fetching = false;
        neighbour.lastFetch = Date.now();
        this.fetchesUnderWay -= 1;
        this.fetchWaiting();
      });
  }

  private async fetchNow(neighbour: Neighbour): Promise<void> {
    const held = neighbour.prefixes?.length ?? 0;
    const budget = Math.min(MAX_SUMMARY_ENTRIES, MAX_TOTAL_ENTRIES - this.totalEntries + held);
    if (budget <= 0) throw new Error('no room for another summary');
    const since = neighbour.position ? `?since=${formatPosition(neighbour.position)}` : '';
    const bytes = await getBounded(this.fetches, neighbour.peer, `${SUMMARY_PATH}${since}`, maxEncodedBytes(budget), FETCH_TIMEOUT_MS);
    if (!this.neighbours.has(peerKey(neighbour.peer))) return; // gone meanwhile
    if (bytes === null) {
      if (!neighbour.position) throw new Error('it answered "not modified" to a request for its whole summary');
      neighbour.lastSeen = Date.now();
      return;
    }
    const summary = decodeSummary(bytes, { maxEntries: budget });
    let next: Uint32Array;
    if (summary.base === null) {
      next = summary.added;
    } else if (neighbour.prefixes && neighbour.position?.epoch === summary.epoch && neighbour.position.generation === summary.base) {
      next = applyDelta(neighbour.prefixes, summary);
      if (next.length > budget) throw new Error(`its summary grew past ${budget} entries`);
    } else {
      throw new Error(`it sent a delta from ${summary.epoch}.${summary.base}, which we do not hold`);
    }
    this.totalEntries += next.length - held;
    neighbour.prefixes = next;
    neighbour.position = { epoch: summary.epoch, generation: summary.generation };
    neighbour.lastSeen = Date.now();
    this.options.log.debug(
      `${neighbour.peer.address}: summary at ${formatPosition(neighbour.position)}, ${next.length} entries (${bytes.length} bytes)`,
    );
  }

  /** Starts the fetches that waited for a free slot. */
  private fetchWaiting(): void {
    for (const neighbour of this.neighbours.values()) {
      if (this.fetchesUnderWay >= PARALLEL_FETCHES) return;
      if (!neighbour.fetching && neighbour.announced && !samePosition(neighbour.announced, neighbour.position)) this.fetch(neighbour);
    }
  }

  private refreshAll(): void {
    const now = Date.now();
    for (const neighbour of this.neighbours.values()) {
      if (neighbour.prefixes && now - neighbour.lastFetch >= REFRESH_INTERVAL_MS) this.fetch(neighbour, true);
    }
  }

  /**
   * The neighbour failed us: it is avoided (never redirected to, and no reason to ask the LAN) for a while that
   * doubles with each failure in a row; its summary is dropped and fetched whole when the while is over.
   */
  private failed(neighbour: Neighbour, reason: string): void {
    const ms = Math.min(AVOID_MAX_MS, AVOID_FIRST_MS * 2 ** neighbour.failures);
    neighbour.failures += 1;
    neighbour.denials = 0;
    neighbour.avoidUntil = Date.now() + ms;
    this.totalEntries -= neighbour.prefixes?.length ?? 0;
    neighbour.prefixes = null;
    neighbour.position = null;
    this.options.log.warn(`avoiding ${neighbour.peer.address} port ${neighbour.peer.port} for ${ms / 1000} s: ${reason}`);
    const retry = setTimeout(() => {
      if (this.neighbours.get(peerKey(neighbour.peer)) === neighbour) this.fetch(neighbour);
    }, ms + 100);
    retry.unref();
  }

  /** The instance no longer resolves to its neighbour; a neighbour left without instances is forgotten. */
  private detach(ikey: string, instance: Instance): void {
    if (instance.peerKey === undefined) return;
    const neighbour = this.neighbours.get(instance.peerKey);
    instance.peerKey = undefined;
    if (!neighbour) return;
    neighbour.instances.delete(ikey);
    if (instance.announces && ![...neighbour.instances].some((k) => this.instances.get(k)?.announces)) {
      this.totalEntries -= neighbour.prefixes?.length ?? 0;
      neighbour.prefixes = null;
      neighbour.position = null;
      neighbour.announced = null;
    }
    if (neighbour.instances.size === 0) {
      this.drop(neighbour);
      this.neighbours.delete(peerKey(neighbour.peer));
    }
  }

  private drop(neighbour: Neighbour): void {
    this.totalEntries -= neighbour.prefixes?.length ?? 0;
    neighbour.prefixes = null;
    if (neighbour.fetchTimer) clearTimeout(neighbour.fetchTimer);
    neighbour.fetchTimer = null;
  }

  private release(instance: Instance): void {
    instance.gone = true;
    if (instance.retry) clearTimeout(instance.retry);
    instance.retry = null;
    const { avahi } = this.options;
    if (instance.resolver !== null && instance.resolver !== 'pending') void avahi.free(instance.resolver, AvahiInterface.SERVICE_RESOLVER);
    if (instance.txtBrowser !== null && instance.txtBrowser !== 'pending')
      void avahi.free(instance.txtBrowser, AvahiInterface.RECORD_BROWSER);
    instance.resolver = null;
    instance.txtBrowser = null;
  }
}
