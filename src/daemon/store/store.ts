// SPDX-License-Identifier: LGPL-2.1-or-later
// The content store: the index of items (published and static), publishing, unpublishing, expiry, shares,
// in the original's on-disk format.
import { EventEmitter } from 'node:events';
import { constants, createReadStream } from 'node:fs';
import { mkdir, open, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { PassimError, errnoCode, reasonOf, toPassimError } from '../../shared/errors.js';
import { N_ } from '../../shared/i18n.js';
import { sha256Of } from '../../shared/hash.js';
import { ItemFlags, type Item } from '../../shared/item.js';
import type { Logger } from '../../shared/log.js';
import { readBootTime } from '../proc.js';
import { AuditLog, sumShareBytes, type AuditType } from './audit-log.js';
import { commit, discard, noSpace, receive, receivedTime, validatePublish, type PublishOptions, type StorageLimit } from './publish.js';
import { scanDataDir } from './scan.js';
import { ShareCountWriter } from './share-counts.js';
import { XATTR, setU32 } from './xattrs.js';

export type { PublishOptions } from './publish.js';

export interface StoreOptions {
  dataDir: string;
  /** Largest item accepted by publish(), in bytes. */
  maxItemSize: number;
  /** Total bytes of published items (not static ones) that publish() may reach; 0 is no limit. */
  maxStorageSize?: number;
  auditLogPath: string;
  log: Logger;
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

export class Store extends EventEmitter<StoreEvents> {
  readonly dataDir: string;
  private readonly maxItemSize: number;
  private readonly maxStorageSize: number;
  /** Hashes withdrawn because their file no longer matched: hidden until recheck() clears them. */
  private readonly suspect = new Set<string>();
  /** The ctime of each item's file when its content was last found to match its hash. */
  private readonly verifiedCtime = new Map<string, bigint>();
  private readonly log: Logger;
  private readonly audit: AuditLog;
  private readonly bootTime: string;
  /** Published items, whose files live in the data folder. */
  private readonly items = new Map<string, Item>();
  /** Static items (see setStaticItems) by folder, in the order given. */
  private readonly staticFolders = new Map<string, Item[]>();
  /** The static item served for each hash: the first one found in staticFolders. */
  private staticByHash = new Map<string, Item>();
  /** Hashes whose publish is between hashing and rename: a second publish of the same content must fail. */
  private readonly publishing = new Set<string>();
  /** Hashes being deleted, so unpublish, expiry and the share-limit never delete (and log) an item twice. */
  private readonly removing = new Set<string>();
  private saving = 0;
  private readonly shareCounts: ShareCountWriter;
  /** Operations under way, so that close() can let them finish writing. */
  private readonly pending = new Set<Promise<unknown>>();

  private constructor(options: StoreOptions, bootTime: string) {
    super();
    this.dataDir = resolve(options.dataDir);
    this.maxItemSize = options.maxItemSize;
    this.maxStorageSize = options.maxStorageSize ?? 0;
    this.log = options.log;
    this.audit = new AuditLog(options.auditLogPath);
    this.bootTime = bootTime;
    this.shareCounts = new ShareCountWriter(options.log, (item) =>
      this.keepingVerification(item, () => setU32(item.path, XATTR.shareCount, item.shareCount)),
    );
  }

  /** Creates the data folder if needed, removes stale temporary files, scans items, expires old ones, reads savings from the audit log. */
  static async open(options: StoreOptions): Promise<Store> {
    const store = new Store(options, await readBootTime());
    await mkdir(store.dataDir, { recursive: true, mode: 0o755 });
    for (const [hash, item] of await scanDataDir(store.dataDir, store.bootTime, store.log)) store.items.set(hash, item);
    await store.expire();
    try {
      store.saving = await sumShareBytes(store.audit.path);
    } catch (err) {
      store.log.warn(`cannot read ${store.audit.path}, download savings start at 0: ${toPassimError(err).message}`);
    }
    return store;
  }

  /** All items, enabled or not. */
  list(): Item[] {
    const stored = [...this.items.values()];
    const statics = [...this.staticByHash.values()].filter((item) => !this.items.has(item.hash));
    return [...stored, ...statics].filter((item) => !this.suspect.has(item.hash)).map((item) => ({ ...item }));
  }

  /** Number of visible items (published and static). */
  get size(): number {
    let count = 0;
    for (const hash of this.items.keys()) if (!this.suspect.has(hash)) count += 1;
    for (const hash of this.staticByHash.keys()) if (!this.items.has(hash) && !this.suspect.has(hash)) count += 1;
    return count;
  }

  /** Whether `hash` is a visible item. */
  has(hash: string): boolean {
    return this.visible(hash) !== undefined;
  }

  /** Visible items newest first (by publish time, then hash), `limit` of them from `offset`. */
  page(offset: number, limit: number): Item[] {
    return this.list()
      .sort((a, b) => b.ctime - a.ctime || (a.hash < b.hash ? -1 : 1))
      .slice(offset, offset + limit);
  }

  /** Calls `fn` with every visible item's hash and whether it is enabled (not waiting for the next reboot), in no set order. */
  forEachHash(fn: (hash: string, enabled: boolean) => void): void {
    for (const item of this.list()) fn(item.hash, (item.flags & ItemFlags.DISABLED) === 0);
  }

  /** The hashes of the `limit` newest enabled items, newest first. */
  newestEnabled(limit: number): string[] {
    return this.list()
      .filter((item) => (item.flags & ItemFlags.DISABLED) === 0)
      .sort((a, b) => b.ctime - a.ctime || (a.hash < b.hash ? -1 : 1))
      .slice(0, limit)
      .map((item) => item.hash);
  }

  get(hash: string): Item | undefined {
    const item = this.visible(hash);
    return item && { ...item };
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
    const hidden = (hash: string): boolean => this.items.has(hash) || this.suspect.has(hash);
    const removed = [...before.keys()].filter((hash) => !hidden(hash) && !after.has(hash));
    const added = [...after.keys()].filter((hash) => !hidden(hash) && !before.has(hash));
    if (removed.length > 0) this.emit('changed', 'removed', removed);
    if (added.length > 0) this.emit('changed', 'added', added);
  }

  private visible(hash: string): Item | undefined {
    if (this.suspect.has(hash)) return undefined;
    return this.items.get(hash) ?? this.staticByHash.get(hash);
  }

  /**
   * Streams `source` into the store while hashing: refused when the options are invalid, the content is over
   * MaxItemSize or already shared. The store owns `source`: it is read to its end or destroyed. On any
   * failure no file is left behind.
   */
  publish(source: Readable, options: PublishOptions): Promise<Item> {
    return this.track(this.publishNow(source, options));
  }

  private async publishNow(source: Readable, options: PublishOptions): Promise<Item> {
    try {
      validatePublish(options);
    } catch (err) {
      source.destroy();
      throw err;
    }
    const received = await receive(this.dataDir, source, this.maxItemSize, this.storageLeft());
    const { hash } = received;
    let claimed = false;
    let item: Item;
    try {
      if (this.items.has(hash) || this.publishing.has(hash)) {
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
        ctime: await receivedTime(received),
      };
      await commit(received, item, this.bootTime);
      // Just hashed on the way in: this version of the file (its ctime) needs no check before it is served.
      this.verifiedCtime.set(hash, (await stat(item.path, { bigint: true })).ctimeNs);
    } catch (err) {
      await discard(received);
      if (claimed) this.publishing.delete(hash);
      throw toPassimError(err);
    }
    this.items.set(item.hash, item);
    this.publishing.delete(item.hash);
    await this.syncDataDir();
    this.log.debug(`published ${item.path}`);
    await this.record('PBLSH', { hash: item.hash, basename: item.basename, size: item.size, cmdline: item.cmdline });
    this.emit('changed', 'added', [item.hash]);
    return { ...item };
  }

  /**
   * Whether `hash`'s content was found to match while its file's ctime was `ctime`. Every write to a file,
   * restoring its modification time included, moves its ctime; so does writing an xattr, which the store
   * itself does to count shares and accounts for (keepingVerification).
   */
  contentVerified(hash: string, ctime: bigint): boolean {
    return this.verifiedCtime.get(hash) === ctime;
  }

  setContentVerified(hash: string, ctime: bigint): void {
    this.verifiedCtime.set(hash, ctime);
  }

  /** Runs `write`, which changes only xattrs of `item`'s file: content verified before stays verified after. */
  private async keepingVerification(item: Item, write: () => Promise<void>): Promise<void> {
    const before = (await stat(item.path, { bigint: true }).catch(() => undefined))?.ctimeNs;
    await write();
    if (before === undefined || this.verifiedCtime.get(item.hash) !== before) return;
    const after = (await stat(item.path, { bigint: true }).catch(() => undefined))?.ctimeNs;
    if (after !== undefined) this.verifiedCtime.set(item.hash, after);
  }

  /** MaxStorageSize and what publish() may still add under it (in-flight publishes count once done); undefined without a limit. */
  private storageLeft(): StorageLimit | undefined {
    if (this.maxStorageSize <= 0) return undefined;
    let used = 0;
    for (const item of this.items.values()) used += item.size;
    return { max: this.maxStorageSize, left: Math.max(0, this.maxStorageSize - used) };
  }

  /**
   * An item whose file was found not to hold what its hash says: withdrawn at once (neither listed, advertised
   * nor served), then hashed again. If it matches after all it comes back; a published one that does not is
   * deleted; a static one stays withdrawn until its folder changes.
   */
  recheck(hash: string): Promise<void> {
    const item = this.visible(hash);
    if (!item) return Promise.resolve();
    this.suspect.add(hash);
    this.emit('changed', 'removed', [hash]);
    return this.track(this.recheckNow(item));
  }

  private async recheckNow(item: Item): Promise<void> {
    let actual: string | undefined;
    try {
      actual = await sha256Of(createReadStream(item.path));
    } catch (err) {
      this.log.warn(`cannot read ${item.path} to check it: ${toPassimError(err).message}`);
    }
    if (actual === item.hash) {
      this.log.info(`${item.path} matches its hash again: shared again`);
      this.suspect.delete(item.hash);
      this.emit('changed', 'added', [item.hash]);
      return;
    }
    if (this.items.get(item.hash) !== item) return;
    this.log.warn(`${item.path} does not hold ${item.hash}${actual ? ` (its content has SHA-256 ${actual})` : ''}: deleting it`);
    try {
      await this.remove(item, 'corrupt');
    } finally {
      this.suspect.delete(item.hash);
      if (this.visible(item.hash)) this.emit('changed', 'added', [item.hash]);
    }
  }

  unpublish(hash: string): Promise<Item> {
    return this.track(this.unpublishNow(hash));
  }

  private async unpublishNow(hash: string): Promise<Item> {
    const item = this.items.get(hash);
    const shared = this.staticByHash.get(hash);
    if (!item && shared) {
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
    if (!item || !(await this.remove(item, 'unpublished'))) {
      throw new PassimError('not-found', N_('No item with hash {hash}', { hash }));
    }
    return { ...item };
  }

  /** Deletes items older than their max-age (0: never); returns how many. Static items are never expired. */
  expire(): Promise<number> {
    return this.track(this.expireNow());
  }

  private async expireNow(): Promise<number> {
    const now = Math.floor(Date.now() / 1000);
    let count = 0;
    for (const item of [...this.items.values()]) {
      if (item.maxAge === 0 || item.ctime + item.maxAge >= now) continue;
      try {
        if (await this.remove(item, 'expired')) count += 1;
      } catch (err) {
        this.log.warn(toPassimError(err).message);
      }
    }
    return count;
  }

  /**
   * A completed transfer of `hash` to `address`: share-count + 1, SHARE audit line, savings + size, delete at
   * the share-limit (0: no limit). Static items are never deleted, and their count is not written to their files.
   */
  recordShare(hash: string, address: string): Promise<void> {
    return this.track(this.recordShareNow(hash, address));
  }

  /** Waits for operations under way (file writes, audit lines) to finish: call before exiting. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.shareCounts.flush();
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
    const item = this.visible(hash);
    if (!item) throw new PassimError('not-found', N_('No item with hash {hash}', { hash }));
    const stored = this.items.get(hash) === item;
    item.shareCount += 1;
    this.saving += item.size;
    if (stored) {
      this.shareCounts.save(item);
    }
    await this.record('SHARE', { hash: item.hash, basename: item.basename, size: item.size, ipaddr: address });
    if (stored && item.shareLimit > 0 && item.shareCount >= item.shareLimit) await this.remove(item, 'share-limit');
    else this.emit('changed', 'shared', [hash]);
  }

  /** Bytes served to others, including what the audit log recorded before this start. */
  get downloadSaving(): number {
    return this.saving;
  }

  /** The single deletion path; false if the item is already gone or being deleted. */
  private async remove(item: Item, reason: DeleteReason): Promise<boolean> {
    if (this.removing.has(item.hash) || this.items.get(item.hash) !== item) return false;
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
    // Deleted from the map only once unlinked, so a publish of the same content in between is refused, never unlinked.
    this.items.delete(item.hash);
    this.shareCounts.forget(item.hash);
    this.log.debug(`deleted ${item.path} (${reason})`);
    await this.record('DELTE', { hash: item.hash, basename: item.basename, size: item.size, reason });
    // A suspect item was announced as removed when it was withdrawn; a static copy of the same content now shows.
    if (!this.suspect.has(item.hash)) this.emit('changed', 'removed', [item.hash]);
    if (this.staticByHash.has(item.hash) && !this.suspect.has(item.hash)) this.emit('changed', 'added', [item.hash]);
    return true;
  }

  /** Makes the rename durable; the item is already published, so a failure is only worth a warning. */
  private async syncDataDir(): Promise<void> {
    try {
      const dir = await open(this.dataDir, constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (err) {
      this.log.warn(`cannot sync ${this.dataDir}: ${toPassimError(err).message}`);
    }
  }

  /** The operation already happened, so a failing audit log is reported but does not undo or fail it. */
  private async record(type: AuditType, fields: Record<string, string | number>): Promise<void> {
    try {
      await this.audit.append(type, fields);
    } catch (err) {
      this.log.warn(`cannot write to the audit log ${this.audit.path}: ${toPassimError(err).message}`);
    }
  }
}
