// apt's "passim" method with real apt: a signed by-hash repository of 120 packages on an origin host that
// counts its bytes, two hosts with their own passimd and private apt state. The second host gets what the
// first fetched from the LAN; without passimd, or with a neighbour serving corrupt bytes, apt still works.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLan } from './lib/lan.js';
import { waitFor } from './lib/process.js';
import { getItems, getProperty } from './lib/passim.js';
import { aptRoot, buildRepository, fileSha256, startOrigin } from './lib/apt-repo.js';

const PACKAGES = 120;
const PAYLOAD_BYTES = 8192;
const ORIGIN_PORT = 8080;

describe('apt with the passim method', () => {
  /** @type {import('./lib/lan.js').Lan} */
  let lan;
  /** @type {Awaited<ReturnType<typeof startOrigin>>} */
  let origin;
  /** @type {Awaited<ReturnType<typeof buildRepository>>} */
  let repository;
  /** @type {string} */
  let scratch;
  /** @type {string} */
  let originUrl;
  /** @type {Map<string, string>} file name → SHA-256 of the repository's .deb */
  const expected = new Map();
  let roots = 0;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'passim-apt-'));
    await chmod(scratch, 0o755);
    repository = await buildRepository(join(scratch, 'origin'), { count: PACKAGES, payloadBytes: PAYLOAD_BYTES });
    for (const { file } of repository.packages) expected.set(file.slice(file.lastIndexOf('/') + 1), await fileSha256(file));
    lan = await startLan(3);
    origin = await startOrigin(lan.hosts[2].ns, repository.repo, ORIGIN_PORT);
    originUrl = `http://${lan.hosts[2].address}:${ORIGIN_PORT}/`;
  });

  after(async () => {
    await origin?.stop();
    await lan?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /**
   * apt-get update, then apt-get download of every package, on `host` with fresh private state; returns
   * the origin bytes it took, the time, and the downloaded files.
   * @param {import('./lib/lan.js').Host} host
   * @param {{ method: boolean, extra?: string }} options
   */
  async function fetchAll(host, { method, extra = '' }) {
    const apt = await aptRoot(join(scratch, `apt-${++roots}`), { origin: originUrl, keyring: repository.keyring, method, extra });
    const before = origin.bytesTo(host.address);
    const started = performance.now();
    const update = await apt.run(host.ns, host.bus.env, ['update']);
    assert.equal(update.code, 0, `apt-get update failed:\n${update.stdout}\n${update.stderr}`);
    assert.doesNotMatch(update.stderr, /^(W|E):/m, update.stderr);
    const download = await apt.run(host.ns, host.bus.env, ['download', ...repository.packages.map((p) => p.name)]);
    assert.equal(download.code, 0, `apt-get download failed:\n${download.stdout}\n${download.stderr}`);
    const ms = performance.now() - started;
    const files = (await readdir(apt.downloads)).filter((f) => f.endsWith('.deb'));
    assert.equal(files.length, PACKAGES, 'every package downloaded');
    for (const file of files) assert.equal(await fileSha256(join(apt.downloads, file)), expected.get(file), `${file} is the origin's`);
    return { originBytes: origin.bytesTo(host.address) - before, ms, apt, update, download };
  }

  /** @type {number} */
  let firstHostBytes;

  /**
   * Today's traffic figures of `host`'s passimd, as the status page shows them (Traffic a(stttt)).
   * @param {import('./lib/lan.js').Host} host
   */
  async function trafficToday(host) {
    const days = /** @type {[string, bigint, bigint, bigint, bigint][]} */ (await getProperty(host.client, 'Traffic'));
    const [, , , fromNeighbours = 0n, fromOrigin = 0n] = days.at(-1) ?? [];
    return { fromNeighbours: Number(fromNeighbours), fromOrigin: Number(fromOrigin) };
  }

  test('plain apt and apt through the method when the LAN has nothing: both fetch everything from the origin', async () => {
    const [h1] = lan.hosts;
    const plain = await fetchAll(h1, { method: false });
    // Defaults: indexes looked up and published, packages neither.
    const defaults = await fetchAll(h1, { method: true });
    const reported = (await trafficToday(h1)).fromOrigin;
    const through = await fetchAll(h1, { method: true, extra: 'Acquire::passim::Share-Packages "true";\n' });
    // The method reported each package it asked the LAN for and apt's method then fetched (every byte of them).
    const packageBytes = (await Promise.all(repository.packages.map((p) => stat(p.file)))).reduce((n, s) => n + s.size, 0);
    assert.equal((await trafficToday(h1)).fromOrigin - reported, packageBytes, "the method's origin reports");
    firstHostBytes = plain.originBytes;
    assert.ok(plain.originBytes > PACKAGES * PAYLOAD_BYTES, `the origin sent ${plain.originBytes} bytes`);
    assert.equal(defaults.originBytes, plain.originBytes, 'the method fetched from the origin what plain apt fetched');
    // The indexes the run before published come from h1's own passimd now; every package from the origin.
    assert.ok(through.originBytes > PACKAGES * PAYLOAD_BYTES, `${through.originBytes} bytes of packages from the origin`);
    console.log(
      `# nothing on the LAN: apt-get update + download of ${PACKAGES} packages: plain apt ${Math.round(plain.ms)} ms; through the method ${Math.round(defaults.ms)} ms (defaults), ${Math.round(through.ms)} ms (Share-Packages, publishing them); origin bytes ${plain.originBytes}, ${defaults.originBytes}, ${through.originBytes}`,
    );
    // What came from the origin with a matching hash is now shared by h1: every package and the indexes.
    const items = await waitFor(async () => {
      const list = await getItems(h1.client);
      return list.filter((i) => String(i.filename).endsWith('.deb')).length === PACKAGES ? list : null;
    }, 'h1 to publish every package');
    assert.ok(items.length > PACKAGES, `indexes published too (${items.length} items)`);
  });

  test('a second host takes the packages and indexes from the first: at most 5 % of its origin bytes', async () => {
    const [h1, h2] = lan.hosts;
    assert.ok(firstHostBytes, 'the first test ran');
    const items = await getItems(h1.client);
    // h2's passimd learns h1's items from its summary: wait until it finds the last one published.
    const last = items[0];
    await waitFor(async () => (await h2.lookup(String(last.filename), String(last.hash))).status === 302, 'h2 to find h1 items');
    const reported = (await trafficToday(h2)).fromNeighbours;
    const second = await fetchAll(h2, { method: true, extra: 'Acquire::passim::Share-Packages "true";\n' });
    console.log(
      `# second host: origin bytes ${second.originBytes} against ${firstHostBytes} for the first (${((100 * second.originBytes) / firstHostBytes).toFixed(2)} %), ${Math.round(second.ms)} ms`,
    );
    assert.ok(second.originBytes <= firstHostBytes * 0.05, `${second.originBytes} bytes from the origin`);
    // h2 shares on what it took from h1, so that h1's share limit does not end the spread.
    await waitFor(async () => {
      const debs = (await getItems(h2.client)).filter((i) => String(i.filename).endsWith('.deb'));
      return debs.length === PACKAGES ? debs : null;
    }, 'h2 to publish the packages it took from h1');
    // What came from h1 was reported by the method as from a neighbour: at least every package.
    assert.ok((await trafficToday(h2)).fromNeighbours - reported >= PACKAGES * PAYLOAD_BYTES, "the method's neighbour reports");
    assert.ok(
      origin.pathsTo(h2.address).every((p) => p.endsWith('InRelease')),
      `only InRelease (no expected hash) from the origin: ${origin.pathsTo(h2.address).join(' ')}`,
    );
  });

  test('a neighbour serving corrupt bytes: apt still gets the right file, from the origin', async () => {
    const [h1, h2] = lan.hosts;
    const items = await getItems(h1.client);
    const victim = items.find((i) => String(i.filename).endsWith('.deb'));
    assert.ok(victim);
    // h2 shares its own copy since the test before: without it, h2's passimd sends h2 to h1's corrupt one.
    await h2.unpublish(String(victim.hash));
    const stored = join(h1.daemon.dataDir, `${victim.hash}-${victim.filename}`);
    const { size } = await stat(stored);
    await writeFile(stored, Buffer.alloc(size, 0x41));
    const before = origin.pathsTo(h2.address).length;
    // fetchAll checks every downloaded file against the repository's.
    const third = await fetchAll(h2, { method: true, extra: 'Acquire::passim::Share-Packages "true";\n' });
    const fromOrigin = origin.pathsTo(h2.address).slice(before);
    assert.ok(
      fromOrigin.some((p) => p.endsWith(String(victim.filename))),
      `the corrupted one came from the origin: ${fromOrigin.join(' ')}`,
    );
    assert.ok(third.originBytes < firstHostBytes * 0.2, 'the rest still came from the LAN');
  });

  test('passimd stopped: apt fetches everything from the origin through its own method', async () => {
    const [, h2] = lan.hosts;
    await h2.daemon.stop();
    const result = await fetchAll(h2, { method: true, extra: 'Acquire::passim::Share-Packages "true";\n' });
    assert.equal(result.originBytes, firstHostBytes);
  });
});
