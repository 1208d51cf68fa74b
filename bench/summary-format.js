#!/usr/bin/env node
// Benchmark of the hash summary format (src/daemon/lan/summary-format.ts): prints figures, asserts nothing.
//   npx tsc -p . && node bench/summary-format.js
// For each size, random SHA-256 hashes (random bytes: a SHA-256 is as uniform) make a full summary; times are the
// median of RUNS runs. The filters it is compared with are not built: their sizes come from formulas.
import { randomBytes } from 'node:crypto';
import { applyDelta, containsPrefix, decodeSummary, encodeSummary, maxEncodedBytes, prefixOf } from '../dist/daemon/lan/summary-format.js';

const SIZES = [10_000, 100_000, 1_000_000];
const RUNS = 7;
const DELTA_ADDED = 50;
const DELTA_REMOVED = 50;
const LOOKUPS = 1_000_000;
const EPOCH = randomBytes(8).toString('hex');

/** Median milliseconds of `fn` over RUNS runs. @param {() => unknown} fn */
function time(fn) {
  const ms = [];
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    fn();
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return ms.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
}

/** Prefixes of `count` random hashes, as the daemon would take them: from the hex. @param {number} count */
function randomPrefixes(count) {
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = prefixOf(randomBytes(32).toString('hex'));
  return out;
}

const kB = (/** @type {number} */ bytes) => `${(bytes / 1000).toFixed(1)} kB`;
/** Bloom filter with the optimal number of hash functions: -n ln p / (ln 2)^2 bits. @param {number} n @param {number} p */
const bloomBytes = (n, p) => Math.ceil((-n * Math.log(p)) / Math.LN2 ** 2 / 8);
/** Binary fuse filter, 8-bit fingerprints: about 1.125 fingerprints a key (9 bits), false positives 1/256. */
const fuse8Bytes = (/** @type {number} */ n) => Math.ceil((n * 9) / 8);

/** @type {Record<string, string | number>[]} */
const rows = [];
for (const n of SIZES) {
  const set = randomPrefixes(n)
    .sort()
    .filter((v, i, a) => i === 0 || v !== a[i - 1]);
  const summary = { epoch: EPOCH, generation: 1000, base: null, added: set, removed: new Uint32Array() };
  const bytes = encodeSummary(summary);
  const encodeMs = time(() => encodeSummary(summary));
  const decodeMs = time(() => decodeSummary(bytes, { maxEntries: n }));

  // A delta: DELTA_ADDED new prefixes, DELTA_REMOVED of the present ones.
  const present = new Set(set);
  const added = randomPrefixes(DELTA_ADDED * 2)
    .filter((v) => !present.has(v))
    .slice(0, DELTA_ADDED)
    .sort();
  const removed = Uint32Array.from({ length: DELTA_REMOVED }, () => set[Math.floor(Math.random() * set.length)])
    .sort()
    .filter((v, i, a) => i === 0 || v !== a[i - 1]);
  const delta = { epoch: EPOCH, generation: 1001, base: 1000, added, removed };
  const deltaBytes = encodeSummary(delta).length;
  const applyMs = time(() => applyDelta(set, delta));

  // Lookups: half members, half random (almost all absent).
  const probes = Uint32Array.from({ length: LOOKUPS }, (_, i) =>
    i % 2 ? set[Math.floor(Math.random() * set.length)] : (Math.random() * 2 ** 32) >>> 0,
  );
  let found = 0;
  const lookupMs = time(() => {
    found = 0;
    for (let i = 0; i < probes.length; i++) if (containsPrefix(set, probes[i])) found++;
  });

  rows.push({
    hashes: n,
    'distinct prefixes': set.length,
    'prefix false positives': `${((set.length / 2 ** 32) * 100).toFixed(4)} %`,
    'full summary': kB(bytes.length),
    'bytes/item': (bytes.length / set.length).toFixed(2),
    'bound (maxEncodedBytes)': kB(maxEncodedBytes(n)),
    'encode ms': encodeMs.toFixed(2),
    'decode ms': decodeMs.toFixed(2),
    'delta message': `${deltaBytes} B (+${added.length}/-${removed.length})`,
    'applyDelta ms': applyMs.toFixed(2),
    'lookups/s': `${(((LOOKUPS / lookupMs) * 1000) / 1e6).toFixed(1)} M (${found} hits)`,
    'Bloom 1 % (formula)': kB(bloomBytes(n, 0.01)),
    'binary fuse 8-bit, 0.39 % (formula)': kB(fuse8Bytes(n)),
    'exact 8-byte prefixes': kB(8 * n),
  });
}

console.log(`node ${process.version}, median of ${RUNS} runs; ${LOOKUPS.toLocaleString('en')} lookups a run`);
for (const key of Object.keys(rows[0] ?? {})) {
  console.log(`${key.padEnd(38)}${rows.map((row) => String(row[key]).padStart(24)).join('')}`);
}
