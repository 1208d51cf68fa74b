import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { getAttributeSync, listAttributesSync, setAttributeSync } from '@napi-rs/xattr';
import { Store } from '../dist/daemon/store/store.js';
import { parseAuditLine } from '../dist/daemon/store/audit-log.js';
import { readBootTime } from '../dist/daemon/proc.js';
import { PassimError } from '../dist/shared/errors.js';

const sha256 = (/** @type {string | Buffer} */ data) => createHash('sha256').update(data).digest('hex');
const u32 = (/** @type {number} */ n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

/**
 * A temporary root with data/ and log/audit.log paths, removed after the test.
 * @param {import('node:test').TestContext} t
 */
async function setup(t) {
  const root = await mkdtemp(join(tmpdir(), 'passim-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dataDir = join(root, 'data');
  const auditLogPath = join(root, 'log', 'passim', 'audit.log');
  /** @type {string[]} */
  const warnings = [];
  const log = {
    debug() {},
    info() {},
    warn: (/** @type {string} */ m) => warnings.push(m),
    error: (/** @type {string} */ m) => warnings.push(m),
  };
  /** @type {Store[]} */
  const opened = [];
  const open = async (maxItemSize = 100 * 1024 * 1024) => {
    const store = await Store.open({ dataDir, auditLogPath, maxItemSize, log });
    opened.push(store);
    return store;
  };
  const files = async () => (await readdir(dataDir)).sort();
  // Operations do not wait for their audit line; close() writes what is queued.
  const audit = async () => {
    for (const store of opened) await store.close();
    return (await readFile(auditLogPath, 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const entry = parseAuditLine(l);
        assert.ok(entry, `an audit line: ${l}`);
        return entry;
      });
  };
  return { root, dataDir, auditLogPath, warnings, open, files, audit };
}

/**
 * Publish options for `basename`, `extra` replacing the defaults.
 * @param {string} basename
 * @param {Partial<import('../dist/daemon/store/store.js').PublishOptions>} extra
 */
const opts = (basename, extra = {}) => ({
  basename,
  maxAge: 86400,
  shareLimit: 5,
  shareCount: 0,
  nextReboot: false,
  cmdline: 'fwupd',
  ...extra,
});

/**
 * Writes a file as the original would: content under its hash, optional xattrs, none of ours.
 * @param {string} dataDir
 * @param {string} basename
 * @param {string} content
 * @param {Record<string, Uint8Array | string>} xattrs
 */
async function writeOriginal(dataDir, basename, content, xattrs = {}) {
  const hash = sha256(content);
  const path = join(dataDir, `${hash}-${basename}`);
  await writeFile(path, content);
  for (const [name, value] of Object.entries(xattrs)) setAttributeSync(path, name, value);
  return { hash, path };
}

test('publish a small file: name, content, xattr bytes, item, audit line', async (t) => {
  const s = await setup(t);
  const store = await s.open();
  const source = join(s.root, 'firmware.cab');
  const content = Buffer.from('hello passim\n');
  await writeFile(source, content);
  let changed = 0;
  store.on('changed', () => changed++);

  const before = Math.floor(Date.now() / 1000);
  const item = await store.publish(
    createReadStream(source),
    opts('firmware.cab', { maxAge: 0x01020304, shareLimit: 7, shareCount: 2, cmdline: 'fwupdmgr' }),
  );
  const hash = sha256(content);
  const path = join(s.dataDir, `${hash}-firmware.cab`);
  assert.deepEqual(await s.files(), [`${hash}-firmware.cab`]);
  assert.deepEqual(await readFile(path), content);
  assert.equal((await stat(path)).mode & 0o777, 0o644);
  assert.deepEqual(item, {
    hash,
    basename: 'firmware.cab',
    path,
    cmdline: 'fwupdmgr',
    maxAge: 0x01020304,
    shareLimit: 7,
    shareCount: 2,
    size: content.length,
    flags: 0,
    ctime: item.ctime,
  });
  assert.ok(item.ctime >= before && item.ctime <= Math.floor(Date.now() / 1000));
  assert.deepEqual(store.get(hash), item);
  assert.deepEqual(store.page(0, store.size), [item]);
  assert.equal(changed, 1);

  // The original's attributes, byte for byte: u32 little-endian and a string without NUL.
  assert.deepEqual(getAttributeSync(path, 'user.max_age'), Buffer.from([0x04, 0x03, 0x02, 0x01]));
  assert.deepEqual(getAttributeSync(path, 'user.share_limit'), Buffer.from([7, 0, 0, 0]));
  assert.deepEqual(getAttributeSync(path, 'user.cmdline'), Buffer.from('fwupdmgr'));
  assert.deepEqual(getAttributeSync(path, 'user.share_count'), Buffer.from([2, 0, 0, 0]));
  assert.equal(getAttributeSync(path, 'user.boot_time'), null);
  const st = await stat(path, { bigint: true });
  assert.equal(getAttributeSync(path, 'user.passim.verified')?.toString(), `${st.size}:${st.mtimeNs}:${hash}`);

  const [entry] = await s.audit();
  assert.equal(entry.type, 'PBLSH');
  assert.deepEqual(Object.fromEntries(entry.fields), { hash, basename: 'firmware.cab', size: String(content.length), cmdline: 'fwupdmgr' });
});

test('publish an empty file from Readable.from', async (t) => {
  const s = await setup(t);
  const store = await s.open();
  const item = await store.publish(Readable.from([]), opts('empty.txt', { cmdline: '' }));
  const hash = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  assert.equal(item.hash, hash);
  assert.equal(item.size, 0);
  assert.deepEqual(await s.files(), [`${hash}-empty.txt`]);
  // An empty cmdline is not written: the original cannot load a zero-length string xattr.
  assert.equal(getAttributeSync(item.path, 'user.cmdline'), null);
  // Strings and Uint8Array chunks are bytes too.
  const item2 = await store.publish(Readable.from(['ab', new Uint8Array([0x63])]), opts('abc'));
  assert.equal(item2.hash, sha256('abc'));
});

test('every refusal leaves no file behind', async (t) => {
  const s = await setup(t);
  const store = await s.open();
  const refusals = [
    opts(''),
    opts('.'),
    opts('..'),
    opts('a/b'),
    opts('a\nb'),
    opts('tab\there'),
    opts('del\x7f'),
    opts('x'.repeat(191)),
    opts('ok', { shareLimit: 0 }),
    opts('ok', { shareCount: 5, shareLimit: 5 }),
    opts('ok', { shareCount: 6, shareLimit: 5 }),
    opts('ok', { maxAge: -1 }),
    opts('ok', { maxAge: 1.5 }),
    opts('ok', { shareLimit: 2 ** 32 }),
  ];
  for (const o of refusals) {
    const source = Readable.from([Buffer.from('data')]);
    await assert.rejects(store.publish(source, o), (err) => {
      assert.ok(err instanceof PassimError);
      assert.equal(err.kind, 'invalid-argument', JSON.stringify(o));
      assert.ok(err.message.length > 10);
      return true;
    });
    assert.ok(source.destroyed, 'the source is released');
  }
  assert.deepEqual(await s.files(), []);
  assert.deepEqual(store.page(0, store.size), []);
  // The longest basename that still fits NAME_MAX works.
  await store.publish(Readable.from([Buffer.from('data')]), opts('x'.repeat(190)));
});

test('too large: nothing is kept and the error names the limit', async (t) => {
  const s = await setup(t);
  const store = await s.open(1000);
  let pulled = 0;
  // An endless source: the store must stop reading it.
  const endless = new Readable({
    read() {
      pulled += 1;
      this.push(Buffer.alloc(256, 1));
    },
  });
  await assert.rejects(store.publish(endless, opts('big.bin')), (err) => {
    assert.ok(err instanceof PassimError);
    assert.equal(err.kind, 'too-large');
    assert.match(err.message, /maximum item size of 1000 bytes \(MaxItemSize\)/);
    return true;
  });
  assert.ok(endless.destroyed);
  assert.ok(pulled < 100);
  assert.deepEqual(await s.files(), []);
  // Exactly the limit is fine.
  const item = await store.publish(Readable.from([Buffer.alloc(1000, 2)]), opts('fits.bin'));
  assert.equal(item.size, 1000);
});

test('bytes already read (a small file) are stored as a stream would be, under the same limits', async (t) => {
  const s = await setup(t);
  const store = await s.open(1000);
  const content = Buffer.from('read at once\n');
  const item = await store.publish(content, opts('small.txt', { cmdline: 'passimctl' }));
  const hash = sha256(content);
  assert.equal(item.hash, hash);
  assert.equal(item.size, content.length);
  assert.deepEqual(await s.files(), [`${hash}-small.txt`]);
  assert.deepEqual(await readFile(item.path), content);
  assert.deepEqual(getAttributeSync(item.path, 'user.cmdline'), Buffer.from('passimctl'));
  const st = await stat(item.path, { bigint: true });
  assert.equal(getAttributeSync(item.path, 'user.passim.verified')?.toString(), `${st.size}:${st.mtimeNs}:${hash}`);
  assert.equal(item.ctime, Number(st.mtimeNs / 1_000_000_000n));

  await assert.rejects(store.publish(Buffer.alloc(1001, 3), opts('big.bin')), { kind: 'too-large' });
  await assert.rejects(store.publish(Buffer.from(content), opts('again.txt')), { kind: 'exists' });
  await assert.rejects(store.publish(Buffer.from('x'), opts('a/b')), { kind: 'invalid-argument' });
  assert.deepEqual(await s.files(), [`${hash}-small.txt`]);
});

test('a source that fails leaves nothing', async (t) => {
  const s = await setup(t);
  const store = await s.open();
  async function* failing() {
    yield Buffer.from('partial data');
    throw new Error('the fd went away');
  }
  await assert.rejects(store.publish(Readable.from(failing()), opts('broken')), (err) => {
    assert.ok(err instanceof PassimError);
    assert.equal(err.kind, 'invalid-argument');
    assert.match(err.message, /the fd went away/);
    return true;
  });
  // A directory fd cannot be read either.
  await assert.rejects(store.publish(createReadStream(s.root), opts('dir')), { kind: 'invalid-argument' });
  assert.deepEqual(await s.files(), []);
});

test('a full disk leaves nothing', async (t) => {
  const s = await setup(t);
  const small = join(s.root, 'small');
  await mkdir(small);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'passim-test', small]);
  // Unmounted in the test itself: after-hooks run in registration order, and the folder removal comes first.
  try {
    const store = await Store.open({
      dataDir: join(small, 'data'),
      auditLogPath: s.auditLogPath,
      maxItemSize: 1 << 30,
      log: { debug() {}, info() {}, warn() {}, error() {} },
    });
    await assert.rejects(store.publish(Readable.from([Buffer.alloc(1 << 20)]), opts('huge')), (err) => {
      assert.ok(err instanceof PassimError);
      assert.equal(err.kind, 'internal');
      assert.match(err.message, /Cannot store the file: .*no space/i);
      return true;
    });
    assert.deepEqual(await readdir(join(small, 'data')), []);
  } finally {
    execFileSync('umount', [small]);
  }
});

test('duplicate hash is refused, also for two concurrent publishes', async (t) => {
  const s = await setup(t);
  const store = await s.open();
  const item = await store.publish(Readable.from([Buffer.from('same')]), opts('one'));
  await assert.rejects(store.publish(Readable.from([Buffer.from('same')]), opts('two')), (err) => {
    assert.ok(err instanceof PassimError);
    assert.equal(err.kind, 'exists');
    assert.ok(err.message.includes(item.hash));
    return true;
  });
  assert.deepEqual(await s.files(), [`${item.hash}-one`]);

  const results = await Promise.allSettled([
    store.publish(Readable.from([Buffer.from('race')]), opts('a')),
    store.publish(Readable.from([Buffer.from('race')]), opts('b')),
  ]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.equal(results.find((r) => r.status === 'rejected')?.reason.kind, 'exists');
  assert.equal((await s.files()).filter((f) => f.startsWith(sha256('race'))).length, 1);
  assert.equal((await s.files()).length, 2);
});

test('unpublish removes file and item; unknown hash is not-found naming it', async (t) => {
  const s = await setup(t);
  const store = await s.open();
  const item = await store.publish(Readable.from([Buffer.from('bye')]), opts('bye.txt'));
  let changed = 0;
  store.on('changed', () => changed++);
  assert.deepEqual(await store.unpublish(item.hash), item);
  assert.equal(changed, 1);
  assert.deepEqual(await s.files(), []);
  assert.equal(store.get(item.hash), undefined);
  await assert.rejects(store.unpublish(item.hash), (err) => {
    assert.ok(err instanceof PassimError);
    assert.equal(err.kind, 'not-found');
    assert.ok(err.message.includes(item.hash));
    return true;
  });
  const last = (await s.audit()).at(-1);
  assert.ok(last);
  assert.equal(last.type, 'DELTE');
  assert.equal(last.fields.get('hash'), item.hash);
  assert.equal(last.fields.get('size'), '3');
});

test('reopen: items, attributes, share-count and savings survive', async (t) => {
  const s = await setup(t);
  const store = await s.open();
  const item = await store.publish(
    Readable.from([Buffer.alloc(4096, 7)]),
    opts('keep.bin', { maxAge: 5000, shareLimit: 3, cmdline: 'gnome-software' }),
  );
  await store.recordShare(item.hash, '192.168.1.20');
  assert.equal(store.downloadSaving, 4096);

  const again = await s.open();
  assert.deepEqual(again.page(0, again.size), [{ ...item, shareCount: 1 }]);
  assert.equal(again.downloadSaving, 4096);
  assert.deepEqual(s.warnings, []);
});

test('a store written by the original loads, with defaults for missing xattrs', async (t) => {
  const s = await setup(t);
  await mkdir(s.dataDir, { recursive: true });
  const a = await writeOriginal(s.dataDir, 'a.cab', 'content a', {
    'user.max_age': u32(600),
    'user.share_limit': u32(2),
    'user.cmdline': 'fwupd',
  });
  const b = await writeOriginal(s.dataDir, 'b with spaces.cab', 'content b');
  await utimes(b.path, 2000000000, 2000000000);
  const store = await s.open();
  assert.deepEqual(store.get(a.hash), {
    hash: a.hash,
    basename: 'a.cab',
    path: a.path,
    cmdline: 'fwupd',
    maxAge: 600,
    shareLimit: 2,
    shareCount: 0,
    size: 9,
    flags: 0,
    ctime: Math.floor((await stat(a.path)).mtimeMs / 1000),
  });
  const itemB = store.get(b.hash);
  assert.ok(itemB);
  assert.equal(itemB.maxAge, 86400);
  assert.equal(itemB.shareLimit, 5);
  assert.equal(itemB.cmdline, '');
  assert.equal(itemB.ctime, 2000000000, 'ctime is the file modification time');
  assert.equal(store.page(0, store.size).length, 2);
  // Loading adds only our verification cache, and leaves the original's attributes alone.
  assert.deepEqual(listAttributesSync(b.path), ['user.passim.verified']);
});

test('malformed xattr, junk names, symlink, fifo and folder are skipped; the store keeps running', async (t) => {
  const s = await setup(t);
  await mkdir(s.dataDir, { recursive: true });
  const good = await writeOriginal(s.dataDir, 'good', 'good');
  const bad = await writeOriginal(s.dataDir, 'bad', 'bad', { 'user.max_age': Buffer.from([1, 2, 3]) });
  const badCount = await writeOriginal(s.dataDir, 'badcount', 'badcount', { 'user.share_count': Buffer.alloc(8) });
  const outside = join(s.root, 'outside');
  await writeFile(outside, 'outside');
  await symlink(outside, join(s.dataDir, `${sha256('outside')}-link`));
  execFileSync('mkfifo', [join(s.dataDir, `${sha256('fifo')}-fifo`)]);
  await mkdir(join(s.dataDir, `${sha256('dir')}-dir`));
  await writeFile(join(s.dataDir, 'README'), 'not an item');
  await writeFile(join(s.dataDir, `${'A'.repeat(64)}-upper`), 'x');

  const store = await s.open();
  assert.deepEqual(
    store.page(0, store.size).map((i) => i.basename),
    ['good'],
  );
  assert.equal(store.get(bad.hash), undefined);
  assert.equal(store.get(badCount.hash), undefined);
  assert.ok(s.warnings.some((w) => w.includes(bad.path) && w.includes('user.max_age')));
  assert.ok(s.warnings.some((w) => w.includes(`${sha256('fifo')}-fifo`) && w.includes('not a regular file')));
  assert.ok(s.warnings.some((w) => w.includes(`${sha256('outside')}-link`)));
  assert.equal(getAttributeSync(outside, 'user.passim.verified'), null, 'nothing written through the symlink');
  // Skipped files are left where they are, and the store still works.
  assert.equal((await readdir(s.dataDir)).length, 8);
  assert.ok(store.get(good.hash));
  await store.publish(Readable.from([Buffer.from('more')]), opts('more'));
});

test('content that does not match its name is never loaded, and stays on disk', async (t) => {
  const s = await setup(t);
  await mkdir(s.dataDir, { recursive: true });
  const wrongHash = sha256('what the name claims');
  const path = join(s.dataDir, `${wrongHash}-evil.cab`);
  await writeFile(path, 'something else');
  const store = await s.open();
  assert.equal(store.get(wrongHash), undefined);
  assert.deepEqual(store.page(0, store.size), []);
  assert.ok(s.warnings.some((w) => w.includes(path)));
  assert.equal(await readFile(path, 'utf8'), 'something else');
  assert.equal(getAttributeSync(path, 'user.passim.verified'), null);
});

test('the verification cache is trusted while size and mtime match, and only then', async (t) => {
  const s = await setup(t);
  await mkdir(s.dataDir, { recursive: true });
  const { hash, path } = await writeOriginal(s.dataDir, 'cached.bin', 'original content');
  const mtime = Math.floor(Date.now() / 1000) - 60;
  await utimes(path, mtime, mtime);

  const first = await s.open();
  assert.ok(first.get(hash));
  assert.equal(getAttributeSync(path, 'user.passim.verified')?.toString(), `16:${BigInt(mtime) * 1_000_000_000n}:${hash}`);

  // Same size, same mtime, different bytes: a second open does not re-hash, so it still loads.
  await writeFile(path, 'TAMPERED content');
  await utimes(path, mtime, mtime);
  const second = await s.open();
  assert.ok(second.get(hash), 'the cached verification was trusted');

  // A different mtime invalidates the cache: the content is hashed again and rejected.
  await utimes(path, mtime + 1, mtime + 1);
  const third = await s.open();
  assert.equal(third.get(hash), undefined);
});

test('next-reboot: disabled during this boot, enabled after a reboot', async (t) => {
  const s = await setup(t);
  const store = await s.open();
  const item = await store.publish(Readable.from([Buffer.from('later')]), opts('later.cab', { nextReboot: true }));
  assert.equal(item.flags, 3);
  const bootTime = await readBootTime();
  assert.match(bootTime, /^\d+$/);
  assert.equal(getAttributeSync(item.path, 'user.boot_time')?.toString(), bootTime);

  const sameBoot = await s.open();
  assert.equal(sameBoot.get(item.hash)?.flags, 3);

  // As if the machine had rebooted since.
  setAttributeSync(item.path, 'user.boot_time', String(Number(bootTime) - 1000));
  const rebooted = await s.open();
  assert.equal(rebooted.get(item.hash)?.flags, 0);
  assert.equal(getAttributeSync(item.path, 'user.boot_time'), null);
  assert.equal((await s.open()).get(item.hash)?.flags, 0);
});

test("expiry: at open, by itself at each item's time, and by expire()", async (t) => {
  const s = await setup(t);
  await mkdir(s.dataDir, { recursive: true });
  const old = await writeOriginal(s.dataDir, 'old', 'old', { 'user.max_age': u32(10) });
  const past = Math.floor(Date.now() / 1000) - 100;
  await utimes(old.path, past, past);
  const store = await s.open();
  assert.equal(store.get(old.hash), undefined);
  assert.deepEqual(await s.files(), []);

  /** @type {string[]} */
  const removed = [];
  store.on('changed', (change, hashes) => {
    if (change === 'removed') removed.push(...hashes);
  });
  const second = await store.publish(Readable.from([Buffer.from('two seconds')]), opts('second', { maxAge: 2 }));
  const first = await store.publish(Readable.from([Buffer.from('one second')]), opts('first', { maxAge: 1 }));
  const keep = await store.publish(Readable.from([Buffer.from('long')]), opts('long'));
  // Nobody calls expire(): the store deletes each item once its second is over, first the one due first.
  const deadline = Date.now() + 6000;
  while (removed.length < 2 && Date.now() < deadline) await sleep(50);
  assert.deepEqual(removed, [first.hash, second.hash]);
  assert.deepEqual(await s.files(), [`${keep.hash}-long`]);
  assert.equal(await store.expire(), 0, 'nothing left to expire');

  // close() stops the timer, so expire() finds the item due.
  const late = await store.publish(Readable.from([Buffer.from('late')]), opts('late', { maxAge: 1 }));
  await store.close();
  await sleep(2100);
  assert.ok(store.get(late.hash), 'not expired without the timer');
  assert.equal(await store.expire(), 1);
  assert.equal(store.get(late.hash), undefined);
  const deletions = (await s.audit()).filter((e) => e.type === 'DELTE');
  assert.deepEqual(
    deletions.map((e) => [e.fields.get('hash'), e.fields.get('reason')]),
    [
      [old.hash, 'expired'],
      [first.hash, 'expired'],
      [second.hash, 'expired'],
      [late.hash, 'expired'],
    ],
  );
});

test('recordShare counts, logs and deletes at the share-limit', async (t) => {
  const s = await setup(t);
  const store = await s.open();
  const item = await store.publish(Readable.from([Buffer.alloc(100)]), opts('twice', { shareLimit: 2 }));
  let changed = 0;
  store.on('changed', () => changed++);
  await store.recordShare(item.hash, '10.0.0.5');
  assert.equal(store.get(item.hash)?.shareCount, 1);
  // The count is written in the background; close() waits for it.
  await store.close();
  assert.deepEqual(getAttributeSync(item.path, 'user.share_count'), u32(1));
  await store.recordShare(item.hash, 'fe80::1');
  assert.equal(store.get(item.hash), undefined);
  assert.deepEqual(await s.files(), []);
  assert.equal(store.downloadSaving, 200);
  assert.ok(changed >= 2);
  const entries = (await s.audit()).map((e) => [e.type, e.fields.get('ipaddr') ?? e.fields.get('reason')]);
  assert.deepEqual(entries, [
    ['PBLSH', undefined],
    ['SHARE', '10.0.0.5'],
    ['SHARE', 'fe80::1'],
    ['DELTE', 'share-limit'],
  ]);
  await assert.rejects(store.recordShare(item.hash, '10.0.0.5'), { kind: 'not-found' });
  assert.equal((await s.open()).downloadSaving, 200);
});

test('stale temporary files are removed at open', async (t) => {
  const s = await setup(t);
  await mkdir(s.dataDir, { recursive: true });
  await writeFile(join(s.dataDir, '.passim-tmp-1234'), 'left over from a crash');
  const kept = await writeOriginal(s.dataDir, 'kept', 'kept');
  const store = await s.open();
  assert.deepEqual(await s.files(), [`${kept.hash}-kept`]);
  assert.ok(store.get(kept.hash));
});

test('a large folder: open() answers after the listing, items show as they are checked, a corrupt one is skipped', async (t) => {
  const s = await setup(t);
  await mkdir(s.dataDir, { recursive: true });
  /** @type {string[]} */
  const hashes = [];
  for (let i = 0; i < 5000; i++) hashes.push((await writeOriginal(s.dataDir, `f${i}.bin`, `content ${i}`)).hash);
  const corrupt = sha256('what the name claims');
  await writeFile(join(s.dataDir, `${corrupt}-corrupt.bin`), 'something else');
  /** @type {string[]} */
  const added = [];
  const store = await Store.open({
    dataDir: s.dataDir,
    auditLogPath: s.auditLogPath,
    maxItemSize: 1 << 20,
    log: { debug() {}, info() {}, warn: (m) => s.warnings.push(m), error: (m) => s.warnings.push(m) },
    loadInBackgroundAbove: 0,
  });
  store.on('changed', (change, list) => {
    if (change === 'added') added.push(...list);
  });
  // None of these files had a verified stamp: each is hashed before it is served, so loading takes a while.
  assert.ok(store.size < 5000, `answering before everything is checked (${store.size} visible)`);
  assert.equal(store.has(corrupt), false);
  await store.loaded;
  assert.equal(store.size, 5000);
  for (const hash of hashes) assert.ok(store.has(hash));
  assert.equal(store.get(corrupt), undefined);
  assert.ok(s.warnings.some((w) => w.includes(`${corrupt}-corrupt.bin`)));
  assert.equal(new Set(added).size, added.length, 'each item announced once');
  assert.ok(added.length > 0 && added.length <= 5000);
  assert.equal(store.page(0, 10).length, 10);
  await store.close();
});

test('a folder checked partly with blocking calls, partly on the thread pool: every file as if checked alone', async (t) => {
  const s = await setup(t);
  await mkdir(s.dataDir, { recursive: true });
  const bootTime = await readBootTime();
  /** @type {{ hash: string, path: string, item: Record<string, unknown> | undefined }[]} */
  const files = [];
  // Enough files that loading checks some with blocking calls and has others' attributes read in the pool;
  // all stamped as verified, as a daemon that ran before leaves them, so that none waits for hashing.
  for (let i = 0; i < 300; i++) {
    const malformed = i % 37 === 5;
    const nextReboot = i % 50 === 7;
    /** @type {Record<string, Uint8Array | string>} */
    const xattrs = { 'user.max_age': malformed ? Buffer.from([1, 2, 3]) : u32(86400 + i), 'user.share_limit': u32(i % 7) };
    if (i % 3 !== 0) xattrs['user.cmdline'] = `tool-${i}`;
    if (i % 2 === 0) xattrs['user.share_count'] = u32(i % 5);
    if (nextReboot) xattrs['user.boot_time'] = bootTime;
    const { hash, path } = await writeOriginal(s.dataDir, `f${i}.bin`, `content ${i}`, xattrs);
    const st = await stat(path, { bigint: true });
    setAttributeSync(path, 'user.passim.verified', `${st.size}:${st.mtimeNs}:${hash}`);
    const item = malformed
      ? undefined
      : {
          size: Number(st.size),
          ctime: Number(st.mtimeNs / 1_000_000_000n),
          maxAge: 86400 + i,
          shareLimit: i % 7,
          shareCount: i % 2 === 0 ? i % 5 : 0,
          flags: nextReboot ? 3 : 0,
          cmdline: i % 3 !== 0 ? `tool-${i}` : '',
        };
    files.push({ hash, path, item });
  }
  const store = await s.open();
  await store.loaded;
  for (const { hash, path, item } of files) {
    if (item === undefined) {
      assert.equal(store.get(hash), undefined);
      assert.ok(
        s.warnings.some((w) => w.includes(path) && w.includes('user.max_age is 3 bytes long')),
        `a warning for ${path}`,
      );
      continue;
    }
    const loaded = store.get(hash);
    assert.ok(loaded, `${path} loaded`);
    const { size, ctime, maxAge, shareLimit, shareCount, flags, cmdline } = loaded;
    assert.deepEqual({ size, ctime, maxAge, shareLimit, shareCount, flags, cmdline }, item, path);
  }
  assert.equal(s.warnings.length, files.filter((f) => f.item === undefined).length, s.warnings.join('\n'));
  assert.equal(store.size, files.filter((f) => f.item !== undefined).length);
});

test('publish does not wait for the audit log; close() writes every line, in order', async (t) => {
  const s = await setup(t);
  await mkdir(join(s.root, 'log', 'passim'), { recursive: true });
  const store = await s.open();
  // Opening a FIFO for writing blocks until someone reads it: the audit log cannot be written yet.
  execFileSync('mkfifo', [s.auditLogPath]);
  /** @type {string[]} */
  const published = [];
  for (let i = 0; i < 20; i++) published.push((await store.publish(Readable.from([Buffer.from(`audit ${i}`)]), opts(`a${i}`))).hash);
  // A reader that also holds the FIFO open for writing, so it never sees an end between the log's writes.
  const fifo = await open(s.auditLogPath, 'r+');
  const closing = store.close();
  let text = '';
  const buffer = Buffer.alloc(65536);
  while (text.split('\n').length <= published.length) {
    const { bytesRead } = await fifo.read(buffer, 0, buffer.length);
    text += buffer.toString('utf8', 0, bytesRead);
  }
  await closing;
  await fifo.close();
  const lines = text.split('\n').filter((l) => l !== '');
  assert.deepEqual(
    lines.map((l) => parseAuditLine(l)?.fields.get('hash')),
    published,
  );
});

test('index snapshot: used while the folder is unchanged, a file written since is checked in full, a damaged or stale one is ignored', async (t) => {
  const s = await setup(t);
  const snapshotPath = join(s.root, 'index.bin');
  const open = () => Store.open({ dataDir: s.dataDir, auditLogPath: s.auditLogPath, maxItemSize: 1 << 20, log: silent(s), snapshotPath });
  const first = await open();
  const kept = await first.publish(Readable.from([Buffer.from('kept')]), opts('kept.cab', { shareLimit: 7 }));
  const changed = await first.publish(Readable.from([Buffer.from('changed')]), opts('changed.cab'));
  const later = await first.publish(Readable.from([Buffer.from('later')]), opts('later.cab', { nextReboot: true }));
  await first.close();
  assert.ok((await stat(snapshotPath)).size > 0, 'written at close');

  // An attribute written while the daemon was stopped moves only the file's ctime, not the folder's mtime.
  setAttributeSync(changed.path, 'user.max_age', u32(1234));
  s.warnings.length = 0;
  const second = await open();
  assert.ok(
    s.warnings.some((w) => w.startsWith('debug: took 3 items')),
    'taken from the snapshot',
  );
  assert.equal(second.get(kept.hash)?.shareLimit, 7);
  assert.equal(second.get(changed.hash)?.maxAge, 1234, 'read from the file, not the snapshot');
  assert.equal(second.get(later.hash)?.flags, 3);
  assert.equal(second.size, 3);
  await second.close();

  // A file replaced by a symlink under the same name: the rename changes the folder, so everything is listed again.
  await writeFile(join(s.root, 'elsewhere'), 'kept');
  await symlink(join(s.root, 'elsewhere'), join(s.dataDir, 'swap'));
  await rename(join(s.dataDir, 'swap'), kept.path);
  s.warnings.length = 0;
  const third = await open();
  assert.ok(!s.warnings.some((w) => w.startsWith('debug: took')), 'listed, not taken from the snapshot');
  assert.equal(third.has(kept.hash), false);
  assert.equal(third.size, 2);
  await third.close();

  // Damaged: ignored with a warning, the folder is listed.
  const bytes = await readFile(snapshotPath);
  await writeFile(snapshotPath, bytes.subarray(0, bytes.length - 10));
  s.warnings.length = 0;
  const fourth = await open();
  assert.ok(s.warnings.some((w) => !w.startsWith('debug') && w.includes('not using the index snapshot')));
  assert.equal(fourth.size, 2);
  await fourth.close();
});

/** @param {{ warnings: string[] }} s */
function silent(s) {
  return {
    debug: (/** @type {string} */ m) => s.warnings.push(`debug: ${m}`),
    info() {},
    warn: (/** @type {string} */ m) => s.warnings.push(m),
    error: (/** @type {string} */ m) => s.warnings.push(m),
  };
}
