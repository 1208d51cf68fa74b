// Avahi is optional: passimd falls back from Avahi 0.8's Server2 to the older Server interface, and keeps serving
// local files and its D-Bus API when Avahi refuses every call, crashes or restarts. Real avahi-daemons on a test
// network (test/lib/lan.js); what Avahi offers is cut down by the bus policy of the host under test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dbus from 'dbus-next';
import { nameHasOwner } from './lib/harness.js';
import { waitFor } from './lib/process.js';
import { PASSIM_PORT, startLan } from './lib/lan.js';
import { getItems, getProperty } from './lib/passim.js';

const sha256 = (/** @type {Buffer} */ data) => createHash('sha256').update(data).digest('hex');
const subtype = (/** @type {string} */ hash) => `_${hash.slice(0, 60)}._sub._cache._tcp`;
const STATUS_RUNNING = 3;

// Mandatory, not default: avahi-dbus.conf allows root (passimd here) everything in a <policy user="root">, which
// dbus-daemon applies after the default context; only a mandatory policy comes after that.
const DENY_SERVER2 = `<policy context="mandatory">
    <deny send_destination="org.freedesktop.Avahi" send_interface="org.freedesktop.Avahi.Server2"/>
  </policy>`;
// A reduced service: Server2 is there, but without the methods that make browsers and resolvers.
const DENY_PREPARE = `<policy context="mandatory">
    <deny send_destination="org.freedesktop.Avahi" send_interface="org.freedesktop.Avahi.Server2" send_member="ServiceBrowserPrepare"/>
    <deny send_destination="org.freedesktop.Avahi" send_interface="org.freedesktop.Avahi.Server2" send_member="ServiceResolverPrepare"/>
  </policy>`;
const DENY_AVAHI = `<policy context="mandatory">
    <deny send_destination="org.freedesktop.Avahi"/>
  </policy>`;

/**
 * @param {import('dbus-next').MessageBus} client
 * @param {string} iface
 */
async function avahiGetState(client, iface) {
  const reply = await client.call(
    new dbus.Message({
      destination: 'org.freedesktop.Avahi',
      path: '/',
      interface: iface,
      member: 'GetState',
    }),
  );
  if (!reply) throw new Error('GetState: no reply');
  return reply.body[0];
}

/**
 * The D-Bus error name `promise` rejects with (undefined for another error), or null if it resolves.
 * @param {Promise<unknown>} promise
 */
async function dbusErrorName(promise) {
  try {
    await promise;
  } catch (err) {
    return err instanceof dbus.DBusError ? err.type : undefined;
  }
  return null;
}

/**
 * Common to both suites: scratch files, lookups and failure reports that carry every passimd's output.
 * @param {() => import('./lib/lan.js').Lan} getLan
 */
function lanHelpers(getLan) {
  /** @type {string} */
  let scratch;
  let counter = 0;
  return {
    async setUp() {
      scratch = await mkdtemp(join(tmpdir(), 'passim-avahi-optional-'));
    },
    async tearDown() {
      if (scratch) await rm(scratch, { recursive: true, force: true });
    },
    /** A new file with unique content: { path, name, hash, content }. */
    async makeFile(size = 1024, name = `item-${++counter}.bin`) {
      const content = randomBytes(size);
      const path = join(scratch, `${counter}-${name}`);
      await writeFile(path, content);
      return { path, name, hash: sha256(content), content };
    },
    /**
     * Waits (bounded) until `from` redirects a lookup of `file` to `peer`.
     * @param {import('./lib/lan.js').Host} from
     * @param {{ name: string, hash: string }} file
     * @param {import('./lib/lan.js').Host} peer
     */
    waitFound(from, file, peer, timeoutMs = 15000) {
      return waitFor(
        async () => {
          const result = await from.lookup(file.name, file.hash);
          return result.status === 302 && result.peer === peer.address ? result : null;
        },
        `${from.name} to find ${file.name} on ${peer.name}`,
        timeoutMs,
      );
    },
    /**
     * A test that fails early if a passimd died before, and whose failure report carries every passimd's output.
     * @param {string} name
     * @param {() => Promise<void>} fn
     */
    lanTest(name, fn) {
      test(name, async () => {
        const lan = getLan();
        const owned = await Promise.all(lan.hosts.map((h) => nameHasOwner(h.client, 'org.freedesktop.Passim')));
        assert.deepEqual(
          lan.hosts.filter((_, i) => !owned[i]).map((h) => h.name),
          [],
          'every passimd is still running',
        );
        try {
          await fn();
        } catch (err) {
          if (err instanceof Error)
            err.message += `\n${lan.hosts.map((h) => `--- passimd on ${h.name}:\n${h.daemon.output().slice(-6000)}`).join('\n')}`;
          throw err;
        }
      });
    },
  };
}

// h1 has no Server2, h2 a full Avahi 0.8, h3 a Server2 without *Prepare methods.
describe('Avahi without org.freedesktop.Avahi.Server2 (as before Avahi 0.8)', () => {
  /** @type {import('./lib/lan.js').Lan} */
  let lan;
  /** @type {import('./lib/lan.js').Host} */
  let h1;
  /** @type {import('./lib/lan.js').Host} */
  let h2;
  /** @type {import('./lib/lan.js').Host} */
  let h3;
  const t = lanHelpers(() => lan);

  before(async () => {
    await t.setUp();
    lan = await startLan(3, { busPolicy: { 1: DENY_SERVER2, 3: DENY_PREPARE } });
    [h1, h2, h3] = lan.hosts;
  });

  after(async () => {
    await lan?.stop();
    await t.tearDown();
  });

  t.lanTest("infrastructure: h1's bus refuses Server2 but not Server; h2's offers both", async () => {
    assert.equal(await dbusErrorName(avahiGetState(h1.client, 'org.freedesktop.Avahi.Server2')), 'org.freedesktop.DBus.Error.AccessDenied');
    assert.equal(await avahiGetState(h1.client, 'org.freedesktop.Avahi.Server'), 2);
    assert.equal(await avahiGetState(h2.client, 'org.freedesktop.Avahi.Server2'), 2);
    assert.equal(await avahiGetState(h3.client, 'org.freedesktop.Avahi.Server2'), 2);
  });

  t.lanTest('passimd on h1 starts, reaches Status running and says it uses Server', async () => {
    assert.equal(await getProperty(h1.client, 'Status'), STATUS_RUNNING);
    await waitFor(
      () => h1.daemon.output().includes('using org.freedesktop.Avahi.Server until Avahi restarts'),
      'passimd on h1 to fall back to org.freedesktop.Avahi.Server',
    );
    assert.doesNotMatch(h2.daemon.output(), /using org\.freedesktop\.Avahi\.Server until/, 'h2 keeps using Server2');
  });

  t.lanTest('an item published on h1 is advertised: h2 browses its subtype and redirects to h1', async () => {
    const file = await t.makeFile(4096, 'from-h1.bin');
    await h1.publish(file.path, { filename: file.name });
    await waitFor(
      async () => (await h2.avahiBrowse(subtype(file.hash))).some((e) => e.address === h1.address),
      `h2 to browse the subtype of ${file.name} at h1`,
    );
    await t.waitFound(h2, file, h1);
    await h1.unpublish(file.hash);
  });

  t.lanTest("h1 finds items on h2 through Server's browsers and resolvers; a hash nobody has is a quick 404", async () => {
    const file = await t.makeFile(2048, 'from-h2.bin');
    await h2.publish(file.path, { filename: file.name });
    const found = await t.waitFound(h1, file, h2);
    assert.equal(found.location, `https://${h2.address}:${PASSIM_PORT}/${file.name}?sha256=${file.hash}`);
    // Many lookups in a row: every browser and resolver made through Server is freed, or Avahi's per-client limit would fail them.
    for (let i = 0; i < 50; i++) assert.equal((await h1.lookup(file.name, file.hash)).status, 302, `lookup ${i}`);
    const nobody = await h1.lookup('nobody.bin', sha256(randomBytes(32)));
    assert.equal(nobody.status, 404);
    assert.ok(nobody.ms < 3000, `a miss took ${nobody.ms} ms`);
    await h2.unpublish(file.hash);
  });

  t.lanTest('h3, whose Server2 cannot make browsers, switches to Server for them, advertises and finds items', async () => {
    await waitFor(
      () =>
        h3.daemon
          .output()
          .includes('Server2.ServiceBrowserPrepare (org.freedesktop.DBus.Error.AccessDenied): using org.freedesktop.Avahi.Server'),
      'passimd on h3 to fall back to org.freedesktop.Avahi.Server for browsing',
    );
    const mine = await t.makeFile(1024, 'from-h3.bin');
    await h3.publish(mine.path, { filename: mine.name });
    await t.waitFound(h2, mine, h3);
    const theirs = await t.makeFile(1024, 'for-h3.bin');
    await h2.publish(theirs.path, { filename: theirs.name });
    await t.waitFound(h3, theirs, h2);
    await h3.unpublish(mine.hash);
    await h2.unpublish(theirs.hash);
  });

  t.lanTest('avahi-daemon on h1 killed → h1 still serves and answers; restarted → advertised and looking up again', async () => {
    const before = await t.makeFile(1024, 'before-crash.bin');
    await h1.publish(before.path, { filename: before.name });
    const remote = await t.makeFile(1024, 'on-h2.bin');
    await h2.publish(remote.path, { filename: remote.name });
    await t.waitFound(h2, before, h1);
    await t.waitFound(h1, remote, h2);

    await h1.avahi.stop('SIGKILL');
    // Local serving and the D-Bus API go on; a lookup needing the network is a miss, at once.
    assert.equal((await h1.get(`/${before.name}?sha256=${before.hash}`)).status, 200);
    const during = await t.makeFile(1024, 'during-crash.bin');
    await h1.publish(during.path, { filename: during.name });
    assert.ok(
      (await getItems(h1.client)).some((item) => item.hash === during.hash),
      'GetItems lists the item published meanwhile',
    );
    assert.equal(await getProperty(h1.client, 'Status'), STATUS_RUNNING);
    const miss = await h1.lookup(remote.name, remote.hash);
    assert.equal(miss.status, 404);
    assert.ok(miss.ms < 1000, `a lookup without Avahi took ${miss.ms} ms`);

    await h1.avahi.start();
    // A fresh cache on h2: whatever it finds of h1 from now on, h1's new avahi-daemon announced.
    await h2.avahi.restart();
    await t.waitFound(h2, before, h1);
    await t.waitFound(h2, during, h1);
    await t.waitFound(h1, remote, h2);
    const fallbacks = h1.daemon.output().match(/using org\.freedesktop\.Avahi\.Server until Avahi restarts/g) ?? [];
    assert.ok(fallbacks.length >= 2, `the choice of interface was made again for the new avahi-daemon (${fallbacks.length} times in all)`);
    for (const hash of [before.hash, during.hash]) await h1.unpublish(hash);
    await h2.unpublish(remote.hash);
  });
});

describe('Avahi refusing every call', () => {
  /** @type {import('./lib/lan.js').Lan} */
  let lan;
  /** @type {import('./lib/lan.js').Host} */
  let h1;
  const t = lanHelpers(() => lan);

  before(async () => {
    await t.setUp();
    lan = await startLan(1, { busPolicy: { 1: DENY_AVAHI } });
    [h1] = lan.hosts;
  });

  after(async () => {
    await lan?.stop();
    await t.tearDown();
  });

  t.lanTest('passimd starts, serves a local file over HTTPS, answers GetItems, warns once and keeps retrying', async () => {
    assert.equal(await dbusErrorName(avahiGetState(h1.client, 'org.freedesktop.Avahi.Server')), 'org.freedesktop.DBus.Error.AccessDenied');
    assert.equal(await getProperty(h1.client, 'Status'), STATUS_RUNNING);

    const file = await t.makeFile(64 * 1024, 'local.bin');
    await h1.publish(file.path, { filename: file.name });
    assert.deepEqual(
      (await getItems(h1.client)).map((item) => item.hash),
      [file.hash],
    );
    const served = await h1.get(`/${file.name}?sha256=${file.hash}`);
    assert.equal(served.status, 200);
    assert.equal(Number(served.headers['content-length']), file.content.length);

    const miss = await h1.lookup('nobody.bin', sha256(randomBytes(32)));
    assert.equal(miss.status, 404);
    assert.ok(miss.ms < 1000, `a lookup with Avahi unusable took ${miss.ms} ms`);

    // Retries at 1, 2 and 4 s after the first failure: all are tried, one is warned about.
    await waitFor(
      () => (h1.daemon.output().match(/cannot use Avahi.*retrying in/g) ?? []).length >= 4,
      'passimd to try Avahi four times',
      15000,
      200,
    );
    const warnings = h1.daemon
      .output()
      .split('\n')
      .filter((line) => line.includes('warning:') && /avahi/i.test(line));
    assert.equal(warnings.length, 1, `one warning about Avahi, not one per try:\n${warnings.join('\n')}`);
    assert.match(warnings[0], /AccessDenied|Rejected send message/);
    assert.ok(await nameHasOwner(h1.client, 'org.freedesktop.Passim'), 'passimd is still running');
    assert.equal(h1.daemon.child.exitCode, null);
  });
});
