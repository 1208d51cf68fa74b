// SPDX-License-Identifier: LGPL-2.1-or-later
// The published items in a compact form: one slot per item across parallel typed arrays (binary hashes,
// numbers, basenames in a byte arena, interned cmdlines), an open-addressing table from hash to slot and a
// newest-first order. A million items cost about 160 bytes each instead of a JS object graph of 300+;
// Item objects are made from a slot when a caller asks for one.

const HASH_BYTES = 32;
const LOWER_HEX_SHA256 = /^[0-9a-f]{64}$/;
/** No verified ctime recorded for a slot. */
const UNVERIFIED_NS = 0xffffffff;

/** What a slot holds. */
export const SlotState = {
  FREE: 0,
  /** Named in the data folder, not yet checked: counted for duplicates, never served. */
  PENDING: 1,
  /** Checked (or just published): an item. */
  LOADED: 2,
} as const;

export interface SlotFields {
  size: number;
  ctime: number;
  maxAge: number;
  shareLimit: number;
  shareCount: number;
  flags: number;
  cmdline: string;
}

/** Room for slots loaded between two walks of the order, before it grows. */
const UNORDERED_INITIAL = 1024;

/** Where a slot stands in the newest-first order. */
const Ordering = { NONE: 0, IN_ORDER: 1, QUEUED: 2, MERGING: 3 } as const;

/** Grows `array` to `length` elements, keeping its contents. */
function grown<T extends Float64Array | Uint32Array | Int32Array | Uint8Array>(array: T, length: number): T {
  const Type = array.constructor as new (length: number) => T;
  const next = new Type(length);
  next.set(array.length > length ? array.subarray(0, length) : array);
  return next;
}

export class ItemIndex {
  /** Slots allocated in the arrays. */
  private capacity = 0;
  /** Slots ever used: free slots below this are on `freeSlots`. */
  private used = 0;
  private readonly freeSlots: number[] = [];
  private liveCount = 0;
  private loadedCount = 0;
  private bytes = 0;
  /** Changes with every add to a slot, so a slot number held across an await can be told from its reuse. */
  private serials = new Uint32Array(0);
  private nextSerial = 1;

  private hashes = Buffer.alloc(0);
  private states = new Uint8Array(0);
  private flags = new Uint8Array(0);
  private sizes = new Float64Array(0);
  private ctimes = new Float64Array(0);
  private maxAges = new Uint32Array(0);
  private shareLimits = new Uint32Array(0);
  private shareCounts = new Uint32Array(0);
  private cmdlineIds = new Uint32Array(0);
  private nameOffsets = new Uint32Array(0);
  private nameLengths = new Uint8Array(0);
  private verifiedSeconds = new Float64Array(0);
  private verifiedNanos = new Uint32Array(0);
  /** The file's change time when it was last checked or written by us (for the snapshot); nanos UNVERIFIED_NS if not known. */
  private fileCtimeSeconds = new Float64Array(0);
  private fileCtimeNanos = new Uint32Array(0);

  /** Basenames as UTF-8, one after another; removed ones stay until compaction. */
  private arena = Buffer.alloc(0);
  private arenaUsed = 0;
  private arenaWasted = 0;

  private readonly cmdlines: string[] = [];
  private readonly cmdlineRefs: number[] = [];
  private readonly cmdlineByValue = new Map<string, number>();
  private readonly freeCmdlines: number[] = [];

  /** Open addressing with linear probing: slot + 1, 0 for empty. Kept at most half full. */
  private table = new Int32Array(16);
  private readonly scratch = Buffer.alloc(HASH_BYTES);

  /** Loaded slots by (ctime, hash descending): read backwards, newest first with hashes ascending. */
  private order = new Int32Array(0);
  private orderLength = 0;
  /** Entries of `order` whose slot was removed since; dropped at the next merge. */
  private orderStale = 0;
  /**
   * Loaded slots not yet in `order`, the first `unorderedLength` of them: typed, since after a load of a
   * million items they are a million, sorted in place (a JS array of them and its sorted copy were the peak
   * of the daemon's memory).
   */
  private unordered = new Int32Array(UNORDERED_INITIAL);
  private unorderedLength = 0;
  /** Per slot, one of Ordering. */
  private inOrder = new Uint8Array(0);

  /** Slots in use (pending or loaded). */
  get live(): number {
    return this.liveCount;
  }

  /** Loaded slots. */
  get loaded(): number {
    return this.loadedCount;
  }

  /** Sum of the sizes of loaded slots. */
  get totalBytes(): number {
    return this.bytes;
  }

  /** One past the highest slot ever used: slots are below this. */
  get slotLimit(): number {
    return this.used;
  }

  /** Makes room for `count` slots in all, so loading a known number of items allocates once. */
  reserve(count: number): void {
    if (count > this.capacity) this.resize(count);
    let size = this.table.length;
    while (size < count * 2) size *= 2;
    if (size > this.table.length) this.rehash(size);
  }

  /** Gives back room reserved by growth beyond what is used, once a load of known size is done. */
  trim(): void {
    const target = Math.max(1024, this.used + (this.used >> 4));
    if (this.capacity > target) this.resize(target);
  }

  /** The slot of `hash` (lower-case hex), pending or loaded; -1 if none. */
  find(hash: string): number {
    if (hash.length !== 64 || !LOWER_HEX_SHA256.test(hash)) return -1;
    this.scratch.write(hash, 0, 'hex');
    return this.findBytes(this.scratch, 0);
  }

  /** Adds `hash` in `state`; the caller made sure it is not there yet. Returns the slot. */
  add(hash: string, basename: string, state: number, fields: SlotFields): number {
    const slot = this.allocate();
    this.hashes.write(hash, slot * HASH_BYTES, 'hex');
    return this.fill(slot, basename, state, fields);
  }

  /**
   * add() unless `hash` is there already (then -1), for loading many: `hash` is 64 lower-case hex digits (the
   * caller checked), decoded and looked up once.
   */
  addNew(hash: string, basename: string, state: number, fields: SlotFields): number {
    this.scratch.write(hash, 0, 'hex');
    if (this.findBytes(this.scratch, 0) >= 0) return -1;
    const slot = this.allocate();
    // Byte by byte: Buffer.copy's native call costs more than the 32 bytes.
    const base = slot * HASH_BYTES;
    for (let i = 0; i < HASH_BYTES; i++) this.hashes[base + i] = this.scratch[i] ?? 0;
    return this.fill(slot, basename, state, fields);
  }

  /** A slot just allocated, its hash written: the rest of add(). */
  private fill(slot: number, basename: string, state: number, fields: SlotFields): number {
    this.states[slot] = state;
    this.serials[slot] = this.nextSerial;
    this.nextSerial = this.nextSerial === 0xffffffff ? 1 : this.nextSerial + 1;
    this.storeName(slot, basename);
    this.setFields(slot, fields);
    this.verifiedNanos[slot] = UNVERIFIED_NS;
    this.fileCtimeNanos[slot] = UNVERIFIED_NS;
    this.insertKey(slot);
    this.liveCount += 1;
    if (state === SlotState.LOADED) this.becameLoaded(slot);
    return slot;
  }

  /** Fills in a pending slot's fields once its file was checked, and makes it an item. */
  load(slot: number, fields: SlotFields): void {
    if (this.states[slot] !== SlotState.PENDING) return;
    this.releaseCmdline(slot);
    this.setFields(slot, fields);
    this.states[slot] = SlotState.LOADED;
    this.becameLoaded(slot);
  }

  remove(slot: number): void {
    const state = this.states[slot];
    if (state === undefined || state === SlotState.FREE) return;
    this.deleteKey(slot);
    if (state === SlotState.LOADED) {
      this.loadedCount -= 1;
      this.bytes -= this.sizes[slot] ?? 0;
      if (this.inOrder[slot] === Ordering.IN_ORDER) this.orderStale += 1;
      this.inOrder[slot] = Ordering.NONE;
    }
    this.releaseCmdline(slot);
    this.arenaWasted += this.nameLengths[slot] ?? 0;
    this.states[slot] = SlotState.FREE;
    this.liveCount -= 1;
    this.freeSlots.push(slot);
    if (this.arenaWasted > 1 << 20 && this.arenaWasted > this.arenaUsed / 2) this.compactArena();
  }

  state(slot: number): number {
    return this.states[slot] ?? SlotState.FREE;
  }

  serial(slot: number): number {
    return this.serials[slot] ?? 0;
  }

  hashOf(slot: number): string {
    return this.hashes.toString('hex', slot * HASH_BYTES, (slot + 1) * HASH_BYTES);
  }

  basenameOf(slot: number): string {
    const start = this.nameOffsets[slot] ?? 0;
    return this.arena.toString('utf8', start, start + (this.nameLengths[slot] ?? 0));
  }

  fieldsOf(slot: number): SlotFields {
    return {
      size: this.sizes[slot] ?? 0,
      ctime: this.ctimes[slot] ?? 0,
      maxAge: this.maxAges[slot] ?? 0,
      shareLimit: this.shareLimits[slot] ?? 0,
      shareCount: this.shareCounts[slot] ?? 0,
      flags: this.flags[slot] ?? 0,
      cmdline: this.cmdlines[this.cmdlineIds[slot] ?? 0] ?? '',
    };
  }

  flagsOf(slot: number): number {
    return this.flags[slot] ?? 0;
  }

  /** When a loaded item with a max-age expires (Unix seconds); Infinity for never. */
  expiresAt(slot: number): number {
    const maxAge = this.maxAges[slot] ?? 0;
    return maxAge === 0 ? Number.POSITIVE_INFINITY : (this.ctimes[slot] ?? 0) + maxAge;
  }

  shareCountOf(slot: number): number {
    return this.shareCounts[slot] ?? 0;
  }

  setShareCount(slot: number, count: number): void {
    this.shareCounts[slot] = count;
  }

  /** Whether the slot's content was found to match while its file's ctime was `ctimeNs`. */
  verifiedAt(slot: number, ctimeNs: bigint): boolean {
    const nanos = this.verifiedNanos[slot];
    if (nanos === undefined || nanos === UNVERIFIED_NS) return false;
    return BigInt(this.verifiedSeconds[slot] ?? 0) * 1_000_000_000n + BigInt(nanos) === ctimeNs;
  }

  setVerified(slot: number, ctimeNs: bigint): void {
    this.verifiedSeconds[slot] = Number(ctimeNs / 1_000_000_000n);
    this.verifiedNanos[slot] = Number(ctimeNs % 1_000_000_000n);
  }

  /** The file's change time recorded with setFileCtime, 0n if none. */
  fileCtimeOf(slot: number): bigint {
    const nanos = this.fileCtimeNanos[slot];
    if (nanos === undefined || nanos === UNVERIFIED_NS) return 0n;
    return BigInt(this.fileCtimeSeconds[slot] ?? 0) * 1_000_000_000n + BigInt(nanos);
  }

  setFileCtime(slot: number, ctimeNs: bigint): void {
    this.fileCtimeSeconds[slot] = Number(ctimeNs / 1_000_000_000n);
    this.fileCtimeNanos[slot] = Number(ctimeNs % 1_000_000_000n);
  }

  /** Calls `fn` with each loaded slot, in slot order. */
  forEachLoaded(fn: (slot: number) => void): void {
    for (let slot = 0; slot < this.used; slot++) if (this.states[slot] === SlotState.LOADED) fn(slot);
  }

  /**
   * Loaded slots newest first (ctime descending, then hash ascending): calls `fn` with each until it returns
   * false. Slots loaded since the last call are sorted and merged in first (O(n) once, not a sort of all).
   */
  walkNewest(fn: (slot: number) => boolean): void {
    this.mergeOrder();
    for (let i = this.orderLength - 1; i >= 0; i--) if (!fn(this.order[i] ?? 0)) return;
  }

  /** The slot at `position` newest first, with nothing removed or suspect in between: a direct index. */
  newestAt(position: number): number {
    this.mergeOrder();
    const i = this.orderLength - 1 - position;
    return i >= 0 ? (this.order[i] ?? -1) : -1;
  }

  /** Orders by (ctime, hash descending): a < b is negative. */
  private compareOrder(a: number, b: number): number {
    const byTime = (this.ctimes[a] ?? 0) - (this.ctimes[b] ?? 0);
    if (byTime !== 0) return byTime;
    // Word by word in JS: a call to Buffer.compare per comparison made sorting 100,000 slots take 0.6 s.
    const hashes = this.hashes;
    for (let offset = 0; offset < HASH_BYTES; offset += 4) {
      const wordA = hashes.readUInt32BE(a * HASH_BYTES + offset);
      const wordB = hashes.readUInt32BE(b * HASH_BYTES + offset);
      if (wordA !== wordB) return wordB - wordA;
    }
    return 0;
  }

  /** Sorts in what was loaded since the last call, so that the next walk does not have to. */
  settleOrder(): void {
    this.mergeOrder();
  }

  private mergeOrder(): void {
    if (this.unorderedLength === 0 && this.orderStale === 0) return;
    let freshLength = 0;
    for (let i = 0; i < this.unorderedLength; i++) {
      const slot = this.unordered[i] ?? 0;
      // A slot queued twice (removed and reused) or removed since is taken once or not at all.
      if (this.inOrder[slot] !== Ordering.QUEUED) continue;
      this.inOrder[slot] = Ordering.MERGING;
      this.unordered[freshLength++] = slot;
    }
    const fresh = this.unordered.subarray(0, freshLength).sort((a, b) => this.compareOrder(a, b));
    const old = this.order;
    const oldLength = this.orderLength;
    const next = new Int32Array(Math.max(16, this.loadedCount + (this.loadedCount >> 3)));
    let length = 0;
    let j = 0;
    for (let i = 0; i < oldLength; i++) {
      const slot = old[i] ?? 0;
      // Removed since, or its slot reused by an item that is in `fresh`.
      if (this.inOrder[slot] !== Ordering.IN_ORDER) continue;
      while (j < fresh.length && this.compareOrder(fresh[j] ?? 0, slot) < 0) next[length++] = fresh[j++] ?? 0;
      next[length++] = slot;
    }
    while (j < fresh.length) next[length++] = fresh[j++] ?? 0;
    for (const slot of fresh) this.inOrder[slot] = Ordering.IN_ORDER;
    this.unorderedLength = 0;
    if (this.unordered.length > UNORDERED_INITIAL) this.unordered = new Int32Array(UNORDERED_INITIAL);
    this.order = next;
    this.orderLength = length;
    this.orderStale = 0;
  }

  private becameLoaded(slot: number): void {
    this.loadedCount += 1;
    this.bytes += this.sizes[slot] ?? 0;
    this.inOrder[slot] = Ordering.QUEUED;
    if (this.unorderedLength === this.unordered.length) this.unordered = grown(this.unordered, this.unordered.length * 2);
    this.unordered[this.unorderedLength++] = slot;
  }

  private setFields(slot: number, fields: SlotFields): void {
    this.sizes[slot] = fields.size;
    this.ctimes[slot] = fields.ctime;
    this.maxAges[slot] = fields.maxAge;
    this.shareLimits[slot] = fields.shareLimit;
    this.shareCounts[slot] = fields.shareCount;
    this.flags[slot] = fields.flags;
    this.cmdlineIds[slot] = this.internCmdline(fields.cmdline);
  }

  private internCmdline(value: string): number {
    let id = this.cmdlineByValue.get(value);
    if (id === undefined) {
      id = this.freeCmdlines.pop() ?? this.cmdlines.length;
      this.cmdlines[id] = value;
      this.cmdlineRefs[id] = 0;
      this.cmdlineByValue.set(value, id);
    }
    this.cmdlineRefs[id] = (this.cmdlineRefs[id] ?? 0) + 1;
    return id;
  }

  private releaseCmdline(slot: number): void {
    const id = this.cmdlineIds[slot] ?? 0;
    const refs = (this.cmdlineRefs[id] ?? 1) - 1;
    this.cmdlineRefs[id] = refs;
    if (refs > 0) return;
    this.cmdlineByValue.delete(this.cmdlines[id] ?? '');
    this.cmdlines[id] = '';
    this.freeCmdlines.push(id);
  }

  private storeName(slot: number, basename: string): void {
    const length = Buffer.byteLength(basename);
    if (length > 255) throw new RangeError(`basename of ${length} bytes`);
    if (this.arenaUsed + length > this.arena.length) {
      const next = Buffer.allocUnsafe(Math.max(4096, Math.ceil((this.arenaUsed + length) * 1.5)));
      this.arena.copy(next, 0, 0, this.arenaUsed);
      this.arena = next;
    }
    this.arena.write(basename, this.arenaUsed, 'utf8');
    this.nameOffsets[slot] = this.arenaUsed;
    this.nameLengths[slot] = length;
    this.arenaUsed += length;
  }

  private compactArena(): void {
    const next = Buffer.allocUnsafe(Math.max(4096, Math.ceil((this.arenaUsed - this.arenaWasted) * 1.25)));
    let used = 0;
    for (let slot = 0; slot < this.used; slot++) {
      if (this.states[slot] === SlotState.FREE) continue;
      const start = this.nameOffsets[slot] ?? 0;
      const length = this.nameLengths[slot] ?? 0;
      this.arena.copy(next, used, start, start + length);
      this.nameOffsets[slot] = used;
      used += length;
    }
    this.arena = next;
    this.arenaUsed = used;
    this.arenaWasted = 0;
  }

  private allocate(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    if (this.used === this.capacity) this.resize(Math.max(1024, Math.ceil(this.capacity * 1.5)));
    if ((this.liveCount + 1) * 2 > this.table.length) this.rehash(this.table.length * 2);
    return this.used++;
  }

  private resize(capacity: number): void {
    const hashes = Buffer.alloc(capacity * HASH_BYTES);
    this.hashes.copy(hashes);
    this.hashes = hashes;
    this.states = grown(this.states, capacity);
    this.flags = grown(this.flags, capacity);
    this.sizes = grown(this.sizes, capacity);
    this.ctimes = grown(this.ctimes, capacity);
    this.maxAges = grown(this.maxAges, capacity);
    this.shareLimits = grown(this.shareLimits, capacity);
    this.shareCounts = grown(this.shareCounts, capacity);
    this.cmdlineIds = grown(this.cmdlineIds, capacity);
    this.nameOffsets = grown(this.nameOffsets, capacity);
    this.nameLengths = grown(this.nameLengths, capacity);
    this.verifiedSeconds = grown(this.verifiedSeconds, capacity);
    this.verifiedNanos = grown(this.verifiedNanos, capacity);
    this.fileCtimeSeconds = grown(this.fileCtimeSeconds, capacity);
    this.fileCtimeNanos = grown(this.fileCtimeNanos, capacity);
    this.serials = grown(this.serials, capacity);
    this.inOrder = grown(this.inOrder, capacity);
    this.capacity = capacity;
  }

  /** Where `slot`'s hash starts probing: its first four bytes, uniformly distributed already. */
  private home(bytes: Buffer, offset: number, mask: number): number {
    return bytes.readUInt32LE(offset) & mask;
  }

  private findBytes(bytes: Buffer, offset: number): number {
    const mask = this.table.length - 1;
    for (let i = this.home(bytes, offset, mask); ; i = (i + 1) & mask) {
      const entry = this.table[i] ?? 0;
      if (entry === 0) return -1;
      const slot = entry - 1;
      // Most entries probed past differ in their first word: a native compare only where they do not.
      if (this.hashes.readUInt32LE(slot * HASH_BYTES) !== bytes.readUInt32LE(offset)) continue;
      if (this.hashes.compare(bytes, offset, offset + HASH_BYTES, slot * HASH_BYTES, (slot + 1) * HASH_BYTES) === 0) return slot;
    }
  }

  private insertKey(slot: number): void {
    const mask = this.table.length - 1;
    let i = this.home(this.hashes, slot * HASH_BYTES, mask);
    while (this.table[i] !== 0) i = (i + 1) & mask;
    this.table[i] = slot + 1;
  }

  /** Backward-shift deletion: no tombstones, so lookups never slow down after many removals. */
  private deleteKey(slot: number): void {
    const mask = this.table.length - 1;
    let i = this.home(this.hashes, slot * HASH_BYTES, mask);
    while (this.table[i] !== slot + 1) {
      if (this.table[i] === 0) return;
      i = (i + 1) & mask;
    }
    let hole = i;
    for (let j = (i + 1) & mask; this.table[j] !== 0; j = (j + 1) & mask) {
      const other = (this.table[j] ?? 0) - 1;
      const home = this.home(this.hashes, other * HASH_BYTES, mask);
      // Move `other` into the hole unless its home lies cyclically in (hole, j].
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!between) {
        this.table[hole] = other + 1;
        hole = j;
      }
    }
    this.table[hole] = 0;
  }

  private rehash(size: number): void {
    this.table = new Int32Array(size);
    for (let slot = 0; slot < this.used; slot++) if (this.states[slot] !== SlotState.FREE) this.insertKey(slot);
  }
}
