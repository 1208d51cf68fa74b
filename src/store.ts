import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AuditLog, sumShareBytes, type AuditType } from './audit-log.js';
import { PassimError, errnoCode, toPassimError } from './errors.js';
import { DEFAULT_MAX_AGE, DEFAULT_SHARE_LIMIT, ItemFlags, validBasename, type Item } from './item.js';
import type { Logger } from './log.js';
import { readBootTime } from './proc.js';
import { XATTR, getString, getU32, removeXattr, setString, setU32, verifiedStamp } from './xattrs.js';

export interface PublishOptions {
  basename: string;
  maxAge: number;
  shareLimit: number;
  shareCount: number;
  nextReboot: boolean;
  /** Basename of the publishing program. */
  cmdline: string;
}

export interface StoreOptions {
  dataDir: string;
  /** Largest item accepted by publish(), in bytes. */
  maxItemSize: number;
  auditLogPath: string;
  log: Logger;
}

/** Which kind of change: listeners that only care about which items exist can skip 'shared'. */
export type StoreChange = 'added' | 'removed' | 'shared';

export interface StoreEvents {
  /** Items were added, removed, or one was shared (its share-count changed). */
  changed: [StoreChange];
}

/** Why an item was deleted, as written to the audit log. */
export type DeleteReason = 'unpublished' | 'expired' | 'share-limit';

/** Prefix of our temporary files in the data folder; any left at start-up are from a crash. */
export const TEMP_PREFIX = '.passim-tmp-';

const STORED_NAME = /^([0-9a-f]{64})-(.+)$/;
const U32_MAX = 0xffffffff;
/** `<64 hex>-` plus the basename must fit in NAME_MAX (255 bytes). */
const MAX_BASENAME_BYTES = 255 - 65;

export class Store extends EventEmitter<StoreEvents> {
  readonly dataDir: string;
  private readonly maxItemSize: number;
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
  private readonly shareCountWrites = new Map<string, Promise<void>>();
  private readonly shareCountDirty = new Set<string>();
  /** Operations under way, so that close() can let them finish writing. */
  private readonly pending = new Set<Promise<unknown>>();

  private constructor(options: StoreOptions, bootTime: string) {
    super();
    this.dataDir = resolve(options.dataDir);
    this.maxItemSize = options.maxItemSize;
    this.log = options.log;
    this.audit = new AuditLog(options.auditLogPath);
    this.bootTime = bootTime;
  }

  /** Creates the data folder if needed, removes stale temporary files, scans items, expires old ones, reads savings from the audit log. */
  static async open(options: StoreOptions): Promise<Store> {
    const store = new Store(options, await readBootTime());
    await mkdir(store.dataDir, { recursive: true, mode: 0o755 });
    await store.scan();
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
    return [...stored, ...statics].map((item) => ({ ...item }));
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
    const sameFile = (a: Item | undefined, b: Item | undefined): boolean => a?.path === b?.path;
    const removed = [...before].some(([hash, item]) => !this.items.has(hash) && !sameFile(item, after.get(hash)));
    const added = [...after].some(([hash, item]) => !this.items.has(hash) && !sameFile(item, before.get(hash)));
    if (removed) this.emit('changed', 'removed');
    if (added) this.emit('changed', 'added');
  }

  private visible(hash: string): Item | undefined {
    return this.items.get(hash) ?? this.staticByHash.get(hash);
  }

  /**
   * Streams `source` into the store while hashing; see the issue for every refusal.
   * The store owns `source`: it is read to its end or destroyed. On any failure no file is left behind.
   */
  publish(source: Readable, options: PublishOptions): Promise<Item> {
    return this.track(this.publishNow(source, options));
  }

  private async publishNow(source: Readable, options: PublishOptions): Promise<Item> {
    const tempPath = join(this.dataDir, `${TEMP_PREFIX}${randomUUID()}`);
    let handle: FileHandle | undefined;
    let claimed: string | undefined;
    let item: Item;
    try {
      validatePublish(options);
      handle = await open(tempPath, 'wx', 0o644);
      const { hash, size } = await this.receive(source, handle);
      if (this.items.has(hash) || this.publishing.has(hash)) {
        throw new PassimError('exists', `An item with hash ${hash} is already published`);
      }
      const shared = this.staticByHash.get(hash);
      if (shared) {
        throw new PassimError('exists', `An item with hash ${hash} is already shared from the static folder ${dirname(shared.path)}`);
      }
      this.publishing.add(hash);
      claimed = hash;
      const flags = options.nextReboot ? ItemFlags.DISABLED | ItemFlags.NEXT_REBOOT : 0;
      const stat = await handle.stat({ bigint: true });
      item = {
        hash,
        basename: options.basename,
        path: join(this.dataDir, `${hash}-${options.basename}`),
        cmdline: options.cmdline,
        maxAge: options.maxAge,
        shareLimit: options.shareLimit,
        shareCount: options.shareCount,
        size,
        flags,
        ctime: Number(stat.mtimeNs / 1_000_000_000n),
      };
      await this.writeAttributes(tempPath, item);
      await setString(tempPath, XATTR.verified, verifiedStamp(stat.size, stat.mtimeNs, hash));
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(tempPath, item.path);
    } catch (err) {
      source.destroy();
      await handle?.close().catch(() => undefined);
      await unlink(tempPath).catch(() => undefined);
      if (claimed) this.publishing.delete(claimed);
      throw toPassimError(err);
    }
    this.items.set(item.hash, item);
    this.publishing.delete(item.hash);
    await this.syncDataDir();
    this.log.debug(`published ${item.path}`);
    await this.record('PBLSH', { hash: item.hash, basename: item.basename, size: item.size, cmdline: item.cmdline });
    this.emit('changed', 'added');
    return { ...item };
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
        `The item with hash ${hash} is shared from the static folder ${dirname(shared.path)}, set up in passim.d: ` +
          'remove the file or its .conf file instead',
      );
    }
    if (!item || !(await this.remove(item, 'unpublished'))) {
      throw new PassimError('not-found', `No item with hash ${hash}`);
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

  /**
   * Writes an item's share-count xattr. One write per item is in flight at a time; shares that arrive meanwhile
   * are covered by one more write of the latest count, so a busy item costs a write per round, not per share.
   */
  private saveShareCount(item: Item): Promise<void> {
    const inFlight = this.shareCountWrites.get(item.hash);
    if (inFlight) {
      this.shareCountDirty.add(item.hash);
      return inFlight;
    }
    const write = (async () => {
      do {
        this.shareCountDirty.delete(item.hash);
        try {
          await setU32(item.path, XATTR.shareCount, item.shareCount);
        } catch (err) {
          this.log.warn(`share-count of ${item.hash} not saved: ${toPassimError(err).message}`);
        }
      } while (this.shareCountDirty.has(item.hash));
    })().finally(() => this.shareCountWrites.delete(item.hash));
    this.shareCountWrites.set(item.hash, write);
    return write;
  }

  /** Waits for operations under way (file writes, audit lines) to finish: call before exiting. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
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
    if (!item) throw new PassimError('not-found', `No item with hash ${hash}`);
    const stored = this.items.get(hash) === item;
    item.shareCount += 1;
    this.saving += item.size;
    if (stored) {
      await this.saveShareCount(item);
    }
    await this.record('SHARE', { hash: item.hash, basename: item.basename, size: item.size, ipaddr: address });
    if (stored && item.shareLimit > 0 && item.shareCount >= item.shareLimit) await this.remove(item, 'share-limit');
    else this.emit('changed', 'shared');
  }

  /** Bytes served to others, including what the audit log recorded before this start. */
  get downloadSaving(): number {
    return this.saving;
  }

  /** Copies `source` into `handle`, hashing on the way and stopping as soon as it exceeds maxItemSize. */
  private async receive(source: Readable, handle: FileHandle): Promise<{ hash: string; size: number }> {
    const hasher = createHash('sha256');
    const limit = this.maxItemSize;
    let size = 0;
    try {
      await pipeline(source, async (chunks: AsyncIterable<unknown>) => {
        for await (const chunk of chunks) {
          const bytes = asBytes(chunk);
          size += bytes.length;
          if (size > limit) {
            throw new PassimError('too-large', `File is larger than the maximum item size of ${limit} bytes (MaxItemSize)`);
          }
          hasher.update(bytes);
          await writeAll(handle, bytes);
        }
      });
    } catch (err) {
      // Our own failures are PassimErrors already; anything else came from reading the source.
      if (err instanceof PassimError) throw err;
      throw new PassimError('invalid-argument', `Cannot read the file to publish: ${toPassimError(err).message}`, { cause: err });
    }
    return { hash: hasher.digest('hex'), size };
  }

  private async writeAttributes(path: string, item: Item): Promise<void> {
    await setU32(path, XATTR.maxAge, item.maxAge);
    await setU32(path, XATTR.shareLimit, item.shareLimit);
    // The original fails to load a zero-length string xattr, and reads a missing one as ''.
    if (item.cmdline !== '') await setString(path, XATTR.cmdline, item.cmdline);
    await setU32(path, XATTR.shareCount, item.shareCount);
    if (item.flags & ItemFlags.NEXT_REBOOT) await setString(path, XATTR.bootTime, this.bootTime);
  }

  /** The single deletion path; false if the item is already gone or being deleted. */
  private async remove(item: Item, reason: DeleteReason): Promise<boolean> {
    if (this.removing.has(item.hash) || this.items.get(item.hash) !== item) return false;
    this.removing.add(item.hash);
    try {
      await unlink(item.path);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') {
        throw new PassimError('internal', `Cannot delete ${item.basename}: ${toPassimError(err).message}`, { cause: err });
      }
    } finally {
      this.removing.delete(item.hash);
    }
    // Deleted from the map only once unlinked, so a publish of the same content in between is refused, never unlinked.
    this.items.delete(item.hash);
    this.log.debug(`deleted ${item.path} (${reason})`);
    await this.record('DELTE', { hash: item.hash, basename: item.basename, size: item.size, reason });
    this.emit('changed', 'removed');
    return true;
  }

  private async scan(): Promise<void> {
    for (const name of await readdir(this.dataDir)) {
      if (name.startsWith(TEMP_PREFIX)) {
        await unlink(join(this.dataDir, name)).then(
          () => this.log.info(`removed stale temporary file ${name}`),
          (err: unknown) => this.log.warn(`cannot remove stale temporary file ${name}: ${toPassimError(err).message}`),
        );
        continue;
      }
      try {
        const item = await this.load(name);
        if (item) this.items.set(item.hash, item);
      } catch (err) {
        this.log.warn(`skipping ${join(this.dataDir, name)}: ${toPassimError(err).message}`);
      }
    }
    this.log.debug(`loaded ${this.items.size} items from ${this.dataDir}`);
  }

  /** One file of the data folder as an item; undefined (with a warning) when it must not be served. */
  private async load(name: string): Promise<Item | undefined> {
    const path = join(this.dataDir, name);
    const match = STORED_NAME.exec(name);
    const hash = match?.[1];
    const basename = match?.[2];
    if (!hash || !basename || !validBasename(basename)) {
      this.log.warn(`skipping ${path}: not named <sha256>-<basename>`);
      return undefined;
    }
    if (this.items.has(hash)) {
      this.log.warn(`skipping ${path}: another file already holds ${hash}`);
      return undefined;
    }
    if (!(await lstat(path)).isFile()) {
      this.log.warn(`skipping ${path}: not a regular file`);
      return undefined;
    }
    // O_NOFOLLOW and O_NONBLOCK: if the name was swapped for a symlink or a FIFO since lstat, fail rather than follow or hang.
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const stat = await handle.stat({ bigint: true });
      if (!stat.isFile()) {
        this.log.warn(`skipping ${path}: not a regular file`);
        return undefined;
      }
      const item: Item = {
        hash,
        basename,
        path,
        cmdline: (await getString(path, XATTR.cmdline)) ?? '',
        maxAge: await getU32(path, XATTR.maxAge, DEFAULT_MAX_AGE),
        shareLimit: await getU32(path, XATTR.shareLimit, DEFAULT_SHARE_LIMIT),
        shareCount: await getU32(path, XATTR.shareCount, 0),
        size: Number(stat.size),
        flags: 0,
        // The original uses the modification time as the publish time.
        ctime: Number(stat.mtimeNs / 1_000_000_000n),
      };
      const stamp = verifiedStamp(stat.size, stat.mtimeNs, hash);
      if ((await getString(path, XATTR.verified)) !== stamp) {
        const actual = await sha256Of(handle.createReadStream({ start: 0, autoClose: false }));
        if (actual !== hash) {
          this.log.warn(`not loading ${path}: its content has SHA-256 ${actual}`);
          return undefined;
        }
        await setString(path, XATTR.verified, stamp).catch((err: unknown) =>
          this.log.warn(`cannot cache the verification of ${path}: ${toPassimError(err).message}`),
        );
      }
      await this.applyBootTime(item);
      return item;
    } finally {
      await handle.close();
    }
  }

  /** A next-reboot item stays disabled during the boot it was published in; after a reboot it is enabled for good. */
  private async applyBootTime(item: Item): Promise<void> {
    const bootTime = await getString(item.path, XATTR.bootTime);
    if (bootTime === undefined) return;
    if (bootTime === this.bootTime) {
      item.flags = ItemFlags.DISABLED | ItemFlags.NEXT_REBOOT;
      return;
    }
    await removeXattr(item.path, XATTR.bootTime).catch((err: unknown) =>
      this.log.warn(`${item.path} stays enabled but keeps a stale boot time: ${toPassimError(err).message}`),
    );
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

function validatePublish(options: PublishOptions): void {
  const { basename } = options;
  if (!validBasename(basename)) {
    throw new PassimError(
      'invalid-argument',
      `Invalid filename ${JSON.stringify(basename)}: it must not be empty, "." or "..", or contain "/" or control characters`,
    );
  }
  if (Buffer.byteLength(basename) > MAX_BASENAME_BYTES) {
    throw new PassimError('invalid-argument', `Filename is too long: at most ${MAX_BASENAME_BYTES} bytes`);
  }
  const numbers: [string, number][] = [
    ['max-age', options.maxAge],
    ['share-limit', options.shareLimit],
    ['share-count', options.shareCount],
  ];
  for (const [name, value] of numbers) {
    if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
      throw new PassimError('invalid-argument', `${name} must be an integer from 0 to ${U32_MAX}, got ${value}`);
    }
  }
  if (options.shareCount >= options.shareLimit) {
    throw new PassimError(
      'invalid-argument',
      `share-count (${options.shareCount}) must be lower than share-limit (${options.shareLimit})`,
    );
  }
}

function asBytes(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new PassimError('invalid-argument', 'The data to publish is not a byte stream');
}

async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  try {
    for (let offset = 0; offset < bytes.length; ) {
      offset += (await handle.write(bytes, offset)).bytesWritten;
    }
  } catch (err) {
    throw new PassimError('internal', `Cannot store the file: ${toPassimError(err).message}`, { cause: err });
  }
}

/** SHA-256 (hex) of a byte stream, read chunk by chunk. */
export async function sha256Of(stream: AsyncIterable<unknown>): Promise<string> {
  const hasher = createHash('sha256');
  for await (const chunk of stream) hasher.update(asBytes(chunk));
  return hasher.digest('hex');
}
