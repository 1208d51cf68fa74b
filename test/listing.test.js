// Listing a store of 20,000 items, laid down in the data folder before passimd starts: GetItems answers
// its newest GET_ITEMS_MAX, GetItemsPage pages through all of them, ItemCount counts them, the index page
// shows 100 rows and the total, and passimctl status lists the newest 50 unless asked for every one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setAttributeSync } from '@napi-rs/xattr';
import { connect, runCli, startBus, startDaemon } from './lib/harness.js';
import { call, expectDBusError, getProperty } from './lib/passim.js';
import { GET_ITEMS_MAX, ITEMS_PAGE_MAX } from '../dist/shared/api.js';

const COUNT = 20_000;
/** Item i was published at NOW - COUNT + i: the higher i, the newer. */
const NOW = Math.floor(Date.now() / 1000);

const sha256 = (/** @type {string} */ data) => createHash('sha256').update(data).digest('hex');

/** @param {number} i */
const contentOf = (i) => `item ${i}\n`;
/** @param {number} i */
const basenameOf = (i) => `item-${i}.bin`;

/**
 * The items' basenames newest first, positions `from` to `to` (exclusive), as the daemon orders them.
 * Every item has its own second, so the order is by i alone.
 * @param {number} from
 * @param {number} to
 */
function newest(from, to) {
  return Array.from({ length: Math.max(0, Math.min(to, COUNT) - from) }, (_, k) => basenameOf(COUNT - 1 - from - k));
}

/**
 * Writes COUNT items as passimd leaves them: `<sha256>-<basename>`, the modification time being the publish
 * time, with the stamp of a verified content so that the start-up scan does not hash them again.
 * @param {string} dataDir
 */
async function layDown(dataDir) {
  await mkdir(dataDir, { recursive: true });
  const BATCH = 500;
  for (let start = 0; start < COUNT; start += BATCH) {
    await Promise.all(
      Array.from({ length: Math.min(BATCH, COUNT - start) }, async (_, k) => {
        const i = start + k;
        const path = join(dataDir, `${sha256(contentOf(i))}-${basenameOf(i)}`);
        await writeFile(path, contentOf(i));
        const time = NOW - COUNT + i;
        await utimes(path, time, time);
        const size = Buffer.byteLength(contentOf(i));
        setAttributeSync(path, 'user.passim.verified', `${size}:${BigInt(time) * 1_000_000_000n}:${sha256(contentOf(i))}`);
      }),
    );
  }
}

/**
 * @param {Record<string, import('dbus-next').Variant>[]} dicts
 * @returns {string[]}
 */
const filenames = (dicts) => dicts.map((d) => String(d.filename?.value));

describe('a store of 20,000 items', () => {
  /** @type {import('./lib/harness.js').Bus} */
  let bus;
  /** @type {import('./lib/harness.js').Daemon} */
  let daemon;
  /** @type {import('dbus-next').MessageBus} */
  let client;
  /** @type {string} */
  let localStateDir;
  const agent = new Agent({ keepAlive: false });

  before(async () => {
    localStateDir = await mkdtemp(join(tmpdir(), 'passim-listing-'));
    await layDown(join(localStateDir, 'lib', 'passim', 'data'));
    bus = await startBus();
    daemon = await startDaemon(bus, { localStateDir });
    client = await connect(bus);
  });

  after(async () => {
    agent.destroy();
    client?.disconnect();
    await daemon?.cleanup();
    await bus?.stop();
    await rm(localStateDir, { recursive: true, force: true });
  });

  /**
   * GET on the daemon's loopback port.
   * @param {string} path
   * @returns {Promise<{ status: number | undefined, body: string }>}
   */
  function fetchPage(path) {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: daemon.port, path, rejectUnauthorized: false, agent }, (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  test('ItemCount counts every item', async () => {
    assert.equal(await getProperty(client, 'ItemCount'), COUNT);
  });

  test('GetItems answers the newest GET_ITEMS_MAX items, newest first', async () => {
    assert.ok(GET_ITEMS_MAX < COUNT, 'the store is over the bound');
    const [items] = await call(client, 'GetItems');
    assert.equal(items.length, GET_ITEMS_MAX);
    assert.deepEqual(filenames(items), newest(0, GET_ITEMS_MAX));
    assert.equal(items[0].hash.value, sha256(contentOf(COUNT - 1)));
  });

  test('GetItemsPage: slices at the boundaries, the end, past the end; pages follow on without gap or repeat', async () => {
    const page = async (/** @type {number} */ offset, /** @type {number} */ limit) =>
      filenames((await call(client, 'GetItemsPage', 'uu', [offset, limit]))[0]);
    assert.deepEqual(await page(0, 3), newest(0, 3));
    assert.deepEqual(await page(0, 0), []);
    assert.deepEqual(await page(COUNT - 2, 5), newest(COUNT - 2, COUNT), 'the last page is short');
    assert.deepEqual(await page(COUNT, 10), [], 'at the end');
    assert.deepEqual(await page(0xffffffff, ITEMS_PAGE_MAX), [], 'far past the end');
    const two = [...(await page(5000, ITEMS_PAGE_MAX)), ...(await page(5000 + ITEMS_PAGE_MAX, ITEMS_PAGE_MAX))];
    assert.deepEqual(two, newest(5000, 5000 + 2 * ITEMS_PAGE_MAX));
    assert.equal(new Set(two).size, two.length);
  });

  test('GetItemsPage refuses a limit over ITEMS_PAGE_MAX and other arguments than (uu)', async () => {
    const tooMany = await expectDBusError(call(client, 'GetItemsPage', 'uu', [0, ITEMS_PAGE_MAX + 1]));
    assert.equal(tooMany.type, 'org.freedesktop.DBus.Error.InvalidArgs');
    assert.match(tooMany.text, new RegExp(`at most ${ITEMS_PAGE_MAX}`));
    for (const [signature, body] of /** @type {Array<[string, unknown[]]>} */ ([
      ['', []],
      ['u', [0]],
      ['ii', [0, 10]],
      ['uus', [0, 10, 'x']],
    ])) {
      const err = await expectDBusError(call(client, 'GetItemsPage', signature, body));
      assert.equal(err.type, 'org.freedesktop.DBus.Error.InvalidArgs', signature);
    }
  });

  test('the index page shows 100 rows, the total and links; the last page the oldest; bad pages are refused', async () => {
    const first = await fetchPage('/');
    assert.equal(first.status, 200);
    assert.equal(first.body.match(/<tr/g)?.length, 101, 'a header row and 100 items');
    assert.ok(first.body.includes(`Files 1–100 of ${COUNT}, newest first. Page 1 of ${COUNT / 100}.`));
    assert.ok(first.body.includes(`<a href="/?page=2" rel="next">`));
    assert.ok(first.body.includes(`<a href="/?page=${COUNT / 100}" rel="last">`));
    assert.ok(first.body.indexOf(`>${basenameOf(COUNT - 1)}<`) < first.body.indexOf(`>${basenameOf(COUNT - 100)}<`));
    assert.ok(!first.body.includes(`>${basenameOf(COUNT - 101)}<`));

    const last = await fetchPage(`/?page=${COUNT / 100}`);
    assert.equal(last.status, 200);
    assert.equal(last.body.match(/<tr/g)?.length, 101);
    assert.ok(last.body.includes(`Files ${COUNT - 99}–${COUNT} of ${COUNT}`));
    assert.ok(last.body.includes(`>${basenameOf(0)}<`) && last.body.includes(`>${basenameOf(99)}<`));

    const past = await fetchPage(`/?page=${COUNT / 100 + 1}`);
    assert.equal(past.status, 404);
    assert.match(past.body, new RegExp(`There is no page ${COUNT / 100 + 1}; the last page is ${COUNT / 100}\\.`));
    for (const bad of ['0', '-1', 'abc', '1.5', '']) {
      assert.equal((await fetchPage(`/?page=${bad}`)).status, 400, `page=${bad}`);
    }
    assert.equal((await fetchPage('/?page=1&page=2')).status, 400);
  });

  test('passimctl status: the count and the newest 50; --all and --json with --all list every item once, newest first', async () => {
    const text = await runCli(bus, ['status']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^Items: +${COUNT}, the newest 50 below \\(--all lists every one\\)$`, 'm'));
    const listed = [...text.stdout.matchAll(/^ {2}Filename: +(\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(listed, newest(0, 50));

    const json = await runCli(bus, ['status', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.itemCount, COUNT);
    assert.deepEqual(
      doc.items.map((/** @type {{ filename: string }} */ i) => i.filename),
      newest(0, 50),
    );

    const all = await runCli(bus, ['status', '--json', '--all']);
    assert.equal(all.code, 0, all.stderr);
    const everything = JSON.parse(all.stdout);
    assert.equal(everything.itemCount, COUNT);
    assert.deepEqual(
      everything.items.map((/** @type {{ filename: string }} */ i) => i.filename),
      newest(0, COUNT),
    );
    assert.deepEqual(everything.items[0], doc.items[0], 'the same item in the same shape');

    const allText = await runCli(bus, ['status', '--all']);
    assert.equal(allText.code, 0, allText.stderr);
    assert.match(allText.stdout, new RegExp(`^Items: +${COUNT}$`, 'm'));
    assert.equal([...allText.stdout.matchAll(/^ {2}Filename: /gm)].length, COUNT);
  });
});
