// The small pure pieces around the front ends: the HTML pages (every name and command line a publisher
// chose is escaped, since anyone on the LAN may view the index), sizes and durations as people read them,
// the per-client cooldown's bookkeeping (no clock: "right after start" is well inside any cooldown),
// and the error table's D-Bus names, which clients of the original (fwupd, libpassim) match exactly.
import '../lib/english.js';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { test } from 'node:test';

process.env.TZ = 'UTC'; // formatTime is local time; set before the first Date is made

const { errorPage, escapeHtml, indexPage, reasonPhrase, redirectPage } = await import('../../dist/daemon/http/pages.js');
const { loadCatalogReader, translatorForAcceptLanguage } = await import('../../dist/shared/i18n.js');
await loadCatalogReader();
const { formatDuration, formatSize, formatTime } = await import('../../dist/shared/format.js');
const { Cooldown } = await import('../../dist/daemon/http/cooldown.js');
const { GIoErrorCode, PassimError, errorKindOfDBusName, gioErrorName } = await import('../../dist/shared/errors.js');
const { ItemFlags } = await import('../../dist/shared/item.js');

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

/**
 * An item with made-up fields, `fields` replacing them.
 * @param {Partial<import('../../dist/shared/item.js').Item>} fields
 * @returns {import('../../dist/shared/item.js').Item}
 */
function item(fields) {
  return {
    hash: HASH_A,
    basename: 'file.txt',
    path: `/var/lib/passim/data/${HASH_A}-file.txt`,
    cmdline: 'fwupd',
    maxAge: 86400,
    shareLimit: 5,
    shareCount: 0,
    size: 1500,
    flags: 0,
    ctime: 1000,
    ...fields,
  };
}

/**
 * A one-page listing of `items`, as indexListing makes for a small store.
 * @param {import('../../dist/shared/item.js').Item[]} items
 * @returns {import('../../dist/daemon/http/index-page.js').IndexListing}
 */
function onePage(items) {
  return { items, page: 1, pageCount: 1, total: items.length, offset: 0 };
}

test('escapeHtml: the five characters that matter, as numeric references; the rest untouched', () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&amp;</a>`), '&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;&#38;amp;&#60;/a&#62;');
  assert.equal(escapeHtml('plain text, ünïcödé / 100%'), 'plain text, ünïcödé / 100%');
  assert.equal(escapeHtml(''), '');
});

test('indexPage: hostile basenames, command lines and host names come out as text, never markup', () => {
  const hostile = '<script>alert("x")</script>&\'.txt';
  const page = indexPage('<b>host</b>', onePage([item({ basename: hostile, cmdline: '<img src=x onerror=alert(1)>' })]), 2000);
  assert.doesNotMatch(page, /<script|<img|<b>/);
  assert.match(page, /<title>&#60;b&#62;host&#60;\/b&#62;<\/title>/);
  assert.match(page, /<h1>&#60;b&#62;host&#60;\/b&#62;<\/h1>/);
  assert.ok(page.includes(`>${escapeHtml(hostile)}</a></td>`), 'the basename as link text');
  assert.ok(page.includes(`<td>&#60;img src=x onerror=alert(1)&#62;</td>`), 'the command line');
  // The link: the basename percent-encoded in the path, then escaped for the attribute.
  assert.ok(page.includes(`<a href="/${encodeURIComponent(hostile).replaceAll("'", '&#39;')}?sha256=${HASH_A}">`), 'the link');
});

test("indexPage: items in the order given (the store's, newest first), with size, shares, age, expiry and state", () => {
  const page = indexPage(
    'host',
    onePage([
      item({ basename: 'b.bin', hash: HASH_B, size: 1_500_000, shareCount: 2, flags: ItemFlags.DISABLED | ItemFlags.NEXT_REBOOT }),
      item({ basename: 'a.bin', ctime: 1000, maxAge: 7200 }),
    ]),
    1000 + 90,
  );
  assert.ok(page.indexOf('b.bin') < page.indexOf('a.bin'), 'in the order given');
  assert.ok(page.includes('<p>Files 1–2 of 2, newest first.</p>'), 'the position, without a page count');
  assert.doesNotMatch(page, /<nav>|\?page=/, 'one page: no links to others');
  assert.ok(
    page.includes(
      '<td class="num">1.5 kB</td><td class="num">0 / 5</td><td class="num">1 minute 30 seconds</td><td class="num">1 hour 58 minutes</td><td>shared</td>',
    ),
  );
  assert.ok(page.includes('<tr class="disabled">'), 'a disabled item is marked');
  assert.ok(page.includes('<td class="num">1.5 MB</td><td class="num">2 / 5</td>'));
  assert.ok(page.includes('<td>disabled, next reboot</td>'));
  assert.equal(page.match(/<tr/g)?.length, 3, 'a header row and one row per item');
});

test('indexPage: no items, a sentence instead of a table', () => {
  const page = indexPage('host', onePage([]), 0);
  assert.match(page, /There are no shared files on this computer\./);
  assert.doesNotMatch(page, /<table/);
});

test('errorPage and redirectPage: status and reason in title and heading, message and location escaped', () => {
  const page = errorPage(404, 'Not Found', 'No <such> "item" & none like it');
  assert.match(page, /<title>404 Not Found<\/title>/);
  assert.match(page, /<h1>404 Not Found<\/h1>\n<p>No &#60;such&#62; &#34;item&#34; &#38; none like it<\/p>/);
  assert.ok(page.startsWith('<!DOCTYPE html>\n'));
  const redirect = redirectPage('https://peer:27500/x?sha256=1&a="b"');
  assert.match(redirect, /<a href="https:\/\/peer:27500\/x\?sha256=1&#38;a=&#34;b&#34;">Redirecting<\/a>/);
});

test('formatSize: decimal units with one decimal, as g_format_size (separated by a plain space)', () => {
  /** @type {[number, string][]} */
  const cases = [
    [0, '0 bytes'],
    [1, '1 byte'],
    [2, '2 bytes'],
    [999, '999 bytes'],
    [1000, '1.0 kB'],
    [1500, '1.5 kB'],
    [999_999, '1000.0 kB'],
    [1_000_000, '1.0 MB'],
    [104_857_600, '104.9 MB'],
    [5_000_000_000, '5.0 GB'],
    [5e12, '5.0 TB'],
    [1e18, '1.0 EB'],
  ];
  for (const [bytes, text] of cases) assert.equal(formatSize(bytes), text, String(bytes));
});

test('formatDuration: whole seconds as at most two units, largest first', () => {
  /** @type {[number, string][]} */
  const cases = [
    [-5, '0 seconds'],
    [0, '0 seconds'],
    [1, '1 second'],
    [1.9, '1 second'],
    [59, '59 seconds'],
    [60, '1 minute'],
    [90, '1 minute 30 seconds'],
    [3600, '1 hour'],
    [3661, '1 hour 1 minute'],
    [86400, '1 day'],
    [86400 + 6 * 3600, '1 day 6 hours'],
    [2 * 86400 + 5, '2 days 5 seconds'],
    [400 * 86400, '400 days'],
  ];
  for (const [seconds, text] of cases) assert.equal(formatDuration(seconds), text, String(seconds));
});

test('formatTime: Unix seconds as local date and time', () => {
  assert.equal(formatTime(0), '1970-01-01 00:00:00');
  assert.equal(formatTime(1714571110), '2024-05-01 13:45:10');
});

test('Cooldown: right after start the same client and hash are blocked, nobody else', () => {
  const cooldown = new Cooldown(3600);
  assert.equal(cooldown.blocks('192.168.1.2', HASH_A), false);
  cooldown.start('192.168.1.2', HASH_A);
  assert.equal(cooldown.blocks('192.168.1.2', HASH_A), true);
  assert.equal(cooldown.blocks('192.168.1.3', HASH_A), false, 'another client');
  assert.equal(cooldown.blocks('192.168.1.2', HASH_B), false, 'another hash');
  cooldown.start('192.168.1.2', HASH_A);
  assert.equal(cooldown.blocks('192.168.1.2', HASH_A), true, 'a second start keeps it blocked');
});

test('Cooldown of 0 seconds (or less) blocks nothing', () => {
  for (const seconds of [0, -1]) {
    const cooldown = new Cooldown(seconds);
    cooldown.start('10.0.0.1', HASH_A);
    assert.equal(cooldown.blocks('10.0.0.1', HASH_A), false, String(seconds));
  }
});

test('Cooldown remembers at most 65536 (client, hash) pairs, forgetting the oldest', () => {
  const cooldown = new Cooldown(3600);
  for (let i = 0; i <= 65536; i++) cooldown.start(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, HASH_A);
  assert.equal(cooldown.blocks('10.0.0.0', HASH_A), false, 'the oldest was forgotten');
  assert.equal(cooldown.blocks('10.0.0.1', HASH_A), true, 'the second oldest is kept');
  assert.equal(cooldown.blocks('10.1.0.0', HASH_A), true, 'the newest is kept');
});

test('gioErrorName: the name GDBus gives an unregistered G_IO_ERROR', () => {
  assert.equal(gioErrorName(2), 'org.gtk.GDBus.UnmappedGError.Quark._g_2dio_2derror_2dquark.Code2');
  assert.equal(gioErrorName(GIoErrorCode.PERMISSION_DENIED), 'org.gtk.GDBus.UnmappedGError.Quark._g_2dio_2derror_2dquark.Code14');
  assert.equal(new PassimError('exists', 'x').dbusName, gioErrorName(GIoErrorCode.EXISTS));
  assert.equal(new PassimError('not-found', 'x').dbusName, gioErrorName(GIoErrorCode.NOT_FOUND));
});

/** Every ErrorKind, read from the type in the source so that a new kind is covered too. */
const errorsSource = await readFile(new URL('../../src/shared/errors.ts', import.meta.url), 'utf8');
const kindUnion = /export type ErrorKind =([^;]+);/.exec(errorsSource);
assert.ok(kindUnion, 'src/shared/errors.ts declares ErrorKind');
// Read from the source text, so typed here as what they are: the members of ErrorKind.
const KINDS = [...kindUnion[1].matchAll(/'([a-z-]+)'/g)].map((m) => /** @type {import('../../dist/shared/errors.js').ErrorKind} */ (m[1]));

test('errorKindOfDBusName: every kind whose D-Bus name is its own comes back from that name', () => {
  assert.ok(KINDS.length >= 14 && KINDS.includes('internal'), 'the kinds were read');
  const names = new Map(KINDS.map((kind) => [kind, new PassimError(kind, 'x').dbusName]));
  const unique = KINDS.filter((kind) => [...names.values()].filter((name) => name === names.get(kind)).length === 1);
  assert.ok(unique.includes('exists') && unique.includes('not-found') && unique.includes('interactive-authorization-required'));
  for (const kind of unique) {
    const name = names.get(kind);
    assert.ok(name);
    assert.equal(errorKindOfDBusName(name), kind, kind);
  }
  // Shared names give the kind a client acts on: passimctl explains access-denied.
  assert.equal(errorKindOfDBusName(gioErrorName(GIoErrorCode.PERMISSION_DENIED)), 'access-denied');
  assert.equal(errorKindOfDBusName('org.freedesktop.DBus.Error.InvalidArgs'), 'invalid-argument');
  assert.equal(errorKindOfDBusName('org.freedesktop.DBus.Error.NoReply'), undefined);
  assert.equal(errorKindOfDBusName(gioErrorName(99)), undefined);
});

test('HTTP statuses of the request errors', () => {
  const statuses = Object.fromEntries(KINDS.map((kind) => [kind, new PassimError(kind, 'x').httpStatus]));
  assert.deepEqual(
    {
      bad: statuses['bad-request'],
      forbidden: statuses.forbidden,
      notAcceptable: statuses['not-acceptable'],
      locked: statuses.locked,
      range: statuses['range-not-satisfiable'],
      method: statuses['method-not-allowed'],
      internal: statuses.internal,
    },
    { bad: 400, forbidden: 403, notAcceptable: 406, locked: 423, range: 416, method: 405, internal: 500 },
  );
});

test('the pages in German: words, numbers, sizes and durations of the language asked for, the markup unchanged', () => {
  const de = translatorForAcceptLanguage('de');
  const page = indexPage('host', onePage([item({ basename: 'a.bin', size: 1500, shareCount: 1234, shareLimit: 5000 })]), 1000 + 90, de);
  assert.ok(page.startsWith('<!DOCTYPE html>\n<html lang="de" dir="ltr">'));
  assert.ok(page.includes('<h2>Freigegebene Dateien</h2>'));
  assert.ok(
    page.includes('<th scope="col">Datei</th><th scope="col">SHA-256</th><th scope="col">Größe</th><th scope="col">Weitergaben</th>'),
  );
  assert.ok(page.includes('<td class="num">1,5 kB</td><td class="num">1.234 / 5.000</td><td class="num">1 Minute 30 Sekunden</td>'), page);
  assert.ok(page.includes('<td>freigegeben</td>'));
  assert.ok(page.includes('<p>Ein <a href="https://github.com/hughsie/passim">lokaler Zwischenspeicher-Server</a>.</p>'));
  assert.match(indexPage('host', onePage([]), 0, de), /Auf diesem Rechner sind keine Dateien freigegeben\./);
  assert.ok(indexPage('host', onePage([]), 0).startsWith('<!DOCTYPE html>\n<html lang="en" dir="ltr">'));

  const error = errorPage(404, reasonPhrase(404, de), 'x', de);
  assert.match(error, /<title>404 Nicht gefunden<\/title>/);
  assert.match(redirectPage('https://peer:27500/x?sha256=1', de), />Weiterleitung<\/a>/);
});

test("reasonPhrase: in English it is HTTP's own reason phrase, for every status an error kind has", () => {
  for (const kind of KINDS) {
    const status = new PassimError(kind, 'x').httpStatus;
    assert.equal(reasonPhrase(status), STATUS_CODES[status], `${kind} (${status})`);
    assert.notEqual(reasonPhrase(status, translatorForAcceptLanguage('de')), STATUS_CODES[status], `${kind} (${status}) is translated`);
  }
});
