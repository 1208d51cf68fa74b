// Static folders ($SYSCONFDIR/passim.d/*.conf) shared in place by a real passimd on a private system bus.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { getAttributeSync } from '@napi-rs/xattr';
import { connect, startBus, startDaemon } from './lib/harness.js';
import { waitFor } from './lib/process.js';
import { call, expectDBusError, fetchItem, getItems, getProperty, publish } from './lib/passim.js';
import { EXISTS } from './lib/dbus-errors.js';

const sha256 = (/** @type {string} */ data) => createHash('sha256').update(data).digest('hex');
/** A whole second, so that the nanosecond mtime can be put back exactly. */
const MTIME = 1_700_000_000;

/**
 * GetItems by filename.
 * @typedef {Record<string, Record<string, any>>} ItemsByName
 */

/**
 * @param {Record<string, any>[]} items
 * @returns {ItemsByName}
 */
const byName = (items) => Object.fromEntries(items.map((item) => [item.filename, item]));
/**
 * Waits until GetItems satisfies `check` (bounded: a few seconds at most).
 * @param {import('dbus-next').MessageBus} client
 * @param {(items: ItemsByName) => unknown} check
 * @param {string} what
 */
const itemsUntil = (client, check, what) =>
  waitFor(
    async () => {
      const items = byName(await getItems(client));
      return check(items) ? items : undefined;
    },
    what,
    5000,
  );

/** @type {import('./lib/harness.js').Bus} */
let bus;
/** @type {string} */
let root;
/** @type {string} */
let etc;
/** @type {string} */
let shared;
/** @type {import('./lib/harness.js').Daemon} */
let daemon;
/** @type {string | undefined} */
let reusedStateDir;
/** @type {import('dbus-next').MessageBus} */
let client;

before(async () => {
  bus = await startBus();
  root = await mkdtemp(join(tmpdir(), 'passim-static-test-'));
  etc = join(root, 'etc');
  shared = join(root, 'shared');
  await mkdir(join(etc, 'passim.d'), { recursive: true });
  await mkdir(join(shared, 'sub'), { recursive: true });
  await writeFile(join(shared, 'a.txt'), 'alpha content');
  await writeFile(join(shared, 'b.bin'), 'bravo content');
  await utimes(join(shared, 'a.txt'), MTIME, MTIME);
  await writeFile(join(shared, 'sub', 'c.txt'), 'in a subfolder');
  await symlink(join(shared, 'a.txt'), join(shared, 'link.txt'));
  await writeFile(join(etc, 'passim.d', 'shared.conf'), `[passim]\nPath=${shared}\n`);
  await writeFile(join(etc, 'passim.d', 'missing.conf'), `# a folder that is not there\n[passim]\nPath=${join(root, 'nowhere')}\n`);
  await writeFile(join(etc, 'passim.d', 'ignored.txt'), '[passim]\nPath=/\n');
  daemon = await startDaemon(bus, { sysconfDir: etc });
  client = await connect(bus);
});

after(async () => {
  client?.disconnect();
  await daemon?.cleanup();
  await bus?.stop();
  await rm(root, { recursive: true, force: true });
  if (reusedStateDir) await rm(reusedStateDir, { recursive: true, force: true });
});

describe('static folders', () => {
  test('regular files are listed without max-age or share-limit; symlinks, subfolders and non-.conf files are not', async () => {
    const items = byName(await getItems(client));
    assert.deepEqual(Object.keys(items).sort(), ['a.txt', 'b.bin']);
    const a = items['a.txt'];
    assert.equal(a.hash, sha256('alpha content'));
    assert.equal(a.size, BigInt('alpha content'.length));
    assert.equal(a.ctime, BigInt(MTIME));
    assert.deepEqual(Object.keys(a).sort(), ['ctime', 'filename', 'hash', 'size']);
  });

  test('a missing folder is a warning and the daemon keeps running', async () => {
    assert.match(daemon.output(), new RegExp(`cannot share static folder ${join(root, 'nowhere')}`));
    assert.equal(daemon.child.exitCode, null);
    assert.equal(await getProperty(client, 'Status'), 3);
  });

  test('the hash is cached in user.checksum.sha256', () => {
    assert.equal(getAttributeSync(join(shared, 'a.txt'), 'user.checksum.sha256')?.toString(), sha256('alpha content'));
    assert.equal(getAttributeSync(join(shared, 'b.bin'), 'user.checksum.sha256')?.toString(), sha256('bravo content'));
  });

  test('files are served over HTTPS, and sharing never deletes them', async () => {
    const hash = sha256('alpha content');
    for (let i = 0; i < 3; i += 1) {
      const { status, body } = await fetchItem(daemon.port, 'a.txt', hash);
      assert.equal(status, 200);
      assert.equal(body.toString(), 'alpha content');
    }
    // The share is recorded once the response has finished; wait for the count, then check nothing went.
    const items = await itemsUntil(client, (i) => i['a.txt']?.['share-count'] === 3, 'share-count 3');
    assert.ok(items['a.txt']);
    assert.equal(await readFile(join(shared, 'a.txt'), 'utf8'), 'alpha content');
  });

  test('Unpublish of a static item is refused and the file stays', async () => {
    const err = await expectDBusError(call(client, 'Unpublish', 's', [sha256('bravo content')]));
    assert.equal(err.type, 'org.freedesktop.DBus.Error.InvalidArgs');
    assert.match(err.text, /static folder/);
    assert.equal(await readFile(join(shared, 'b.bin'), 'utf8'), 'bravo content');
    assert.ok(byName(await getItems(client))['b.bin']);
  });

  test('publishing content that a static folder already shares is refused', async () => {
    const err = await expectDBusError(publish(client, join(shared, 'b.bin'), { filename: 'copy.bin' }));
    assert.equal(err.type, EXISTS);
    assert.match(err.text, /static folder/);
  });

  test('a file added to the folder appears, and goes when removed', async () => {
    await writeFile(join(shared, 'new.txt'), 'fresh');
    const items = await itemsUntil(client, (i) => i['new.txt'], 'new.txt to be listed');
    assert.equal(items['new.txt'].hash, sha256('fresh'));
    assert.equal((await fetchItem(daemon.port, 'new.txt', sha256('fresh'))).status, 200);
    await unlink(join(shared, 'new.txt'));
    await itemsUntil(client, (i) => !i['new.txt'] && i['a.txt'], 'new.txt to go');
    assert.equal((await fetchItem(daemon.port, 'new.txt', sha256('fresh'))).status, 404);
  });

  test('a new .conf file shares its folder; removing it stops sharing', async () => {
    const other = join(root, 'other');
    await mkdir(other);
    await writeFile(join(other, 'o.txt'), 'other folder');
    await writeFile(join(etc, 'passim.d', 'other.conf'), `[passim]\nPath=${other}\n`);
    await itemsUntil(client, (i) => i['o.txt']?.hash === sha256('other folder'), 'o.txt to be listed');
    await unlink(join(etc, 'passim.d', 'other.conf'));
    await itemsUntil(client, (i) => !i['o.txt'] && i['a.txt'], 'o.txt to go');
    assert.equal(await readFile(join(other, 'o.txt'), 'utf8'), 'other folder');
  });

  test('on restart the cached hash is trusted while size and mtime match, and recomputed when they do not', async () => {
    await daemon.stop();
    // Same size and mtime, other content: the documented trust model keeps the cached hash.
    await writeFile(join(shared, 'a.txt'), 'ALPHA CONTENT');
    await utimes(join(shared, 'a.txt'), MTIME, MTIME);
    // New content and a new mtime: hashed again.
    await writeFile(join(shared, 'b.bin'), 'bravo changed');
    reusedStateDir = daemon.localStateDir; // a daemon given its folders leaves them to us
    daemon = await startDaemon(bus, { sysconfDir: etc, localStateDir: reusedStateDir });
    const items = byName(await getItems(client));
    assert.equal(items['a.txt'].hash, sha256('alpha content'));
    assert.equal(items['b.bin'].hash, sha256('bravo changed'));
    assert.equal(getAttributeSync(join(shared, 'b.bin'), 'user.checksum.sha256')?.toString(), sha256('bravo changed'));
  });
});
