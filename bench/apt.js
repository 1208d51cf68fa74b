#!/usr/bin/env node
// apt through passim's method against apt alone, in one run, with real apt on the test LAN. Prints figures,
// asserts nothing.
//   npm run build && node bench/apt.js          (as root; npm run bench:apt)
//
// A LAN of three test hosts (test/lib/lan.js): h1 and h2 run ours, h3 is the origin, an HTTP server of the
// test's own serving a signed by-hash repository of APT_BENCH_PACKAGES synthetic packages (test/lib/apt-repo.js).
// Each run is `apt-get update` then `apt-get download` of every package with fresh private apt state
// (APT_CONFIG, never the machine's own), timed from the first command's start to the second's end.
//
// 1. Nothing on the LAN: plain apt and apt through the method (its defaults: indexes looked up and published,
//    packages looked up only), alternating, APT_BENCH_ROUNDS times each; after each run through the method,
//    what it published is unpublished again so that the next run finds the LAN as empty as the first.
//    Measured twice: against the origin as it is (on the veth, as fast as the LAN: the method's cost at its
//    most visible) and against the origin slowed like a mirror on the internet (APT_BENCH_MIRROR_RTT_MS,
//    APT_BENCH_MIRROR_MBIT; held back and paced by the origin itself, see test/lib/apt-repo.js).
// 2. A second host: h1 fetches everything with Acquire::passim::Share-Packages, then h2 does; origin bytes
//    h2 / h1 and both times, against the mirror-like origin.
//
// Environment (defaults in brackets): APT_BENCH_PACKAGES [120], APT_BENCH_PAYLOAD [8192] random bytes in
// each package, APT_BENCH_ROUNDS [5], APT_BENCH_MIRROR_RTT_MS [20], APT_BENCH_MIRROR_MBIT [100].
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLan } from '../test/lib/lan.js';
import { aptRoot, buildRepository, startOrigin } from '../test/lib/apt-repo.js';
import { call, getItems } from '../test/lib/passim.js';
import { envNumber } from './lib/env.js';
import { startRun } from './lib/run.js';
import { waitFor } from '../test/lib/process.js';

const PACKAGES = envNumber('APT_BENCH_PACKAGES', 120);
const PAYLOAD = envNumber('APT_BENCH_PAYLOAD', 8192);
const ROUNDS = envNumber('APT_BENCH_ROUNDS', 5);
const RTT_MS = envNumber('APT_BENCH_MIRROR_RTT_MS', 20, { integer: false });
const MBIT = envNumber('APT_BENCH_MIRROR_MBIT', 100, { integer: false });
const FAST_PORT = 8080;
const MIRROR_PORT = 8081;
const SHARE_PACKAGES = 'Acquire::passim::Share-Packages "true";\n';

startRun('bench/apt.js');

const median = (/** @type {number[]} */ values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (/** @type {number} */ ms) => `${Math.round(ms)} ms`;

const scratch = await mkdtemp(join(tmpdir(), 'passim-bench-apt-'));
await chmod(scratch, 0o755);
/** @type {Awaited<ReturnType<typeof startLan>> | undefined} */
let lan;
/** @type {Awaited<ReturnType<typeof startOrigin>>[]} */
const origins = [];
try {
  console.log(`building a repository of ${PACKAGES} packages of ${PAYLOAD} random bytes…`);
  const repository = await buildRepository(join(scratch, 'origin'), { count: PACKAGES, payloadBytes: PAYLOAD });
  lan = await startLan(3);
  const [h1, h2, h3] = lan.hosts;
  const fast = await startOrigin(h3.ns, repository.repo, FAST_PORT);
  const mirror = await startOrigin(h3.ns, repository.repo, MIRROR_PORT, {
    latencyMs: RTT_MS,
    bytesPerSecond: (MBIT * 1e6) / 8,
  });
  origins.push(fast, mirror);
  let roots = 0;

  /**
   * apt-get update and download of every package on `host`, fresh state; returns ms and origin bytes.
   * @param {typeof h1} host
   * @param {Awaited<ReturnType<typeof startOrigin>>} origin
   * @param {number} port
   * @param {{ method: boolean, extra?: string }} options
   */
  const fetchAll = async (host, origin, port, { method, extra = '' }) => {
    const apt = await aptRoot(join(scratch, `apt-${++roots}`), {
      origin: `http://${h3.address}:${port}/`,
      keyring: repository.keyring,
      method,
      extra,
    });
    const before = origin.bytesTo(host.address);
    const started = performance.now();
    for (const args of [['update'], ['download', ...repository.packages.map((p) => p.name)]]) {
      const result = await apt.run(host.ns, host.bus.env, args);
      if (result.code !== 0) throw new Error(`apt-get ${args[0]} failed:\n${result.stdout}\n${result.stderr}`);
    }
    const ms = performance.now() - started;
    await rm(apt.dir, { recursive: true, force: true });
    return { ms, bytes: origin.bytesTo(host.address) - before };
  };

  /** Unpublishes everything `host` shares, so that the next run finds nothing. @param {typeof h1} host */
  const emptyStore = async (host) => {
    for (const item of await getItems(host.client)) await call(host.client, 'Unpublish', 's', [item.hash]);
  };

  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  for (const [label, origin, port] of /** @type {const} */ ([
    ['origin on the LAN (no delay)', fast, FAST_PORT],
    [`origin like a mirror (${RTT_MS} ms round trip, ${MBIT} Mbit/s)`, mirror, MIRROR_PORT],
  ])) {
    /** @type {number[]} */
    const plain = [];
    /** @type {number[]} */
    const through = [];
    let plainBytes = 0;
    let throughBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const a = await fetchAll(h1, origin, port, { method: false });
      const b = await fetchAll(h1, origin, port, { method: true });
      plain.push(a.ms);
      through.push(b.ms);
      plainBytes = a.bytes;
      throughBytes = b.bytes;
      await emptyStore(h1);
    }
    const overhead = median(through) - median(plain);
    console.log(`\nnothing on the LAN, ${label}: apt-get update + download of ${PACKAGES} packages, median of ${ROUNDS}`);
    console.log(`  apt alone          ${fmt(median(plain))}  (runs: ${plain.map(Math.round).join(' ')})`);
    console.log(`  through the method ${fmt(median(through))}  (runs: ${through.map(Math.round).join(' ')})`);
    console.log(`  added              ${fmt(overhead)} = ${((100 * overhead) / median(plain)).toFixed(1)} %  (target ≤ 2 %)`);
    console.log(`  origin bytes       ${plainBytes} alone, ${throughBytes} through the method`);
  }

  const first = await fetchAll(h1, mirror, MIRROR_PORT, { method: true, extra: SHARE_PACKAGES });
  const shared = await getItems(h1.client);
  const newest = shared[0];
  await waitFor(async () => (await h2.lookup(String(newest.filename), String(newest.hash))).status === 302, "h2 to learn h1's items");
  const second = await fetchAll(h2, mirror, MIRROR_PORT, { method: true, extra: SHARE_PACKAGES });
  console.log(`\nsecond host, Share-Packages on both, origin like a mirror:`);
  console.log(`  h1 (first)  ${fmt(first.ms)}, ${first.bytes} bytes from the origin; ${shared.length} items published`);
  console.log(
    `  h2 (second) ${fmt(second.ms)}, ${second.bytes} bytes from the origin = ${((100 * second.bytes) / first.bytes).toFixed(2)} % of h1's (target ≤ 5 %)`,
  );
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
} finally {
  for (const origin of origins) await origin.stop();
  await lan?.stop();
  await rm(scratch, { recursive: true, force: true });
}
