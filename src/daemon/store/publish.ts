// SPDX-License-Identifier: LGPL-2.1-or-later
// The publish pipeline's file work: a checked request, the content streamed into a temporary file while it
// is hashed, and the temporary file turned into a stored item in the original's format.
import { randomUUID } from 'node:crypto';
import { fstatSync, lstatSync, renameSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { U32_MAX } from '../../shared/api.js';
import { PassimError, reasonOf, toPassimError } from '../../shared/errors.js';
import { N_ } from '../../shared/i18n.js';
import { asBytes, sha256Hasher } from '../../shared/hash.js';
import { ItemFlags, validBasename, type Item } from '../../shared/item.js';
import { TEMP_PREFIX } from './scan.js';
import { XATTR, setStringSync, setU32Sync, verifiedStamp } from './xattrs.js';

export interface PublishOptions {
  basename: string;
  maxAge: number;
  shareLimit: number;
  shareCount: number;
  nextReboot: boolean;
  /** Basename of the publishing program. */
  cmdline: string;
}

/** `<64 hex>-` plus the basename must fit in NAME_MAX (255 bytes). */
const MAX_BASENAME_BYTES = 255 - 65;

export function validatePublish(options: PublishOptions): void {
  const { basename } = options;
  if (!validBasename(basename)) {
    throw new PassimError(
      'invalid-argument',
      N_('Invalid filename {name}: it must not be empty, "." or "..", or contain "/" or control characters', {
        name: JSON.stringify(basename),
      }),
    );
  }
  if (Buffer.byteLength(basename) > MAX_BASENAME_BYTES) {
    throw new PassimError('invalid-argument', N_('Filename is too long: at most {limit} bytes', { limit: MAX_BASENAME_BYTES }));
  }
  const numbers: [string, number][] = [
    ['max-age', options.maxAge],
    ['share-limit', options.shareLimit],
    ['share-count', options.shareCount],
  ];
  for (const [name, value] of numbers) {
    if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
      // TRANSLATORS: {name} is an attribute of Publish: max-age, share-limit or share-count
      throw new PassimError(
        'invalid-argument',
        N_('{name} must be an integer from 0 to {max}, got {value}', { name, max: U32_MAX, value }),
      );
    }
  }
  if (options.shareCount >= options.shareLimit) {
    throw new PassimError(
      'invalid-argument',
      N_('share-count ({count}) must be lower than share-limit ({limit})', { count: options.shareCount, limit: options.shareLimit }),
    );
  }
}

/** Content received into a temporary file of the data folder, not yet an item. */
export interface Received {
  tempPath: string;
  handle: FileHandle;
  hash: string;
  size: number;
}

/**
 * Streams `source` into a new temporary file in `dataDir`, hashing on the way and stopping as soon as it
 * exceeds `maxItemSize`. Owns `source`: it is read to its end or destroyed. On failure nothing is left behind.
 */
export async function receive(dataDir: string, source: Readable, maxItemSize: number, storage?: StorageLimit): Promise<Received> {
  const tempPath = join(dataDir, `${TEMP_PREFIX}${randomUUID()}`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(tempPath, 'wx', 0o644);
    const { hash, size } = await copyHashing(source, handle, maxItemSize, storage);
    return { tempPath, handle, hash, size };
  } catch (err) {
    source.destroy();
    await discard({ tempPath, handle });
    throw toPassimError(err);
  }
}

/**
 * Writes the attributes and gives the file its name; resolves with the file's ctime then. The attributes are
 * a handful of small system calls made in one go, not a trip through the thread pool each. Like the original,
 * nothing is forced to disk: after a power cut a published file may be missing, or fail its check at the
 * next start and be dropped; the store stays consistent, and a cache can fetch it again.
 */
export async function commit(received: Received, item: Item, bootTime: string): Promise<bigint> {
  const { tempPath, handle } = received;
  setU32Sync(tempPath, XATTR.maxAge, item.maxAge);
  setU32Sync(tempPath, XATTR.shareLimit, item.shareLimit);
  // The original fails to load a zero-length string xattr, and reads a missing one as ''.
  if (item.cmdline !== '') setStringSync(tempPath, XATTR.cmdline, item.cmdline);
  setU32Sync(tempPath, XATTR.shareCount, item.shareCount);
  if (item.flags & ItemFlags.NEXT_REBOOT) setStringSync(tempPath, XATTR.bootTime, bootTime);
  const stat = fstatSync(handle.fd, { bigint: true });
  setStringSync(tempPath, XATTR.verified, verifiedStamp(stat.size, stat.mtimeNs, item.hash));
  await handle.close();
  renameSync(tempPath, item.path);
  return lstatSync(item.path, { bigint: true }).ctimeNs;
}

/** The received file's modification time (Unix seconds), which the original uses as the publish time. */
export async function receivedTime(received: Received): Promise<number> {
  const stat = await received.handle.stat({ bigint: true });
  return Number(stat.mtimeNs / 1_000_000_000n);
}

/** Removes a temporary file and closes its handle; never fails. */
export async function discard({ tempPath, handle }: { tempPath: string; handle: FileHandle | undefined }): Promise<void> {
  await handle?.close().catch(() => undefined);
  await unlink(tempPath).catch(() => undefined);
}

/** MaxStorageSize, and the bytes the store has left under it. */
export interface StorageLimit {
  max: number;
  left: number;
}

/** The refusal of a publish that would take the store over MaxStorageSize. */
export function noSpace({ max, left }: StorageLimit): PassimError {
  return new PassimError(
    'no-space',
    // TRANSLATORS: MaxStorageSize is a setting in passim.conf, keep it as it is
    N_('The file does not fit: the store may hold {max} bytes (MaxStorageSize) and has {left} left', { max, left }),
  );
}

async function copyHashing(
  source: Readable,
  handle: FileHandle,
  limit: number,
  storage?: StorageLimit,
): Promise<{ hash: string; size: number }> {
  const hasher = sha256Hasher();
  let size = 0;
  try {
    await pipeline(source, async (chunks: AsyncIterable<unknown>) => {
      for await (const chunk of chunks) {
        const bytes = asBytes(chunk);
        size += bytes.length;
        if (size > limit) {
          // TRANSLATORS: MaxItemSize is a setting in passim.conf, keep it as it is
          throw new PassimError('too-large', N_('File is larger than the maximum item size of {limit} bytes (MaxItemSize)', { limit }));
        }
        if (storage && size > storage.left) throw noSpace(storage);
        hasher.update(bytes);
        await writeAll(handle, bytes);
      }
    });
  } catch (err) {
    // Our own failures are PassimErrors already; anything else came from reading the source.
    if (err instanceof PassimError) throw err;
    throw new PassimError('invalid-argument', N_('Cannot read the file to publish: {reason}', { reason: reasonOf(err) }), { cause: err });
  }
  return { hash: hasher.digest('hex'), size };
}

async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  try {
    for (let offset = 0; offset < bytes.length; ) {
      offset += (await handle.write(bytes, offset)).bytesWritten;
    }
  } catch (err) {
    throw new PassimError('internal', N_('Cannot store the file: {reason}', { reason: reasonOf(err) }), { cause: err });
  }
}
