// SPDX-License-Identifier: LGPL-2.1-or-later
// The binary form of a peer's hash summary: the sorted set of 32-bit prefixes (the first 4 bytes of each
// shared item's SHA-256), sent whole or as the change between two generations. Pure: no I/O.
//
// Version 1, all integers big-endian:
//   0   4  magic "PSUM"
//   4   1  version = 1
//   5   1  kind: 0 = full, 1 = delta
//   6   2  reserved, 0
//   8   8  epoch: names the sender's set across its restarts
//   16  8  generation, < 2^53
//   24  8  base generation: a delta's is below its generation, a full summary's is 0
//   32  4  count of added prefixes
//   36  4  count of removed prefixes (0 in a full summary)
//   40  …  the added prefixes, then the removed ones, each list as unsigned LEB128 varints of its gaps: the first
//          value, then each value minus the one before (≥ 1: strictly ascending). A varint takes at most 5 bytes,
//          in its shortest form, so that a set has exactly one encoding; no value exceeds 2^32-1. Nothing follows.
import { PassimError } from '../../shared/errors.js';
import { SHA256_HEX, U32_MAX } from '../../shared/api.js';

export interface Summary {
  /** 16 lower-case hex digits: identifies the sender's set across its restarts. */
  epoch: string;
  /** Safe non-negative integer (< 2^53). */
  generation: number;
  /** null: a full summary; else the generation this delta applies to. */
  base: number | null;
  /** Strictly ascending. */
  added: Uint32Array;
  /** Strictly ascending; empty in a full summary. */
  removed: Uint32Array;
}

/** A summary that is not a well-formed version-1 message within the reader's limits. */
export class SummaryFormatError extends PassimError {
  constructor(message: string) {
    super('bad-request', `hash summary: ${message}`);
    this.name = 'SummaryFormatError';
  }
}

const MAGIC = [0x50, 0x53, 0x55, 0x4d]; // "PSUM"
const VERSION = 1;
const KIND_FULL = 0;
const KIND_DELTA = 1;
const HEADER_BYTES = 40;
const MAX_VARINT_BYTES = 5;
const TWO_POW_32 = 2 ** 32;
/** generation < 2^53: the high 32 bits of the uint64 stay below 2^21. */
const MAX_GENERATION_HIGH = 2 ** 21;
const EPOCH_HEX = /^[0-9a-f]{16}$/;

/** The first 8 hex digits of a lower-case hex SHA-256, as an unsigned 32-bit number. */
export function prefixOf(hash: string): number {
  if (!SHA256_HEX.test(hash)) throw new PassimError('internal', `not a lower-case hex SHA-256: ${JSON.stringify(hash)}`);
  return Number.parseInt(hash.slice(0, 8), 16);
}

/** Bytes of the shortest unsigned LEB128 form of `value` (< 2^32). */
function varintLength(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

function checkAscending(list: Uint32Array, name: string): void {
  for (let i = 1; i < list.length; i++) {
    if ((list[i] as number) <= (list[i - 1] as number)) throw new SummaryFormatError(`${name} prefixes not strictly ascending`);
  }
}

function checkGeneration(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new SummaryFormatError(`${name} ${value} is not a safe non-negative integer`);
}

function listBytes(list: Uint32Array): number {
  let bytes = 0;
  let previous = 0;
  for (let i = 0; i < list.length; i++) {
    const value = list[i] as number;
    bytes += varintLength(value - previous);
    previous = value;
  }
  return bytes;
}

function writeList(out: Buffer, offset: number, list: Uint32Array): number {
  let at = offset;
  let previous = 0;
  for (let i = 0; i < list.length; i++) {
    const value = list[i] as number;
    let gap = value - previous;
    previous = value;
    while (gap >= 0x80) {
      out[at++] = (gap & 0x7f) | 0x80;
      gap = Math.floor(gap / 0x80);
    }
    out[at++] = gap;
  }
  return at;
}

function writeUint53(out: Buffer, offset: number, value: number): void {
  out.writeUInt32BE(Math.floor(value / TWO_POW_32), offset);
  out.writeUInt32BE(value % TWO_POW_32, offset + 4);
}

/** The message for `summary`; throws SummaryFormatError for a summary that could not be decoded. */
export function encodeSummary(summary: Summary): Buffer {
  const { epoch, generation, base, added, removed } = summary;
  if (!EPOCH_HEX.test(epoch)) throw new SummaryFormatError(`epoch ${JSON.stringify(epoch)} is not 16 lower-case hex digits`);
  checkGeneration(generation, 'generation');
  if (base === null) {
    if (removed.length !== 0) throw new SummaryFormatError('a full summary removes nothing');
  } else {
    checkGeneration(base, 'base generation');
    if (base >= generation) throw new SummaryFormatError(`base generation ${base} is not below generation ${generation}`);
  }
  checkAscending(added, 'added');
  checkAscending(removed, 'removed');

  const out = Buffer.allocUnsafe(HEADER_BYTES + listBytes(added) + listBytes(removed));
  out.set(MAGIC, 0);
  out[4] = VERSION;
  out[5] = base === null ? KIND_FULL : KIND_DELTA;
  out.writeUInt16BE(0, 6);
  out.write(epoch, 8, 8, 'hex');
  writeUint53(out, 16, generation);
  writeUint53(out, 24, base ?? 0);
  out.writeUInt32BE(added.length, 32);
  out.writeUInt32BE(removed.length, 36);
  writeList(out, writeList(out, HEADER_BYTES, added), removed);
  return out;
}

/** A uint64 that must be below 2^53. */
function readUint53(view: DataView, offset: number, name: string): number {
  const high = view.getUint32(offset);
  if (high >= MAX_GENERATION_HIGH) throw new SummaryFormatError(`${name} is 2^53 or more`);
  return high * TWO_POW_32 + view.getUint32(offset + 4);
}

/** Reads `out.length` gap-encoded prefixes from `bytes` at `offset` into `out`; returns the offset after them. */
function readList(bytes: Uint8Array, offset: number, out: Uint32Array, name: string): number {
  let at = offset;
  let previous = 0;
  for (let i = 0; i < out.length; i++) {
    let gap = 0;
    let scale = 1;
    let length = 0;
    let byte: number;
    do {
      if (at >= bytes.length) throw new SummaryFormatError(`truncated in the ${name} prefixes`);
      if (length === MAX_VARINT_BYTES) throw new SummaryFormatError(`varint longer than ${MAX_VARINT_BYTES} bytes in the ${name} prefixes`);
      byte = bytes[at++] as number;
      gap += (byte & 0x7f) * scale;
      scale *= 0x80;
      length++;
    } while (byte & 0x80);
    if (byte === 0 && length > 1) throw new SummaryFormatError(`varint not in its shortest form in the ${name} prefixes`);
    if (i > 0 && gap === 0) throw new SummaryFormatError(`${name} prefixes not strictly ascending`);
    const value = previous + gap;
    if (value > U32_MAX) throw new SummaryFormatError(`${name} prefix above 2^32-1`);
    out[i] = value;
    previous = value;
  }
  return at;
}

/**
 * The summary in `bytes`; throws SummaryFormatError for anything but a well-formed version-1 message of at most
 * `limits.maxEntries` prefixes (added and removed together). Allocates in proportion to the smaller of the two:
 * the counts are checked against the limit and against the bytes that follow before anything is allocated.
 */
export function decodeSummary(bytes: Uint8Array, limits: { maxEntries: number }): Summary {
  if (bytes.length < HEADER_BYTES) throw new SummaryFormatError(`truncated: ${bytes.length} bytes, the header alone takes ${HEADER_BYTES}`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new SummaryFormatError('bad magic');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[4] as number;
  if (version !== VERSION) throw new SummaryFormatError(`unsupported version ${version}`);
  const kind = bytes[5] as number;
  if (kind !== KIND_FULL && kind !== KIND_DELTA) throw new SummaryFormatError(`unknown kind ${kind}`);
  if (bytes[6] !== 0 || bytes[7] !== 0) throw new SummaryFormatError('reserved bytes not zero');
  const epoch = Buffer.from(bytes.buffer, bytes.byteOffset + 8, 8).toString('hex');
  const generation = readUint53(view, 16, 'generation');
  const baseGeneration = readUint53(view, 24, 'base generation');
  const addedCount = view.getUint32(32);
  const removedCount = view.getUint32(36);
  if (kind === KIND_FULL) {
    if (baseGeneration !== 0) throw new SummaryFormatError(`full summary with base generation ${baseGeneration}`);
    if (removedCount !== 0) throw new SummaryFormatError(`full summary removing ${removedCount} prefixes`);
  } else if (baseGeneration >= generation) {
    throw new SummaryFormatError(`base generation ${baseGeneration} is not below generation ${generation}`);
  }
  const entries = addedCount + removedCount;
  if (entries > limits.maxEntries) throw new SummaryFormatError(`more than ${limits.maxEntries} entries: ${entries}`);
  // Every prefix takes at least one byte.
  const available = bytes.length - HEADER_BYTES;
  if (entries > available) throw new SummaryFormatError(`truncated: ${available} bytes cannot hold ${entries} prefixes`);

  const added = new Uint32Array(addedCount);
  const removed = new Uint32Array(removedCount);
  const end = readList(bytes, readList(bytes, HEADER_BYTES, added, 'added'), removed, 'removed');
  if (end !== bytes.length) throw new SummaryFormatError(`${bytes.length - end} trailing bytes`);
  return { epoch, generation, base: kind === KIND_FULL ? null : baseGeneration, added, removed };
}

/** The least value a gap of each varint length takes, counting from 1 (see maxEncodedBytes). */
const LEAST_GAP_OF_LENGTH = [1, 2 ** 7, 2 ** 14, 2 ** 21, 2 ** 28];

/**
 * An upper bound on the size of any message holding at most `entries` prefixes (added and removed together), for a
 * fetcher's byte bound. The values in a list sum, gap by gap, to at most 2^32-1, so long varints are scarce: the
 * bound gives every entry one byte, then lengthens the cheapest ones while the two lists' ranges, pooled, allow.
 * Pooling may overstate the largest real message by a byte or two; at 1,000,000 entries it is about 2.5 bytes each.
 */
export function maxEncodedBytes(entries: number): number {
  if (!Number.isSafeInteger(entries) || entries < 0) throw new PassimError('internal', `not a count of entries: ${entries}`);
  // Shifting the first gap of a list up by 1 makes every gap ≥ 1 and each list's gaps sum to at most 2^32.
  const n = Math.min(entries, 2 * U32_MAX);
  let budget = 2 * TWO_POW_32 - n;
  let bytes = n;
  for (let length = 2; length <= MAX_VARINT_BYTES && n > 0; length++) {
    const cost = (LEAST_GAP_OF_LENGTH[length - 1] as number) - (LEAST_GAP_OF_LENGTH[length - 2] as number);
    const lengthened = Math.min(n, Math.floor(budget / cost));
    bytes += lengthened;
    budget -= lengthened * cost;
    if (lengthened < n) break;
  }
  return HEADER_BYTES + bytes;
}

/** The first index at or after `from` whose value is not below `value`: galloping, then binary search. */
function firstNotBelow(sorted: Uint32Array, value: number, from: number): number {
  let low = from;
  let step = 1;
  while (low + step <= sorted.length && (sorted[low + step - 1] as number) < value) {
    low += step;
    step *= 2;
  }
  let high = Math.min(low + step - 1, sorted.length);
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((sorted[middle] as number) < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * (current ∪ delta.added) \ delta.removed as a new sorted set; `current` must be strictly ascending. A merge that
 * copies the runs of `current` between the delta's prefixes whole: a small delta to a large set costs a copy.
 */
export function applyDelta(current: Uint32Array, delta: Summary): Uint32Array {
  if (delta.base === null) throw new SummaryFormatError('a full summary replaces the set; it is not a delta to apply');
  const { added, removed } = delta;
  // The exact size first, by binary searches, so that the result is not copied again to trim it.
  let size = current.length;
  for (let i = 0; i < added.length; i++) {
    const value = added[i] as number;
    if (!containsPrefix(current, value) && !containsPrefix(removed, value)) size++;
  }
  for (let i = 0; i < removed.length; i++) {
    if (containsPrefix(current, removed[i] as number)) size--;
  }
  const out = new Uint32Array(size);
  let c = 0;
  let a = 0;
  let r = 0;
  let n = 0;
  while (a < added.length || r < removed.length) {
    const nextAdded = a < added.length ? (added[a] as number) : TWO_POW_32;
    const nextRemoved = r < removed.length ? (removed[r] as number) : TWO_POW_32;
    const next = Math.min(nextAdded, nextRemoved);
    const end = firstNotBelow(current, next, c);
    out.set(current.subarray(c, end), n);
    n += end - c;
    c = end;
    if (c < current.length && current[c] === next) c++;
    if (nextAdded === next) a++;
    // Removal wins over an addition of the same prefix.
    if (nextRemoved === next) r++;
    else out[n++] = next;
  }
  out.set(current.subarray(c), n);
  return out;
}

/** Whether the strictly ascending `sorted` holds `prefix`. */
export function containsPrefix(sorted: Uint32Array, prefix: number): boolean {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const value = sorted[middle] as number;
    if (value < prefix) low = middle + 1;
    else if (value > prefix) high = middle - 1;
    else return true;
  }
  return false;
}
