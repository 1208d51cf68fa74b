// SPDX-License-Identifier: LGPL-2.1-or-later
// Writing items' share-counts to their xattr without a write per share.
import { toPassimError } from '../../shared/errors.js';
import type { Item } from '../../shared/item.js';
import type { Logger } from '../../shared/log.js';
import { XATTR, setU32 } from './xattrs.js';

/** An item's share-count is written at most this often; a busy small item is shared thousands of times a second. */
const WRITE_INTERVAL_MS = 1000;

/**
 * The first share of an item is written at once; shares within the next interval are covered by one write of
 * the latest count at its end. flush() writes whatever is pending (at shutdown). A failed write is a warning:
 * the share already happened.
 */
export class ShareCountWriter {
  private readonly waiting = new Map<string, { item: Item; timer: NodeJS.Timeout; dirty: boolean }>();
  private readonly writes = new Set<Promise<void>>();

  /** `write` changes nothing but the item's share-count xattr (the store wraps it to keep its bookkeeping). */
  constructor(
    private readonly log: Logger,
    private readonly write: (item: Item) => Promise<void> = (item) => setU32(item.path, XATTR.shareCount, item.shareCount),
  ) {}

  save(item: Item): void {
    const pending = this.waiting.get(item.hash);
    if (pending) {
      pending.item = item;
      pending.dirty = true;
      return;
    }
    this.writeNow(item);
    const timer = setTimeout(() => this.endInterval(item.hash), WRITE_INTERVAL_MS);
    timer.unref();
    this.waiting.set(item.hash, { item, timer, dirty: false });
  }

  /** Drops what waits for an item that is gone. */
  forget(hash: string): void {
    clearTimeout(this.waiting.get(hash)?.timer);
    this.waiting.delete(hash);
  }

  /** Writes every count still waiting for its interval to end. */
  async flush(): Promise<void> {
    for (const [hash, pending] of this.waiting) {
      clearTimeout(pending.timer);
      this.waiting.delete(hash);
      if (pending.dirty) this.writeNow(pending.item);
    }
    await Promise.allSettled([...this.writes]);
  }

  private endInterval(hash: string): void {
    const pending = this.waiting.get(hash);
    this.waiting.delete(hash);
    if (pending?.dirty) this.save(pending.item);
  }

  private writeNow(item: Item): void {
    const write = this.write(item)
      .catch((err: unknown) => this.log.warn(`share-count of ${item.hash} not saved: ${toPassimError(err).message}`))
      .finally(() => this.writes.delete(write));
    this.writes.add(write);
  }
}
