// The binary form of a peer's hash summary (src/daemon/lan/summary-format.ts): fixed examples, malformed
// messages, and fast-check properties over random sets, truncations, flipped bytes and random bytes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  SummaryFormatError,
  applyDelta,
  containsPrefix,
  decodeSummary,
  encodeSummary,
  maxEncodedBytes,
  prefixOf,
} from '../../dist/daemon/lan/summary-format.js';

/** @typedef {import('../../dist/daemon/lan/summary-format.js').Summary} Summary */

const U32_MAX = 0xffffffff;
const LIMITS = { maxEntries: 1_000_000 };
const EPOCH = '0123456789abcdef';

/** @param {Iterable<number>} values */
const sortedSet = (values) => Uint32Array.from(new Set(values)).sort();

/** @param {Partial<Summary>} fields @returns {Summary} */
const full = (fields) => ({ epoch: EPOCH, generation: 7, base: null, added: new Uint32Array(), removed: new Uint32Array(), ...fields });

/** @param {Summary} summary */
const roundTrip = (summary, limits = LIMITS) => decodeSummary(encodeSummary(summary), limits);

/** A header as a 40-byte buffer, to be edited by a test. @param {Partial<Summary>} fields */
const header = (fields = {}) => Buffer.from(encodeSummary(full(fields)));

/** @param {Uint8Array} bytes @param {RegExp} message */
function rejects(bytes, message, limits = LIMITS) {
  assert.throws(
    () => decodeSummary(bytes, limits),
    (err) => err instanceof SummaryFormatError && message.test(err.message),
  );
}

/**
 * Whatever decodeSummary does with `bytes`: a SummaryFormatError, or a summary that is well-formed, within the
 * limit, and encodes back to exactly these bytes (a set has one encoding). Any other exception fails.
 * @param {Uint8Array} bytes
 */
function decodesSoundly(bytes, limits = LIMITS) {
  let summary;
  try {
    summary = decodeSummary(bytes, limits);
  } catch (err) {
    if (err instanceof SummaryFormatError) return;
    throw err;
  }
  const { epoch, generation, base, added, removed } = summary;
  assert.match(epoch, /^[0-9a-f]{16}$/);
  assert.ok(Number.isSafeInteger(generation) && generation >= 0);
  if (base === null) assert.equal(removed.length, 0);
  else assert.ok(Number.isSafeInteger(base) && base >= 0 && base < generation);
  for (const list of [added, removed]) {
    assert.ok(list instanceof Uint32Array);
    for (let i = 1; i < list.length; i++) assert.ok(list[i - 1] < list[i]);
  }
  assert.ok(added.length + removed.length <= limits.maxEntries);
  assert.deepEqual(encodeSummary(summary), Buffer.from(bytes));
}

// Sets of prefixes: scattered over the whole range, and runs of small gaps (1-byte varints, consecutive values).
const scattered = (maxLength = 200) => fc.uint32Array({ maxLength }).map(sortedSet);
const clustered = (maxLength = 200) =>
  fc.tuple(fc.integer({ min: 0, max: U32_MAX }), fc.array(fc.integer({ min: 1, max: 300 }), { maxLength })).map(([start, gaps]) => {
    const values = [start];
    for (const gap of gaps) values.push(Math.min(U32_MAX, (values.at(-1) ?? 0) + gap));
    return sortedSet(values);
  });
const prefixSet = (maxLength = 200) => fc.oneof(scattered(maxLength), clustered(maxLength));
const epoch = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b).toString('hex'));
const generation = fc.oneof(fc.nat(1000), fc.constant(Number.MAX_SAFE_INTEGER), fc.maxSafeNat());

/** Full summaries and deltas. @returns {fc.Arbitrary<Summary>} */
const summary = (maxLength = 200) =>
  fc.oneof(
    fc
      .record({ epoch, generation, base: fc.constant(null), added: prefixSet(maxLength), removed: fc.constant(new Uint32Array()) })
      .map((s) => ({ ...s })),
    fc
      .record({ epoch, generation: generation.filter((g) => g > 0), added: prefixSet(maxLength), removed: prefixSet(maxLength) })
      .chain((s) => fc.nat(s.generation - 1).map((base) => ({ ...s, base }))),
  );

test('fixed examples round-trip', () => {
  const examples = [
    full({}),
    full({ added: Uint32Array.of(0) }),
    full({ added: Uint32Array.of(U32_MAX) }),
    full({ added: Uint32Array.of(0, U32_MAX), generation: Number.MAX_SAFE_INTEGER }),
    full({ added: Uint32Array.from({ length: 1000 }, (_, i) => 5000 + i) }),
    full({ epoch: 'ffffffffffffffff', generation: 0 }),
    { epoch: EPOCH, generation: 12, base: 11, added: Uint32Array.of(3, 9, 0x80000000), removed: Uint32Array.of(4, U32_MAX) },
    { epoch: EPOCH, generation: 1, base: 0, added: new Uint32Array(), removed: Uint32Array.of(0) },
  ];
  for (const example of examples) assert.deepEqual(roundTrip(example), example);
});

test('the bytes of a full summary: a 40-byte header, then the gaps as LEB128', () => {
  const bytes = encodeSummary(full({ generation: 5, added: Uint32Array.of(0, 1, 200, U32_MAX) }));
  assert.equal(
    bytes.toString('hex'),
    [
      '5053554d', // PSUM
      '01', // version
      '00', // full
      '0000',
      '0123456789abcdef', // epoch
      '0000000000000005', // generation
      '0000000000000000', // base
      '00000004', // added
      '00000000', // removed
      '00', // 0
      '01', // 1 - 0
      'c701', // 200 - 1 = 199
      'b7feffff0f', // 0xffffffff - 200 = 0xffffff37
    ].join(''),
  );
  const delta = encodeSummary({ epoch: EPOCH, generation: 2, base: 1, added: Uint32Array.of(128), removed: Uint32Array.of(5) });
  assert.equal(delta.subarray(4, 8).toString('hex'), '01010000', 'version 1, kind 1');
  assert.equal(delta.subarray(24).toString('hex'), '0000000000000001' + '00000001' + '00000001' + '800105');
});

test('malformed headers are named', () => {
  const good = header();
  const edit = (/** @type {(b: Buffer) => void} */ change) => {
    const b = Buffer.from(good);
    change(b);
    return b;
  };
  decodeSummary(good, LIMITS);
  rejects(good.subarray(0, 39), /truncated/);
  rejects(new Uint8Array(), /truncated/);
  rejects(
    edit((b) => b.write('PSUN', 0, 'latin1')),
    /bad magic/,
  );
  rejects(
    edit((b) => (b[4] = 2)),
    /unsupported version 2/,
  );
  rejects(
    edit((b) => (b[4] = 0)),
    /unsupported version 0/,
  );
  rejects(
    edit((b) => (b[5] = 2)),
    /unknown kind 2/,
  );
  rejects(
    edit((b) => (b[7] = 1)),
    /reserved/,
  );
  rejects(
    edit((b) => b.writeUInt32BE(0x200000, 16)),
    /generation is 2\^53 or more/,
  );
  rejects(
    edit((b) => b.writeUInt32BE(0xffffffff, 16)),
    /generation is 2\^53 or more/,
  );
  rejects(
    edit((b) => (b[31] = 1)),
    /full summary with base generation 1/,
  );
  rejects(
    edit((b) => b.writeUInt32BE(1, 36)),
    /full summary removing 1 prefixes/,
  );
  // A delta whose base is not below its generation (7).
  rejects(
    edit((b) => {
      b[5] = 1;
      b[31] = 7;
    }),
    /base generation 7 is not below generation 7/,
  );
  const delta = edit((b) => {
    b[5] = 1;
    b[31] = 6;
  });
  assert.deepEqual(decodeSummary(delta, LIMITS).base, 6);
});

test('malformed prefix lists are named', () => {
  /** A full summary of `count` added prefixes with this body. @param {number} count @param {number[]} body */
  const message = (count, body) => {
    const b = header();
    b.writeUInt32BE(count, 32);
    return Buffer.concat([b, Buffer.from(body)]);
  };
  assert.deepEqual(decodeSummary(message(2, [5, 1]), LIMITS).added, Uint32Array.of(5, 6));
  rejects(message(2, [5, 0]), /added prefixes not strictly ascending/);
  rejects(message(1, [0xff, 0xff, 0xff, 0xff, 0x10]), /prefix above 2\^32-1/);
  rejects(message(2, [0xff, 0xff, 0xff, 0xff, 0x0f, 1]), /prefix above 2\^32-1/); // the sum of the gaps
  rejects(message(1, [0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), /varint longer than 5 bytes/);
  rejects(message(1, [0x85, 0x00]), /shortest form/);
  rejects(message(1, [0x85]), /truncated in the added prefixes/);
  rejects(message(1, [5, 0]), /1 trailing bytes/);
  rejects(message(0, [0]), /1 trailing bytes/);
  rejects(message(3, [1, 2]), /truncated: 2 bytes cannot hold 3 prefixes/);
  // In a delta the removed list is checked just the same.
  const b = header();
  b[5] = 1;
  b[31] = 1;
  b.writeUInt32BE(1, 32);
  b.writeUInt32BE(2, 36);
  assert.deepEqual(decodeSummary(Buffer.concat([b, Buffer.from([9, 3, 1])]), LIMITS).removed, Uint32Array.of(3, 4));
  rejects(Buffer.concat([b, Buffer.from([9, 3, 0])]), /removed prefixes not strictly ascending/);
});

test('the encoder refuses what the decoder would', () => {
  /** @param {Partial<Summary>} fields @param {RegExp} message */
  const refuses = (fields, message) =>
    assert.throws(
      () => encodeSummary(full(fields)),
      (err) => err instanceof SummaryFormatError && message.test(err.message),
    );
  refuses({ added: Uint32Array.of(2, 1) }, /added prefixes not strictly ascending/);
  refuses({ added: Uint32Array.of(2, 2) }, /not strictly ascending/);
  refuses({ removed: Uint32Array.of(1) }, /full summary removes nothing/);
  refuses({ base: 7 }, /base generation 7 is not below generation 7/);
  refuses({ generation: 2 ** 53 }, /not a safe non-negative integer/);
  refuses({ generation: -1 }, /not a safe non-negative integer/);
  refuses({ generation: 1.5 }, /not a safe non-negative integer/);
  refuses({ epoch: '0123456789ABCDEF' }, /epoch/);
  refuses({ epoch: '0123' }, /epoch/);
});

test('property: random summaries round-trip exactly, within maxEncodedBytes', () => {
  fc.assert(
    fc.property(summary(), (s) => {
      const bytes = encodeSummary(s);
      assert.ok(bytes.length <= maxEncodedBytes(s.added.length + s.removed.length));
      assert.deepEqual(decodeSummary(bytes, { maxEntries: s.added.length + s.removed.length }), s);
    }),
    { numRuns: 300 },
  );
});

test('property: large sets (up to 50,000) round-trip exactly', () => {
  const large = fc.integer({ min: 0, max: 50_000 }).chain((n) => fc.uint32Array({ minLength: n, maxLength: n }).map(sortedSet));
  fc.assert(
    fc.property(large, epoch, generation, (added, e, g) => {
      const s = full({ epoch: e, generation: g, added });
      assert.deepEqual(roundTrip(s), s);
    }),
    { numRuns: 20 },
  );
});

test('property: every strict prefix of a valid message is truncated', () => {
  fc.assert(
    fc.property(summary(40), (s) => {
      const bytes = encodeSummary(s);
      for (let length = 0; length < bytes.length; length++) rejects(bytes.subarray(0, length), /truncated/);
    }),
  );
});

test('property: random bytes decode to a sound summary or throw SummaryFormatError', () => {
  // Bare random bytes rarely get past the magic; most inputs start with a header that is valid or nearly so.
  const nearHeader = fc
    .tuple(
      fc.constantFrom(1, 1, 1, 0, 2),
      fc.constantFrom(0, 1, 2, 255),
      fc.constantFrom(0, 0, 0, 1),
      fc.uint8Array({ minLength: 24, maxLength: 24 }),
      fc.nat(60),
      fc.nat(60),
      fc.uint8Array({ maxLength: 120 }),
    )
    .map(([version, kind, reserved, numbers, added, removed, body]) => {
      const b = Buffer.alloc(40);
      b.write('PSUM', 0, 'latin1');
      b[4] = version;
      b[5] = kind;
      b[7] = reserved;
      b.set(numbers, 8);
      // Generations below 2^53; the flipped-byte property reaches the others.
      b[16] = 0;
      b[17] &= 0x1f;
      b[24] = 0;
      b[25] &= 0x1f;
      if (kind === 0 && body.length % 2) b.fill(0, 24, 32);
      b.writeUInt32BE(added, 32);
      b.writeUInt32BE(kind === 0 && body.length % 3 ? 0 : removed, 36);
      return Buffer.concat([b, body]);
    });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), nearHeader), fc.integer({ min: 0, max: 100 }), (bytes, maxEntries) =>
      decodesSoundly(bytes, { maxEntries }),
    ),
    { numRuns: 2000 },
  );
});

test('property: a valid message with one byte changed decodes soundly or throws SummaryFormatError', () => {
  fc.assert(
    fc.property(
      summary(60).filter((s) => s.added.length + s.removed.length > 0),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      (s, where, flip) => {
        const bytes = encodeSummary(s);
        bytes[where % bytes.length] ^= flip;
        decodesSoundly(bytes);
      },
    ),
    { numRuns: 2000 },
  );
});

test('property: a header claiming more prefixes than the limit or the bytes allow throws before allocating them', () => {
  /**
   * How much the array buffers grew while the message was rejected: what the decoder allocated is still counted
   * when it throws, as nothing has collected it yet.
   * @param {Uint8Array} message @param {RegExp} reason @param {number} maxEntries
   */
  const allocatedRejecting = (message, reason, maxEntries) => {
    const before = process.memoryUsage().arrayBuffers;
    rejects(message, reason, { maxEntries });
    return process.memoryUsage().arrayBuffers - before;
  };
  const MiB = 1024 * 1024;
  const b = header();
  b.writeUInt32BE(U32_MAX, 32);
  assert.ok(allocatedRejecting(b, /more than 2147483648 entries: 4294967295/, 2 ** 31) < MiB);
  assert.ok(allocatedRejecting(b, /truncated: 0 bytes cannot hold 4294967295 prefixes/, 2 ** 32) < MiB);
  b[5] = 1;
  b[31] = 1;
  b.writeUInt32BE(U32_MAX, 36);
  assert.ok(allocatedRejecting(b, /truncated: 0 bytes cannot hold 8589934590 prefixes/, 2 ** 40) < MiB);
  // Counts up to 2^26 each: up to 512 MiB of Uint32Arrays if they were allocated from the header.
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 26 }),
      fc.integer({ min: 0, max: 2 ** 26 }),
      fc.uint8Array({ maxLength: 100 }),
      (added, removed, body) => {
        fc.pre(added + removed > body.length);
        const m = Buffer.concat([b, body]);
        m.writeUInt32BE(added, 32);
        m.writeUInt32BE(removed, 36);
        const grown = allocatedRejecting(m, /truncated/, 2 ** 31);
        assert.ok(grown < MiB, `array buffers grew by ${grown} bytes`);
      },
    ),
  );
});

test('property: more prefixes than maxEntries throws, at the limit decodes', () => {
  fc.assert(
    fc.property(summary(100), fc.nat(100), (s, maxEntries) => {
      const entries = s.added.length + s.removed.length;
      const bytes = encodeSummary(s);
      if (entries > maxEntries) rejects(bytes, new RegExp(`more than ${maxEntries} entries: ${entries}`), { maxEntries });
      else assert.deepEqual(decodeSummary(bytes, { maxEntries }), s);
    }),
  );
});

test('maxEncodedBytes: within two bytes of the longest messages, never below any', () => {
  /**
   * A set of `n` prefixes whose encoding is as long as can be: every gap one byte, then as many as the range allows
   * lengthened to 2 bytes, then to 3 … (the first gap last: it alone may be 0).
   * @param {number} n
   */
  const worst = (n) => {
    const least = [1, 2 ** 7, 2 ** 14, 2 ** 21, 2 ** 28];
    const lengths = new Array(n).fill(1);
    let left = U32_MAX - Math.max(0, n - 1);
    for (let length = 2; length <= 5; length++) {
      for (let i = n - 1; i >= 0; i--) {
        const cost = least[length - 1] - (i === 0 && length === 2 ? 0 : least[length - 2]);
        if (cost > left) break;
        left -= cost;
        lengths[i] = length;
      }
    }
    const values = [];
    let value = 0;
    for (const [i, length] of lengths.entries()) values.push((value += i === 0 && length === 1 ? 0 : least[length - 1]));
    return Uint32Array.from(values);
  };
  for (const n of [0, 1, 2, 16, 17, 100, 1000, 5000, 20000]) {
    const added = worst(n);
    // n in each of a delta's lists: both ranges used. The bound pools the two, which may overstate by a byte or two.
    const delta = { epoch: EPOCH, generation: 1, base: 0, added, removed: added };
    const longest = encodeSummary(delta).length;
    assert.ok(longest <= maxEncodedBytes(2 * n) && longest >= maxEncodedBytes(2 * n) - 2, `${2 * n} entries: ${longest}`);
    assert.ok(encodeSummary(full({ added })).length <= maxEncodedBytes(n));
  }
  assert.equal(maxEncodedBytes(0), 40);
  assert.equal(maxEncodedBytes(1), 45);
  let previous = 0;
  for (const n of [0, 1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 2 ** 32, 2 ** 33, 2 ** 40]) {
    const bound = maxEncodedBytes(n);
    assert.ok(bound >= previous && bound >= 40 + Math.min(n, 2 * U32_MAX), `${n}: ${bound}`);
    previous = bound;
  }
  assert.throws(() => maxEncodedBytes(-1), /not a count of entries/);
});

test('property: applyDelta agrees with a Set model', () => {
  // Small ranges make the lists overlap often.
  const values = fc.oneof(fc.uint32Array({ maxLength: 100 }), fc.array(fc.nat(150), { maxLength: 100 }));
  fc.assert(
    fc.property(values, values, values, (current, added, removed) => {
      const model = new Set(current);
      for (const v of added) model.add(v);
      for (const v of removed) model.delete(v);
      const delta = { epoch: EPOCH, generation: 2, base: 1, added: sortedSet(added), removed: sortedSet(removed) };
      const result = applyDelta(sortedSet(current), delta);
      assert.ok(result instanceof Uint32Array);
      assert.deepEqual(result, sortedSet(model));
      assert.equal(result.buffer.byteLength, result.length * 4, 'no slack kept');
    }),
    { numRuns: 500 },
  );
  assert.throws(() => applyDelta(new Uint32Array(), full({})), SummaryFormatError);
});

test('property: containsPrefix agrees with Set.has', () => {
  fc.assert(
    fc.property(prefixSet(300), fc.array(fc.integer({ min: 0, max: U32_MAX }), { maxLength: 50 }), (set, probes) => {
      const model = new Set(set);
      for (const probe of [...probes, ...set, 0, U32_MAX]) assert.equal(containsPrefix(set, probe), model.has(probe), String(probe));
      for (const member of set) {
        assert.equal(containsPrefix(set, member + 1), model.has(member + 1));
        assert.equal(containsPrefix(set, member - 1), model.has(member - 1));
      }
    }),
    { numRuns: 300 },
  );
  assert.equal(containsPrefix(new Uint32Array(), 0), false);
});

test('prefixOf takes the first four bytes of a SHA-256, big-endian', () => {
  const sha256 = (/** @type {string} */ text) => createHash('sha256').update(text).digest('hex');
  assert.equal(sha256(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(prefixOf(sha256('')), 0xe3b0c442);
  assert.equal(prefixOf(sha256('abc')), 0xba7816bf);
  assert.equal(prefixOf('0'.repeat(64)), 0);
  assert.equal(prefixOf(`00000001${'f'.repeat(56)}`), 1);
  assert.equal(prefixOf('f'.repeat(64)), U32_MAX);
  assert.throws(() => prefixOf('E3B0C442'.padEnd(64, '0')), /not a lower-case hex SHA-256/);
  assert.throws(() => prefixOf('e3b0c442'), /not a lower-case hex SHA-256/);
});
