// SPDX-License-Identifier: LGPL-2.1-or-later
// What we tell neighbours we share: the prefixes of our shared items, a generation that moves with every change,
// and the recent changes, so that a neighbour a few generations behind fetches a few entries, not the whole set.
import { randomBytes } from 'node:crypto';
import { PrefixCounts } from './prefix-counts.js';
import { encodeSummary, prefixOf } from './summary-format.js';
import type { SummaryPosition } from './summary-position.js';

/** Changes kept for deltas (12 bytes each); a neighbour further behind gets the whole set. */
const MAX_LOGGED_CHANGES = 65_536;
/**
 * A full summary is encoded at most this often (sorting a million prefixes takes about 100 ms); one a little
 * older is still right for its own generation, and the neighbour catches up with a delta.
 */
const FULL_REBUILD_INTERVAL_MS = 1000;

export class SharedSummary {
  /** Random per start: a neighbour's position from before our restart means nothing now. */
  readonly epoch = randomBytes(8).toString('hex');
  private generationNow = 0;
  private readonly counts = new PrefixCounts();
  private readonly logPrefix = new Uint32Array(MAX_LOGGED_CHANGES);
  private readonly logGeneration = new Float64Array(MAX_LOGGED_CHANGES);
  private readonly logAdded = new Uint8Array(MAX_LOGGED_CHANGES);
  private logStart = 0;
  private logLength = 0;
  /** Every change after this generation is in the log. */
  private logFloor = 0;
  private full: { generation: number; bytes: Buffer; at: number } | null = null;

  get generation(): number {
    return this.generationNow;
  }

  /** Distinct prefixes shared. */
  get size(): number {
    return this.counts.size;
  }

  /** `<epoch>.<generation>`, as our TXT record announces it. */
  get tag(): string {
    return `${this.epoch}.${this.generationNow}`;
  }

  add(hash: string): void {
    const prefix = prefixOf(hash);
    if (this.counts.add(prefix)) this.record(prefix, true);
  }

  remove(hash: string): void {
    const prefix = prefixOf(hash);
    if (this.counts.remove(prefix)) this.record(prefix, false);
  }

  /** Empties the set in one generation; neighbours fetch the (empty) whole set again. */
  clear(): void {
    if (this.counts.size === 0) return;
    this.counts.clear();
    this.full = null;
    this.generationNow += 1;
    this.logStart = 0;
    this.logLength = 0;
    this.logFloor = this.generationNow;
  }

  /**
   * The message for a neighbour at `since`: null when it is up to date, a delta when the log reaches back to it
   * and the delta is the smaller, else the whole set.
   */
  encodeFor(since: SummaryPosition | undefined, now = performance.now()): Buffer | null {
    if (since?.epoch === this.epoch && since.generation === this.generationNow) return null;
    if (since && since.epoch === this.epoch && since.generation >= this.logFloor && since.generation < this.generationNow) {
      const delta = this.deltaSince(since.generation);
      if (delta && delta.added.length + delta.removed.length <= this.counts.size / 2) {
        return encodeSummary({ epoch: this.epoch, generation: this.generationNow, base: since.generation, ...delta });
      }
    }
    return this.encodeFull(now);
  }

  private encodeFull(now: number): Buffer {
    const cached = this.full;
    if (cached && (cached.generation === this.generationNow || now - cached.at < FULL_REBUILD_INTERVAL_MS)) return cached.bytes;
    const bytes = encodeSummary({
      epoch: this.epoch,
      generation: this.generationNow,
      base: null,
      added: this.counts.sorted(),
      removed: new Uint32Array(0),
    });
    this.full = { generation: this.generationNow, bytes, at: now };
    return bytes;
  }

  /** Net changes after `base`: a prefix added then removed again is neither. */
  private deltaSince(base: number): { added: Uint32Array; removed: Uint32Array } {
    const net = new Map<number, number>();
    for (let i = this.logLength - 1; i >= 0; i--) {
      const at = (this.logStart + i) % MAX_LOGGED_CHANGES;
      if ((this.logGeneration[at] as number) <= base) break;
      const prefix = this.logPrefix[at] as number;
      net.set(prefix, (net.get(prefix) ?? 0) + (this.logAdded[at] ? 1 : -1));
    }
    const added: number[] = [];
    const removed: number[] = [];
    for (const [prefix, change] of net) {
      if (change > 0) added.push(prefix);
      else if (change < 0) removed.push(prefix);
    }
    return { added: Uint32Array.from(added).sort(), removed: Uint32Array.from(removed).sort() };
  }

  private record(prefix: number, added: boolean): void {
    this.generationNow += 1;
    if (this.logLength === MAX_LOGGED_CHANGES) {
      this.logFloor = this.logGeneration[this.logStart] as number;
      this.logStart = (this.logStart + 1) % MAX_LOGGED_CHANGES;
      this.logLength -= 1;
    }
    const at = (this.logStart + this.logLength) % MAX_LOGGED_CHANGES;
    this.logPrefix[at] = prefix;
    this.logGeneration[at] = this.generationNow;
    this.logAdded[at] = added ? 1 : 0;
    this.logLength += 1;
  }
}
