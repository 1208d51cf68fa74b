// SPDX-License-Identifier: LGPL-2.1-or-later
// Static folders, the original's `$SYSCONFDIR/passim.d`: each `*.conf` there names a folder (`[passim]`
// `Path=`) whose regular files are shared in place for as long as they are there. Keeps the store's static
// items in step with the folders, rescanning (debounced) when a .conf file or a folder's content changes.
import { watch, constants, type FSWatcher } from 'node:fs';
import { lstat, open, readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseKeyFile } from '../config.js';
import { errnoCode, toPassimError } from '../../shared/errors.js';
import { SHA256_HEX } from '../../shared/api.js';
import { validBasename, type Item } from '../../shared/item.js';
import type { Logger } from '../../shared/log.js';
import { sha256Of } from '../../shared/hash.js';
import type { Store } from './store.js';
import { XATTR, getString, setString, verifiedStamp } from './xattrs.js';

export interface StaticDirsOptions {
  /** The passim.d folder. */
  confDir: string;
  store: Store;
  log: Logger;
}

/** Quiet time after the last change before a rescan: one rescan for a burst of events (a copy, an rsync). */
const DEBOUNCE_MS = 250;
/** Files examined at once: the cached case is a few syscalls each, worth overlapping on the thread pool. */
const CONCURRENCY = 32;

/** What a file was when we last hashed it; a rescan reuses the item while size and mtime are unchanged. */
interface Known {
  size: bigint;
  mtimeNs: bigint;
  item: Item;
}

interface Folder {
  path: string;
  files: Map<string, Known>;
  watcher?: FSWatcher;
  timer?: NodeJS.Timeout;
  /** Scans of one folder run one after the other. */
  queue: Promise<void>;
  /** The last scan failed (missing or unreadable): warned once, retried when passim.d changes. */
  failed: boolean;
}

export class StaticDirs {
  private readonly confDir: string;
  private readonly store: Store;
  private readonly log: Logger;
  private readonly folders = new Map<string, Folder>();
  private confWatcher?: FSWatcher;
  private confTimer?: NodeJS.Timeout;
  private confQueue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(options: StaticDirsOptions) {
    this.confDir = options.confDir;
    this.store = options.store;
    this.log = options.log;
  }

  /** Reads passim.d and scans every folder it names; resolves once their items are in the store. */
  async start(): Promise<void> {
    try {
      this.confWatcher = watch(this.confDir, () => this.scheduleConfs());
      this.confWatcher.on('error', (err) => this.log.warn(`stopped watching ${this.confDir}: ${err.message}`));
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') this.log.warn(`cannot watch ${this.confDir}: ${toPassimError(err).message}`);
    }
    await this.enqueueConfs();
  }

  /** Whether passim.d names any folder: a daemon sharing folders never goes idle, even while they are empty. */
  get configured(): boolean {
    return this.folders.size > 0;
  }

  /** Stops watching; scans under way finish but change nothing visible to clients for long. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.confTimer);
    this.confWatcher?.close();
    for (const folder of this.folders.values()) this.closeFolder(folder);
  }

  private scheduleConfs(): void {
    if (this.stopped) return;
    clearTimeout(this.confTimer);
    this.confTimer = setTimeout(() => void this.enqueueConfs(), DEBOUNCE_MS);
  }

  private enqueueConfs(): Promise<void> {
    this.confQueue = this.confQueue
      .then(() => this.syncConfs())
      .catch((err: unknown) => {
        this.log.warn(`cannot read ${this.confDir}: ${toPassimError(err).message}`);
      });
    return this.confQueue;
  }

  /** Folders named now: new ones are scanned and watched, dropped ones forgotten, failed ones retried. */
  private async syncConfs(): Promise<void> {
    if (this.stopped) return;
    const wanted = await this.readConfs();
    for (const folder of [...this.folders.values()]) {
      if (wanted.has(folder.path)) continue;
      this.closeFolder(folder);
      this.folders.delete(folder.path);
      await folder.queue;
      this.store.setStaticItems(folder.path, []);
      this.log.info(`no longer sharing ${folder.path}`);
    }
    const scans: Promise<void>[] = [];
    for (const path of wanted) {
      const existing = this.folders.get(path);
      if (existing && !existing.failed) continue;
      const folder: Folder = existing ?? { path, files: new Map(), queue: Promise.resolve(), failed: false };
      this.folders.set(path, folder);
      scans.push(this.enqueueScan(folder));
    }
    await Promise.all(scans);
  }

  /** The folders named by passim.d/*.conf; a missing passim.d names none, a bad .conf is skipped with a warning. */
  private async readConfs(): Promise<Set<string>> {
    const folders = new Set<string>();
    let names: string[];
    try {
      names = await readdir(this.confDir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return folders;
      throw err;
    }
    for (const name of names.filter((n) => n.endsWith('.conf')).sort()) {
      const file = join(this.confDir, name);
      try {
        const path = parseKeyFile(await readFile(file, 'utf8'), file)
          .get('passim')
          ?.get('Path');
        if (!path) {
          this.log.warn(`${file}: no Path= in [passim], ignored`);
          continue;
        }
        folders.add(resolve(path));
      } catch (err) {
        this.log.warn(`${file} ignored: ${toPassimError(err).message}`);
      }
    }
    return folders;
  }

  private closeFolder(folder: Folder): void {
    clearTimeout(folder.timer);
    folder.watcher?.close();
    folder.watcher = undefined;
  }

  private scheduleScan(folder: Folder): void {
    if (this.stopped || this.folders.get(folder.path) !== folder) return;
    clearTimeout(folder.timer);
    folder.timer = setTimeout(() => void this.enqueueScan(folder), DEBOUNCE_MS);
  }

  private enqueueScan(folder: Folder): Promise<void> {
    folder.queue = folder.queue.then(() => this.scan(folder));
    return folder.queue;
  }

  /** Rescans one folder: unchanged files keep their item, new or changed ones are hashed. Never throws. */
  private async scan(folder: Folder): Promise<void> {
    if (this.stopped || this.folders.get(folder.path) !== folder) return;
    // Watch before listing, so that a file added during the listing still triggers a rescan.
    if (!folder.watcher) this.watchFolder(folder);
    let names: string[];
    try {
      names = await readdir(folder.path);
    } catch (err) {
      if (!folder.failed)
        this.log.warn(`cannot share static folder ${folder.path}: ${toPassimError(err).message}${sandboxHint(folder.path, err)}`);
      folder.failed = true;
      this.closeFolder(folder);
      folder.files.clear();
      this.store.setStaticItems(folder.path, []);
      return;
    }
    if (folder.failed) this.log.info(`sharing static folder ${folder.path} again`);
    folder.failed = false;
    const files = new Map<string, Known>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < names.length) {
        const name = names[next++] ?? '';
        const known = await this.examine(folder, name);
        if (known) files.set(name, known);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, names.length) }, worker));
    folder.files = files;
    if (this.folders.get(folder.path) !== folder) return;
    // Sorted so that which of two identical files is served does not depend on the order of the scan.
    const items = [...files.keys()]
      .sort()
      .map((name) => files.get(name)?.item)
      .filter((i): i is Item => i !== undefined);
    this.store.setStaticItems(folder.path, items);
    this.log.debug(`static folder ${folder.path}: ${items.length} files`);
  }

  private watchFolder(folder: Folder): void {
    try {
      folder.watcher = watch(folder.path, () => this.scheduleScan(folder));
      // The folder went away or became unreadable: the rescan says so and forgets its items.
      folder.watcher.on('error', () => {
        this.closeFolder(folder);
        void this.enqueueScan(folder);
      });
    } catch {
      // readdir right after reports why (missing, no permission).
    }
  }

  /** One directory entry as an item, reusing the last hash while size and mtime hold; undefined to skip it. */
  private async examine(folder: Folder, name: string): Promise<Known | undefined> {
    const path = join(folder.path, name);
    try {
      const stat = await lstat(path, { bigint: true });
      // Symlinks are skipped like the original does, and so are folders: sharing is not recursive.
      if (!stat.isFile()) return undefined;
      if (!validBasename(name)) {
        this.log.warn(`skipping ${JSON.stringify(path)}: its name has control characters`);
        return undefined;
      }
      const known = folder.files.get(name);
      if (known && known.size === stat.size && known.mtimeNs === stat.mtimeNs) return known;
      // Trusted only for the size and mtime it was computed for: the original trusts user.checksum.sha256 forever.
      const cached = await getString(path, XATTR.verified);
      const hash = cached?.split(':')[2];
      if (hash && SHA256_HEX.test(hash) && cached === verifiedStamp(stat.size, stat.mtimeNs, hash)) {
        return { size: stat.size, mtimeNs: stat.mtimeNs, item: staticItem(path, name, hash, stat) };
      }
      return await this.hash(folder, path, name);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') this.log.warn(`skipping ${path}: ${toPassimError(err).message}`);
      return undefined;
    }
  }

  /** Hashes a file by streaming it, and caches the hash in its xattrs when the folder lets us. */
  private async hash(folder: Folder, path: string, name: string): Promise<Known | undefined> {
    // O_NOFOLLOW and O_NONBLOCK: if the name was swapped for a symlink or a FIFO since lstat, fail rather than follow or hang.
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const stat = await handle.stat({ bigint: true });
      if (!stat.isFile()) return undefined;
      const hash = await sha256Of(handle.createReadStream({ start: 0, autoClose: false }));
      const after = await handle.stat({ bigint: true });
      if (after.size !== stat.size || after.mtimeNs !== stat.mtimeNs) {
        // Written to while we read it: whatever we hashed may be neither version; the watcher brings us back.
        this.scheduleScan(folder);
        return undefined;
      }
      try {
        // The original's attribute first, then ours, which says for which size and mtime the hash holds.
        await setString(path, XATTR.checksum, hash);
        await setString(path, XATTR.verified, verifiedStamp(stat.size, stat.mtimeNs, hash));
      } catch (err) {
        this.log.debug(`hash of ${path} not cached, it is hashed again at every start: ${toPassimError(err).message}`);
      }
      return { size: stat.size, mtimeNs: stat.mtimeNs, item: staticItem(path, name, hash, stat) };
    } finally {
      await handle.close();
    }
  }
}

function staticItem(path: string, basename: string, hash: string, stat: { size: bigint; mtimeNs: bigint }): Item {
  return {
    hash,
    basename,
    path,
    cmdline: '',
    // No max-age and no share-limit: the file is shared for as long as it is in the folder.
    maxAge: 0,
    shareLimit: 0,
    shareCount: 0,
    size: Number(stat.size),
    flags: 0,
    ctime: Number(stat.mtimeNs / 1_000_000_000n),
  };
}

/** The service's sandbox hides home folders: say so instead of leaving a bare EACCES or ENOENT. */
function sandboxHint(path: string, err: unknown): string {
  const code = errnoCode(err);
  if ((code !== 'EACCES' && code !== 'ENOENT') || !/^\/(home|root|run\/user)(\/|$)/.test(path)) return '';
  return ' (the passim service runs with ProtectHome=yes; add ProtectHome=read-only with "systemctl edit passim" to share from there)';
}
