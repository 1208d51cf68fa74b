// SPDX-License-Identifier: LGPL-2.1-or-later
// Writing items' share-counts to their xattr without a write per share.
import { toPassimError } from '../../shared/errors.js';
import type { Item } from '../../shared/item.js';
import type { Logger } from '../../shared/log.js';
import { XATTR, setU32 } from './xattrs.js';

/**
 * One write per item is in flight at a time; shares that arrive meanwhile are covered by one more write of
 * the latest count, so a busy item costs a write per round, not per share. A failed write is a warning: the
 * share already happened.
 */
export class ShareCountWriter {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();

  /** `write` changes nothing but the item's share-count xattr (the store wraps it to keep its bookkeeping). */
  constructor(private readonly log: Logger, private readonly write: (item: Item) => Promise<void> = (item) => setU32(item.path, XATTR.shareCount, item.shareCount)) {}

  save(item: Item): Promise<void> {
    const running = this.inFlight.get(item.hash);
    if (running) {
      this.dirty.add(item.hash);
      return running;
    }
    const write = (async () => {
      do {
        this.dirty.delete(item.hash);
        try {
          await this.write(item);
        } catch (err) {
          this.log.warn(`share-count of ${item.hash} not saved: ${toPassimError(err).message}`);
        }
      } while (this.dirty.has(item.hash));
    })().finally(() => this.inFlight.delete(item.hash));
    this.inFlight.set(item.hash, write);
    return write;
  }
}
