import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { ExpiryQueue } from '../../dist/daemon/store/expiry-queue.js';
import { ItemIndex, SlotState } from '../../dist/daemon/store/item-index.js';

const hashOf = (/** @type {number} */ n) => createHash('sha256').update(`item ${n}`).digest('hex');
/** @param {number} ctime */
const fields = (ctime, extra = {}) => ({ size: 10, ctime, maxAge: 0, shareLimit: 5, shareCount: 0, flags: 0, cmdline: 'fwupd', ...extra });

test('index: add, find, remove and reuse over growth; fields and names come back as given', () => {
  const index = new ItemIndex();
  /** @type {Map<string, number>} */
  const slots = new Map();
  for (let i = 0; i < 5000; i++) {
    const hash = hashOf(i);
    slots.set(hash, index.add(hash, `näme ${i}.cab`, SlotState.LOADED, fields(i, { size: i, cmdline: `c${i % 3}` })));
  }
  assert.equal(index.loaded, 5000);
  assert.equal(index.totalBytes, (4999 * 5000) / 2);
  for (let i = 0; i < 5000; i += 2) index.remove(slots.get(hashOf(i)) ?? -1);
  for (let i = 0; i < 5000; i++) {
    const slot = index.find(hashOf(i));
    if (i % 2 === 0) assert.equal(slot, -1, `removed ${i}`);
    else {
      assert.equal(slot, slots.get(hashOf(i)));
      assert.equal(index.hashOf(slot), hashOf(i));
      assert.equal(index.basenameOf(slot), `näme ${i}.cab`);
      assert.deepEqual(index.fieldsOf(slot), fields(i, { size: i, cmdline: `c${i % 3}` }));
    }
  }
  assert.equal(index.loaded, 2500);
  // Freed slots are reused, and a reused slot has a new serial.
  const before = index.serial(slots.get(hashOf(0)) ?? 0);
  const again = index.add(hashOf(0), 'back', SlotState.LOADED, fields(1));
  assert.equal(again < 5000, true);
  assert.notEqual(index.serial(again), before);
  assert.equal(index.find(hashOf(0)), again);
  assert.equal(index.find('A'.repeat(64)), -1, 'upper-case hex is not a stored hash');
  assert.equal(index.find('zz'), -1);
});

test('index: colliding table positions are all found, also after removals in the middle of a run', () => {
  const index = new ItemIndex();
  // Same first four bytes: the same home position in the table, a single probe run.
  const hashes = Array.from({ length: 8 }, (_, i) => `00000000${String(i).padStart(56, '0')}`);
  const slots = hashes.map((hash, i) => index.add(hash, `n${i}`, SlotState.LOADED, fields(i)));
  for (const i of [0, 3, 7]) index.remove(slots[i] ?? -1);
  hashes.forEach((hash, i) => {
    assert.equal(index.find(hash), [0, 3, 7].includes(i) ? -1 : slots[i]);
  });
});

test('index: addNew adds a hash once, also among hashes sharing the first word, and over growth', () => {
  const index = new ItemIndex();
  const colliding = Array.from({ length: 6 }, (_, i) => `00000000${String(i).padStart(56, '0')}`);
  const hashes = [...colliding, ...Array.from({ length: 3000 }, (_, i) => hashOf(i))];
  const slots = hashes.map((hash, i) => index.addNew(hash, `n${i}`, SlotState.PENDING, fields(i)));
  assert.equal(new Set(slots).size, hashes.length);
  assert.ok(slots.every((slot) => slot >= 0));
  for (const [i, hash] of hashes.entries()) {
    assert.equal(index.addNew(hash, 'again', SlotState.PENDING, fields(0)), -1, `${hash} twice`);
    assert.equal(index.find(hash), slots[i]);
    assert.equal(index.hashOf(slots[i] ?? -1), hash);
    assert.equal(index.basenameOf(slots[i] ?? -1), `n${i}`);
  }
  assert.equal(index.live, hashes.length);
});

test('index: newest first by ctime then hash, with adds and removals merged in', () => {
  const index = new ItemIndex();
  /** @type {{ hash: string, ctime: number, slot: number }[]} */
  let live = [];
  for (let i = 0; i < 300; i++) {
    const hash = hashOf(i);
    const ctime = 1000 + (i % 7);
    live.push({ hash, ctime, slot: index.add(hash, 'x', SlotState.LOADED, fields(ctime)) });
  }
  const expected = () => [...live].sort((a, b) => b.ctime - a.ctime || (a.hash < b.hash ? -1 : 1)).map((e) => e.hash);
  const walked = () => {
    /** @type {string[]} */
    const out = [];
    index.walkNewest((slot) => out.push(index.hashOf(slot)) > 0);
    return out;
  };
  assert.deepEqual(walked(), expected());
  for (const entry of live.filter((_, i) => i % 3 === 0)) index.remove(entry.slot);
  live = live.filter((_, i) => i % 3 !== 0);
  for (let i = 300; i < 350; i++) {
    const hash = hashOf(i);
    live.push({ hash, ctime: 1003, slot: index.add(hash, 'y', SlotState.LOADED, fields(1003)) });
  }
  assert.deepEqual(walked(), expected());
  assert.equal(index.hashOf(index.newestAt(5)), expected()[5]);
  // Pending slots are found (for duplicates) but never listed until loaded.
  const pending = index.add(hashOf(999), 'p', SlotState.PENDING, fields(5000));
  assert.equal(index.find(hashOf(999)), pending);
  assert.equal(walked()[0], expected()[0]);
  index.load(pending, fields(5000));
  assert.equal(walked()[0], hashOf(999));
});

test('expiry queue: slots come out by expiry time, deleted ones never', () => {
  /** @type {number[]} */
  const at = [];
  const queue = new ExpiryQueue((slot) => at[slot] ?? 0);
  for (let slot = 0; slot < 3000; slot++) {
    at[slot] = (slot * 7919) % 1000;
    queue.push(slot);
  }
  for (let slot = 0; slot < 3000; slot += 5) queue.delete(slot);
  assert.equal(queue.size, 2400);
  let last = -1;
  let count = 0;
  for (let slot = queue.peek(); slot >= 0; slot = queue.peek()) {
    assert.notEqual(slot % 5, 0, 'a deleted slot came out');
    assert.ok((at[slot] ?? 0) >= last);
    last = at[slot] ?? 0;
    queue.delete(slot);
    count += 1;
  }
  assert.equal(count, 2400);
});
