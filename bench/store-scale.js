// SPDX-License-Identifier: LGPL-2.1-or-later
// The content store at scale: N items on disk in the original's format (plus our verified stamp, as a daemon
// that ran before leaves them), then Store.open, full load, memory, page, expire and publish figures.
// Usage: node --expose-gc bench/store-scale.js [N=100000] [--snapshot]
// The data folder is kept under /var/tmp/passim-bench-store-N and reused while it holds N items. With
// --snapshot the store keeps its index snapshot in that folder's parent: the first run writes it at close,
// the next ones start from it.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setAttributeSync } from '@napi-rs/xattr';
import { Store } from '../dist/daemon/store/store.js';

const N = Number(process.argv.slice(2).find((arg) => !arg.startsWith('--')) ?? 100_000);
const withSnapshot = process.argv.includes('--snapshot');
const root = `/var/tmp/passim-bench-store-${N}`;
const dataDir = join(root, 'data');
const marker = join(root, 'complete');
const u32 = (/** @type {number} */ n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

/** Writes N items as a daemon that ran before leaves them: content, the original's xattrs, our verified stamp. */
function build() {
  if (existsSync(marker) && readFileSync(marker, 'utf8') === String(N)) return false;
  rmSync(root, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const started = performance.now();
  const maxAge = u32(30 * 24 * 3600);
  const shareLimit = u32(5);
  const shareCount = u32(0);
  for (let i = 0; i < N; i++) {
    const content = Buffer.from(`bench item ${i}\n`);
    const hash = createHash('sha256').update(content).digest('hex');
    const path = join(dataDir, `${hash}-firmware-${i % 1000}.cab`);
    const fd = openSync(path, 'wx', 0o644);
    writeSync(fd, content);
    const stat = fstatSync(fd, { bigint: true });
    closeSync(fd);
    setAttributeSync(path, 'user.max_age', maxAge);
    setAttributeSync(path, 'user.share_limit', shareLimit);
    setAttributeSync(path, 'user.cmdline', i % 10 === 0 ? 'gnome-software' : 'fwupd');
    setAttributeSync(path, 'user.share_count', shareCount);
    setAttributeSync(path, 'user.passim.verified', `${stat.size}:${stat.mtimeNs}:${hash}`);
    if (i % 100_000 === 99_999) console.log(`  built ${i + 1} files`);
  }
  writeFileSync(marker, String(N));
  console.log(`built ${N} files in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

const mib = (/** @type {number} */ bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
const gc = /** @type {(() => void) | undefined} */ (globalThis.gc);

function memory() {
  gc?.();
  gc?.();
  const { heapUsed, rss, arrayBuffers, external } = process.memoryUsage();
  return { heapUsed, rss, arrayBuffers, external };
}

/** Anonymous resident memory from /proc/self/smaps_rollup: the heap, buffers and malloc arenas, not code. */
function anonymousMib() {
  const kib = /^Anonymous:\s+(\d+)/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))?.[1];
  return kib === undefined ? '?' : (Number(kib) / 1024).toFixed(1);
}

async function main() {
  build();
  if (!gc) console.log('(run with node --expose-gc for memory figures after collection)');
  const log = { debug() {}, info() {}, warn: (/** @type {string} */ m) => console.log(`warning: ${m}`), error: console.error };
  const auditLogPath = join(root, 'audit.log');
  const before = memory();
  const t0 = performance.now();
  const snapshotPath = withSnapshot ? join(root, 'index.bin') : undefined;
  const store = await Store.open({ dataDir, auditLogPath, maxItemSize: 1 << 30, log, snapshotPath });
  const opened = performance.now() - t0;
  const visibleAtOpen = store.size;
  await store.loaded;
  const loaded = performance.now() - t0;
  const after = memory();
  console.log(`N = ${N}${withSnapshot ? ` (snapshot ${existsSync(join(root, 'index.bin')) ? 'present' : 'absent'} at start)` : ''}`);
  console.log(`Store.open resolved: ${opened.toFixed(0)} ms (${visibleAtOpen} items visible)`);
  console.log(`fully loaded:        ${loaded.toFixed(0)} ms (${store.size} items)`);
  console.log(`heap used:           ${mib(after.heapUsed)} (before open ${mib(before.heapUsed)})`);
  console.log(`array buffers:       ${mib(after.arrayBuffers)}`);
  console.log(`RSS:                 ${mib(after.rss)} (before open ${mib(before.rss)}; anonymous ${anonymousMib()} MiB)`);
  const perItem = (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / store.size;
  console.log(`bytes per item:      ${perItem.toFixed(0)} (heap + array buffers)`);
  console.log(`RSS per item:        ${((after.rss - before.rss) / store.size).toFixed(0)}`);

  let t = performance.now();
  const page = store.page(0, 50);
  console.log(`page(0, 50) first:   ${(performance.now() - t).toFixed(2)} ms (${page.length} items)`);
  t = performance.now();
  store.page(0, 50);
  console.log(`page(0, 50) again:   ${(performance.now() - t).toFixed(3)} ms`);
  t = performance.now();
  const expired = await store.expire();
  console.log(`expire():            ${(performance.now() - t).toFixed(3)} ms (${expired} expired)`);

  const opts = (/** @type {string} */ basename) => ({
    basename,
    maxAge: 3600,
    shareLimit: 5,
    shareCount: 0,
    nextReboot: false,
    cmdline: 'bench',
  });
  /** @type {string[]} */
  const published = [];
  const latencies = [];
  const tag = `${process.pid}-${Date.now()}`;
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    const item = await store.publish(Readable.from([Buffer.from(`seq ${tag} ${i}`)]), opts(`seq-${i}.bin`));
    latencies.push(performance.now() - started);
    published.push(item.hash);
  }
  latencies.sort((a, b) => a - b);
  console.log(`publish latency:     median ${latencies[100]?.toFixed(2)} ms, p90 ${latencies[180]?.toFixed(2)} ms (200 sequential)`);

  const clients = 8;
  const perClient = 100;
  t = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < perClient; i++) {
        const item = await store.publish(Readable.from([Buffer.from(`par ${tag} ${c} ${i}`)]), opts(`par-${c}-${i}.bin`));
        published.push(item.hash);
      }
    }),
  );
  const seconds = (performance.now() - t) / 1000;
  console.log(`publishes/s:         ${((clients * perClient) / seconds).toFixed(0)} (${clients} concurrent publishers)`);

  // Leave the folder as it was built, for the next run.
  for (const hash of published) await store.unpublish(hash);
  const closing = performance.now();
  await store.close();
  console.log(`close():             ${(performance.now() - closing).toFixed(0)} ms${withSnapshot ? ' (writes the snapshot)' : ''}`);
  await rm(auditLogPath, { force: true });
}

await main();
