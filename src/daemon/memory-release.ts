// SPDX-License-Identifier: LGPL-2.1-or-later
// Giving memory back once a burst is over. V8 keeps the heap pages a burst of requests or a publish made
// it grow, and its own memory reducer acts only after many seconds of a low allocation rate (10–20 s here,
// and in bench/compare.js not within 20 s at all). A few forced collections once the daemon has been
// quiet for a moment compact the heap and return those pages: about 8 MiB after a burst of small requests.
import { getHeapStatistics } from 'node:v8';
import type { Logger } from '../shared/log.js';

/** Quiet this long (no connection open, no call under way) before collecting. */
const QUIET_MS = 2000;
/** Only a heap that grew this much since the last collection is collected: a lone request is not worth it. */
const GROWTH_BYTES = 4 * 1024 * 1024;
/**
 * The first pass frees the dead objects, the second moves the live ones off the pages it found fragmented
 * and returns those; a third returns next to nothing (measured after bursts of small requests).
 */
const MAX_PASSES = 3;
/** A pass after the first that frees less than this ends the collection. */
const WORTHWHILE_BYTES = 1024 * 1024;

export interface MemoryReleaseOptions {
  /** Whether nothing is under way (no connection, no call): collecting then delays nobody. */
  isQuiet: () => boolean;
  /** A full collection: the `gc` that node --expose-gc provides. Without it, nothing is ever collected. */
  collect: (() => void) | undefined;
  log: Logger;
  /** Bytes the heap holds from the system (V8's total_heap_size); for tests. */
  heapSize?: () => number;
  quietMs?: number;
}

export class MemoryRelease {
  private timer: NodeJS.Timeout | undefined;
  private readonly heapSize: () => number;
  /** The heap's size after the last collection (or at start). */
  private baseline: number;

  constructor(private readonly options: MemoryReleaseOptions) {
    this.heapSize = options.heapSize ?? (() => getHeapStatistics().total_heap_size);
    this.baseline = this.heapSize();
  }

  /** Something started or ended: the quiet period starts again. */
  poke(): void {
    if (!this.options.collect) return;
    clearTimeout(this.timer);
    // Unreferenced: it must never keep a stopping daemon alive.
    this.timer = setTimeout(() => this.quiet(), this.options.quietMs ?? QUIET_MS).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private quiet(): void {
    const collect = this.options.collect;
    // Still busy: the end of whatever is under way pokes again.
    if (!collect || !this.options.isQuiet()) return;
    const before = this.heapSize();
    if (before - this.baseline < GROWTH_BYTES) return;
    const started = performance.now();
    let size = before;
    let passes = 0;
    while (passes < MAX_PASSES) {
      collect();
      passes += 1;
      const after = this.heapSize();
      const freed = size - after;
      size = after;
      if (passes > 1 && freed < WORTHWHILE_BYTES) break;
    }
    this.baseline = size;
    const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);
    this.options.log.debug(
      `quiet after a burst: heap ${mib(before)} MiB → ${mib(size)} MiB (collections: ${passes}, ${Math.round(performance.now() - started)} ms)`,
    );
  }
}
