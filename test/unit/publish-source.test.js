// What Publish reads from the descriptor it is passed (src/daemon/store/publish-source.ts): a small regular
// file at once, a larger one or one that grows as a stream, from the descriptor's offset either way.
import assert from 'node:assert/strict';
import { fstatSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { SMALL_FILE_BYTES, openPublishSource } from '../../dist/daemon/store/publish-source.js';

/** @param {Buffer | Readable} source */
async function contentOf(source) {
  if (Buffer.isBuffer(source)) return source;
  const chunks = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Whether `fd` is still open in this process. @param {number} fd */
function isOpen(fd) {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** @param {import('node:test').TestContext} t */
async function scratch(t) {
  const dir = await mkdtemp(join(tmpdir(), 'passim-publish-source-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a small regular file is read at once, from the descriptor offset, and its descriptor closed', async (t) => {
  const path = join(await scratch(t), 'small.bin');
  writeFileSync(path, 'header:the content');
  const fd = openSync(path, 'r');
  readSync(fd, Buffer.alloc(7), 0, 7, null);
  const source = openPublishSource(fd);
  assert.ok(Buffer.isBuffer(source));
  assert.equal(source.toString(), 'the content');
  assert.equal(isOpen(fd), false);
});

test('a file over the bound is a stream', async (t) => {
  const path = join(await scratch(t), 'large.bin');
  const content = Buffer.alloc(SMALL_FILE_BYTES + 1, 7);
  writeFileSync(path, content);
  const source = openPublishSource(openSync(path, 'r'));
  assert.ok(source instanceof Readable);
  assert.deepEqual(await contentOf(source), content);
});

test('a file with more content than its size says goes on as a stream after what was read', async () => {
  // The kernel gives /proc files a size of 0.
  const expected = readFileSync('/proc/self/cmdline');
  assert.ok(expected.length > 1);
  const fd = openSync('/proc/self/cmdline', 'r');
  assert.equal(fstatSync(fd).size, 0);
  const source = openPublishSource(fd);
  assert.ok(source instanceof Readable);
  assert.deepEqual(await contentOf(source), expected);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(isOpen(fd), false);
});

test('such a stream destroyed before its first read still closes the descriptor', async () => {
  const fd = openSync('/proc/self/cmdline', 'r');
  const source = openPublishSource(fd);
  assert.ok(source instanceof Readable);
  source.destroy();
  await new Promise((resolve) => source.once('close', resolve));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(isOpen(fd), false);
});

test('a descriptor that cannot be read is refused as invalid-argument and closed', async (t) => {
  const path = join(await scratch(t), 'write-only.bin');
  writeFileSync(path, 'content');
  const fd = openSync(path, 'w'); // truncates: written again below, so that there is something to read
  writeFileSync(path, 'content');
  assert.throws(
    () => openPublishSource(fd),
    (err) => {
      assert.equal(/** @type {{ kind?: string }} */ (err).kind, 'invalid-argument');
      assert.match(String(/** @type {Error} */ (err).message), /Cannot read the file to publish/);
      return true;
    },
  );
  assert.equal(isOpen(fd), false);
});
