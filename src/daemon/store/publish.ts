// SPDX-License-Identifier: LGPL-2.1-or-later
// The publish pipeline's file work: a checked request, the content (a stream, or a small file's bytes) written
// into a temporary file while it is hashed, and the temporary file turned into a stored item in the original's
// format.
import { randomUUID } from 'node:crypto';
import { closeSync, fstatSync, lstatSync, open, openSync, renameSync, unlinkSync, write, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { U32_MAX } from '../../shared/api.js';
import { PassimError, reasonOf, toPassimError } from '../../shared/errors.js';
import { N_ } from '../../shared/i18n.js';
import { asBytes, sha256Hasher, sha256Hex } from '../../shared/hash.js';
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

/** What a publish stores: the bytes of a small file read at once, or a stream. */
export type PublishContent = Buffer | Readable;

/** Content received into a temporary file of the data folder, not yet an item. */
export interface Received {
  tempPath: string;
  /** The temporary file, open for writing; -1 once commit() closed it. */
  fd: number;
  hash: string;
  size: number;
  /** The file's modification time once written (what the verification stamp records). */
  mtimeNs: bigint;
}

const openAsync = promisify(open);
const writeAsync = promisify(write);

/**
 * Writes `content` into a new temporary file in `dataDir` while hashing it, refusing it as soon as it exceeds
 * `maxItemSize` or what `storage` has left. Owns a stream: it is read to its end or destroyed. On failure
 * nothing is left behind. Bytes already in memory are written at once, without trips through the thread pool.
 */
export async function receive(dataDir: string, content: PublishContent, maxItemSize: number, storage?: StorageLimit): Promise<Received> {
  const tempPath = join(dataDir, `${TEMP_PREFIX}${randomUUID()}`);
  let fd: number | undefined;
  try {
    let digest: { hash: string; size: number };
    if (Buffer.isBuffer(content)) {
      checkSize(content.length, maxItemSize, storage);
      digest = { hash: sha256Hex(content), size: content.length };
      fd = openSync(tempPath, 'wx', 0o644);
      writeAllSync(fd, content);
    } else {
      fd = await openAsync(tempPath, 'wx', 0o644);
      digest = await copyHashing(content, fd, maxItemSize, storage);
    }
    return { tempPath, fd, ...digest, mtimeNs: fstatSync(fd, { bigint: true }).mtimeNs };
  } catch (err) {
    if (!Buffer.isBuffer(content)) content.destroy();
    discard({ tempPath, fd });
    throw toPassimError(err);
  }
}

/**
 * Writes the attributes and gives the file its name; returns the file's ctime then. The attributes are a
 * handful of small system calls made in one go, not a trip through the thread pool each. Like the original,
 * nothing is forced to disk: after a power cut a published file may be missing, or fail its check at the
 * next start and be dropped; the store stays consistent, and a cache can fetch it again.
 */
export function commit(received: Received, item: Item, bootTime: string): bigint {
  const { tempPath, fd } = received;
  setU32Sync(tempPath, XATTR.maxAge, item.maxAge);
  setU32Sync(tempPath, XATTR.shareLimit, item.shareLimit);
  // The original fails to load a zero-length string xattr, and reads a missing one as ''.
  if (item.cmdline !== '') setStringSync(tempPath, XATTR.cmdline, item.cmdline);
  setU32Sync(tempPath, XATTR.shareCount, item.shareCount);
  if (item.flags & ItemFlags.NEXT_REBOOT) setStringSync(tempPath, XATTR.bootTime, bootTime);
  // Attributes change the ctime, never the size or the modification time the stamp is keyed on.
  setStringSync(tempPath, XATTR.verified, verifiedStamp(BigInt(received.size), received.mtimeNs, item.hash));
  closeSync(fd);
  // Never closed twice: by then the number may name a file another thread opened.
  received.fd = -1;
  renameSync(tempPath, item.path);
  return lstatSync(item.path, { bigint: true }).ctimeNs;
}

/** The received file's modification time (Unix seconds), which the original uses as the publish time. */
export function receivedTime(received: Received): number {
  return Number(received.mtimeNs / 1_000_000_000n);
}

/** Removes a temporary file and closes its descriptor; never fails. */
export function discard({ tempPath, fd }: { tempPath: string; fd: number | undefined }): void {
  try {
    if (fd !== undefined && fd >= 0) closeSync(fd);
  } catch {
    // Nothing more to do about a descriptor that does not close.
  }
  try {
    unlinkSync(tempPath);
  } catch {
    // Never created, or renamed already.
  }
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

/** Refuses content of `size` bytes over MaxItemSize or over what the store has left. */
function checkSize(size: number, limit: number, storage: StorageLimit | undefined): void {
  if (size > limit) {
    // TRANSLATORS: MaxItemSize is a setting in passim.conf, keep it as it is
    throw new PassimError('too-large', N_('File is larger than the maximum item size of {limit} bytes (MaxItemSize)', { limit }));
  }
  if (storage && size > storage.left) throw noSpace(storage);
}

async function copyHashing(source: Readable, fd: number, limit: number, storage?: StorageLimit): Promise<{ hash: string; size: number }> {
  const hasher = sha256Hasher();
  let size = 0;
  try {
    await pipeline(source, async (chunks: AsyncIterable<unknown>) => {
      for await (const chunk of chunks) {
        const bytes = asBytes(chunk);
        size += bytes.length;
        checkSize(size, limit, storage);
        hasher.update(bytes);
        await writeAll(fd, bytes);
      }
    });
  } catch (err) {
    // Our own failures are PassimErrors already; anything else came from reading the source.
    if (err instanceof PassimError) throw err;
    throw new PassimError('invalid-argument', N_('Cannot read the file to publish: {reason}', { reason: reasonOf(err) }), { cause: err });
  }
  return { hash: hasher.digest('hex'), size };
}

async function writeAll(fd: number, bytes: Buffer): Promise<void> {
  try {
    for (let offset = 0; offset < bytes.length; ) offset += (await writeAsync(fd, bytes, offset, bytes.length - offset)).bytesWritten;
  } catch (err) {
    throw storeFailure(err);
  }
}

function writeAllSync(fd: number, bytes: Buffer): void {
  try {
    for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
  } catch (err) {
    throw storeFailure(err);
  }
}

function storeFailure(err: unknown): PassimError {
  return new PassimError('internal', N_('Cannot store the file: {reason}', { reason: reasonOf(err) }), { cause: err });
}
