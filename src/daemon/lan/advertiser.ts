// SPDX-License-Identifier: LGPL-2.1-or-later
// Advertising on the LAN: our summary's generation in the TXT record of one `_cache._tcp` service, and a
// DNS-SD subtype for each of our newest items (for the original daemon), spread over as many entry groups as needed.
import { EventEmitter } from 'node:events';
import { type Avahi, AvahiInterface, Backoff, IF_UNSPEC, ProblemLog, Protocol } from './avahi.js';
import type { Logger } from '../../shared/log.js';
import { TimeoutError, withTimeout } from '../../shared/timeout.js';
import { dnsName, SERVICE_TYPE, subtypeOf } from './dns-sd.js';
import { planGroups, type Plan } from './group-plan.js';

/**
 * Subtype records are answered when asked for but never announced: announcing 10,000 of them would fill every
 * neighbour's Avahi cache (4096 entries by default), after which Avahi silently drops what it hears, for this
 * and every other service on the LAN. A short TTL keeps what lookups leave in caches small too.
 */
export const SUBTYPE_TTL_SECONDS = 60;
/**
 * Unannounced records get no goodbye when withdrawn, so a cache may keep pointing a subtype at an instance name
 * for up to the TTL: a freed name is not reused before then, or it could point at a group without the item.
 */
const NAME_QUARANTINE_MS = (SUBTYPE_TTL_SECONDS + 15) * 1000;
const PUBLISH_NO_ANNOUNCE = 4;
const DNS_CLASS_IN = 1;
const DNS_TYPE_PTR = 12;

const EntryGroupState = { UNCOMMITTED: 0, REGISTERING: 1, ESTABLISHED: 2, COLLISION: 3, FAILURE: 4 } as const;

/** Groups registered at once; each has a single call in flight, far below the bus's pending-reply limit. */
const PARALLEL_REGISTRATIONS = 8;
/** A group still probing after this long is kept: Avahi announces it when it can (e.g. once a link comes up). */
const ESTABLISH_TIMEOUT_MS = 5000;
/**
 * Every TXT change is announced to the whole LAN, so a burst of publishes moves it at most this often;
 * neighbours catch up on every change since with one delta.
 */
export const TXT_UPDATE_INTERVAL_MS = 1000;
/** Subtype groups are re-registered at most this often: each new group announces a service to the LAN. */
export const SUBTYPE_UPDATE_INTERVAL_MS = 3000;
/** The TXT key that marks a service whose host serves a summary, with the version of its format. */
export const SUMMARY_TXT_KEY = 'passim-summary';
/** The TXT key holding `<epoch>.<generation>` of that summary. */
export const GENERATION_TXT_KEY = 'gen';

interface EntryGroup {
  path: string;
  instance: string;
  hashes: Set<string>;
  /** TXT strings of its service: only the summary group has any. */
  txt: string[];
}

/** The TXT record announcing summary generation `tag`. */
export function summaryTxt(tag: string): string[] {
  return [`${SUMMARY_TXT_KEY}=1`, `${GENERATION_TXT_KEY}=${tag}`];
}

export interface AdvertiserOptions {
  avahi: Avahi;
  port: number;
  ipv6: boolean;
  /** Instance name of a group when no other holds it; further groups are `<name>-<n>`. */
  name: string;
  log: Logger;
}

export interface AdvertiserEvents {
  /** The instance name changed after a collision with another host. */
  name: [string];
  /** Whether anything is advertised, or about to be: Avahi is up and has items, or still holds some. */
  sharing: [boolean];
}

/**
 * Advertises one `_cache._tcp` service per entry group and one subtype per item, spread over as many groups
 * as Avahi's per-group limit needs. Groups are never edited in place: a changed group is registered anew and
 * the old one withdrawn only once the new one is established, so no remaining item is ever unadvertised.
 */
export class Advertiser extends EventEmitter<AdvertiserEvents> {
  private desired = new Set<string>();
  private groups: EntryGroup[] = [];
  /** The summary generation to announce; null: none (nothing shared). */
  private summaryTag: string | null = null;
  /** The group whose service carries the summary's TXT record. */
  private summaryGroup: EntryGroup | null = null;
  /** Whether summaryGroup is being registered, replaced or updated now. */
  private summaryBusy = false;
  private summaryTimer: NodeJS.Timeout | null = null;
  private lastTxtUpdate = Number.NEGATIVE_INFINITY;
  private subtypeTimer: NodeJS.Timeout | null = null;
  private lastReconcile = Number.NEGATIVE_INFINITY;
  private baseName: string;
  /** Instance names of our groups, live or being registered: a new group takes the lowest free one. */
  private readonly instances = new Set<string>();
  /** Instance names freed recently, with the time they may be used again. */
  private readonly retired = new Map<string, number>();
  private domain = 'local';
  /** Bumped when Avahi goes away: work started before that must not touch the new state. */
  private epoch = 0;
  private running: Promise<void> | null = null;
  private rerun = false;
  private retry: NodeJS.Timeout | null = null;
  /** Failures are retried ever more slowly while Avahi keeps failing, and warned about once, not per try. */
  private readonly backoff = new Backoff();
  private readonly problems: ProblemLog;
  private readonly avahi: Avahi;
  private readonly protocol: number;
  private sharingNow = false;

  constructor(private readonly options: AdvertiserOptions) {
    super();
    this.avahi = options.avahi;
    this.baseName = options.name;
    this.protocol = options.ipv6 ? Protocol.UNSPEC : Protocol.INET;
    this.problems = new ProblemLog(options.log, 'advertising on the network failed');
    this.avahi.on('up', () => {
      this.backoff.reset();
      this.schedule();
      this.syncSummary();
      this.reportSharing();
    });
    this.avahi.on('down', () => {
      this.forget();
      this.reportSharing();
    });
  }

  /** True from the first item handed to a running Avahi until the last one is withdrawn or Avahi goes. */
  get sharing(): boolean {
    return this.sharingNow;
  }

  private reportSharing(): void {
    const sharing =
      this.avahi.available && (this.desired.size > 0 || this.groups.length > 0 || this.summaryTag !== null || this.summaryGroup !== null);
    if (sharing === this.sharingNow) return;
    this.sharingNow = sharing;
    this.emit('sharing', sharing);
  }

  get name(): string {
    return this.baseName;
  }

  /** Hashes to advertise as subtypes from now on; an empty set withdraws them all. */
  update(hashes: Iterable<string>): void {
    this.desired = new Set(hashes);
    this.schedule();
    this.reportSharing();
  }

  /** The summary generation to announce from now on (see summaryTxt); null withdraws the summary's service. */
  setSummary(tag: string | null): void {
    if (tag === this.summaryTag) return;
    this.summaryTag = tag;
    this.syncSummary();
    this.reportSharing();
  }

  /** Resolves once the advertised subtypes match the last update (or Avahi is unavailable). */
  async settled(): Promise<void> {
    while (this.running || this.subtypeTimer) {
      if (this.running) await this.running;
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Number of hashes currently advertised. */
  get advertisedCount(): number {
    return this.groups.reduce((n, g) => n + g.hashes.size, 0);
  }

  async stop(): Promise<void> {
    this.desired.clear();
    this.summaryTag = null;
    this.clearRetry();
    this.clearSubtypeTimer();
    if (this.summaryTimer) clearTimeout(this.summaryTimer);
    this.summaryTimer = null;
    await this.settled();
    const groups = this.summaryGroup ? [...this.groups, this.summaryGroup] : this.groups;
    this.groups = [];
    this.summaryGroup = null;
    await Promise.all(groups.map((g) => this.release(g)));
    this.reportSharing();
  }

  /** Reconciles the subtypes now, or once SUBTYPE_UPDATE_INTERVAL_MS has passed since the last time. */
  private schedule(): void {
    if (this.running) {
      this.rerun = true;
      return;
    }
    if (this.subtypeTimer) return;
    const wait = this.lastReconcile + SUBTYPE_UPDATE_INTERVAL_MS - performance.now();
    if (wait > 0) {
      this.subtypeTimer = setTimeout(() => {
        this.subtypeTimer = null;
        this.schedule();
      }, wait);
      return;
    }
    this.lastReconcile = performance.now();
    this.running = (async () => {
      do {
        this.rerun = false;
        try {
          if (await this.reconcile()) {
            this.backoff.reset();
            this.problems.resolved();
          }
        } catch (err) {
          this.retryLater(err);
        }
      } while (this.rerun);
    })().finally(() => {
      this.running = null;
      this.reportSharing();
    });
  }

  private clearSubtypeTimer(): void {
    if (this.subtypeTimer) clearTimeout(this.subtypeTimer);
    this.subtypeTimer = null;
  }

  /**
   * Brings the summary's service in line with summaryTag: registered when there is one, its TXT record updated
   * in place at most every TXT_UPDATE_INTERVAL_MS, withdrawn when there is none.
   */
  private syncSummary(): void {
    if (this.summaryBusy || this.summaryTimer || !this.avahi.available) return;
    const group = this.summaryGroup;
    const tag = this.summaryTag;
    if (group && tag !== null && group.txt.join('\n') === summaryTxt(tag).join('\n')) return;
    const wait = this.lastTxtUpdate + TXT_UPDATE_INTERVAL_MS - performance.now();
    if (group && tag !== null && wait > 0) {
      this.summaryTimer = setTimeout(() => {
        this.summaryTimer = null;
        this.syncSummary();
      }, wait);
      return;
    }
    if (!group && tag === null) return;
    this.summaryBusy = true;
    const epoch = this.epoch;
    const work = async (): Promise<void> => {
      if (tag === null && group) {
        this.summaryGroup = null;
        await this.release(group);
      } else if (tag !== null && group) {
        const txt = summaryTxt(tag);
        this.lastTxtUpdate = performance.now();
        await this.avahi.call(group.path, AvahiInterface.ENTRY_GROUP, 'UpdateServiceTxt', 'iiusssaay', [
          IF_UNSPEC,
          this.protocol,
          0,
          group.instance,
          SERVICE_TYPE,
          '',
          txt.map((s) => Buffer.from(s)),
        ]);
        group.txt = txt;
      } else if (tag !== null) {
        this.lastTxtUpdate = performance.now();
        const made = await this.register([], epoch, false, summaryTxt(tag));
        if (epoch === this.epoch) this.summaryGroup = made;
        else await this.release(made);
      }
    };
    work()
      .then(
        () => {
          this.backoff.reset();
          this.problems.resolved();
        },
        (err: unknown) => this.retryLater(err),
      )
      .finally(() => {
        this.summaryBusy = false;
        this.syncSummary();
        this.reportSharing();
      });
  }

  /** Reconciles again after a delay that grows while the failures go on; Avahi coming up retries at once. */
  private retryLater(problem: unknown): void {
    if (this.retry) return;
    const delay = this.backoff.next();
    this.problems.report(problem, delay);
    this.retry = setTimeout(() => {
      this.retry = null;
      this.schedule();
      this.syncSummary();
    }, delay);
  }

  private clearRetry(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  /** Avahi restarted or stopped running: our groups are gone (or must be dropped) and are registered anew on 'up'. */
  private forget(): void {
    this.epoch += 1;
    this.clearRetry();
    const groups = this.summaryGroup ? [...this.groups, this.summaryGroup] : this.groups;
    this.groups = [];
    this.summaryGroup = null;
    for (const g of groups) void this.release(g);
  }

  /** Registers and withdraws what changed; false when Avahi is not there to do it. */
  private async reconcile(): Promise<boolean> {
    if (!this.avahi.available) return false;
    const epoch = this.epoch;
    const [domain] = await this.avahi.callServer('GetDomainName');
    if (typeof domain === 'string' && domain !== '') this.domain = domain;
    const plans = this.plan();
    if (plans.length === 0) return true;

    const made: { plan: Plan<EntryGroup>; group: EntryGroup | null }[] = [];
    let failure: Error | undefined;
    await forEachLimited(plans, PARALLEL_REGISTRATIONS, async (plan) => {
      if (epoch !== this.epoch) return;
      try {
        const group = plan.hashes.length > 0 ? await this.register(plan.hashes, epoch, plan.replaces !== null) : null;
        made.push({ plan, group });
      } catch (err) {
        failure = err as Error; // the group it would replace stays; its changes are retried
      }
    });
    if (epoch !== this.epoch) {
      for (const { group } of made) if (group) await this.release(group);
      return false;
    }
    for (const { plan, group } of made) {
      if (group) this.groups.push(group);
      if (plan.replaces) {
        this.groups = this.groups.filter((g) => g !== plan.replaces);
        await this.release(plan.replaces);
      }
    }
    this.options.log.debug(`advertising ${this.advertisedCount} items in ${this.groups.length} entry groups`);
    if (failure) throw failure;
    return true;
  }

  /** What to change: see planGroups(). */
  private plan(): Plan<EntryGroup>[] {
    return planGroups(this.groups, this.desired);
  }

  /** `Name` itself whenever no live group holds it (so peers see the daemon's Name), else `Name-1`, `Name-2`… */
  private claimInstanceName(): string {
    const now = Date.now();
    for (const [name, until] of this.retired) if (until <= now) this.retired.delete(name);
    let name = this.baseName;
    for (let n = 1; this.instances.has(name) || this.retired.has(name); n++) name = `${this.baseName}-${n}`;
    this.instances.add(name);
    return name;
  }

  private async release(group: EntryGroup): Promise<void> {
    this.instances.delete(group.instance);
    this.retired.set(group.instance, Date.now() + NAME_QUARANTINE_MS);
    await this.avahi.free(group.path, AvahiInterface.ENTRY_GROUP);
  }

  /**
   * Registers one entry group. A group that replaces another is waited for until Avahi has established it (or
   * has had time to), so the old one is withdrawn only then; a group that replaces nothing need not be waited for.
   */
  private async register(hashes: string[], epoch: number, waitEstablished: boolean, txt: string[] = []): Promise<EntryGroup> {
    const path = await this.avahi.create('EntryGroup');
    const group: EntryGroup = { path, instance: this.claimInstanceName(), hashes: new Set(hashes), txt };
    let settle: (() => void) | undefined;
    let fail: ((err: Error) => void) | undefined;
    const established = new Promise<void>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    this.avahi.watch(path, (member, body) => {
      if (member !== 'StateChanged') return;
      const state = Number(body[0]);
      if (state === EntryGroupState.ESTABLISHED) settle?.();
      else if (state === EntryGroupState.FAILURE) {
        const error = new Error(`Avahi entry group ${group.instance} failed: ${String(body[1])}`);
        fail?.(error);
        this.dropFailed(group, error);
      } else if (state === EntryGroupState.COLLISION && epoch === this.epoch) {
        void this.resolveCollision(group).catch((err: unknown) => {
          const error = new Error(`renaming entry group ${group.instance} after a collision: ${(err as Error).message}`);
          fail?.(error);
          this.dropFailed(group, error);
        });
      }
    });
    established.catch(() => undefined); // a failure after we stopped waiting is handled by dropFailed()
    try {
      await this.fill(group);
      if (!waitEstablished) return group;
      // Not established in time: carry on; a later failure is handled by dropFailed().
      await withTimeout(established, ESTABLISH_TIMEOUT_MS).catch((err: unknown) => {
        if (!(err instanceof TimeoutError)) throw err;
      });
      return group;
    } catch (err) {
      await this.release(group);
      throw err;
    }
  }

  private async fill(group: EntryGroup): Promise<void> {
    const { ENTRY_GROUP } = AvahiInterface;
    await this.avahi.call(group.path, ENTRY_GROUP, 'AddService', 'iiussssqaay', [
      IF_UNSPEC,
      this.protocol,
      0,
      group.instance,
      SERVICE_TYPE,
      '',
      '',
      this.options.port,
      group.txt.map((s) => Buffer.from(s)),
    ]);
    // The same PTR records AddServiceSubtype makes, but unannounced and short-lived (see SUBTYPE_TTL_SECONDS).
    const target = dnsName([group.instance, ...`${SERVICE_TYPE}.${this.domain}`.split('.')]);
    for (const hash of group.hashes) {
      await this.avahi.call(group.path, ENTRY_GROUP, 'AddRecord', 'iiusqquay', [
        IF_UNSPEC,
        this.protocol,
        PUBLISH_NO_ANNOUNCE,
        `${subtypeOf(hash)}.${this.domain}`,
        DNS_CLASS_IN,
        DNS_TYPE_PTR,
        SUBTYPE_TTL_SECONDS,
        target,
      ]);
    }
    await this.avahi.call(group.path, ENTRY_GROUP, 'Commit');
  }

  /** A live group that Avahi gave up on: forget it, so that a reconcile (soon, or later if it fails again) registers its items again. */
  private dropFailed(group: EntryGroup, error: Error): void {
    if (group === this.summaryGroup) {
      this.summaryGroup = null;
      void this.release(group);
      this.retryLater(error);
      return;
    }
    if (!this.groups.includes(group)) return;
    this.groups = this.groups.filter((g) => g !== group);
    void this.release(group);
    this.retryLater(error);
  }

  /**
   * Another host uses this instance name, so our names are contested: move the base name to Avahi's alternative
   * (the Name property follows) and register the group again under a name derived from it. The group is
   * withdrawn already, so there is nothing to keep up meanwhile.
   */
  private async resolveCollision(group: EntryGroup): Promise<void> {
    const taken = group.instance;
    if (taken === this.baseName || taken.startsWith(`${this.baseName}-`)) {
      const [alternative] = await this.avahi.callServer('GetAlternativeServiceName', 's', [this.baseName]);
      if (typeof alternative !== 'string') return;
      this.baseName = alternative;
      this.emit('name', alternative);
    }
    this.instances.delete(taken);
    group.instance = this.claimInstanceName();
    this.options.log.info(`the name ${taken} is taken on the network, using ${group.instance}`);
    await this.avahi.call(group.path, AvahiInterface.ENTRY_GROUP, 'Reset');
    await this.fill(group);
  }
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
