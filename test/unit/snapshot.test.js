// The index snapshot format: what is written comes back; a snapshot for another folder state is not used;
// fast-check properties over random bytes, truncations and flipped bytes, which are refused, never misread.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { SnapshotUnusable, readSnapshot, writeSnapshot } from '../../dist/daemon/store/snapshot.js';

const dir = mkdtempSync(join(tmpdir(), 'passim-snapshot-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'index.bin');
const folder = { dev: 2049n, ino: 1234567n, mtimeNs: 1_700_000_000_123_456_789n, ctimeNs: 1_700_000_000_223_456_789n };

const record = fc.record({
  hash: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
  basename: fc.stringMatching(/^[a-zA-Zä0-9._ -]{1,40}$/).filter((b) => b !== '.' && b !== '..'),
  size: fc.nat(),
  mtime: fc.nat(),
  ctimeNs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  maxAge: fc.nat({ max: 0xffffffff }),
  shareLimit: fc.nat({ max: 0xffffffff }),
  shareCount: fc.nat({ max: 0xffffffff }),
  cmdline: fc.string({ maxLength: 30 }),
  bootTime: fc.option(fc.stringMatching(/^[0-9]{1,12}$/), { nil: undefined }),
});

/** @param {string} file */
function read(file, stamp = folder, dataDir = '/var/lib/passim/data') {
  /** @type {unknown[]} */
  const records = [];
  /** @type {number[]} */
  const expected = [];
  const count = readSnapshot(
    file,
    dataDir,
    stamp,
    (r) => {
      assert.equal(expected.length, 1, 'the count is told before the first record');
      records.push(r);
    },
    (n) => expected.push(n),
  );
  assert.equal(count, records.length);
  assert.deepEqual(expected, [count], 'the count told beforehand is the count read');
  return records;
}

/** @param {() => void} fn */
function refused(fn) {
  assert.throws(fn, (err) => err instanceof SnapshotUnusable);
}

test('snapshot: records come back exactly as written', () => {
  fc.assert(
    fc.property(fc.array(record, { maxLength: 50 }), (records) => {
      writeSnapshot(path, '/var/lib/passim/data', folder, records);
      assert.deepEqual(
        read(path),
        records.map((r) => ({ ...r })),
      );
    }),
    { numRuns: 100 },
  );
});

test('snapshot: another data folder or any change of its stamp makes it unusable', () => {
  writeSnapshot(path, '/var/lib/passim/data', folder, []);
  assert.deepEqual(read(path), []);
  refused(() => read(path, folder, '/srv/passim'));
  for (const key of /** @type {const} */ (['dev', 'ino', 'mtimeNs', 'ctimeNs']))
    refused(() => read(path, { ...folder, [key]: folder[key] + 1n }));
  refused(() => read(join(dir, 'missing.bin')));
});

test('snapshot: random bytes, truncations and flipped bytes are refused', () => {
  const damaged = join(dir, 'damaged.bin');
  fc.assert(
    fc.property(
      fc.array(record, { minLength: 1, maxLength: 20 }),
      fc.nat(),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      (records, cut, at, flip) => {
        writeSnapshot(path, '/var/lib/passim/data', folder, records);
        const bytes = readFileSync(path);
        writeFileSync(damaged, bytes.subarray(0, cut % bytes.length));
        refused(() => read(damaged));
        const flipped = Buffer.from(bytes);
        const i = at % bytes.length;
        flipped[i] = (flipped[i] ?? 0) ^ flip;
        writeFileSync(damaged, flipped);
        refused(() => read(damaged));
        writeFileSync(damaged, Buffer.concat([bytes, Buffer.from([0])]));
        refused(() => read(damaged));
      },
    ),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
      writeFileSync(damaged, bytes);
      refused(() => read(damaged));
    }),
  );
  // Random bytes after a valid header: the records are damaged, never misread.
  writeSnapshot(path, '/var/lib/passim/data', folder, []);
  const header = readFileSync(path).subarray(0, -37);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 4096 }), (bytes) => {
      writeFileSync(damaged, Buffer.concat([header, bytes]));
      refused(() => read(damaged));
    }),
  );
});

test('snapshot: the count told before the records is never more than the file could hold', () => {
  const records = [1, 2, 3].map((n) => ({
    hash: String(n).repeat(64),
    basename: `b${n}`,
    size: n,
    mtime: n,
    ctimeNs: BigInt(n),
    maxAge: 0,
    shareLimit: 0,
    shareCount: 0,
    cmdline: '',
    bootTime: undefined,
  }));
  writeSnapshot(path, '/var/lib/passim/data', folder, records);
  const bytes = readFileSync(path);
  // The trailer: END, u32 count, 32-byte digest.
  bytes.writeUInt32LE(0xffffffff, bytes.length - 36);
  writeFileSync(path, bytes);
  /** @type {number[]} */
  const told = [];
  refused(() =>
    readSnapshot(
      path,
      '/var/lib/passim/data',
      folder,
      () => undefined,
      (n) => told.push(n),
    ),
  );
  assert.equal(told.length, 1);
  assert.ok((told[0] ?? 0) <= bytes.length / 74 && (told[0] ?? 0) >= 3, `told ${told[0]}`);
});
