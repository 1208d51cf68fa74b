#!/usr/bin/env node
// `npm run demo` (as root): two hosts on a private test network, each with its own bus, avahi-daemon and
// passimd. A file published on h1 is found through Avahi and downloaded on h2 with passimctl.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorMessage, waitFor } from './lib/process.js';
import { startLan } from './lib/lan.js';

if (process.getuid?.() !== 0) {
  console.error('The demo builds network namespaces and must run as root: sudo npm run demo');
  process.exit(1);
}

const t0 = performance.now();
let phaseStart = t0;
const ms = (/** @type {number} */ from) => `${Math.round(performance.now() - from)} ms`;
const say = (/** @type {string} */ text) => console.log(`[${(((performance.now() - t0) / 1000).toFixed(2)).padStart(6)} s] ${text}`);
const indent = (/** @type {string} */ text) =>
  text
    .trim()
    .split('\n')
    .map((line) => `           | ${line}`)
    .join('\n');
const phaseDone = (/** @type {string} */ text) => {
  say(`${text} (${ms(phaseStart)})`);
  phaseStart = performance.now();
};

/** @type {Promise<import('./lib/lan.js').Lan> | null} */
let lanStarting = null;
/** @type {string | undefined} */
let scratch;
let interrupted = false;
/** @type {Promise<void> | null} */
let tearingDown = null;
function tearDown() {
  tearingDown ??= (async () => {
    const start = performance.now();
    // An interrupt may come while the LAN is still coming up: let startLan finish (its waits are bounded), then stop it.
    const lan = await lanStarting?.catch(() => null);
    await lan?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
    say(`torn down: every process stopped, namespaces deleted (${ms(start)})`);
  })();
  return tearingDown;
}

process.once('SIGINT', () => {
  interrupted = true;
  say('interrupted, tearing down…');
  tearDown()
    .catch((err) => console.error(`teardown: ${err.message}`))
    .finally(() => process.exit(130));
});

try {
  say('building a two-host LAN: namespaces on a bridge, per host a bus, avahi-daemon and passimd');
  lanStarting = startLan(2, { onProgress: (text) => say(`  ${text}`) });
  const lan = await lanStarting;
  phaseDone('network and daemons up');
  const [h1, h2] = lan.hosts;

  scratch = await mkdtemp(join(tmpdir(), 'passim-demo-'));
  const name = 'demo-firmware.bin';
  const path = join(scratch, name);
  const content = randomBytes(4 * 1024 * 1024);
  await writeFile(path, content);
  const hash = createHash('sha256').update(content).digest('hex');
  phaseStart = performance.now();
  const published = await h1.cli(['publish', path]);
  if (published.code !== 0) throw new Error(`passimctl publish on h1 failed:\n${published.stdout}${published.stderr}`);
  phaseDone(`h1: published ${name} (4 MiB), sha256 ${hash}`);
  console.log(indent(published.stdout));

  say(`h2: asking its passimd for ${name} until Avahi has carried h1's advertisement over`);
  const found = await waitFor(
    async () => {
      const result = await h2.lookup(name, hash);
      return result.status === 302 ? result : null;
    },
    `h2 to find ${name} on the LAN`,
    20000,
    100,
  );
  phaseDone(`h2: found, passimd redirects to ${found.location}`);

  const cwd = await mkdtemp(join(scratch, 'h2-'));
  const lookupStart = performance.now();
  const lookup = await h2.lookup(name, hash);
  say(`h2: a warm lookup answers ${lookup.status} in ${ms(lookupStart)}`);
  phaseStart = performance.now();
  const downloaded = await h2.cli(['download', name, hash], { cwd });
  if (downloaded.code !== 0) throw new Error(`passimctl download on h2 failed:\n${downloaded.stdout}${downloaded.stderr}`);
  phaseDone(`h2: passimctl download ${name} ${hash.slice(0, 12)}…`);
  console.log(indent(downloaded.stdout));
  const same = (await readFile(join(cwd, name))).equals(content);
  if (!same) throw new Error('the file on h2 differs from the one published on h1');
  say('h2: the downloaded bytes equal the file published on h1');
  await tearDown();
  say('demo finished');
} catch (err) {
  // After an interrupt, failures are the teardown's doing and the SIGINT handler finishes the job.
  if (!interrupted) {
    console.error(`\ndemo failed: ${errorMessage(err)}`);
    const lan = await lanStarting?.catch(() => null);
    for (const host of lan?.hosts ?? []) {
      console.error(`--- passimd on ${host.name}, last lines:\n${host.daemon.output().split('\n').slice(-15).join('\n')}`);
    }
    await tearDown().catch((teardownErr) => console.error(`teardown: ${teardownErr.message}`));
    process.exitCode = 1;
  }
}
