// SPDX-License-Identifier: LGPL-2.1-or-later
// Extended attributes of stored files, in the original's encoding. @napi-rs/xattr works on paths and does not
// follow symlinks (l*xattr), and its get returns null for a missing attribute (and for any other read error).
import { getAttribute, getAttributeSync, removeAttribute, setAttribute, setAttributeSync } from '@napi-rs/xattr';
import { PassimError, toPassimError } from '../../shared/errors.js';

export const XATTR = {
  /** u32 little-endian, seconds; the original's. */
  maxAge: 'user.max_age',
  /** u32 little-endian; the original's. */
  shareLimit: 'user.share_limit',
  /** UTF-8 string without NUL; the original's. */
  cmdline: 'user.cmdline',
  /** `btime` of the boot during which a next-reboot item was published; the original's. */
  bootTime: 'user.boot_time',
  /** u32 little-endian; ours, so share-count survives restarts. */
  shareCount: 'user.share_count',
  /** `<size>:<mtimeNs>:<sha256>`; ours, the content was verified (or, in a static folder, hashed) for exactly that size and mtime. */
  verified: 'user.passim.verified',
  /** Hex SHA-256 of a file in a static folder; the original's, which it trusts whatever happened to the file since. */
  checksum: 'user.checksum.sha256',
} as const;

export type XattrName = (typeof XATTR)[keyof typeof XATTR];

/** The value of XATTR.verified: the hash holds for exactly this size and modification time. */
export function verifiedStamp(size: bigint, mtimeNs: bigint, hash: string): string {
  return `${size}:${mtimeNs}:${hash}`;
}

export function encodeU32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32LE(value);
  return buf;
}

/** A u32 attribute, `fallback` when missing; a value that is not exactly 4 bytes is an error. */
export async function getU32(path: string, name: XattrName, fallback: number): Promise<number> {
  return decodeU32(await getAttribute(path, name), name, fallback);
}

/** A string attribute, cut at the first NUL as the C original reads it; undefined when missing or empty. */
export async function getString(path: string, name: XattrName): Promise<string | undefined> {
  return decodeString(await getAttribute(path, name));
}

/** Raw values (null: missing) of several attributes, with blocking calls: for the start-up loader's batches. */
export function getAttributesSync(path: string, names: readonly XattrName[]): (Buffer | null)[] {
  return names.map((name) => getAttributeSync(path, name));
}

/**
 * getAttributesSync on libuv's thread pool: every read is queued at once, and `done` gets the values in the
 * order of `names` once all are back, or the first error. A callback rather than Promise.all: the start-up
 * loader reads a million files this way, and every promise costs the main thread.
 */
export function getAttributesInPool(path: string, names: readonly XattrName[], done: (values: (Buffer | null)[] | Error) => void): void {
  const values: (Buffer | null)[] = new Array(names.length).fill(null);
  let left = names.length;
  let failed = false;
  names.forEach((name, i) => {
    getAttribute(path, name).then(
      (value) => {
        values[i] = value;
        if (--left === 0 && !failed) done(values);
      },
      (err: unknown) => {
        if (failed) return;
        failed = true;
        done(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** A u32 attribute's raw value, `fallback` when missing; a value that is not exactly 4 bytes is an error. */
export function decodeU32(buf: Buffer | null, name: XattrName, fallback: number): number {
  if (buf === null) return fallback;
  if (buf.length !== 4) throw new PassimError('internal', `${name} is ${buf.length} bytes long, expected 4`);
  return buf.readUInt32LE(0);
}

/** A string attribute's raw value, cut at the first NUL as the C original reads it; undefined when missing or empty. */
export function decodeString(buf: Buffer | null): string | undefined {
  if (buf === null) return undefined;
  const end = buf.indexOf(0);
  const value = buf.subarray(0, end === -1 ? buf.length : end).toString('utf8');
  return value === '' ? undefined : value;
}

export async function setU32(path: string, name: XattrName, value: number): Promise<void> {
  await set(path, name, encodeU32(value));
}

export function setU32Sync(path: string, name: XattrName, value: number): void {
  setSync(path, name, encodeU32(value));
}

/** The UTF-8 bytes without a terminating NUL, cut at any NUL inside, as the original writes strings. */
function encodeString(value: string): Buffer {
  const end = value.indexOf('\0');
  return Buffer.from(end === -1 ? value : value.slice(0, end), 'utf8');
}

export async function setString(path: string, name: XattrName, value: string): Promise<void> {
  await set(path, name, encodeString(value));
}

export function setStringSync(path: string, name: XattrName, value: string): void {
  setSync(path, name, encodeString(value));
}

/** Removes an attribute; one that is already missing is not an error. */
export async function removeXattr(path: string, name: XattrName): Promise<void> {
  if ((await getAttribute(path, name)) === null) return;
  try {
    await removeAttribute(path, name);
  } catch (err) {
    throw new PassimError('internal', `cannot remove ${name} from ${path}: ${toPassimError(err).message}`, { cause: err });
  }
}

async function set(path: string, name: XattrName, value: Buffer): Promise<void> {
  try {
    await setAttribute(path, name, value);
  } catch (err) {
    throw setFailed(path, name, err);
  }
}

function setSync(path: string, name: XattrName, value: Buffer): void {
  try {
    setAttributeSync(path, name, value);
  } catch (err) {
    throw setFailed(path, name, err);
  }
}

function setFailed(path: string, name: XattrName, err: unknown): PassimError {
  return new PassimError('internal', `cannot set ${name} on ${path}: ${toPassimError(err).message}`, { cause: err });
}
