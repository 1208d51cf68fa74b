// The index page's paging without a server: which page a query asks for (and the status of each bad one),
// the slice of a store each page shows, and the position and links a page of several carries.
import '../lib/english.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';

const { INDEX_PAGE_ROWS, indexListing, parseIndexQuery } = await import('../../dist/daemon/http/index-page.js');
const { indexPage } = await import('../../dist/daemon/http/pages.js');
const { PassimError } = await import('../../dist/shared/errors.js');

/**
 * A stand-in store of `count` items; item i is the i-th newest (page() hands out positions, as the store's
 * order does). It records the pages asked for, so that a test can tell no request read more than a page.
 * @param {number} count
 */
function fakeStore(count) {
  /** @type {Array<[number, number]>} */
  const asked = [];
  return {
    asked,
    size: count,
    /**
     * @param {number} offset
     * @param {number} limit
     */
    page(offset, limit) {
      asked.push([offset, limit]);
      const end = Math.min(count, offset + limit);
      return Array.from({ length: Math.max(0, end - offset) }, (_, i) => item(offset + i));
    },
  };
}

/**
 * @param {number} position
 * @returns {import('../../dist/shared/item.js').Item}
 */
function item(position) {
  const hash = position.toString(16).padStart(64, '0');
  return {
    hash,
    basename: `item-${position}.bin`,
    path: `/var/lib/passim/data/${hash}-item-${position}.bin`,
    cmdline: 'fwupd',
    maxAge: 86400,
    shareLimit: 5,
    shareCount: 0,
    size: 10,
    flags: 0,
    ctime: 1_000_000 - position,
  };
}

/**
 * Asserts that `fn` throws a PassimError of `kind` and HTTP `status`.
 * @param {() => unknown} fn
 * @param {import('../../dist/shared/errors.js').ErrorKind} kind
 * @param {number} status
 * @param {string} label
 */
function throwsKind(fn, kind, status, label) {
  assert.throws(fn, (err) => err instanceof PassimError && err.kind === kind && err.httpStatus === status, label);
}

test('parseIndexQuery: no page is the first; page=N is N; other keys are ignored', () => {
  /** @type {Array<[string, number]>} */
  const cases = [
    ['', 1],
    ['page=1', 1],
    ['page=2', 2],
    ['page=10', 10],
    ['page=999999999', 999_999_999],
    ['x=1&page=7&y', 7],
    ['sha256=abc&page=3', 3],
    ['pag%65=4', 4],
    ['page=%35', 5],
    ['other=page%3D9', 1],
  ];
  for (const [query, page] of cases) assert.equal(parseIndexQuery(query), page, JSON.stringify(query));
});

test('parseIndexQuery: anything but a page number, or page twice, is a bad request (400)', () => {
  const bad = [
    'page',
    'page=',
    'page=0',
    'page=00',
    'page=01',
    'page=-1',
    'page=+1',
    'page=1.0',
    'page=1e3',
    'page=0x10',
    'page=%201',
    'page=1%20',
    'page=%EF%BC%91', // a full-width digit one
    'page=1000000000', // ten digits: past any store's last page
    'page=99999999999999999999',
    'page=NaN',
    'page=Infinity',
    'page=one',
    'page=1&page=1',
    'page=1&page=2',
    'page=%zz',
  ];
  for (const query of bad) throwsKind(() => parseIndexQuery(query), 'bad-request', 400, JSON.stringify(query));
});

test('indexListing: each page holds its slice of the store, newest first, and reads no more than that', () => {
  const total = 3 * INDEX_PAGE_ROWS + 1;
  const store = fakeStore(total);
  /** @type {Array<[number, number, number]>} page, first position, rows */
  const pages = [
    [1, 0, INDEX_PAGE_ROWS],
    [2, INDEX_PAGE_ROWS, INDEX_PAGE_ROWS],
    [3, 2 * INDEX_PAGE_ROWS, INDEX_PAGE_ROWS],
    [4, 3 * INDEX_PAGE_ROWS, 1],
  ];
  for (const [page, first, rows] of pages) {
    const listing = indexListing(store, page);
    assert.equal(listing.page, page);
    assert.equal(listing.pageCount, 4);
    assert.equal(listing.total, total);
    assert.equal(listing.offset, first);
    assert.deepEqual(
      listing.items.map((i) => i.basename),
      Array.from({ length: rows }, (_, i) => `item-${first + i}.bin`),
      `page ${page}`,
    );
  }
  assert.deepEqual(
    store.asked,
    pages.map(([, first]) => [first, INDEX_PAGE_ROWS]),
  );
});

test('indexListing: page counts at the boundaries; a page past the last is not found (404)', () => {
  /** @type {Array<[number, number]>} items, pages */
  const cases = [
    [0, 1],
    [1, 1],
    [INDEX_PAGE_ROWS - 1, 1],
    [INDEX_PAGE_ROWS, 1],
    [INDEX_PAGE_ROWS + 1, 2],
    [2 * INDEX_PAGE_ROWS, 2],
    [1_000_000, 1_000_000 / INDEX_PAGE_ROWS],
  ];
  for (const [count, pageCount] of cases) {
    const store = fakeStore(count);
    assert.equal(indexListing(store, pageCount).pageCount, pageCount, `${count} items`);
    throwsKind(() => indexListing(store, pageCount + 1), 'not-found', 404, `${count} items, page ${pageCount + 1}`);
  }
  assert.deepEqual(indexListing(fakeStore(0), 1).items, [], 'an empty store has one, empty, page');
});

test('indexPage of a store of several pages: position, page count and links to the pages around', () => {
  const store = fakeStore(3 * INDEX_PAGE_ROWS + 1);
  const first = indexPage('host', indexListing(store, 1), 1_000_000);
  assert.ok(first.includes('<p>Files 1–100 of 301, newest first. Page 1 of 4.</p>'), first.slice(0, 600));
  const firstLinks = '<nav><a href="/?page=2" rel="next">Older ›</a> <a href="/?page=4" rel="last">Oldest »</a></nav>';
  assert.equal(first.split(firstLinks).length, 3, 'the links above and below the table');
  assert.doesNotMatch(first, /rel="prev"|rel="first"/);
  assert.equal(first.match(/<tr/g)?.length, INDEX_PAGE_ROWS + 1, 'a header row and a row per item');
  assert.ok(first.indexOf('item-0.bin') < first.indexOf('item-99.bin'));

  const middle = indexPage('host', indexListing(store, 2), 1_000_000);
  assert.ok(middle.includes('<p>Files 101–200 of 301, newest first. Page 2 of 4.</p>'));
  assert.ok(
    middle.includes(
      '<nav><a href="/" rel="first">« Newest</a> <a href="/" rel="prev">‹ Newer</a> ' +
        '<a href="/?page=3" rel="next">Older ›</a> <a href="/?page=4" rel="last">Oldest »</a></nav>',
    ),
  );

  const last = indexPage('host', indexListing(store, 4), 1_000_000);
  assert.ok(last.includes('<p>Files 301–301 of 301, newest first. Page 4 of 4.</p>'));
  assert.ok(last.includes('<nav><a href="/" rel="first">« Newest</a> <a href="/?page=3" rel="prev">‹ Newer</a></nav>'));
  assert.doesNotMatch(last, /rel="next"|rel="last"/);
  assert.equal(last.match(/<tr/g)?.length, 2);
});

test('parseIndexQuery: any query gives a page from 1 or a bad-request PassimError, never anything else', async () => {
  const { default: fc } = await import('fast-check');
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.stringMatching(/^(page=[0-9%a-z+-]{0,12}&?){0,3}$/)), (query) => {
      try {
        const page = parseIndexQuery(query);
        assert.ok(Number.isSafeInteger(page) && page >= 1, `${JSON.stringify(query)} → ${page}`);
      } catch (err) {
        assert.ok(err instanceof PassimError && err.kind === 'bad-request', `${JSON.stringify(query)}: ${String(err)}`);
      }
    }),
    { numRuns: 2000 },
  );
});
