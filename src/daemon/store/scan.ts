// SPDX-License-Identifier: LGPL-2.1-or-later
// Loading the data folder at start-up: which files are items, with their attributes, and whether their
// content still matches the hash in their name.
import { constants } from 'node:fs';
import { lstat, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SHA256_HEX } from '../../shared/api.js';
import { toPassimError } from '../../shared/errors.js';
import { sha256Of } from '../../shared/hash.js';
import { DEFAULT_MAX_AGE, DEFAULT_SHARE_LIMIT, ItemFlags, validBasename, type Item } from '../../shared/item.js';
import type { Logger } from '../../shared/log.js';
import { XATTR, getString, getU32, removeXattr, setString, verifiedStamp } from './xattrs.js';

/** Prefix of our temporary files in the data folder; any left at start-up are from a crash. */
export const TEMP_PREFIX = '.passim-tmp-';

/** `<sha256>-<basename>`, the original's file name for a stored item. */
const STORED_NAME = new RegExp(`^(${SHA256_HEX.source.slice(1, -1)})-(.+)$`);

/**
 * The items of `dataDir`, by hash. Removes temporary files a crash left behind; skips (with a warning) files
 * that are not items or whose content does not match their name.
 */
export async function scanDataDir(dataDir: string, bootTime: string, log: Logger): Promise<Map<string, Item>> {
  const items = new Map<string, Item>();
  for (const name of await readdir(dataDir)) {
    if (name.startsWith(TEMP_PREFIX)) {
      await unlink(join(dataDir, name)).then(
        () => log.info(`removed stale temporary file ${name}`),
        (err: unknown) => log.warn(`cannot remove stale temporary file ${name}: ${toPassimError(err).message}`),
      );
      continue;
    }
    try {
      const item = await loadItem(dataDir, name, items, bootTime, log);
      if (item) items.set(item.hash, item);
    } catch (err) {
      log.warn(`skipping ${join(dataDir, name)}: ${toPassimError(err).message}`);
    }
  }
  log.debug(`loaded ${items.size} items from ${dataDir}`);
  return items;
}

/** One file of the data folder as an item; undefined (with a warning) when it must not be served. */
async function loadItem(
  dataDir: string,
  name: string,
  loaded: Map<string, Item>,
  bootTime: string,
  log: Logger,
): Promise<Item | undefined> {
  const path = join(dataDir, name);
  const match = STORED_NAME.exec(name);
  const hash = match?.[1];
  const basename = match?.[2];
  if (!hash || !basename || !validBasename(basename)) {
    log.warn(`skipping ${path}: not named <sha256>-<basename>`);
    return undefined;
  }
  if (loaded.has(hash)) {
    log.warn(`skipping ${path}: another file already holds ${hash}`);
    return undefined;
  }
  if (!(await lstat(path)).isFile()) {
    log.warn(`skipping ${path}: not a regular file`);
    return undefined;
  }
  // O_NOFOLLOW and O_NONBLOCK: if the name was swapped for a symlink or a FIFO since lstat, fail rather than follow or hang.
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stat = await handle.stat({ bigint: true });
    if (!stat.isFile()) {
      log.warn(`skipping ${path}: not a regular file`);
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
        log.warn(`not loading ${path}: its content has SHA-256 ${actual}`);
        return undefined;
      }
      await setString(path, XATTR.verified, stamp).catch((err: unknown) =>
        log.warn(`cannot cache the verification of ${path}: ${toPassimError(err).message}`),
      );
    }
    await applyBootTime(item, bootTime, log);
    return item;
  } finally {
    await handle.close();
  }
}

/** A next-reboot item stays disabled during the boot it was published in; after a reboot it is enabled for good. */
async function applyBootTime(item: Item, bootTime: string, log: Logger): Promise<void> {
  const stored = await getString(item.path, XATTR.bootTime);
  if (stored === undefined) return;
  if (stored === bootTime) {
    item.flags = ItemFlags.DISABLED | ItemFlags.NEXT_REBOOT;
    return;
  }
  await removeXattr(item.path, XATTR.bootTime).catch((err: unknown) =>
    log.warn(`${item.path} stays enabled but keeps a stale boot time: ${toPassimError(err).message}`),
  );
}
