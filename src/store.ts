// SKELETON: the store helper replaces the bodies; the public surface below is the contract.
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { Item } from './item.js';
import type { Logger } from './log.js';

export interface PublishOptions {
  basename: string;
  maxAge: number;
  shareLimit: number;
  shareCount: number;
  nextReboot: boolean;
  /** Basename of the publishing program. */
  cmdline: string;
}

export interface StoreOptions {
  dataDir: string;
  /** Largest item accepted by publish(), in bytes. */
  maxItemSize: number;
  auditLogPath: string;
  log: Logger;
}

export interface StoreEvents {
  /** Items were added, removed, or changed. */
  changed: [];
}

export class Store extends EventEmitter<StoreEvents> {
  /** Creates the data folder if needed, removes stale temporary files, scans items, expires old ones, reads savings from the audit log. */
  static async open(_options: StoreOptions): Promise<Store> {
    throw new Error('not implemented');
  }

  /** All items, enabled or not. */
  list(): Item[] {
    throw new Error('not implemented');
  }

  get(_hash: string): Item | undefined {
    throw new Error('not implemented');
  }

  /** Streams `source` into the store while hashing; see the issue for every refusal. */
  async publish(_source: Readable, _options: PublishOptions): Promise<Item> {
    throw new Error('not implemented');
  }

  async unpublish(_hash: string): Promise<Item> {
    throw new Error('not implemented');
  }

  /** Deletes items older than their max-age; returns how many. */
  async expire(): Promise<number> {
    throw new Error('not implemented');
  }

  /** A completed transfer of `hash` to `address`: share-count + 1, SHARE audit line, savings + size, delete at the limit. */
  async recordShare(_hash: string, _address: string): Promise<void> {
    throw new Error('not implemented');
  }

  /** Bytes served to others, including what the audit log recorded before this start. */
  get downloadSaving(): number {
    throw new Error('not implemented');
  }
}
