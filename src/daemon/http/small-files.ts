// SPDX-License-Identifier: LGPL-2.1-or-later
// The content of small items kept in memory, so that a repeated download costs no read.
import { sha256Hex } from '../../shared/hash.js';
import type { Item } from '../../shared/item.js';

/** Items up to this size are kept (one read's worth, see transfer.ts MIN_CHUNK). */
export const SMALL_FILE_MAX = 64 * 1024;
/** Bytes kept over all items; the least recently served go first. */
const MAX_TOTAL_BYTES = 1024 * 1024;

interface Entry {
  path: string;
  body: Buffer;
}

/**
 * Whole contents of small items, least recently used first, each hashed when it was put in: a body served
 * from here always matches its hash. Whether the file on disk still holds it is the caller's question (the
 * store's verified ctime): a file changed in place is read, checked and withdrawn as before, never answered
 * from memory.
 */
export class SmallFiles {
  private readonly entries = new Map<string, Entry>();
  private total = 0;

  /** The content of `item` if it is kept, for the same file. */
  get(item: Item): Buffer | undefined {
    const entry = this.entries.get(item.hash);
    if (!entry || entry.path !== item.path) return undefined;
    this.entries.delete(item.hash); // re-insert: most recently used last
    this.entries.set(item.hash, entry);
    return entry.body;
  }

  /** Keeps `body`, the whole content of `item`'s file, if it is small and matches the hash. */
  put(item: Item, body: Buffer): void {
    if (body.length > SMALL_FILE_MAX || body.length !== item.size) return;
    if (sha256Hex(body) !== item.hash) return;
    this.drop(item.hash);
    // A copy: the caller's buffer may be a slice of a larger allocation that should not stay alive.
    this.entries.set(item.hash, { path: item.path, body: Buffer.from(body) });
    this.total += body.length;
    for (const [hash, entry] of this.entries) {
      if (this.total <= MAX_TOTAL_BYTES) break;
      this.entries.delete(hash);
      this.total -= entry.body.length;
    }
  }

  /** Forgets the items for which `exists` is false. */
  prune(exists: (hash: string, path: string) => boolean): void {
    for (const [hash, entry] of this.entries) if (!exists(hash, entry.path)) this.drop(hash);
  }

  drop(hash: string): void {
    const entry = this.entries.get(hash);
    if (!entry) return;
    this.entries.delete(hash);
    this.total -= entry.body.length;
  }
}
