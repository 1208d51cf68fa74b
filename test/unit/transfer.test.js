// Sending a file's bytes (src/daemon/http/transfer.ts) to a stand-in response that takes every write at
// once: chunks grow for a client that keeps up, but only within the allowance all transfers share.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { openSync, closeSync, writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BufferPool, MAX_GROWN_BYTES } from '../../dist/daemon/http/buffer-pool.js';
import { MIN_CHUNK, sendRange } from '../../dist/daemon/http/transfer.js';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'passim-transfer-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const content = randomBytes(24 * MiB);
const path = join(dir, 'item.bin');
writeFileSync(path, content);

/** A response that takes each write at once and remembers its size and bytes. */
function fakeResponse() {
  const res = Object.assign(new EventEmitter(), {
    /** @type {number[]} */
    sizes: [],
    /** @type {Buffer[]} */
    chunks: [],
    /** @type {(bytes: Buffer, done: (err?: Error) => void) => boolean} */
    write(bytes, done) {
      res.sizes.push(bytes.length);
      res.chunks.push(Buffer.from(bytes)); // a copy: the buffer goes back to the pool
      setImmediate(() => done());
      return true;
    },
    destroy() {},
  });
  return res;
}

/** @param {BufferPool} pool */
async function send(pool) {
  const res = fakeResponse();
  const fd = openSync(path, 'r');
  try {
    const outcome = await sendRange({
      fd,
      start: 0,
      length: content.length,
      res: /** @type {import('node:http').ServerResponse} */ (/** @type {unknown} */ (res)),
      pool,
      verify: createHash('sha256').update(content).digest('hex'),
    });
    return { outcome, res };
  } finally {
    closeSync(fd);
  }
}

test('a client that keeps up gets chunks that grow to 1 MiB, and the allowance is given back after', async () => {
  const pool = new BufferPool();
  const { outcome, res } = await send(pool);
  assert.deepEqual(outcome, { delivered: content.length, complete: true, corrupt: false, short: false });
  assert.ok(Buffer.concat(res.chunks).equals(content), 'every byte, in order');
  assert.equal(res.sizes[0], MIN_CHUNK);
  assert.equal(Math.max(...res.sizes), MiB);
  // Everything is back: the whole allowance can be taken again, and not a byte more.
  assert.ok(pool.reserveGrowth(MAX_GROWN_BYTES));
  assert.equal(pool.reserveGrowth(1), false);
});

test('with the shared allowance taken by other transfers, chunks stay at their first size', async () => {
  const pool = new BufferPool();
  assert.ok(pool.reserveGrowth(MAX_GROWN_BYTES - MIN_CHUNK)); // less than any growth needs (2 × 64 KiB)
  const { outcome, res } = await send(pool);
  assert.equal(outcome.complete, true);
  assert.ok(Buffer.concat(res.chunks).equals(content));
  assert.deepEqual([...new Set(res.sizes)], [MIN_CHUNK]);
  pool.releaseGrowth(MAX_GROWN_BYTES - MIN_CHUNK);
  assert.ok(pool.reserveGrowth(MAX_GROWN_BYTES), 'nothing left reserved by the transfer');
});
