// SPDX-License-Identifier: LGPL-2.1-or-later
// Loading the data folder at start-up: which files are items, with their attributes, and whether their
// content still matches the hash in their name. A first pass lists the folder (names tell hash and basename);
// the per-file checks then run on the main thread in small batches of blocking calls (about three times as
// fast as the same calls through promises), and beside them some with their attributes read on libuv's
// thread pool, to use a second core. Not in worker threads: what their allocations fragmented in glibc's
// second arena stayed resident after they ended, about 85 MiB at 100,000 files.
import { type BigIntStats, constants, type Dirent, lstatSync, unlinkSync } from 'node:fs';
import { open, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { SHA256_HEX } from '../../shared/api.js';
import { PassimError, toPassimError } from '../../shared/errors.js';
import { sha256Of } from '../../shared/hash.js';
import { DEFAULT_MAX_AGE, DEFAULT_SHARE_LIMIT, validBasename } from '../../shared/item.js';
import type { Logger } from '../../shared/log.js';
import { XATTR, decodeString, decodeU32, getAttributesInPool, getAttributesSync, setString, verifiedStamp } from './xattrs.js';

/** Prefix of our temporary files in the data folder; any left at start-up are from a crash. */
export const TEMP_PREFIX = '.passim-tmp-';

/** Folder entries read per system call, and handled per turn of the event loop. */
const LISTING_BATCH = 1024;

/** `<sha256>-<basename>`, the original's file name for a stored item. */
const STORED_NAME = new RegExp(`^(${SHA256_HEX.source.slice(1, -1)})-(.+)$`);

/**
 * Lists `dataDir` without holding every name at once: calls `found` with the hash and basename of each file
 * that may be an item (named `<sha256>-<basename>`, a regular file); `found` returns false when another file
 * already holds that hash. Removes temporary files a crash left behind; skips other files with a warning.
 */
export async function listDataDir(dataDir: string, log: Logger, found: (hash: string, basename: string) => boolean): Promise<void> {
  const dir = await opendir(dataDir, { bufferSize: LISTING_BATCH });
  try {
    // Synchronous reads in batches, yielding between them: an asynchronous step per entry made listing a
    // million files take many seconds of promise turns.
    for (let done = false; !done; await new Promise((resolve) => setImmediate(resolve))) {
      for (let n = 0; n < LISTING_BATCH; n++) {
        const entry = dir.readSync();
        if (entry === null) {
          done = true;
          break;
        }
        listEntry(dataDir, entry, log, found);
      }
    }
  } finally {
    await dir.close();
  }
}

/** Per entry of a million: the path is only joined where it is needed (a warning, a removal, an lstat). */
function listEntry(dataDir: string, entry: Dirent, log: Logger, found: (hash: string, basename: string) => boolean): void {
  const name = entry.name;
  if (name.startsWith(TEMP_PREFIX)) {
    try {
      unlinkSync(join(dataDir, name));
      log.info(`removed stale temporary file ${name}`);
    } catch (err) {
      log.warn(`cannot remove stale temporary file ${name}: ${toPassimError(err).message}`);
    }
    return;
  }
  const match = STORED_NAME.exec(name);
  const hash = match?.[1];
  const basename = match?.[2];
  if (!hash || !basename || !validBasename(basename)) {
    log.warn(`skipping ${join(dataDir, name)}: not named <sha256>-<basename>`);
    return;
  }
  try {
    // The folder entry's type saves an lstat; where the file system does not give it, ask.
    const known = entry.isFile() || entry.isDirectory() || entry.isSymbolicLink() || entry.isFIFO() || entry.isSocket();
    const regular = known ? entry.isFile() : lstatSync(join(dataDir, name)).isFile();
    if (!regular) {
      log.warn(`skipping ${join(dataDir, name)}: not a regular file`);
      return;
    }
  } catch (err) {
    log.warn(`skipping ${join(dataDir, name)}: ${toPassimError(err).message}`);
    return;
  }
  if (!found(hash, basename)) log.warn(`skipping ${join(dataDir, name)}: another file already holds ${hash}`);
}

/** A stored file's attributes, as a check of the file or the index snapshot gives them. */
export interface FileAttributes {
  size: number;
  /** Modification time in whole seconds: the original's publish time. */
  mtime: number;
  /** Change time in nanoseconds: any later write to the file or its attributes moves it (0n: not known). */
  ctimeNs: bigint;
  maxAge: number;
  shareLimit: number;
  shareCount: number;
  cmdline: string;
  /** user.boot_time, set on next-reboot items. */
  bootTime: string | undefined;
}

/** What checkFile found: an item's attributes, or why the file is skipped. */
export type Checked =
  | ({
      kind: 'item';
      /** Whether our verified stamp matches size and mtime: if not, the content must be hashed. */
      stampOk: boolean;
    } & FileAttributes)
  | { kind: 'skip'; reason: string };

/** The attributes a check reads, in the order their values are decoded (so a bad one is reported as before). */
const CHECKED_ATTRIBUTES = [XATTR.cmdline, XATTR.maxAge, XATTR.shareLimit, XATTR.shareCount, XATTR.verified, XATTR.bootTime] as const;

/**
 * Checks one file of the data folder with blocking calls: a regular file (lstat, so a symlink or FIFO swapped
 * in since listing is skipped, never followed or opened: whatever opens an item later does so with
 * O_NOFOLLOW), its attributes, its verified stamp. Each call here costs a system call of a few microseconds
 * per file, so a million files pay for every one: no open, fstat and close beside the attributes.
 */
export function checkFile(path: string, hash: string): Checked {
  try {
    const stat = lstatSync(path, { bigint: true });
    if (!stat.isFile()) return notRegular(path);
    return checkedItem(hash, stat, getAttributesSync(path, CHECKED_ATTRIBUTES));
  } catch (err) {
    return unreadable(path, err);
  }
}

/**
 * checkFile with the attributes read on libuv's thread pool (the lstat stays a blocking call, made first as
 * there, so the change time recorded is never later than the attributes read). `done` gets the same result
 * checkFile would give. The loader checks some files this way beside its blocking batches, so that the
 * second core makes system calls while the main thread makes others.
 */
export function checkFileInPool(path: string, hash: string, done: (checked: Checked) => void): void {
  let stat: BigIntStats;
  try {
    stat = lstatSync(path, { bigint: true });
  } catch (err) {
    done(unreadable(path, err));
    return;
  }
  if (!stat.isFile()) {
    done(notRegular(path));
    return;
  }
  getAttributesInPool(path, CHECKED_ATTRIBUTES, (values) => {
    let checked: Checked;
    try {
      if (values instanceof Error) throw values;
      checked = checkedItem(hash, stat, values);
    } catch (err) {
      checked = unreadable(path, err);
    }
    done(checked);
  });
}

function checkedItem(hash: string, stat: BigIntStats, values: readonly (Buffer | null)[]): Checked {
  const [cmdline = null, maxAge = null, shareLimit = null, shareCount = null, verified = null, bootTime = null] = values;
  return {
    kind: 'item',
    size: Number(stat.size),
    mtime: Number(stat.mtimeNs / 1_000_000_000n),
    ctimeNs: stat.ctimeNs,
    cmdline: decodeString(cmdline) ?? '',
    maxAge: decodeU32(maxAge, XATTR.maxAge, DEFAULT_MAX_AGE),
    shareLimit: decodeU32(shareLimit, XATTR.shareLimit, DEFAULT_SHARE_LIMIT),
    shareCount: decodeU32(shareCount, XATTR.shareCount, 0),
    stampOk: decodeString(verified) === verifiedStamp(stat.size, stat.mtimeNs, hash),
    bootTime: decodeString(bootTime),
  };
}

function notRegular(path: string): Checked {
  return { kind: 'skip', reason: `skipping ${path}: not a regular file` };
}

function unreadable(path: string, err: unknown): Checked {
  return { kind: 'skip', reason: `skipping ${path}: ${toPassimError(err).message}` };
}

/**
 * Hashes a file whose verified stamp did not match, through a handle opened with O_NOFOLLOW; if the content
 * matches, writes the stamp for the size and mtime hashed. Returns the content's SHA-256, or throws.
 */
export async function verifyContent(path: string, hash: string, log: Logger): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stat = await handle.stat({ bigint: true });
    if (!stat.isFile()) throw new PassimError('internal', 'not a regular file');
    const actual = await sha256Of(handle.createReadStream({ start: 0, autoClose: false }));
    if (actual === hash) {
      await setString(path, XATTR.verified, verifiedStamp(stat.size, stat.mtimeNs, hash)).catch((err: unknown) =>
        log.warn(`cannot cache the verification of ${path}: ${toPassimError(err).message}`),
      );
    }
    return actual;
  } finally {
    await handle.close();
  }
}
