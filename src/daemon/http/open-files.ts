// SPDX-License-Identifier: LGPL-2.1-or-later
// Item files kept open between requests.
import { close as fsClose, constants, open as fsOpen } from 'node:fs';
import type { Item } from '../../shared/item.js';

/** Item files kept open for reuse; well under the default limit of 1024 descriptors. */
const MAX_OPEN_FILES = 128;

interface OpenFile {
  hash: string;
  /** Set once open(2) returned. */
  fd: number | undefined;
  /** Callers waiting for the open to finish. */
  waiting: Array<(err: Error | null, fd: number) => void>;
  /** Requests using the descriptor right now. */
  users: number;
  /** The item is gone: close when the last user is done. */
  stale: boolean;
}

/**
 * Item files kept open between requests, least recently used first, so a repeated download costs reads
 * only. The content under a hash never changes, so a descriptor stays valid for as long as the item exists;
 * prune() closes the ones whose item is gone once nobody is reading them.
 */
export class OpenFiles {
  private readonly files = new Map<string, OpenFile>();
  private closing = false;

  acquire(item: Item, callback: (err: Error | null, fd: number) => void): void {
    let file = this.files.get(item.path);
    if (file) {
      this.files.delete(item.path); // re-insert: most recently used last
      this.files.set(item.path, file);
      file.users += 1;
      if (file.fd !== undefined) callback(null, file.fd);
      else file.waiting.push(callback);
      return;
    }
    const opening: OpenFile = { hash: item.hash, fd: undefined, waiting: [callback], users: 1, stale: false };
    file = opening;
    this.files.set(item.path, opening);
    fsOpen(item.path, constants.O_RDONLY | constants.O_NOFOLLOW, (err, fd) => {
      const waiting = opening.waiting;
      opening.waiting = [];
      if (err) {
        this.files.delete(item.path);
        for (const cb of waiting) cb(err, -1);
        return;
      }
      opening.fd = fd;
      for (const cb of waiting) cb(null, fd);
    });
  }

  /** Ends one use begun by a successful acquire(). */
  release(item: Item): void {
    const file = this.files.get(item.path);
    if (!file || file.fd === undefined) return;
    file.users -= 1;
    if (file.users === 0 && (file.stale || this.closing)) this.close(item.path, file.fd);
    else this.evict();
  }

  /** Closes the descriptors whose item `exists` no longer reports, now or when their last user is done. */
  prune(exists: (hash: string, path: string) => boolean): void {
    for (const [path, file] of this.files) {
      if (file.fd === undefined || exists(file.hash, path)) continue;
      if (file.users === 0) this.close(path, file.fd);
      else file.stale = true;
    }
  }

  /** Closes everything, the descriptors in use as soon as they are released. */
  closeAll(): void {
    this.closing = true;
    for (const [path, file] of this.files) if (file.users === 0 && file.fd !== undefined) this.close(path, file.fd);
  }

  private evict(): void {
    if (this.files.size <= MAX_OPEN_FILES) return;
    for (const [path, file] of this.files) {
      if (this.files.size <= MAX_OPEN_FILES) return;
      if (file.users === 0 && file.fd !== undefined) this.close(path, file.fd);
    }
  }

  private close(path: string, fd: number): void {
    this.files.delete(path);
    fsClose(fd, () => undefined);
  }
}
