// What the HTTPS front end reads from a request, without a server: the file query (`?sha256=…&localhost=…`)
// and the error kind, hence status, of each bad one; byte ranges resolved against a file size as RFC 9110
// §14 says; If-None-Match; and the client's address, whose loopback-ness decides what it may fetch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientAddress, matchesEtag, parseFileQuery, parseRange } from '../../dist/daemon/http/request.js';
import { isLoopback } from '../../dist/daemon/lan/subnets.js';
import { PassimError } from '../../dist/shared/errors.js';

const HASH = 'ab'.repeat(32);

/**
 * Asserts that `fn` throws a PassimError of `kind` (and so of that HTTP status).
 * @param {() => unknown} fn
 * @param {import('../../dist/shared/errors.js').ErrorKind} kind
 * @param {number} status
 * @param {string} label
 */
function throwsKind(fn, kind, status, label) {
  assert.throws(fn, (err) => err instanceof PassimError && err.kind === kind && err.httpStatus === status, label);
}

test('parseFileQuery: sha256 alone, other keys ignored, localhost true or false', () => {
  assert.deepEqual(parseFileQuery(`sha256=${HASH}`), { hash: HASH, localhost: undefined });
  assert.deepEqual(parseFileQuery(`foo=bar&sha256=${HASH}&x`), { hash: HASH, localhost: undefined });
  assert.deepEqual(parseFileQuery(`sha256=${HASH}&localhost=true`), { hash: HASH, localhost: true });
  assert.deepEqual(parseFileQuery(`localhost=false&sha256=${HASH}`), { hash: HASH, localhost: false });
});

test('parseFileQuery: a hash in capitals is the same hash, in lower case', () => {
  assert.equal(parseFileQuery(`sha256=${HASH.toUpperCase()}`).hash, HASH);
  assert.equal(parseFileQuery(`sha256=${'aB'.repeat(32)}`).hash, HASH);
});

test('parseFileQuery: a missing or repeated argument is a bad request (400)', () => {
  throwsKind(() => parseFileQuery(''), 'bad-request', 400, 'empty query');
  throwsKind(() => parseFileQuery('localhost=true'), 'bad-request', 400, 'no sha256');
  throwsKind(() => parseFileQuery('sha256'), 'not-acceptable', 406, 'sha256 without = is an empty hash');
  throwsKind(() => parseFileQuery(`sha256=${HASH}&sha256=${HASH}`), 'bad-request', 400, 'the same hash twice');
  throwsKind(() => parseFileQuery(`sha256=${HASH}&localhost=true&localhost=true`), 'bad-request', 400, 'localhost twice');
});

test('parseFileQuery: anything but 64 hexadecimal digits is not acceptable (406)', () => {
  for (const hash of ['', 'abc', HASH.slice(1), `${HASH}0`, 'g'.repeat(64), `${HASH.slice(2)} a`, `${HASH.slice(1)}-`]) {
    throwsKind(() => parseFileQuery(`sha256=${encodeURIComponent(hash)}`), 'not-acceptable', 406, JSON.stringify(hash));
  }
});

test('parseFileQuery: localhost other than true or false is a bad request', () => {
  for (const value of ['', '1', 'yes', 'TRUE', 'true ']) {
    throwsKind(() => parseFileQuery(`sha256=${HASH}&localhost=${encodeURIComponent(value)}`), 'bad-request', 400, JSON.stringify(value));
  }
  throwsKind(() => parseFileQuery(`sha256=${HASH}&localhost`), 'bad-request', 400, 'localhost without a value');
});

test('parseFileQuery: keys and values are percent-decoded; malformed encoding is a bad request', () => {
  const encoded = [...HASH].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('');
  assert.equal(parseFileQuery(`sha256=${encoded}`).hash, HASH);
  assert.equal(parseFileQuery(`sha%32%35%36=${HASH}&local%68ost=%74rue`).localhost, true);
  // '+' is not a space in this query (decodeURIComponent), so it stays and spoils the value.
  throwsKind(() => parseFileQuery(`sha256=${HASH}&localhost=tr+ue`), 'bad-request', 400, 'plus sign');
  throwsKind(() => parseFileQuery(`sha256=${HASH}%zz`), 'bad-request', 400, 'bad hex digits');
  throwsKind(() => parseFileQuery(`sha256=${HASH}%`), 'bad-request', 400, 'truncated escape');
  throwsKind(() => parseFileQuery(`sha256=${HASH}%C3`), 'bad-request', 400, 'incomplete UTF-8');
  throwsKind(() => parseFileQuery(`sha%2=${HASH}`), 'bad-request', 400, 'malformed key');
});

test('parseRange: first-last, first- and -suffix against a size', () => {
  assert.deepEqual(parseRange('bytes=0-499', 1000), { start: 0, end: 499 });
  assert.deepEqual(parseRange('bytes=0-0', 1000), { start: 0, end: 0 });
  assert.deepEqual(parseRange('bytes=500-', 1000), { start: 500, end: 999 });
  assert.deepEqual(parseRange('bytes=999-', 1000), { start: 999, end: 999 });
  assert.deepEqual(parseRange('bytes=-100', 1000), { start: 900, end: 999 });
  assert.deepEqual(parseRange(' bytes=1-2 ', 1000), { start: 1, end: 2 });
});

test('parseRange: a last position or suffix beyond the end is cut to the file', () => {
  assert.deepEqual(parseRange('bytes=990-5000', 1000), { start: 990, end: 999 });
  assert.deepEqual(parseRange('bytes=-5000', 1000), { start: 0, end: 999 });
  assert.deepEqual(parseRange('bytes=0-99999999999999999999', 10), { start: 0, end: 9 });
});

test('parseRange: unsatisfiable ranges (416): first position at or past the end, a zero suffix, an empty file', () => {
  assert.equal(parseRange('bytes=1000-', 1000), 'unsatisfiable');
  assert.equal(parseRange('bytes=1000-1001', 1000), 'unsatisfiable');
  assert.equal(parseRange('bytes=-0', 1000), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-10', 0), 'unsatisfiable');
  assert.equal(parseRange('bytes=-5', 0), 'unsatisfiable');
});

test('parseRange: what we do not serve as a range gives undefined, the whole file', () => {
  for (const header of [
    '',
    'bytes=500-400', // last before first: an invalid range-spec
    'bytes=0-1,5-6', // several ranges
    'bytes=0-1, 5-6',
    'items=0-5', // another unit
    'bytes=-',
    'bytes=a-b',
    'bytes=1.5-2',
    'bytes=+1-2',
    'bytes 0-1',
  ]) {
    assert.equal(parseRange(header, 1000), undefined, JSON.stringify(header));
  }
});

test('matchesEtag: a list of tags, weak tags compare equal, * matches anything', () => {
  const etag = `"${HASH}"`;
  assert.equal(matchesEtag(undefined, etag), false);
  assert.equal(matchesEtag('', etag), false);
  assert.equal(matchesEtag(etag, etag), true);
  assert.equal(matchesEtag(`"other", ${etag}`, etag), true);
  assert.equal(matchesEtag(`"other",${etag}  `, etag), true);
  assert.equal(matchesEtag(`W/${etag}`, etag), true);
  assert.equal(matchesEtag('*', etag), true);
  assert.equal(matchesEtag('"other", W/"other"', etag), false);
  assert.equal(matchesEtag(HASH, etag), false, 'an unquoted tag is not the tag');
  assert.equal(matchesEtag(`"${HASH.toUpperCase()}"`, etag), false, 'tags compare exactly');
});

test('isLoopback: 127.0.0.0/8, ::1 and 127.0.0.0/8 mapped into IPv6', () => {
  for (const address of ['127.0.0.1', '127.1.2.3', '127.255.255.254', '::1', '::ffff:127.0.0.1']) {
    assert.equal(isLoopback(address), true, address);
  }
  for (const address of ['', '10.0.0.1', '128.0.0.1', '1127.0.0.1', '::2', '::', 'fe80::1', '::ffff:10.0.0.1', '::ffff:128.0.0.1']) {
    assert.equal(isLoopback(address), false, address);
  }
});

test('clientAddress: IPv4-mapped IPv6 from a dual-stack socket shows as plain IPv4', () => {
  // A request stub with only what clientAddress reads.
  const client = (/** @type {string | undefined} */ remoteAddress) =>
    clientAddress(/** @type {import('node:http').IncomingMessage} */ ({ socket: { remoteAddress } }));
  assert.equal(client('::ffff:192.168.1.20'), '192.168.1.20');
  assert.equal(client('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(client('192.168.1.20'), '192.168.1.20');
  assert.equal(client('fe80::1%eth0'), 'fe80::1%eth0');
  assert.equal(client('::1'), '::1');
  assert.equal(client(undefined), '', 'a closed socket has no address');
  assert.equal(isLoopback(client('::ffff:127.0.0.1')), true);
});
