// SPDX-License-Identifier: LGPL-2.1-or-later
// The content store: the index of items (published and static), publishing, unpublishing, expiry, shares,
// in the original's on-disk format.
import { EventEmitter } from 'node:events';
import { type BigIntStats, createReadStream, lstatSync, statSync } from 'node:fs';
import { mkdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { PassimError, errnoCode, reasonOf, toPassimError } from '../../shared/errors.js';
import { N_ } from '../../shared/i18n.js';
import { sha256Of } from '../../shared/hash.js';
import { ItemFlags, type Item } from '../../shared/item.js';
import type { Logger } from '../../shared/log.js';
import { readBootTime } from '../proc.js';
import { AuditLog, sumShareBytes, type AuditType } from './audit-log.js';
import {
  commit,
  discard,
  noSpace,
  receive,
  receivedTime,
  validatePublish,
  type PublishContent,
  type PublishOptions,
  type StorageLimit,
} from './publish.js';
import { ExpiryQueue } from './expiry-queue.js';
import { ItemIndex, SlotState, type SlotFields } from './item-index.js';
import { type Checked, checkFile, checkFileInPool, listDataDir, verifyContent } from './scan.js';
import { ShareCountWriter } from './share-counts.js';
import { type FolderStamp, type SnapshotRecord, SnapshotUnusable, readSnapshot, writeSnapshot } from './snapshot.js';
import { XATTR, removeXattr, setU32 } from './xattrs.js';

export type { PublishOptions } from './publish.js';

export interface StoreOptions {
  dataDir: string;
  /** Largest item accepted by publish(), in bytes. */
  maxItemSize: number;
  /** Total bytes of published items (not static ones) that publish() may reach; 0 is no limit. */
  maxStorageSize?: number;
  auditLogPath: string;
  log: Logger;
  /**
   * With more files than this in the data folder, open() resolves once they are listed, and `loaded` once
   * they are checked; with fewer, open() waits for them all. Default 20,000 (about a second of checking).
   */
  loadInBackgroundAbove?: number;
  /**
   * Where close() writes the index, and open() takes it from when the data folder did not change since:
   * outside the data folder. Without it, every start reads every file's attributes.
   */
  snapshotPath?: string;
}

/** Which kind of change: listeners that only care about which items exist can skip 'shared'. */
export type StoreChange = 'added' | 'removed' | 'shared';

export interface StoreEvents {
  /**
   * Items became visible ('added') or stopped being visible ('removed': deleted, withdrawn as suspect, or a
   * static copy gone), or one was shared (its share-count changed); `hashes` are the items concerned.
   */
  changed: [change: StoreChange, hashes: readonly string[]];
}

/** Why an item was deleted, as written to the audit log. */
export type DeleteReason = 'unpublished' | 'expired' | 'share-limit' | 'corrupt';

/** Files checked with blocking calls between turns of the event loop while loading: a few ms of them. */
const LOAD_BATCH = 32;
/**
 * Files whose attributes are read on libuv's thread pool at once while loading: with LOAD_BATCH 32, the pool
 * then takes about as much as it gets through; more only added pool threads contending for the cores.
 */
const LOAD_IN_POOL = 64;
/** Files hashed at once during loading (their verified stamp did not match). */
const HASHING_AT_ONCE = 2;
/** Items loaded in the background are announced together at most this often. */
const ANNOUNCE_INTERVAL_MS = 250;
/** setTimeout's longest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A published item's slot, with its serial so that a slot reused by another item is told apart. */
interface Ref {
  slot: number;
  serial: number;
}

export class Store extends EventEmitter<StoreEvents> {
  readonly dataDir: string;
  /** Resolves once every file of the data folder was checked and loaded (or skipped). */
  readonly loaded: Promise<void>;
  private markLoaded: () => void = () => undefined;
  private loading = true;
  private readonly maxItemSize: number;
  private readonly maxStorageSize: number;
  /** Hashes withdrawn because their file no longer matched: hidden until recheck() clears them. */
  private readonly suspect = new Set<string>();
  /** Verified ctimes of static items; published ones keep theirs in the index. */
  private readonly staticVerifiedCtime = new Map<string, bigint>();
  private readonly log: Logger;
  private readonly audit: AuditLog;
  private readonly bootTime: string;
  /** Published items (files in the data folder), and files of the data folder not yet checked. */
  private index = new ItemIndex();
  private readonly snapshotPath: string | undefined;
  /** Boot times of next-reboot items taken from the snapshot, by slot, until their file is checked. */
  private readonly recalledBootTimes = new Map<number, string>();
  private readonly expiry = new ExpiryQueue((slot) => this.index.expiresAt(slot));
  private expiryTimer: NodeJS.Timeout | undefined;
  /** The expiry time (Unix seconds) the timer is set for. */
  private expiryTimerFor = Number.POSITIVE_INFINITY;
  /** Static items (see setStaticItems) by folder, in the order given. */
  private readonly staticFolders = new Map<string, Item[]>();
  /** The static item served for each hash: the first one found in staticFolders. */
  private staticByHash = new Map<string, Item>();
  /** Visible static items newest first, made when asked for after a change. */
  private staticOrder: Item[] | undefined;
  /** Hashes whose publish is between hashing and rename: a second publish of the same content must fail. */
  private readonly publishing = new Set<string>();
  /** Hashes being deleted, so unpublish, expiry and the share-limit never delete (and log) an item twice. */
  private readonly removing = new Set<string>();
  /** Checks of single files the main thread does at once (see settle), by slot. */
  private readonly settling = new Map<number, Promise<void>>();
  private saving = 0;
  private readonly shareCounts: ShareCountWriter;
  /** Operations under way, so that close() can let them finish writing. */
  private readonly pending = new Set<Promise<unknown>>();
  /** Loaded hashes not announced yet, and the timer that announces them. */
  private announce: string[] = [];
  private announceTimer: NodeJS.Timeout | undefined;

  private constructor(options: StoreOptions, bootTime: string) {
    super();
    this.dataDir = resolve(options.dataDir);
    this.maxItemSize = options.maxItemSize;
    this.maxStorageSize = options.maxStorageSize ?? 0;
    this.log = options.log;
    const snapshotPath = options.snapshotPath && resolve(options.snapshotPath);
    if (snapshotPath?.startsWith(`${this.dataDir}/`)) {
      this.log.warn(`not keeping an index snapshot in the data folder: ${snapshotPath}`);
    } else {
      this.snapshotPath = snapshotPath;
    }
    this.audit = new AuditLog(options.auditLogPath);
    this.bootTime = bootTime;
    this.loaded = new Promise((done) => {
      this.markLoaded = done;
    });
    this.shareCounts = new ShareCountWriter(options.log, (item) =>
      this.keepingVerification(item, () => setU32(item.path, XATTR.shareCount, item.shareCount)),
    );
  }

  /**
   * Creates the data folder if needed, removes stale temporary files, lists the items, reads savings from
   * the audit log, and checks every item (expiring old ones) before or, for a large folder, after resolving:
   * see StoreOptions.loadInBackgroundAbove and `loaded`.
   */
  static async open(options: StoreOptions): Promise<Store> {
    const store = new Store(options, await readBootTime());
    await mkdir(store.dataDir, { recursive: true, mode: 0o755 });
    if (!store.recallSnapshot(await stat(store.dataDir, { bigint: true }))) {
      const index = store.index;
      await listDataDir(store.dataDir, store.log, (hash, basename) => index.addNew(hash, basename, SlotState.PENDING, unchecked) >= 0);
    }
    const index = store.index;
    index.trim();
    try {
      store.saving = await sumShareBytes(store.audit.path);
    } catch (err) {
      store.log.warn(`cannot read ${store.audit.path}, download savings start at 0: ${toPassimError(err).message}`);
    }
    const loading = store.track(store.loadAll());
    loading.then(
      () => store.finishLoading(),
      (err: unknown) => {
        store.log.error(`loading ${store.dataDir} failed: ${toPassimError(err).message}`);
        store.finishLoading();
      },
    );
    if (index.live <= (options.loadInBackgroundAbove ?? 20_000)) await store.loaded;
    return store;
  }

  /** Total size of the published items (not static ones), in bytes. */
  get totalBytes(): number {
    return this.index.totalBytes;
  }

  /** Number of visible items (published and static). */
  get size(): number {
    let count = this.index.loaded;
    for (const hash of this.suspect) if (this.storedSlot(hash) >= 0) count -= 1;
    for (const hash of this.staticByHash.keys()) if (!this.hidesStatic(hash)) count += 1;
    return count;
  }

  /** Whether `hash` is a visible item. */
  has(hash: string): boolean {
    if (this.suspect.has(hash)) return false;
    return this.storedSlot(hash) >= 0 || this.staticByHash.has(hash);
  }

  /** Visible items newest first (by publish time, then hash), `limit` of them from `offset`. */
  page(offset: number, limit: number): Item[] {
    const items: Item[] = [];
    if (limit <= 0) return items;
    if (this.suspect.size === 0 && this.visibleStatics().length === 0) {
      // Nothing to skip: the order is indexed directly.
      for (let i = offset; i < offset + limit; i++) {
        const slot = this.index.newestAt(i);
        if (slot < 0) break;
        items.push(this.materialise(slot));
      }
      return items;
    }
    let skip = offset;
    this.walkNewest((slot, item) => {
      if (skip > 0) {
        skip -= 1;
        return true;
      }
      items.push(item ? { ...item } : this.materialise(slot));
      return items.length < limit;
    });
    return items;
  }

  /** Calls `fn` with every visible item's hash and whether it is enabled (not waiting for the next reboot), in no set order. */
  forEachHash(fn: (hash: string, enabled: boolean) => void): void {
    const index = this.index;
    index.forEachLoaded((slot) => {
      const hash = index.hashOf(slot);
      if (this.suspect.size === 0 || !this.suspect.has(hash)) fn(hash, (index.flagsOf(slot) & ItemFlags.DISABLED) === 0);
    });
    for (const item of this.staticByHash.values()) {
      if (!this.hidesStatic(item.hash)) fn(item.hash, (item.flags & ItemFlags.DISABLED) === 0);
    }
  }

  /** The hashes of the `limit` newest enabled items, newest first. */
  newestEnabled(limit: number): string[] {
    const hashes: string[] = [];
    if (limit <= 0) return hashes;
    this.walkNewest((slot, item) => {
      const flags = item ? item.flags : this.index.flagsOf(slot);
      if ((flags & ItemFlags.DISABLED) === 0) hashes.push(item ? item.hash : this.index.hashOf(slot));
      return hashes.length < limit;
    });
    return hashes;
  }

  /** Whether files of the data folder are still being checked (see `loaded`): get() may miss one of them. */
  get isLoading(): boolean {
    return this.loading;
  }

  /** get(), except that a file of the data folder not checked yet is checked at once instead of missed. */
  async lookup(hash: string): Promise<Item | undefined> {
    await this.settle(hash);
    return this.get(hash);
  }

  /** Whether `hash` is a visible item that is shared now (not waiting for the next reboot); undefined if not visible. */
  enabled(hash: string): boolean | undefined {
    if (this.suspect.has(hash)) return undefined;
    const slot = this.storedSlot(hash);
    const flags = slot >= 0 ? this.index.flagsOf(slot) : this.staticByHash.get(hash)?.flags;
    return flags === undefined ? undefined : (flags & ItemFlags.DISABLED) === 0;
  }

  get(hash: string): Item | undefined {
    if (this.suspect.has(hash)) return undefined;
    const slot = this.storedSlot(hash);
    if (slot >= 0) return this.materialise(slot);
    const shared = this.staticByHash.get(hash);
    return shared && { ...shared };
  }

  /**
   * Replaces the static items of `folder` (files shared in place, never deleted, expired or counted
   * against a limit: maxAge and shareLimit 0) with `items`; an empty list forgets the folder.
   * When a hash is both published and static, the published item is served: it was handed to us
   * deliberately with its own limits, and once it is deleted the static copy takes over, so the content
   * stays available either way. Between folders (or files) with the same content, the first one wins.
   */
  setStaticItems(folder: string, items: readonly Item[]): void {
    const before = this.staticByHash;
    const previous = new Map((this.staticFolders.get(folder) ?? []).map((item) => [item.path, item]));
    // Share counts live in memory only (we never write to an administrator's files) and survive rescans.
    const fresh = items.map((item) => {
      const old = previous.get(item.path);
      return { ...item, shareCount: old?.hash === item.hash ? old.shareCount : 0 };
    });
    if (fresh.length > 0) this.staticFolders.set(folder, fresh);
    else this.staticFolders.delete(folder);
    const after = new Map<string, Item>();
    for (const list of this.staticFolders.values()) {
      for (const item of list) if (!after.has(item.hash)) after.set(item.hash, item);
    }
    this.staticByHash = after;
    this.staticOrder = undefined;
    const removed = [...before.keys()].filter((hash) => !this.hidesStatic(hash) && !after.has(hash));
    const added = [...after.keys()].filter((hash) => !this.hidesStatic(hash) && !before.has(hash));
    if (removed.length > 0) this.emit('changed', 'removed', removed);
    if (added.length > 0) this.emit('changed', 'added', added);
  }

  /**
   * Writes `source` (a small file's bytes, or a stream) into the store while hashing: refused when the options
   * are invalid, the content is over MaxItemSize or already shared. The store owns a stream: it is read to its
   * end or destroyed. On any failure no file is left behind. Resolves once the file is in place; its audit
   * line follows.
   */
  publish(source: PublishContent, options: PublishOptions): Promise<Item> {
    return this.track(this.publishNow(source, options));
  }

  private async publishNow(source: PublishContent, options: PublishOptions): Promise<Item> {
    try {
      validatePublish(options);
    } catch (err) {
      if (!Buffer.isBuffer(source)) source.destroy();
      throw err;
    }
    const received = await receive(this.dataDir, source, this.maxItemSize, this.storageLeft());
    const { hash } = received;
    let claimed = false;
    let item: Item;
    let slot: number;
    try {
      // A file of the data folder not checked yet may hold this content already: check it now.
      await this.settle(hash);
      if (this.storedSlot(hash) >= 0 || this.publishing.has(hash)) {
        throw new PassimError('exists', N_('An item with hash {hash} is already published', { hash }));
      }
      const shared = this.staticByHash.get(hash);
      if (shared) {
        throw new PassimError(
          'exists',
          N_('An item with hash {hash} is already shared from the static folder {folder}', { hash, folder: dirname(shared.path) }),
        );
      }
      const storage = this.storageLeft();
      if (storage && received.size > storage.left) throw noSpace(storage);
      this.publishing.add(hash);
      claimed = true;
      item = {
        hash,
        basename: options.basename,
        path: join(this.dataDir, `${hash}-${options.basename}`),
        cmdline: options.cmdline,
        maxAge: options.maxAge,
        shareLimit: options.shareLimit,
        shareCount: options.shareCount,
        size: received.size,
        flags: options.nextReboot ? ItemFlags.DISABLED | ItemFlags.NEXT_REBOOT : 0,
        ctime: receivedTime(received),
      };
      // Just hashed on the way in: this version of the file (its ctime) needs no check before it is served.
      const ctime = commit(received, item, this.bootTime);
      slot = this.index.add(hash, item.basename, SlotState.LOADED, item);
      this.index.setVerified(slot, ctime);
      this.index.setFileCtime(slot, ctime);
    } catch (err) {
      discard(received);
      if (claimed) this.publishing.delete(hash);
      throw toPassimError(err);
    }
    this.publishing.delete(hash);
    this.queueExpiry(slot);
    if (this.staticByHash.has(hash)) this.staticOrder = undefined;
    this.record('PBLSH', { hash: item.hash, basename: item.basename, size: item.size, cmdline: item.cmdline });
    this.emit('changed', 'added', [item.hash]);
    return item;
  }

  /**
   * Whether `hash`'s content was found to match while its file's ctime was `ctime`. Every write to a file,
   * restoring its modification time included, moves its ctime; so does writing an xattr, which the store
   * itself does to count shares and accounts for (keepingVerification).
   */
  contentVerified(hash: string, ctime: bigint): boolean {
    const slot = this.storedSlot(hash);
    return slot >= 0 ? this.index.verifiedAt(slot, ctime) : this.staticVerifiedCtime.get(hash) === ctime;
  }

  setContentVerified(hash: string, ctime: bigint): void {
    const slot = this.storedSlot(hash);
    if (slot >= 0) this.index.setVerified(slot, ctime);
    else this.staticVerifiedCtime.set(hash, ctime);
  }

  /** Runs `write`, which changes only xattrs of `item`'s file: content verified before stays verified after. */
  private async keepingVerification(item: Item, write: () => Promise<void>): Promise<void> {
    const before = (await stat(item.path, { bigint: true }).catch(() => undefined))?.ctimeNs;
    await write();
    if (before === undefined || !this.contentVerified(item.hash, before)) return;
    const after = (await stat(item.path, { bigint: true }).catch(() => undefined))?.ctimeNs;
    if (after !== undefined) this.setContentVerified(item.hash, after);
  }

  /** MaxStorageSize and what publish() may still add under it (in-flight publishes count once done); undefined without a limit. */
  private storageLeft(): StorageLimit | undefined {
    if (this.maxStorageSize <= 0) return undefined;
    return { max: this.maxStorageSize, left: Math.max(0, this.maxStorageSize - this.index.totalBytes) };
  }

  /**
   * An item whose file was found not to hold what its hash says: withdrawn at once (neither listed, advertised
   * nor served), then hashed again. If it matches after all it comes back; a published one that does not is
   * deleted; a static one stays withdrawn until its folder changes.
   */
  recheck(hash: string): Promise<void> {
    const item = this.get(hash);
    if (!item) return Promise.resolve();
    const ref = this.refOf(hash);
    this.suspect.add(hash);
    this.staticOrder = undefined;
    this.emit('changed', 'removed', [hash]);
    return this.track(this.recheckNow(item, ref));
  }

  private async recheckNow(item: Item, ref: Ref | undefined): Promise<void> {
    let actual: string | undefined;
    try {
      actual = await sha256Of(createReadStream(item.path));
    } catch (err) {
      this.log.warn(`cannot read ${item.path} to check it: ${toPassimError(err).message}`);
    }
    if (actual === item.hash) {
      this.log.info(`${item.path} matches its hash again: shared again`);
      this.suspect.delete(item.hash);
      this.staticOrder = undefined;
      this.emit('changed', 'added', [item.hash]);
      return;
    }
    if (!ref || !this.isCurrent(ref)) return;
    this.log.warn(`${item.path} does not hold ${item.hash}${actual ? ` (its content has SHA-256 ${actual})` : ''}: deleting it`);
    try {
      await this.remove(ref, 'corrupt');
    } finally {
      this.suspect.delete(item.hash);
      this.staticOrder = undefined;
      if (this.has(item.hash)) this.emit('changed', 'added', [item.hash]);
    }
  }

  unpublish(hash: string): Promise<Item> {
    return this.track(this.unpublishNow(hash));
  }

  private async unpublishNow(hash: string): Promise<Item> {
    await this.settle(hash);
    const ref = this.refOf(hash);
    const shared = this.staticByHash.get(hash);
    if (!ref && shared) {
      throw new PassimError(
        'invalid-argument',
        N_(
          'The item with hash {hash} is shared from the static folder {folder}, set up in passim.d: remove the file or its .conf file instead',
          {
            hash,
            folder: dirname(shared.path),
          },
        ),
      );
    }
    const item = ref && this.materialise(ref.slot);
    if (!ref || !item || !(await this.remove(ref, 'unpublished'))) {
      throw new PassimError('not-found', N_('No item with hash {hash}', { hash }));
    }
    return item;
  }

  /**
   * Deletes items older than their max-age (0: never); returns how many. Static items are never expired.
   * The store also does this by itself when the next item expires.
   */
  expire(): Promise<number> {
    return this.track(this.expireNow());
  }

  private async expireNow(): Promise<number> {
    const now = Math.floor(Date.now() / 1000);
    let count = 0;
    const failed: number[] = [];
    for (let slot = this.expiry.peek(); slot >= 0 && this.index.expiresAt(slot) < now; slot = this.expiry.peek()) {
      // Out of the queue before the await, so that an expire() running alongside never takes it too.
      this.expiry.delete(slot);
      try {
        if (await this.remove({ slot, serial: this.index.serial(slot) }, 'expired')) count += 1;
      } catch (err) {
        this.log.warn(toPassimError(err).message);
        if (this.index.state(slot) === SlotState.LOADED) failed.push(slot);
      }
    }
    // Tried again at the next expiry.
    for (const slot of failed) this.expiry.push(slot);
    this.armExpiryTimer();
    return count;
  }

  /**
   * A completed transfer of `hash` to `address`: share-count + 1, SHARE audit line, savings + size, delete at
   * the share-limit (0: no limit). Static items are never deleted, and their count is not written to their files.
   */
  recordShare(hash: string, address: string): Promise<void> {
    return this.track(this.recordShareNow(hash, address));
  }

  /** Waits for operations under way (loading, file writes, audit lines) to finish: call before exiting. */
  async close(): Promise<void> {
    this.loading = false;
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.expiryTimerFor = Number.POSITIVE_INFINITY;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    this.flushAnnouncements();
    await this.shareCounts.flush();
    this.saveSnapshot();
  }

  private track<T>(operation: Promise<T>): Promise<T> {
    this.pending.add(operation);
    const forget = (): void => {
      this.pending.delete(operation);
    };
    operation.then(forget, forget);
    return operation;
  }

  private async recordShareNow(hash: string, address: string): Promise<void> {
    if (this.suspect.has(hash)) throw new PassimError('not-found', N_('No item with hash {hash}', { hash }));
    const ref = this.refOf(hash);
    if (ref) {
      const { slot } = ref;
      const count = this.index.shareCountOf(slot) + 1;
      this.index.setShareCount(slot, count);
      const item = this.materialise(slot);
      this.saving += item.size;
      this.shareCounts.save(item);
      this.record('SHARE', { hash, basename: item.basename, size: item.size, ipaddr: address });
      if (item.shareLimit > 0 && count >= item.shareLimit) await this.remove(ref, 'share-limit');
      else this.emit('changed', 'shared', [hash]);
      return;
    }
    const shared = this.staticByHash.get(hash);
    if (!shared) throw new PassimError('not-found', N_('No item with hash {hash}', { hash }));
    shared.shareCount += 1;
    this.saving += shared.size;
    this.record('SHARE', { hash, basename: shared.basename, size: shared.size, ipaddr: address });
    this.emit('changed', 'shared', [hash]);
  }

  /** Bytes served to others, including what the audit log recorded before this start. */
  get downloadSaving(): number {
    return this.saving;
  }

  /** The single deletion path; false if the item is already gone or being deleted. */
  private async remove(ref: Ref, reason: DeleteReason): Promise<boolean> {
    if (!this.isCurrent(ref)) return false;
    const item = this.materialise(ref.slot);
    if (this.removing.has(item.hash)) return false;
    this.removing.add(item.hash);
    try {
      await unlink(item.path);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') {
        throw new PassimError('internal', N_('Cannot delete {name}: {reason}', { name: item.basename, reason: reasonOf(err) }), {
          cause: err,
        });
      }
    } finally {
      this.removing.delete(item.hash);
    }
    // Out of the index only once unlinked, so a publish of the same content in between is refused, never unlinked.
    this.forget(ref.slot, item.hash);
    this.log.debug(`deleted ${item.path} (${reason})`);
    this.record('DELTE', { hash: item.hash, basename: item.basename, size: item.size, reason });
    // A suspect item was announced as removed when it was withdrawn; a static copy of the same content now shows.
    if (!this.suspect.has(item.hash)) this.emit('changed', 'removed', [item.hash]);
    if (this.staticByHash.has(item.hash) && !this.suspect.has(item.hash)) this.emit('changed', 'added', [item.hash]);
    return true;
  }

  /** Drops a slot from the index and everything kept about it. */
  private forget(slot: number, hash: string): void {
    this.index.remove(slot);
    this.expiry.delete(slot);
    this.shareCounts.forget(hash);
    if (this.staticByHash.has(hash)) this.staticOrder = undefined;
  }

  /**
   * Queues an audit line without waiting for it: the operation already happened, and lines go out in
   * order in batches. close() waits for them; a failing audit log is reported but does not undo anything.
   */
  private record(type: AuditType, fields: Record<string, string | number>): void {
    this.track(
      this.audit.append(type, fields).catch((err: unknown) => {
        this.log.warn(`cannot write to the audit log ${this.audit.path}: ${toPassimError(err).message}`);
      }),
    );
  }

  /** The loaded (published) slot of `hash`, -1 if none. */
  private storedSlot(hash: string): number {
    const slot = this.index.find(hash);
    return slot >= 0 && this.index.state(slot) === SlotState.LOADED ? slot : -1;
  }

  private refOf(hash: string): Ref | undefined {
    const slot = this.storedSlot(hash);
    return slot >= 0 ? { slot, serial: this.index.serial(slot) } : undefined;
  }

  /** Whether `ref` still names the same published item. */
  private isCurrent(ref: Ref): boolean {
    return this.index.state(ref.slot) === SlotState.LOADED && this.index.serial(ref.slot) === ref.serial;
  }

  /** Whether a static item of `hash` is not what is served: a published item wins, a suspect one is hidden. */
  private hidesStatic(hash: string): boolean {
    return this.suspect.has(hash) || this.storedSlot(hash) >= 0;
  }

  private materialise(slot: number): Item {
    const hash = this.index.hashOf(slot);
    const basename = this.index.basenameOf(slot);
    return { hash, basename, path: join(this.dataDir, `${hash}-${basename}`), ...this.index.fieldsOf(slot) };
  }

  /** Visible static items, newest first like page(). */
  private visibleStatics(): Item[] {
    this.staticOrder ??= [...this.staticByHash.values()]
      .filter((item) => !this.hidesStatic(item.hash))
      .sort((a, b) => b.ctime - a.ctime || (a.hash < b.hash ? -1 : 1));
    return this.staticOrder;
  }

  /**
   * Visible items newest first (ctime descending, then hash): published ones as a slot, static ones as their
   * item (slot -1), until `fn` returns false.
   */
  private walkNewest(fn: (slot: number, item: Item | undefined) => boolean): void {
    const statics = this.visibleStatics();
    let next = 0;
    let going = true;
    const staticsBefore = (ctime: number, hash: string | undefined): void => {
      for (; going && next < statics.length; next++) {
        const item = statics[next];
        if (!item) break;
        if (hash !== undefined && (item.ctime < ctime || (item.ctime === ctime && item.hash > hash))) break;
        going = fn(-1, item);
      }
    };
    this.index.walkNewest((slot) => {
      if (statics.length > next) {
        const { ctime } = this.index.fieldsOf(slot);
        staticsBefore(ctime, this.index.hashOf(slot));
        if (!going) return false;
      }
      if (this.suspect.size > 0 && this.suspect.has(this.index.hashOf(slot))) return true;
      going = fn(slot, undefined);
      return going;
    });
    staticsBefore(0, undefined);
  }

  /** Queues a loaded slot for expiry, and sets the timer if it is now the first to expire. */
  private queueExpiry(slot: number): void {
    if (this.index.expiresAt(slot) === Number.POSITIVE_INFINITY) return;
    this.expiry.push(slot);
    if (this.expiry.peek() === slot) this.armExpiryTimer();
  }

  /** A timer for the first item to expire: it expires once the second after its ctime + max-age is over. */
  private armExpiryTimer(): void {
    const first = this.expiry.peek();
    const at = first >= 0 ? this.index.expiresAt(first) : Number.POSITIVE_INFINITY;
    if (at === this.expiryTimerFor) return;
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.expiryTimerFor = at;
    if (at === Number.POSITIVE_INFINITY) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, (at + 1) * 1000 - Date.now()));
    this.expiryTimer = setTimeout(() => {
      this.expiryTimerFor = Number.POSITIVE_INFINITY;
      this.expire().catch((err: unknown) => this.log.warn(`expiry failed: ${toPassimError(err).message}`));
    }, delay);
    this.expiryTimer.unref();
  }

  /**
   * Checks every listed file: each turn of the event loop, LOAD_BATCH files with blocking calls on the main
   * thread, while up to LOAD_IN_POOL others have their attributes read on libuv's thread pool, whose threads
   * make their system calls on the second core (a million files make twelve million). Only the files the pool
   * finished are replaced, so its share follows what it gets done; their results are taken at the start of a
   * turn, so items change only here, as with blocking checks. Through the pool alone, the main thread's work
   * per promise and wake-up came to about what the blocking calls cost.
   */
  private async loadAll(): Promise<void> {
    const index = this.index;
    const hashing = new Set<Promise<void>>();
    const take = (done: Promise<void> | undefined): void => {
      if (!done) return;
      hashing.add(done);
      void done.finally(() => hashing.delete(done));
    };
    /** Checks the pool finished, not taken yet. */
    let fromPool: (() => Promise<void> | undefined)[] = [];
    let inPool = 0;
    let poolDrained: (() => void) | undefined;
    let slot = 0;
    const nextPending = (): number => {
      for (; slot < index.slotLimit; slot++) {
        // One that settle() is checking out of turn is left to it.
        if (index.state(slot) === SlotState.PENDING && !this.settling.has(slot)) return slot++;
      }
      return -1;
    };
    for (let listed = true; this.loading; ) {
      for (const finish of fromPool.splice(0)) {
        take(finish());
        while (hashing.size >= HASHING_AT_ONCE) await Promise.race(hashing);
      }
      // While files are hashed, their reads share the pool: checks then stay blocking, as before. Bounded per
      // turn, not only by what is in the pool: a file the snapshot vouches for is back at once.
      for (let room = LOAD_IN_POOL - inPool; listed && hashing.size === 0 && room > 0; room--) {
        const next = nextPending();
        if (next < 0) {
          listed = false;
          break;
        }
        inPool++;
        this.checkPendingInPool(next, (finish) => {
          fromPool.push(finish);
          if (--inPool === 0) poolDrained?.();
        });
      }
      for (let n = 0; listed && n < LOAD_BATCH; n++) {
        const next = nextPending();
        if (next < 0) {
          listed = false;
          break;
        }
        take(this.checkPending(next));
        while (hashing.size >= HASHING_AT_ONCE) await Promise.race(hashing);
      }
      if (!listed && inPool > 0) await new Promise<void>((drained) => (poolDrained = drained));
      if (!listed && inPool === 0 && fromPool.length === 0) break;
      await new Promise<void>((next) => setImmediate(next));
    }
    // Closing: checks the pool still makes are waited for, not taken.
    if (inPool > 0) await new Promise<void>((drained) => (poolDrained = drained));
    fromPool = [];
    await Promise.all(hashing);
  }

  /** Checks a pending slot's file now: loaded, skipped, or hashed first, in which case the promise settles when that is done. */
  private checkPending(slot: number): Promise<void> | undefined {
    const hash = this.index.hashOf(slot);
    const ref = { slot, serial: this.index.serial(slot) };
    const path = join(this.dataDir, `${hash}-${this.index.basenameOf(slot)}`);
    const checked = this.recall(slot, path) ?? checkFile(path, hash);
    this.recalledBootTimes.delete(slot);
    return this.takeChecked(ref, path, hash, checked);
  }

  /**
   * checkPending with the file's attributes read on the thread pool: `checked` gets what takes the result
   * (returning what checkPending returns), to be called on a later turn. A slot settle() checked meanwhile is
   * left to it: takeChecked ignores one no longer pending, and finish one settle() is still hashing.
   */
  private checkPendingInPool(slot: number, checked: (finish: () => Promise<void> | undefined) => void): void {
    const hash = this.index.hashOf(slot);
    const ref = { slot, serial: this.index.serial(slot) };
    const path = join(this.dataDir, `${hash}-${this.index.basenameOf(slot)}`);
    const recalled = this.recall(slot, path);
    const finish = (result: Checked) => (): Promise<void> | undefined => {
      // settle() checked it meanwhile, and may still be hashing it.
      if (this.settling.has(slot)) return undefined;
      this.recalledBootTimes.delete(slot);
      return this.takeChecked(ref, path, hash, result);
    };
    if (recalled) checked(finish(recalled));
    else checkFileInPool(path, hash, (result) => checked(finish(result)));
  }

  /**
   * Takes the data folder's items from the snapshot, as pending slots with their attributes, if it was written
   * for the folder as it is now (no name added, removed or renamed since); false if it was not used.
   */
  private recallSnapshot(folder: BigIntStats): boolean {
    if (!this.snapshotPath) return false;
    const stamp: FolderStamp = { dev: folder.dev, ino: folder.ino, mtimeNs: folder.mtimeNs, ctimeNs: folder.ctimeNs };
    try {
      const count = readSnapshot(
        this.snapshotPath,
        this.dataDir,
        stamp,
        (record) => {
          const index = this.index;
          const fields: SlotFields = {
            size: record.size,
            ctime: record.mtime,
            maxAge: record.maxAge,
            shareLimit: record.shareLimit,
            shareCount: record.shareCount,
            flags: 0,
            cmdline: record.cmdline,
          };
          const slot = index.addNew(record.hash, record.basename, SlotState.PENDING, fields);
          if (slot < 0) throw new SnapshotUnusable('damaged: a hash twice');
          index.setFileCtime(slot, record.ctimeNs);
          if (record.bootTime !== undefined) this.recalledBootTimes.set(slot, record.bootTime);
        },
        // Some room beyond the count, so that the first publishes do not grow every array by half.
        (count) => this.index.reserve(count + (count >> 6)),
      );
      this.log.debug(`took ${count} items of ${this.dataDir} from ${this.snapshotPath}`);
      return true;
    } catch (err) {
      const reason = err instanceof SnapshotUnusable ? err.message : toPassimError(err).message;
      const message = `not using the index snapshot ${this.snapshotPath}: ${reason}`;
      if (err instanceof SnapshotUnusable && !reason.startsWith('damaged')) this.log.debug(message);
      else this.log.warn(message);
      this.index = new ItemIndex();
      this.recalledBootTimes.clear();
      return false;
    }
  }

  /**
   * A pending slot taken from the snapshot whose file is the same version (same ctime: neither its content
   * nor its attributes were written since) as the record: what checkFile would find, with one lstat instead
   * of opening the file and reading its attributes. Undefined if it must be checked in full.
   */
  private recall(slot: number, path: string): Checked | undefined {
    const expected = this.index.fileCtimeOf(slot);
    if (expected === 0n) return undefined;
    let stat: BigIntStats;
    try {
      stat = lstatSync(path, { bigint: true });
    } catch {
      return undefined;
    }
    const fields = this.index.fieldsOf(slot);
    const mtime = Number(stat.mtimeNs / 1_000_000_000n);
    if (!stat.isFile() || stat.ctimeNs !== expected || Number(stat.size) !== fields.size || mtime !== fields.ctime) return undefined;
    return {
      kind: 'item',
      size: fields.size,
      mtime,
      ctimeNs: stat.ctimeNs,
      maxAge: fields.maxAge,
      shareLimit: fields.shareLimit,
      shareCount: fields.shareCount,
      cmdline: fields.cmdline,
      // Its stamp matched (or its content was hashed) when it was loaded, and the file was not written since.
      stampOk: true,
      bootTime: this.recalledBootTimes.get(slot),
    };
  }

  /** Writes the snapshot if every file of the data folder was checked; a failure is only worth a warning. */
  private saveSnapshot(): void {
    if (!this.snapshotPath || this.index.live !== this.index.loaded) return;
    try {
      const folder = statSync(this.dataDir, { bigint: true });
      const stamp: FolderStamp = { dev: folder.dev, ino: folder.ino, mtimeNs: folder.mtimeNs, ctimeNs: folder.ctimeNs };
      const count = writeSnapshot(this.snapshotPath, this.dataDir, stamp, this.snapshotRecords());
      this.log.debug(`wrote ${count} items to ${this.snapshotPath}`);
    } catch (err) {
      this.log.warn(`cannot write the index snapshot ${this.snapshotPath}: ${toPassimError(err).message}`);
    }
  }

  private *snapshotRecords(): Generator<SnapshotRecord> {
    const index = this.index;
    for (let slot = 0; slot < index.slotLimit; slot++) {
      if (index.state(slot) !== SlotState.LOADED) continue;
      const hash = index.hashOf(slot);
      if (this.suspect.has(hash)) continue;
      const fields = index.fieldsOf(slot);
      yield {
        hash,
        basename: index.basenameOf(slot),
        size: fields.size,
        mtime: fields.ctime,
        ctimeNs: index.fileCtimeOf(slot),
        maxAge: fields.maxAge,
        shareLimit: fields.shareLimit,
        shareCount: fields.shareCount,
        cmdline: fields.cmdline,
        // Only a next-reboot item still disabled has one on disk.
        bootTime: (fields.flags & ItemFlags.NEXT_REBOOT) !== 0 ? this.bootTime : undefined,
      };
    }
  }

  private finishLoading(): void {
    this.loading = false;
    this.recalledBootTimes.clear();
    this.flushAnnouncements();
    this.index.settleOrder();
    this.log.debug(`loaded ${this.index.loaded} items from ${this.dataDir}`);
    this.markLoaded();
  }

  /**
   * A listed file checked: skipped, loaded, expired or (when its verified stamp did not match)
   * hashed first, in which case the promise returned settles when that is done.
   */
  private takeChecked(ref: Ref, path: string, hash: string, checked: Checked): Promise<void> | undefined {
    if (this.index.state(ref.slot) !== SlotState.PENDING || this.index.serial(ref.slot) !== ref.serial) return undefined;
    if (checked.kind === 'skip') {
      this.log.warn(checked.reason);
      this.index.remove(ref.slot);
      return undefined;
    }
    if (checked.stampOk) return this.accept(ref, path, hash, checked);
    return this.hashListed(ref, path, hash, checked);
  }

  private async hashListed(ref: Ref, path: string, hash: string, checked: Checked & { kind: 'item' }): Promise<void> {
    let actual: string;
    try {
      actual = await verifyContent(path, hash, this.log);
    } catch (err) {
      if (this.index.state(ref.slot) === SlotState.PENDING && this.index.serial(ref.slot) === ref.serial) {
        this.log.warn(`skipping ${path}: ${toPassimError(err).message}`);
        this.index.remove(ref.slot);
      }
      return;
    }
    if (this.index.state(ref.slot) !== SlotState.PENDING || this.index.serial(ref.slot) !== ref.serial) return;
    if (actual !== hash) {
      this.log.warn(`not loading ${path}: its content has SHA-256 ${actual}`);
      this.index.remove(ref.slot);
      return;
    }
    await this.accept(ref, path, hash, checked);
  }

  /**
   * A checked file becomes an item, unless it expired while the daemon was not running: then it is deleted,
   * and the promise returned settles once it is (or, for a next-reboot item enabled now, once its boot time
   * is removed).
   */
  private accept(ref: Ref, path: string, hash: string, checked: Checked & { kind: 'item' }): Promise<void> | undefined {
    if (this.index.state(ref.slot) !== SlotState.PENDING || this.index.serial(ref.slot) !== ref.serial) return undefined;
    let flags = 0;
    let enabling: Promise<void> | undefined;
    if (checked.bootTime === this.bootTime) {
      // A next-reboot item stays disabled during the boot it was published in.
      flags = ItemFlags.DISABLED | ItemFlags.NEXT_REBOOT;
    } else if (checked.bootTime !== undefined) {
      // After a reboot it is enabled for good.
      enabling = this.track(
        removeXattr(path, XATTR.bootTime).catch((err: unknown) =>
          this.log.warn(`${path} stays enabled but keeps a stale boot time: ${toPassimError(err).message}`),
        ),
      );
    }
    const fields: SlotFields = {
      size: checked.size,
      // The original uses the modification time as the publish time.
      ctime: checked.mtime,
      maxAge: checked.maxAge,
      shareLimit: checked.shareLimit,
      shareCount: checked.shareCount,
      flags,
      cmdline: checked.cmdline,
    };
    this.index.load(ref.slot, fields);
    this.index.setFileCtime(ref.slot, checked.ctimeNs);
    const expiresAt = this.index.expiresAt(ref.slot);
    if (expiresAt < Math.floor(Date.now() / 1000)) {
      // Deleted as expire() would, hidden meanwhile as suspect: never announced, so no 'removed' either.
      this.suspect.add(hash);
      return this.remove(ref, 'expired')
        .then(
          () => undefined,
          (err: unknown) => this.log.warn(toPassimError(err).message),
        )
        .finally(() => this.suspect.delete(hash));
    }
    this.queueExpiry(ref.slot);
    if (this.staticByHash.has(hash)) this.staticOrder = undefined;
    this.announceAdded(hash);
    return enabling;
  }

  /**
   * Checks the listed, not yet checked file of `hash` (if any) at once, for a lookup, publish or unpublish
   * that must know whether it is an item before loading reaches it.
   */
  private async settle(hash: string): Promise<void> {
    const slot = this.index.find(hash);
    if (slot < 0 || this.index.state(slot) !== SlotState.PENDING) return;
    let settling = this.settling.get(slot);
    if (!settling) {
      settling = Promise.resolve(this.checkPending(slot)).finally(() => this.settling.delete(slot));
      this.settling.set(slot, settling);
    }
    await settling;
  }

  /** Items loaded in the background are announced in batches, not one event each. */
  private announceAdded(hash: string): void {
    this.announce.push(hash);
    if (!this.loading) {
      this.flushAnnouncements();
      return;
    }
    if (!this.announceTimer) {
      this.announceTimer = setTimeout(() => this.flushAnnouncements(), ANNOUNCE_INTERVAL_MS);
      this.announceTimer.unref();
    }
  }

  private flushAnnouncements(): void {
    clearTimeout(this.announceTimer);
    this.announceTimer = undefined;
    const hashes = this.announce.filter((hash) => this.has(hash));
    this.announce = [];
    if (hashes.length > 0) this.emit('changed', 'added', hashes);
  }
}

/** A listed file's fields until it is checked: never served. */
const unchecked: SlotFields = { size: 0, ctime: 0, maxAge: 0, shareLimit: 0, shareCount: 0, flags: 0, cmdline: '' };
