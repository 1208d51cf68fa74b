import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, escapeAuditValue, formatAuditLine, parseAuditLine, sumShareBytes } from '../dist/daemon/store/audit-log.js';

/** @param {import('node:test').TestContext} t */
async function tempDir(t) {
  const dir = await mkdtemp(join(tmpdir(), 'passim-audit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const HASH = 'a'.repeat(64);

test('escaping round-trips backslash, comma, equals and control characters', () => {
  const nasty = 'a\\b,c=d\ne\tf\r\x00\x1b\x7f\u0085 g ü 😀';
  const escaped = escapeAuditValue(nasty);
  assert.equal(escapeAuditValue('a\\b,c=d'), 'a\\\\b\\,c\\=d');
  assert.equal(escapeAuditValue('\n\x7f'), '\\x0a\\x7f');
  assert.doesNotMatch(escaped, /[\x00-\x1f\x7f-\x9f]/);
  const line = formatAuditLine('PBLSH', { hash: HASH, basename: nasty, size: 12, cmdline: 'x=1,y\\' });
  assert.doesNotMatch(line, /\n/);
  const entry = parseAuditLine(line);
  assert.ok(entry);
  assert.equal(entry.type, 'PBLSH');
  assert.deepEqual(
    [...entry.fields],
    [
      ['hash', HASH],
      ['basename', nasty],
      ['size', '12'],
      ['cmdline', 'x=1,y\\'],
    ],
  );
});

test('line format is <ISO-8601 UTC> <TYPE> key=value,...', () => {
  const line = formatAuditLine(
    'SHARE',
    { hash: HASH, basename: 'f.bin', size: 5, ipaddr: '::1' },
    new Date(Date.UTC(2026, 10, 25, 14, 0, 0, 123)),
  );
  assert.equal(line, `2026-11-25T14:00:00Z SHARE hash=${HASH},basename=f.bin,size=5,ipaddr=::1`);
  const entry = parseAuditLine(line);
  assert.ok(entry);
  assert.equal(entry.time.toISOString(), '2026-11-25T14:00:00.000Z');
});

test('DELETE and DELTE are both read as deletions', () => {
  const a = parseAuditLine(`2026-11-25T14:00:00Z DELTE hash=${HASH},basename=a,size=1`);
  const b = parseAuditLine(`2026-11-25T14:00:00Z DELETE hash=${HASH},basename=a,size=1`);
  assert.ok(a && b);
  assert.equal(a.type, 'DELTE');
  assert.equal(b.type, 'DELTE');
  assert.equal(b.fields.get('basename'), 'a');
});

test('malformed lines are rejected', () => {
  for (const line of [
    '',
    'garbage',
    `2026-11-25T14:00:00Z NOPE hash=${HASH}`,
    `yesterday SHARE hash=${HASH}`,
    '2026-13-45T99:00:00Z SHARE size=1',
    '2026-11-25T14:00:00Z SHARE size=1\\q',
    '2026-11-25T14:00:00Z SHARE size=1\\x4',
    '2026-11-25T14:00:00Z SHARE size',
    '2026-11-25T14:00:00Z SHARE size=1,size=2',
    '2026-11-25T14:00:00Z SHARE =1',
    '2026-11-25T14:00:00Z SHARE size=1\x01',
  ]) {
    assert.equal(parseAuditLine(line), undefined, JSON.stringify(line));
  }
});

test('append creates folder (0755) and file (0640) and appends lines', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'log', 'passim', 'audit.log');
  const log = new AuditLog(path);
  await log.append('PBLSH', { hash: HASH, basename: 'a,b', size: 3, cmdline: 'fwupd' });
  await log.append('DELTE', { hash: HASH, basename: 'a,b', size: 3, reason: 'unpublished' });
  assert.equal((await stat(join(dir, 'log', 'passim'))).mode & 0o777, 0o755);
  assert.equal((await stat(path)).mode & 0o777, 0o640);
  const lines = (await readFile(path, 'utf8')).split('\n');
  assert.equal(lines.length, 3);
  assert.equal(lines[2], '');
  assert.match(lines[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ PBLSH hash=a{64},basename=a\\,b,size=3,cmdline=fwupd$/);
  assert.equal(parseAuditLine(lines[1])?.fields.get('reason'), 'unpublished');
});

test('sumShareBytes streams the log, sums SHARE sizes and skips malformed lines', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  assert.equal(await sumShareBytes(path), 0, 'missing log counts as 0');
  await writeFile(
    path,
    `${[
      `2026-11-25T14:00:00Z PBLSH hash=${HASH},basename=a,size=1000,cmdline=x`,
      `2026-11-25T14:00:01Z SHARE hash=${HASH},basename=a,size=1000,ipaddr=192.168.1.2`,
      'this line is garbage',
      `2026-11-25T14:00:02Z SHARE hash=${HASH},basename=a,size=notanumber,ipaddr=x`,
      `2026-11-25T14:00:03Z SHARE hash=${HASH},basename=a\\,b,size=5000000000,ipaddr=fe80::1`,
      `2026-11-25T14:00:04Z DELETE hash=${HASH},basename=a,size=1000`,
      `2026-11-25T14:00:05Z SHARE hash=${HASH},basename=a,size=1\\`,
      `2026-11-25T14:00:06Z SHARE hash=${HASH},basename=a,size=7,ipaddr=::1`,
    ].join('\r\n')}\n`,
  );
  assert.equal(await sumShareBytes(path), 1000 + 5000000000 + 7);
});
