// The small-item cache of the HTTPS server: only whole contents that match their hash are kept, for the same
// file only, within a bound on total bytes, least recently served dropped first.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { SMALL_FILE_MAX, SmallFiles } from '../../dist/daemon/http/small-files.js';

/**
 * An item of `content` at /data/HASH-NAME.
 * @param {Buffer} content
 * @param {string} [name]
 * @returns {import('../../dist/shared/item.js').Item}
 */
function itemOf(content, name = 'a.bin') {
  const hash = createHash('sha256').update(content).digest('hex');
  return {
    hash,
    basename: name,
    path: `/data/${hash}-${name}`,
    cmdline: '',
    maxAge: 0,
    shareLimit: 0,
    shareCount: 0,
    size: content.length,
    flags: 0,
    ctime: 0,
  };
}

test('a whole content that matches its hash is kept and given back, as a copy', () => {
  const files = new SmallFiles();
  const content = Buffer.from('Hello World!\n');
  const item = itemOf(content);
  assert.equal(files.get(item), undefined);
  files.put(item, content);
  content.fill(0); // the caller reuses its buffer
  assert.deepEqual(files.get(item), Buffer.from('Hello World!\n'));
});

test('content that does not match the hash, is not whole or is too big is not kept', () => {
  const files = new SmallFiles();
  const content = randomBytes(100);
  const item = itemOf(content);
  files.put(item, randomBytes(100));
  assert.equal(files.get(item), undefined, 'other bytes');
  files.put(item, content.subarray(0, 50));
  assert.equal(files.get(item), undefined, 'part of the file');
  const big = randomBytes(SMALL_FILE_MAX + 1);
  const bigItem = itemOf(big);
  files.put(bigItem, big);
  assert.equal(files.get(bigItem), undefined, 'over SMALL_FILE_MAX');
});

test('another file with the same content is not answered from the first one', () => {
  const files = new SmallFiles();
  const content = randomBytes(10);
  const item = itemOf(content);
  files.put(item, content);
  assert.equal(files.get({ ...item, path: '/srv/static/a.bin' }), undefined);
});

test('the total is bounded and the least recently served go first', () => {
  const files = new SmallFiles();
  const items = Array.from({ length: 20 }, () => {
    const content = randomBytes(SMALL_FILE_MAX);
    const item = itemOf(content);
    return { item, content };
  });
  const first = items[0];
  assert.ok(first);
  files.put(first.item, first.content);
  for (const { item, content } of items.slice(1)) {
    files.put(item, content);
    files.get(first.item); // kept in use
  }
  const kept = items.filter(({ item }) => files.get(item) !== undefined);
  assert.ok(kept.length * SMALL_FILE_MAX <= 1024 * 1024, `${kept.length} kept`);
  assert.ok(kept.includes(first), 'the one in use stays');
  assert.equal(files.get(items[1]?.item ?? first.item), undefined, 'an old one went');
});

test('prune forgets the items that went away', () => {
  const files = new SmallFiles();
  const contentA = randomBytes(20);
  const itemA = itemOf(contentA);
  const contentB = randomBytes(20);
  const itemB = itemOf(contentB);
  files.put(itemA, contentA);
  files.put(itemB, contentB);
  files.prune((hash) => hash === itemB.hash);
  assert.equal(files.get(itemA), undefined);
  assert.deepEqual(files.get(itemB), contentB);
});
