// SPDX-License-Identifier: LGPL-2.1-or-later
// The index as it was at a clean shutdown, in a file next to (never inside) the data folder: at the next
// start, if the folder was not changed since (same device, inode, mtime and ctime), its items are taken from
// here instead of reading every file's attributes. A record only saves the reading: each file is still
// lstat'ed, and one whose ctime moved (any write to its content or attributes) is checked in full.
// Format (little-endian): "PASSIMIX", u32 version, u16 + UTF-8 data folder, u64 dev, ino, mtime ns, ctime ns;
// records each starting with a byte 1; a byte 0, u32 record count, SHA-256 of everything before it.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { validBasename } from '../../shared/item.js';
import type { FileAttributes } from './scan.js';

const MAGIC = Buffer.from('PASSIMIX', 'latin1');
const VERSION = 1;
const RECORD = 1;
const END = 0;
const HASH_BYTES = 32;
const CHUNK = 1 << 20;
/** The fewest bytes a record takes: tag, hash, three 8-byte and three 4-byte numbers, three lengths, a basename of 1. */
const MIN_RECORD_BYTES = 1 + HASH_BYTES + 3 * 8 + 3 * 4 + 2 + 1 + 1 + 1;
/** The end: the END byte, u32 record count, digest. */
const TRAILER_BYTES = 1 + 4 + HASH_BYTES;

/** What identifies a state of the data folder: any name added, removed or renamed in it changes this. */
export interface FolderStamp {
  dev: bigint;
  ino: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** An item as a checked file of the data folder gave it. */
export interface SnapshotRecord extends FileAttributes {
  hash: string;
  basename: string;
}

/** Why a snapshot was not used: it does not exist, is for another state of the folder, or is damaged. */
export class SnapshotUnusable extends Error {}

/** Writes `records` to `path` through a temporary file renamed into place once synced. */
export function writeSnapshot(path: string, dataDir: string, folder: FolderStamp, records: Iterable<SnapshotRecord>): number {
  const temp = `${path}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  const out = new Writer(fd);
  let count = 0;
  try {
    out.bytes(MAGIC);
    out.u32(VERSION);
    out.string16(dataDir);
    for (const value of [folder.dev, folder.ino, folder.mtimeNs, folder.ctimeNs]) out.u64(value);
    for (const record of records) {
      out.u8(RECORD);
      out.hex(record.hash);
      out.f64(record.size);
      out.f64(record.mtime);
      out.u64(record.ctimeNs);
      out.u32(record.maxAge);
      out.u32(record.shareLimit);
      out.u32(record.shareCount);
      out.string16(record.cmdline);
      out.string8(record.basename);
      out.string8(record.bootTime ?? '');
      count += 1;
    }
    out.u8(END);
    out.u32(count);
    out.finish();
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(temp);
    throw err;
  }
  closeSync(fd);
  renameSync(temp, path);
  return count;
}

/**
 * Reads the snapshot at `path` if it was written for `dataDir` in the state `folder`, calling `found` with each
 * record; returns their number. Before the first record, `expect` is told how many the trailer says there are
 * (no more than the file could hold; only checked at the end), so the caller can make room once. Throws
 * SnapshotUnusable when it is missing, stale or damaged: records passed to `found` before damage was found
 * must then be dropped by the caller.
 */
export function readSnapshot(
  path: string,
  dataDir: string,
  folder: FolderStamp,
  found: (record: SnapshotRecord) => void,
  expect?: (count: number) => void,
): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new SnapshotUnusable(`cannot open it: ${(err as Error).message}`);
  }
  try {
    const input = new Reader(fd);
    if (!input.bytes(MAGIC.length).equals(MAGIC)) throw new SnapshotUnusable('not a snapshot');
    const version = input.u32();
    if (version !== VERSION) throw new SnapshotUnusable(`version ${version}, expected ${VERSION}`);
    if (input.string16() !== dataDir) throw new SnapshotUnusable('written for another data folder');
    const stamp = { dev: input.u64(), ino: input.u64(), mtimeNs: input.u64(), ctimeNs: input.u64() };
    if (stamp.dev !== folder.dev || stamp.ino !== folder.ino || stamp.mtimeNs !== folder.mtimeNs || stamp.ctimeNs !== folder.ctimeNs) {
      throw new SnapshotUnusable('the data folder changed since it was written');
    }
    if (expect) expect(trailerCount(fd));
    let count = 0;
    for (let tag = input.u8(); tag !== END; tag = input.u8()) {
      if (tag !== RECORD) throw new SnapshotUnusable('damaged: unknown record');
      const record: SnapshotRecord = {
        hash: input.hex(),
        size: input.f64(),
        mtime: input.f64(),
        ctimeNs: input.u64(),
        maxAge: input.u32(),
        shareLimit: input.u32(),
        shareCount: input.u32(),
        cmdline: input.string16(),
        basename: input.string8(),
        bootTime: input.string8() || undefined,
      };
      if (!Number.isSafeInteger(record.size) || record.size < 0 || !Number.isSafeInteger(record.mtime) || !validBasename(record.basename)) {
        throw new SnapshotUnusable('damaged: a record out of range');
      }
      found(record);
      count += 1;
    }
    if (input.u32() !== count) throw new SnapshotUnusable('damaged: wrong record count');
    input.checkDigest();
    return count;
  } finally {
    closeSync(fd);
  }
}

/** The record count the trailer gives, read without moving the file position; at most what the file could hold. */
function trailerCount(fd: number): number {
  const size = fstatSync(fd).size;
  if (size < TRAILER_BYTES) return 0;
  const count = Buffer.alloc(4);
  if (readSync(fd, count, 0, 4, size - TRAILER_BYTES + 1) !== 4) return 0;
  return Math.min(count.readUInt32LE(0), Math.floor(size / MIN_RECORD_BYTES));
}

/** Buffered writes with a running SHA-256. */
class Writer {
  private readonly buffer = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  private readonly digest: Hash = createHash('sha256');

  constructor(private readonly fd: number) {}

  private room(length: number): number {
    if (this.used + length > this.buffer.length) this.flush();
    const at = this.used;
    this.used += length;
    return at;
  }

  private flush(): void {
    const chunk = this.buffer.subarray(0, this.used);
    this.digest.update(chunk);
    for (let done = 0; done < chunk.length; ) done += writeSync(this.fd, chunk, done);
    this.used = 0;
  }

  u8(value: number): void {
    this.buffer.writeUInt8(value, this.room(1));
  }
  u32(value: number): void {
    this.buffer.writeUInt32LE(value, this.room(4));
  }
  u64(value: bigint): void {
    this.buffer.writeBigUInt64LE(value, this.room(8));
  }
  f64(value: number): void {
    this.buffer.writeDoubleLE(value, this.room(8));
  }
  hex(value: string): void {
    this.buffer.write(value, this.room(HASH_BYTES), HASH_BYTES, 'hex');
  }
  bytes(value: Buffer): void {
    value.copy(this.buffer, this.room(value.length));
  }
  string8(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > 0xff) throw new RangeError(`${bytes.length} bytes where at most 255 fit`);
    this.u8(bytes.length);
    this.bytes(bytes);
  }
  string16(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > 0xffff) throw new RangeError(`${bytes.length} bytes where at most 65535 fit`);
    this.buffer.writeUInt16LE(bytes.length, this.room(2));
    this.bytes(bytes);
  }

  /** Flushes and appends the digest of everything written. */
  finish(): void {
    this.flush();
    const digest = this.digest.digest();
    writeSync(this.fd, digest);
  }
}

/** Buffered reads, never past the end: too few bytes is a damaged snapshot. Keeps a SHA-256 of what was read. */
class Reader {
  private buffer = Buffer.allocUnsafe(CHUNK);
  private start = 0;
  private end = 0;
  private eof = false;
  private readonly digest: Hash = createHash('sha256');
  /** Whether consumed bytes still go into the digest: not the digest itself. */
  private hashing = true;

  constructor(private readonly fd: number) {}

  /** Makes `length` bytes available from `start`, and returns where they begin. */
  private need(length: number): number {
    if (this.end - this.start < length) this.fill(length);
    const at = this.start;
    this.start += length;
    return at;
  }

  private fill(length: number): void {
    if (this.hashing) this.digest.update(this.buffer.subarray(0, this.start));
    this.buffer.copy(this.buffer, 0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
    while (this.end < length && !this.eof) {
      const read = readSync(this.fd, this.buffer, this.end, this.buffer.length - this.end, null);
      if (read === 0) this.eof = true;
      this.end += read;
    }
    if (this.end < length) throw new SnapshotUnusable('damaged: cut short');
  }

  u8(): number {
    return this.buffer.readUInt8(this.need(1));
  }
  u32(): number {
    return this.buffer.readUInt32LE(this.need(4));
  }
  u64(): bigint {
    return this.buffer.readBigUInt64LE(this.need(8));
  }
  f64(): number {
    return this.buffer.readDoubleLE(this.need(8));
  }
  hex(): string {
    const at = this.need(HASH_BYTES);
    return this.buffer.toString('hex', at, at + HASH_BYTES);
  }
  bytes(length: number): Buffer {
    const at = this.need(length);
    return Buffer.from(this.buffer.subarray(at, at + length));
  }
  string8(): string {
    const length = this.u8();
    const at = this.need(length);
    return this.buffer.toString('utf8', at, at + length);
  }
  string16(): string {
    const length = this.buffer.readUInt16LE(this.need(2));
    const at = this.need(length);
    return this.buffer.toString('utf8', at, at + length);
  }

  /** The digest must follow, and nothing after it. */
  checkDigest(): void {
    this.digest.update(this.buffer.subarray(0, this.start));
    this.hashing = false;
    const expected = this.digest.digest();
    const stored = this.bytes(HASH_BYTES);
    if (!stored.equals(expected)) throw new SnapshotUnusable('damaged: its checksum does not match');
    if (this.end > this.start || (!this.eof && readSync(this.fd, Buffer.alloc(1), 0, 1, null) > 0)) {
      throw new SnapshotUnusable('damaged: bytes after its end');
    }
  }
}
