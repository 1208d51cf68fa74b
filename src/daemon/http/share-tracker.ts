// SPDX-License-Identifier: LGPL-2.1-or-later
// Shares are counted by bytes delivered, not by the shape of the requests: every item-size worth of bytes a
// client receives of an item is one share, whether it came in one response or in ranges over several.
// A download resumed after an interruption (60 % then the remaining 40 %) is one share; fetching the same
// range again and again adds up too, so ranges are no way around the share-limit.

/** Pairs remembered at most; the oldest partial counts are forgotten first. */
const MAX_TRACKED = 16_384;
/** A partial count not added to within this long starts again from nothing. */
const FORGET_AFTER_MS = 24 * 60 * 60 * 1000;

interface Partial {
  bytes: number;
  touched: number;
}

export class ShareTracker {
  /** `client hash` → bytes delivered since the last whole share; insertion order is age order. */
  private readonly partial = new Map<string, Partial>();

  /** Records `count` more bytes of an item of `size` bytes delivered to `client`; returns the shares they complete. */
  delivered(client: string, hash: string, size: number, count: number): number {
    if (size === 0) return count === 0 ? 1 : 0;
    const key = `${client} ${hash}`;
    const now = performance.now();
    const entry = this.partial.get(key);
    const total = (entry && now - entry.touched < FORGET_AFTER_MS ? entry.bytes : 0) + count;
    const shares = Math.floor(total / size);
    const rest = total - shares * size;
    this.partial.delete(key); // re-insert: most recently used last
    if (rest > 0) this.partial.set(key, { bytes: rest, touched: now });
    for (const oldKey of this.partial.keys()) {
      if (this.partial.size <= MAX_TRACKED) break;
      this.partial.delete(oldKey);
    }
    return shares;
  }
}
