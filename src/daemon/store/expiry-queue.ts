// SPDX-License-Identifier: LGPL-2.1-or-later
// Which item expires next: a binary min-heap of slots keyed by their expiry time, with each slot's position
// kept so that an item deleted for another reason leaves the heap in O(log n).

export class ExpiryQueue {
  private heap: Int32Array = new Int32Array(1024);
  private length = 0;
  /** Per slot, its index in `heap` + 1; 0 when not queued. */
  private position: Int32Array = new Int32Array(1024);

  /** `expiresAt(slot)` must not change while the slot is queued. */
  constructor(private readonly expiresAt: (slot: number) => number) {}

  get size(): number {
    return this.length;
  }

  has(slot: number): boolean {
    return (this.position[slot] ?? 0) !== 0;
  }

  push(slot: number): void {
    if (this.has(slot)) return;
    if (this.length === this.heap.length) this.heap = grow(this.heap, this.length * 2);
    if (slot >= this.position.length) this.position = grow(this.position, Math.max(slot + 1, this.position.length * 2));
    this.heap[this.length] = slot;
    this.position[slot] = this.length + 1;
    this.length += 1;
    this.up(this.length - 1);
  }

  /** The slot expiring first, -1 if none. */
  peek(): number {
    return this.length > 0 ? (this.heap[0] ?? -1) : -1;
  }

  delete(slot: number): void {
    const index = (this.position[slot] ?? 0) - 1;
    if (index < 0) return;
    this.position[slot] = 0;
    this.length -= 1;
    if (index === this.length) return;
    const last = this.heap[this.length] ?? 0;
    this.heap[index] = last;
    this.position[last] = index + 1;
    this.down(this.up(index));
  }

  private key(index: number): number {
    return this.expiresAt(this.heap[index] ?? 0);
  }

  private swap(a: number, b: number): void {
    const slotA = this.heap[a] ?? 0;
    const slotB = this.heap[b] ?? 0;
    this.heap[a] = slotB;
    this.heap[b] = slotA;
    this.position[slotB] = a + 1;
    this.position[slotA] = b + 1;
  }

  /** Moves the entry at `index` up while it expires before its parent; returns where it ended. */
  private up(index: number): number {
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.key(parent) <= this.key(index)) break;
      this.swap(parent, index);
      index = parent;
    }
    return index;
  }

  private down(index: number): void {
    for (;;) {
      const left = index * 2 + 1;
      if (left >= this.length) return;
      const right = left + 1;
      const child = right < this.length && this.key(right) < this.key(left) ? right : left;
      if (this.key(index) <= this.key(child)) return;
      this.swap(index, child);
      index = child;
    }
  }
}

function grow(array: Int32Array, length: number): Int32Array {
  const next = new Int32Array(length);
  next.set(array);
  return next;
}
