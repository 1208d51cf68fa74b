// Giving heap memory back once a burst is over (src/daemon/memory-release.ts), with a stand-in heap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryRelease } from '../../dist/daemon/memory-release.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));
const MiB = 1024 * 1024;

test('after a burst, once quiet, the heap is collected until a pass frees little; never for a small growth or a busy daemon', async () => {
  let heap = 10 * MiB;
  let quiet = true;
  /** @type {number[]} heap size before each collection */
  const passes = [];
  // Each collection frees half of what is over 10 MiB.
  const collect = () => {
    passes.push(heap);
    heap = 10 * MiB + Math.floor((heap - 10 * MiB) / 2);
  };
  const release = new MemoryRelease({ isQuiet: () => quiet, collect, log: silent, heapSize: () => heap, quietMs: 10 });

  heap = 13 * MiB; // grew less than 4 MiB since the start
  release.poke();
  await sleep(40);
  assert.deepEqual(passes, [], 'a heap that hardly grew is left alone');

  heap = 26 * MiB;
  quiet = false;
  release.poke();
  await sleep(40);
  assert.deepEqual(passes, [], 'nothing while a connection or call is under way');

  quiet = true;
  release.poke();
  release.poke(); // another sign of activity restarts the wait; it adds no collection
  await sleep(40);
  assert.deepEqual(
    passes.map((b) => b / MiB),
    [26, 18, 14],
    'three passes at most: 26 → 18 → 14 → 12 MiB',
  );

  heap = 15.5 * MiB;
  release.poke();
  await sleep(40);
  assert.equal(passes.length, 3, 'growth is measured from what the last collection left (12 MiB)');

  heap = 40 * MiB;
  release.poke();
  release.stop();
  await sleep(40);
  assert.equal(passes.length, 3, 'stop() cancels a pending collection');
});

test('a second or third pass that frees under 1 MiB ends the collection; the first always gets a second', async () => {
  let heap = 30 * MiB;
  let calls = 0;
  const freedBy = [0.5, 6, 0.5, 9]; // MiB per pass: little at first, then the compaction, then nothing
  const release = new MemoryRelease({
    isQuiet: () => true,
    collect: () => {
      heap -= (freedBy[calls] ?? 0) * MiB;
      calls += 1;
    },
    log: silent,
    heapSize: () => heap,
    quietMs: 10,
  });
  heap = 40 * MiB;
  release.poke();
  await sleep(40);
  assert.equal(calls, 3, '0.5 MiB, then 6, then 0.5: three passes');
  heap += 10 * MiB;
  freedBy.splice(0, 4, 5, 0.5, 9);
  calls = 0;
  release.poke();
  await sleep(40);
  assert.equal(calls, 2, '5 MiB, then 0.5: the third is skipped');
});
