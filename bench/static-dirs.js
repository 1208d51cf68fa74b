#!/usr/bin/env node
// Benchmark of static folders (issue 5): prints figures, asserts nothing.
//   npx tsc -p . && node bench/static-dirs.js
// 10,000 small files in a folder named by passim.d; passimd starts once (hashing them and caching the hashes in
// xattrs), stops, and starts again. Printed: time from spawn to owning org.freedesktop.Passim (the harness
// polls every 50 ms) and to Status 3 (Running), for both starts. Target for the cached start: under 2 s.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect, startBus, startDaemon } from '../test/lib/harness.js';
import { waitFor } from '../test/lib/process.js';
import { getItems, getProperty } from '../test/lib/passim.js';

const FILES = 10_000;
const RUNNING = 3;

const root = await mkdtemp(join(tmpdir(), 'passim-bench-static-'));
const folder = join(root, 'mirror');
const etc = join(root, 'etc');
await mkdir(folder);
await mkdir(join(etc, 'passim.d'), { recursive: true });
for (let i = 0; i < FILES; i += 100) {
  await Promise.all(Array.from({ length: 100 }, (_, j) => writeFile(join(folder, `file-${i + j}.bin`), `content of file ${i + j}\n`)));
}
await writeFile(join(etc, 'passim.d', 'mirror.conf'), `[passim]\nPath=${folder}\n`);

const bus = await startBus();
const client = await connect(bus);
let localStateDir;
try {
  for (const label of ['first start (hashes, writes xattrs)', 'second start (hashes cached)']) {
    const spawned = performance.now();
    const daemon = await startDaemon(bus, { sysconfDir: etc, localStateDir });
    const owned = performance.now() - spawned;
    await waitFor(async () => (await getProperty(client, 'Status')) === RUNNING, 'Status Running', 15000, 10);
    const running = performance.now() - spawned;
    const items = (await getItems(client)).length;
    console.log(`${label}: bus name after ${owned.toFixed(0)} ms, Status Running after ${running.toFixed(0)} ms, ${items} items`);
    localStateDir = daemon.localStateDir;
    await daemon.stop();
  }
} finally {
  client.disconnect();
  await bus.stop();
  await rm(root, { recursive: true, force: true });
  if (localStateDir) await rm(localStateDir, { recursive: true, force: true });
}
