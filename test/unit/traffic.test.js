// The traffic figures: the state file's parser takes anything and keeps only what makes sense (fast-check),
// what is written reads back, the ledger keeps at most MAX_DAYS days and survives a reopen; reports of
// downloads count only when a lookup backs them and never past the per-report and per-user bounds.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { MAX_DAYS, TRAFFIC_KINDS, TrafficLedger, dayOf, formatTrafficState, parseTrafficState } from '../../dist/daemon/traffic-ledger.js';
import { MAX_CALLER_BYTES_PER_DAY, MAX_REPORT_BYTES, TransferReports } from '../../dist/daemon/transfer-reports.js';

const dir = mkdtempSync(join(tmpdir(), 'passim-traffic-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

const validDay = fc
  .date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2200-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));
const counter = fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constant(-1), fc.double(), fc.string(), fc.constant(null), fc.bigInt().map(String));
const entry = fc.record(
  {
    day: fc.oneof(validDay, fc.string(), fc.constant('2024-02-30'), fc.constant(7)),
    servedToNeighbours: counter,
    servedLocally: counter,
    fromNeighbours: counter,
    fromOrigin: counter,
  },
  { requiredKeys: [] },
);

/** What every parse must give: sorted distinct valid days, counters non-negative safe integers, at most MAX_DAYS. */
/** @param {import('../../dist/daemon/traffic-ledger.js').DayTraffic[]} days */
function assertSane(days) {
  assert.ok(Array.isArray(days));
  assert.ok(days.length <= MAX_DAYS);
  for (let i = 0; i < days.length; i++) {
    const d = /** @type {import('../../dist/daemon/traffic-ledger.js').DayTraffic} */ (days[i]);
    assert.match(d.day, /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(new Date(`${d.day}T00:00:00Z`).toISOString().slice(0, 10), d.day);
    if (i > 0) assert.ok(days[i - 1].day < d.day);
    for (const kind of TRAFFIC_KINDS) assert.ok(Number.isSafeInteger(d[kind]) && d[kind] >= 0, `${kind}: ${d[kind]}`);
    assert.deepEqual(Object.keys(d).sort(), ['day', ...TRAFFIC_KINDS].sort());
  }
}

test('parsing any text never throws and gives sane days', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.json(),
        fc.array(entry).map((days) => JSON.stringify({ days })),
      ),
      (text) => {
        assertSane(parseTrafficState(text));
      },
    ),
    { numRuns: 2000 },
  );
});

test('damaged state files (truncated, flipped bytes) parse to sane days', () => {
  const good = formatTrafficState(
    Array.from({ length: 20 }, (_, i) => ({
      day: `2024-03-${String(i + 1).padStart(2, '0')}`,
      servedToNeighbours: i,
      servedLocally: 2 * i,
      fromNeighbours: 3 * i,
      fromOrigin: 4 * i,
    })),
  );
  fc.assert(
    fc.property(fc.nat({ max: good.length }), fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), (cut, at, byte) => {
      assertSane(parseTrafficState(good.slice(0, cut)));
      const bytes = Buffer.from(good);
      bytes[at] = byte;
      assertSane(parseTrafficState(bytes.toString('utf8')));
    }),
  );
});

test('what is written reads back; only the newest MAX_DAYS are kept; duplicates keep the first', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(validDay, { maxLength: 450 }),
      fc.array(fc.maxSafeNat(), { minLength: 4, maxLength: 4 }),
      (days, [a, b, c, d]) => {
        const written = days.map((day) => ({ day, servedToNeighbours: a, servedLocally: b, fromNeighbours: c, fromOrigin: d }));
        const read = parseTrafficState(formatTrafficState(written));
        const expected = [...written].sort((x, y) => (x.day < y.day ? -1 : 1)).slice(-MAX_DAYS);
        assert.deepEqual(read, expected);
      },
    ),
    { numRuns: 200 },
  );
  const twice = parseTrafficState(
    JSON.stringify({
      days: [
        { day: '2024-01-01', fromOrigin: 5 },
        { day: '2024-01-01', fromOrigin: 9 },
      ],
    }),
  );
  assert.deepEqual(
    twice.map((d) => d.fromOrigin),
    [5],
  );
});

test('the ledger adds per local day, keeps MAX_DAYS days, and survives a reopen', async () => {
  const path = join(dir, 'traffic.json');
  const ledger = await TrafficLedger.open(path, quiet);
  const start = new Date(2023, 0, 1, 12).getTime();
  for (let i = 0; i < MAX_DAYS + 30; i++) ledger.add('fromOrigin', 1000, start + i * 86_400_000);
  ledger.add('fromNeighbours', 250, start + (MAX_DAYS + 29) * 86_400_000);
  ledger.add('servedLocally', -5, start);
  ledger.add('servedLocally', Number.NaN, start);
  assert.equal(ledger.days.length, MAX_DAYS);
  await ledger.flush();
  const reopened = await TrafficLedger.open(path, quiet);
  assert.deepEqual(reopened.days, ledger.days);
  const last = /** @type {import('../../dist/daemon/traffic-ledger.js').DayTraffic} */ (reopened.days.at(-1));
  assert.equal(last.day, dayOf(start + (MAX_DAYS + 29) * 86_400_000));
  assert.equal(last.fromNeighbours, 250);
  assert.equal(last.fromOrigin, 1000);
  assert.equal(last.servedLocally, 0);
  // No temporary file is left behind.
  assert.throws(() => readFileSync(`${path}.tmp`), { code: 'ENOENT' });
  const window = reopened.lastDays(30, start + (MAX_DAYS + 29) * 86_400_000);
  assert.equal(window.length, 30);
  assert.equal(window.at(-1)?.day, last.day);
});

test('a damaged or oversized state file starts from zero', async () => {
  const path = join(dir, 'damaged.json');
  writeFileSync(path, '{"days":[{"day":"2024-01-01","fromOrigin":');
  assert.deepEqual((await TrafficLedger.open(path, quiet)).days, []);
  writeFileSync(path, ' '.repeat(300 * 1024));
  assert.deepEqual((await TrafficLedger.open(path, quiet)).days, []);
});

const hash = (/** @type {number} */ n) => n.toString(16).padStart(64, '0');

test('a report needs a lookup; a neighbour report needs a redirect; each lookup backs one report', () => {
  const reports = new TransferReports();
  const day = '2024-05-01';
  assert.throws(() => reports.accept({ uid: 1000, hash: hash(1), source: 'origin', bytes: 10, day }), /No lookup/);
  reports.noteLookup(hash(1), 'miss');
  assert.throws(() => reports.accept({ uid: 1000, hash: hash(1), source: 'neighbour', bytes: 10, day }), /No lookup/);
  assert.equal(reports.accept({ uid: 1000, hash: hash(1), source: 'origin', bytes: 10, day }), 10);
  assert.throws(() => reports.accept({ uid: 1000, hash: hash(1), source: 'origin', bytes: 10, day }), /No lookup/);
  reports.noteLookup(hash(2), 'redirect');
  reports.noteLookup(hash(2), 'miss');
  assert.equal(reports.accept({ uid: 1000, hash: hash(2), source: 'neighbour', bytes: 7, day }), 7);
  assert.throws(() => reports.accept({ uid: 1000, hash: 'nothex', source: 'origin', bytes: 1, day }), /SHA-256/);
  assert.throws(() => reports.accept({ uid: 1000, hash: hash(3), source: 'cache', bytes: 1, day }), /source/);
  const old = Date.now() - 2 * 3600_000;
  reports.noteLookup(hash(4), 'miss', old);
  assert.throws(() => reports.accept({ uid: 1000, hash: hash(4), source: 'origin', bytes: 1, day }), /No lookup/);
});

test('no sequence of reports counts more than the per-report and per-user-per-day bounds', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          uid: fc.constantFrom(0, 1000, 1001),
          bytes: fc.oneof(fc.maxSafeNat(), fc.constant(MAX_REPORT_BYTES * 3)),
          day: fc.constantFrom('2024-05-01', '2024-05-02'),
        }),
        { maxLength: 60 },
      ),
      (list) => {
        const reports = new TransferReports();
        const totals = new Map();
        list.forEach((r, i) => {
          reports.noteLookup(hash(i + 1), 'redirect');
          const counted = reports.accept({ ...r, hash: hash(i + 1), source: i % 2 ? 'origin' : 'neighbour' });
          assert.ok(counted >= 0 && counted <= MAX_REPORT_BYTES && counted <= r.bytes);
          const key = `${r.uid} ${r.day}`;
          totals.set(key, (totals.get(key) ?? 0) + counted);
        });
        for (const total of totals.values()) assert.ok(total <= MAX_CALLER_BYTES_PER_DAY);
      },
    ),
  );
});
