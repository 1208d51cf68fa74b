// SPDX-License-Identifier: LGPL-2.1-or-later
// What goes out to the LAN: every shared item in our summary, and subtypes for the newest of them (for the
// original daemon, which only looks for subtypes), following the store's changes one by one.
import type { Store, StoreChange } from '../store/store.js';
import type { Advertiser } from './advertiser.js';
import type { SharedSummary } from './shared-summary.js';

/**
 * Items advertised as mDNS subtypes as well: about 0.6 KB of the neighbours' and our Avahi memory each, and
 * answered to every subtype query on the LAN. The original daemon finds these; ours find everything through
 * the summary.
 */
export const SUBTYPE_ITEMS = 256;

export interface SharingOptions {
  store: Store;
  summary: SharedSummary;
  advertiser: Advertiser;
}

/** Enabled items are shared while sharing is on (not metered, not NeverShare); disabled (next-reboot) ones never are. */
export class Sharing {
  private enabled = false;
  /** The newest shared items, oldest first (a Set keeps insertion order). */
  private newest = new Set<string>();
  /** Visible items kept out of the summary (next-reboot ones): their removal must not take a colliding prefix with it. */
  private withheld = new Set<string>();
  private readonly onStoreChanged = (change: StoreChange, hashes: readonly string[]): void => {
    if (!this.enabled || change === 'shared') return;
    for (const hash of hashes) {
      if (change === 'removed') {
        if (!this.withheld.delete(hash)) this.options.summary.remove(hash);
        this.newest.delete(hash);
        continue;
      }
      // Not a whole Item per hash: a store loading a million items announces every one of them here.
      const enabled = this.options.store.enabled(hash);
      if (enabled === undefined) continue;
      if (!enabled) {
        this.withheld.add(hash);
        continue;
      }
      this.options.summary.add(hash);
      this.newest.add(hash);
      if (this.newest.size > SUBTYPE_ITEMS) this.newest.delete(this.newest.values().next().value as string);
    }
    this.publish();
  };

  constructor(private readonly options: SharingOptions) {
    options.store.on('changed', this.onStoreChanged);
  }

  /** Turns sharing on (every enabled item, from the store as it is now) or off (nothing). */
  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    const { summary, store } = this.options;
    summary.clear();
    this.newest = new Set();
    this.withheld = new Set();
    if (enabled) {
      store.forEachHash((hash, itemEnabled) => {
        if (itemEnabled) summary.add(hash);
        else this.withheld.add(hash);
      });
      this.newest = new Set(store.newestEnabled(SUBTYPE_ITEMS).reverse());
    }
    this.publish();
  }

  stop(): void {
    this.options.store.off('changed', this.onStoreChanged);
  }

  private publish(): void {
    const { summary, advertiser } = this.options;
    advertiser.update(this.newest);
    advertiser.setSummary(summary.size > 0 ? summary.tag : null);
  }
}
