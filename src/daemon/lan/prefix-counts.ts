// SPDX-License-Identifier: LGPL-2.1-or-later
// A multiset of 32-bit hash prefixes in two typed arrays: the set our summary describes, at about 10 bytes
// a distinct prefix where a Map of numbers would take 30 or more.

const INITIAL_CAPACITY = 1024;
/** Grown past half full, so that linear probes stay short. */
const MAX_LOAD = 0.5;

/**
 * How many shared items have each prefix. Two items with the same first 32 bits (about 100 pairs among a
 * million) share one entry in the summary, which must only lose it when both are gone.
 */
export class PrefixCounts {
  private keys = new Uint32Array(INITIAL_CAPACITY);
  /** 0 marks an empty slot. */
  private counts = new Uint32Array(INITIAL_CAPACITY);
  private distinct = 0;

  /** Number of distinct prefixes. */
  get size(): number {
    return this.distinct;
  }

  /** Counts one more item with `prefix`; true if the prefix is new to the set. */
  add(prefix: number): boolean {
    if ((this.distinct + 1) / this.keys.length > MAX_LOAD) this.grow();
    const slot = this.find(prefix);
    const count = this.counts[slot] ?? 0;
    if (count === 0) {
      this.keys[slot] = prefix;
      this.distinct += 1;
    }
    this.counts[slot] = count + 1;
    return count === 0;
  }

  /** Counts one item fewer with `prefix`; true if that was the last and the prefix left the set. */
  remove(prefix: number): boolean {
    const slot = this.find(prefix);
    const count = this.counts[slot] ?? 0;
    if (count === 0) return false;
    if (count > 1) {
      this.counts[slot] = count - 1;
      return false;
    }
    this.distinct -= 1;
    this.deleteSlot(slot);
    return true;
  }

  has(prefix: number): boolean {
    return (this.counts[this.find(prefix)] ?? 0) > 0;
  }

  clear(): void {
    this.keys = new Uint32Array(INITIAL_CAPACITY);
    this.counts = new Uint32Array(INITIAL_CAPACITY);
    this.distinct = 0;
  }

  /** The distinct prefixes, ascending. */
  sorted(): Uint32Array {
    const out = new Uint32Array(this.distinct);
    let n = 0;
    for (let slot = 0; slot < this.keys.length; slot++) if (this.counts[slot] !== 0) out[n++] = this.keys[slot] as number;
    return out.sort();
  }

  /** The slot holding `prefix`, or the empty slot where it would go; SHA-256 prefixes are uniform, so their low bits index well. */
  private find(prefix: number): number {
    const mask = this.keys.length - 1;
    let slot = prefix & mask;
    while (this.counts[slot] !== 0 && this.keys[slot] !== prefix) slot = (slot + 1) & mask;
    return slot;
  }

  /** Backward-shift deletion: later entries of the same probe run move up, so no tombstones pile up. */
  private deleteSlot(slot: number): void {
    const mask = this.keys.length - 1;
    let hole = slot;
    let next = (hole + 1) & mask;
    while (this.counts[next] !== 0) {
      const home = (this.keys[next] as number) & mask;
      // Move the entry into the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!stays) {
        this.keys[hole] = this.keys[next] as number;
        this.counts[hole] = this.counts[next] as number;
        hole = next;
      }
      next = (next + 1) & mask;
    }
    this.counts[hole] = 0;
  }

  private grow(): void {
    const { keys, counts } = this;
    this.keys = new Uint32Array(keys.length * 2);
    this.counts = new Uint32Array(keys.length * 2);
    for (let slot = 0; slot < keys.length; slot++) {
      const count = counts[slot] as number;
      if (count === 0) continue;
      const to = this.find(keys[slot] as number);
      this.keys[to] = keys[slot] as number;
      this.counts[to] = count;
    }
  }
}
