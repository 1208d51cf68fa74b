// Our side of the summary exchange: the prefix multiset, the generations and deltas a neighbour follows, and the
// parsers of what neighbours and clients send (TXT records, positions, the summary request's query).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PrefixCounts } from '../../dist/daemon/lan/prefix-counts.js';
import { SharedSummary } from '../../dist/daemon/lan/shared-summary.js';
import { applyDelta, decodeSummary, prefixOf } from '../../dist/daemon/lan/summary-format.js';
import { parsePosition, parseTxtRecord, txtValue } from '../../dist/daemon/lan/summary-position.js';
import { parseSummaryQuery } from '../../dist/daemon/http/request.js';
import { PassimError } from '../../dist/shared/errors.js';

const hex = (/** @type {number} */ n) => n.toString(16).padStart(8, '0');
/** A hash with the given 32-bit prefix and a distinguishing tail. */
const hashWith = (/** @type {number} */ prefix, /** @type {number} */ tail) => `${hex(prefix)}${String(tail).padStart(56, '0')}`;

test('PrefixCounts agrees with a counting model under random adds and removes, growth included', () => {
  fc.assert(
    fc.property(
      // Few distinct prefixes, so that collisions and removals of absent prefixes are common; many, so the table grows.
      fc.array(fc.tuple(fc.boolean(), fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 0xffffffff }))), {
        maxLength: 3000,
      }),
      (ops) => {
        const counts = new PrefixCounts();
        /** @type {Map<number, number>} */
        const model = new Map();
        for (const [add, prefix] of ops) {
          const before = model.get(prefix) ?? 0;
          if (add) {
            assert.equal(counts.add(prefix), before === 0);
            model.set(prefix, before + 1);
          } else {
            assert.equal(counts.remove(prefix), before === 1);
            if (before > 1) model.set(prefix, before - 1);
            else model.delete(prefix);
          }
        }
        assert.equal(counts.size, model.size);
        assert.deepEqual(
          [...counts.sorted()],
          [...model.keys()].sort((a, b) => a - b),
        );
        for (const prefix of model.keys()) assert.ok(counts.has(prefix));
      },
    ),
    { numRuns: 200 },
  );
});

test('a neighbour that applies what SharedSummary sends it holds exactly our prefixes, from any position', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 3 })), { maxLength: 400 }),
      fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 6 }),
      (ops, syncPoints) => {
        const summary = new SharedSummary();
        /** @type {Set<string>} */
        const hashes = new Set();
        /** @type {{ prefixes: Uint32Array, position: { epoch: string, generation: number } } | null} */
        let neighbour = null;
        let now = 0;
        const sync = () => {
          now += 2000; // past the full summary's rebuild interval
          const bytes = summary.encodeFor(neighbour?.position, now);
          if (bytes === null) {
            assert.equal(neighbour?.position.generation, summary.generation, 'nothing to send only to a neighbour that is up to date');
            return;
          }
          const message = decodeSummary(bytes, { maxEntries: 1_000_000 });
          const prefixes = message.base === null ? message.added : applyDelta(/** @type {Uint32Array} */ (neighbour?.prefixes), message);
          if (message.base !== null) assert.equal(message.base, neighbour?.position.generation);
          neighbour = { prefixes, position: { epoch: message.epoch, generation: message.generation } };
          assert.deepEqual(
            [...prefixes],
            [...new Set([...hashes].map(prefixOf))].sort((a, b) => a - b),
          );
        };
        ops.forEach(([add, prefix, tail], i) => {
          const hash = hashWith(prefix, tail);
          if (add && !hashes.has(hash)) {
            hashes.add(hash);
            summary.add(hash);
          } else if (!add && hashes.has(hash)) {
            hashes.delete(hash);
            summary.remove(hash);
          }
          if (syncPoints.includes(i)) sync();
        });
        sync();
      },
    ),
    { numRuns: 150 },
  );
});

test('SharedSummary: a neighbour from another epoch or too far behind gets the whole set; clear() starts over', () => {
  const summary = new SharedSummary();
  /** What the summary sends a neighbour at `since`, decoded; it must send something. */
  const sent = (/** @type {{ epoch: string, generation: number }} */ since) => {
    const bytes = summary.encodeFor(since);
    assert.ok(bytes);
    return decodeSummary(bytes, { maxEntries: 100 });
  };
  for (let i = 0; i < 10; i++) summary.add(hashWith(i * 1000, 0));
  assert.equal(summary.encodeFor({ epoch: summary.epoch, generation: summary.generation }), null, 'up to date: nothing to send');
  const stranger = sent({ epoch: 'ffffffffffffffff', generation: 3 });
  assert.equal(stranger.base, null);
  assert.equal(stranger.added.length, 10);
  const ahead = sent({ epoch: summary.epoch, generation: summary.generation + 5 });
  assert.equal(ahead.base, null, 'a position we never reached: whole set');
  const position = { epoch: summary.epoch, generation: summary.generation };
  summary.clear();
  assert.equal(summary.size, 0);
  const after = sent(position);
  assert.equal(after.base, null, 'the log does not reach back past a clear');
  assert.equal(after.added.length, 0);
});

test('parseTxtRecord and txtValue: random record data never throws; what parses re-encodes to the same bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const strings = parseTxtRecord(bytes);
      if (strings === undefined) return;
      const encoded = Buffer.concat(
        strings.map((s) => Buffer.concat([Buffer.from([Buffer.byteLength(s, 'latin1')]), Buffer.from(s, 'latin1')])),
      );
      assert.deepEqual(encoded, Buffer.from(bytes));
      txtValue(strings, 'gen');
    }),
    { numRuns: 500 },
  );
  const record = Buffer.from('\x10passim-summary=1\x17gen=00000000000000aa.42\x03gen', 'latin1');
  const strings = parseTxtRecord(record);
  assert.deepEqual(strings, ['passim-summary=1', 'gen=00000000000000aa.42', 'gen']);
  assert.equal(txtValue(/** @type {string[]} */ (strings), 'gen'), '00000000000000aa.42', 'the first one counts');
  assert.equal(parseTxtRecord(Buffer.from([5, 0x61])), undefined, 'a string running past the end');
});

test('parsePosition accepts exactly <16 hex digits>.<generation>', () => {
  assert.deepEqual(parsePosition('0123456789abcdef.0'), { epoch: '0123456789abcdef', generation: 0 });
  assert.deepEqual(parsePosition('0123456789abcdef.999999999999999'), { epoch: '0123456789abcdef', generation: 999999999999999 });
  for (const bad of [
    '',
    '.',
    '0123456789abcdef',
    '0123456789ABCDEF.1',
    '0123456789abcdef.01',
    '0123456789abcdef.-1',
    '0123456789abcdef.1.2',
    '0123456789abcde.1',
    '0123456789abcdef.1000000000000000',
  ]) {
    assert.equal(parsePosition(bad), undefined, bad);
  }
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (text) => {
      const position = parsePosition(text);
      if (position) assert.equal(`${position.epoch}.${position.generation}`, text);
    }),
    { numRuns: 1000 },
  );
});

test('parseSummaryQuery: random queries give a position, nothing, or a bad-request PassimError', () => {
  assert.equal(parseSummaryQuery(''), undefined);
  assert.deepEqual(parseSummaryQuery('since=00000000000000aa.7'), { epoch: '00000000000000aa', generation: 7 });
  assert.deepEqual(parseSummaryQuery('x=1&since=00000000000000aa.7'), { epoch: '00000000000000aa', generation: 7 });
  for (const bad of ['since=', 'since', 'since=abc', 'since=00000000000000aa.7&since=00000000000000aa.7', 'since=%zz']) {
    assert.throws(
      () => parseSummaryQuery(bad),
      (err) => err instanceof PassimError && err.kind === 'bad-request',
      bad,
    );
  }
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^(since=[0-9a-f.%]{0,30}&?){0,3}$/)), (query) => {
      try {
        parseSummaryQuery(query);
      } catch (err) {
        assert.ok(err instanceof PassimError && err.kind === 'bad-request', String(err));
      }
    }),
    { numRuns: 1000 },
  );
});
