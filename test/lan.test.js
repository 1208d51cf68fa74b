// Issue 3 on a real test network: three hosts (network namespaces on a bridge), each with its own bus,
// avahi-daemon and passimd; passimd is a black box reached over D-Bus, HTTPS and passimctl.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nameHasOwner } from './lib/harness.js';
import { waitFor } from './lib/process.js';
import { PASSIM_PORT, startLan } from './lib/lan.js';
import { Metered } from './lib/fake-network-manager.js';
import { call, getItems, getProperty } from './lib/passim.js';

const sha256 = (/** @type {Buffer} */ data) => createHash('sha256').update(data).digest('hex');
const subtype = (/** @type {string} */ hash) => `_${hash.slice(0, 60)}._sub._cache._tcp`;

describe('LAN discovery through Avahi', () => {
  /** @type {import('./lib/lan.js').Lan} */
  let lan;
  /** @type {import('./lib/lan.js').Host} */
  let h1;
  /** @type {import('./lib/lan.js').Host} */
  let h2;
  /** @type {import('./lib/lan.js').Host} */
  let h3;
  /** @type {string} */
  let scratch;
  let fileCounter = 0;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'passim-lan-test-'));
    lan = await startLan(3, { networkManager: [1] });
    [h1, h2, h3] = lan.hosts;
  });

  after(async () => {
    await lan?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /** A new file with unique content in the scratch folder: { path, name, hash, content }. */
  async function makeFile(size = 1024, name = `item-${++fileCounter}.bin`) {
    const content = randomBytes(size);
    const path = join(scratch, `${fileCounter}-${name}`);
    await writeFile(path, content);
    return { path, name, hash: sha256(content), content };
  }

  /**
   * Waits (bounded) until `from` redirects a lookup of `file` to one of `peers`; returns the lookup.
   * @param {import('./lib/lan.js').Host} from
   * @param {{ name: string, hash: string }} file
   * @param {import('./lib/lan.js').Host[]} peers
   */
  function waitFound(from, file, peers, timeoutMs = 15000) {
    const addresses = peers.map((p) => p.address);
    return waitFor(
      async () => {
        const result = await from.lookup(file.name, file.hash);
        return result.status === 302 && result.peer !== undefined && addresses.includes(result.peer) ? result : null;
      },
      `${from.name} to find ${file.name} on ${peers.map((p) => p.name).join(' or ')}`,
      timeoutMs,
    );
  }

  /**
   * Waits (bounded) until `from` answers 404 for `file`.
   * @param {import('./lib/lan.js').Host} from
   * @param {{ name: string, hash: string }} file
   * @param {number} [timeoutMs]
   */
  function waitNotFound(from, file, timeoutMs) {
    return waitFor(
      async () => (await from.lookup(file.name, file.hash)).status === 404,
      `${from.name} to get 404 for ${file.name}`,
      timeoutMs,
    );
  }

  const daemonOutputs = () => lan.hosts.map((h) => `--- passimd on ${h.name}:\n${h.daemon.output().slice(-6000)}`).join('\n');

  /**
   * A test whose failure report carries every passimd's output; it fails early if a passimd died before.
   * @param {string} name
   * @param {() => Promise<void>} fn
   */
  function lanTest(name, fn) {
    test(name, async () => {
      // Asked on the bus: the bus drops a dead daemon's name before this process may have reaped it.
      const owned = await Promise.all(lan.hosts.map((h) => nameHasOwner(h.client, 'org.freedesktop.Passim')));
      const dead = lan.hosts.filter((_, i) => !owned[i]).map((h) => h.name);
      assert.deepEqual(dead, [], 'every passimd is still running (an earlier test killed one)');
      try {
        await fn();
      } catch (err) {
        if (err instanceof Error) err.message += `\n${daemonOutputs()}`;
        throw err;
      }
    });
  }

  lanTest('infrastructure: h2 sees a service that avahi-publish announces on h1', async () => {
    const publisher = h1.avahiPublish(['-s', '--subtype', '_probe._sub._passimtest._tcp', 'probe-h1', '_passimtest._tcp', '4321']);
    try {
      const found = await waitFor(
        async () => (await h2.avahiBrowse('_probe._sub._passimtest._tcp')).find((e) => e.name === 'probe-h1'),
        'h2 to browse the probe service of h1',
      );
      assert.equal(found.address, h1.address);
      assert.equal(found.port, 4321);
    } finally {
      await publisher.stop();
    }
  });

  lanTest('publish on h1 → passimctl download on h2 gets it through the redirect, hash verified', async () => {
    const file = await makeFile(256 * 1024, 'firmware.cab');
    await h1.publish(file.path, { filename: file.name });

    // The wire format of the original: instance name = Name, our port, one subtype per item.
    const name = await getProperty(h1.client, 'Name');
    const instance = await waitFor(
      async () => (await h2.avahiBrowse('_cache._tcp')).find((e) => e.name === name && e.address === h1.address),
      `h2 to browse h1's instance ${name}`,
    );
    assert.equal(instance.port, PASSIM_PORT);
    await waitFor(
      async () => (await h2.avahiBrowse(subtype(file.hash))).some((e) => e.address === h1.address),
      `h2 to browse the subtype of ${file.name}`,
    );

    const found = await waitFound(h2, file, [h1]);
    assert.equal(found.location, `https://${h1.address}:${PASSIM_PORT}/${file.name}?sha256=${file.hash}`);

    const cwd = await mkdtemp(join(scratch, 'download-'));
    const result = await h2.cli(['download', file.name, file.hash], { cwd });
    assert.equal(result.code, 0, `passimctl download failed:\n${result.stdout}${result.stderr}`);
    assert.match(result.stdout, new RegExp(`Saved ${file.name.replace('.', '\\.')}`));
    assert.deepEqual(await readdir(cwd), [file.name], 'only the downloaded file is left, no temporary file');
    assert.ok((await readFile(join(cwd, file.name))).equals(file.content), 'downloaded bytes equal the published file');
  });

  lanTest('unpublish on h1 → h2 gets 404 within 5 s', async () => {
    const file = await makeFile();
    await h1.publish(file.path, { filename: file.name });
    await waitFound(h2, file, [h1]);
    await h1.unpublish(file.hash);
    await waitNotFound(h2, file, 5000);
  });

  lanTest('two hosts holding a hash → redirects are spread over both', async () => {
    const file = await makeFile(4096, 'shared.bin');
    await h1.publish(file.path, { filename: file.name });
    await h3.publish(file.path, { filename: file.name });
    // Both advertisements reach h2's Avahi before passimd's behaviour is judged.
    await waitFor(async () => {
      const addresses = new Set((await h2.avahiBrowse(subtype(file.hash))).map((e) => e.address));
      return addresses.has(h1.address) && addresses.has(h3.address);
    }, 'h2 to browse the subtype on both h1 and h3');

    const peers = new Map();
    for (let i = 0; i < 20; i++) {
      const { status, peer, ms } = await h2.lookup(file.name, file.hash);
      assert.equal(status, 302, `lookup ${i} of the shared item (answered in ${ms} ms)`);
      assert.ok(peer !== undefined && [h1.address, h3.address].includes(peer), `lookup ${i} redirects to ${peer}, not h1 or h3`);
      peers.set(peer, (peers.get(peer) ?? 0) + 1);
    }
    assert.equal(peers.size, 2, `20 redirects all went to ${[...peers.keys()].join()}`);
    await h1.unpublish(file.hash);
    await h3.unpublish(file.hash);
  });

  lanTest('300 items published on h1 → a random sample of them is found from h2', async () => {
    const files = [];
    for (let i = 0; i < 300; i++) {
      const file = await makeFile(64, `many-${i}.bin`);
      await h1.publish(file.path, { filename: file.name });
      files.push(file);
    }
    assert.ok((await call(h1.client, 'GetItems'))[0].length >= 300, 'h1 holds the 300 items');
    const sample = [...files].sort(() => Math.random() - 0.5).slice(0, 30);
    for (const file of sample) await waitFound(h2, file, [h1], 10000);
    for (const file of files) await h1.unpublish(file.hash);
  });

  lanTest('h2 looks up an old item in a loop while h1 publishes and unpublishes others → no lookup fails', async () => {
    const old = await makeFile(2048, 'old.bin');
    await h1.publish(old.path, { filename: old.name });
    await waitFound(h2, old, [h1]);

    // The churn waits for a lookup to complete between its steps, so that lookups interleave with every step.
    let lookups = 0;
    let churning = true;
    let lookingUp = true;
    const nextLookup = async () => {
      const seen = lookups;
      await waitFor(() => lookups > seen || !lookingUp, 'the next lookup from h2');
      if (!lookingUp) throw new Error('the lookups stopped');
    };
    const churn = (async () => {
      try {
        const current = [];
        for (let i = 0; i < 40; i++) {
          const file = await makeFile(128, `churn-${i}.bin`);
          await h1.publish(file.path, { filename: file.name });
          current.push(file);
          await nextLookup();
          const oldest = current.length > 3 ? current.shift() : undefined;
          if (oldest) await h1.unpublish(oldest.hash);
          await nextLookup();
        }
        for (const file of current) await h1.unpublish(file.hash);
      } finally {
        churning = false;
      }
    })();

    const failures = [];
    // Keep looking up a while after the churn too: withdrawals reach h2 with a delay.
    let after = 10;
    try {
      while (churning || after-- > 0) {
        const result = await h2.lookup(old.name, old.hash);
        lookups++;
        if (result.status !== 302 || result.peer !== h1.address) {
          failures.push(`#${lookups}: ${result.status} ${result.peer ?? ''} in ${result.ms} ms`);
        }
      }
    } catch (err) {
      lookingUp = false;
      await churn.catch(() => {});
      throw err;
    }
    await churn;
    assert.equal(
      failures.length,
      0,
      `${failures.length} of ${lookups} lookups of the old item failed, first ones: ${failures.slice(0, 15).join(', ')}`,
    );
    await h1.unpublish(old.hash);
  });

  lanTest('avahi-daemon on h1 restarted → its items are found again within 5 s', async () => {
    const file = await makeFile(1024, 'restart.bin');
    await h1.publish(file.path, { filename: file.name });
    await waitFound(h2, file, [h1]);

    await h1.avahi.stop();
    // Avahi's goodbye packets withdraw h1's records from h2: the lookup below must be answered by the new Avahi.
    await waitNotFound(h2, file, 10000);
    // The 5 s run from the moment the new avahi-daemon is on h1's bus and running.
    await h1.avahi.start();
    await waitFound(h2, file, [h1], 5000);
    await h1.unpublish(file.hash);
  });

  lanTest('NetworkManager reports metered → h1 withdraws its items, Status 4; not metered → back, Status 3', async () => {
    const file = await makeFile(1024, 'metered.bin');
    await h1.publish(file.path, { filename: file.name });
    await waitFound(h2, file, [h1]);
    assert.equal(await getProperty(h1.client, 'Status'), 3, 'GUESS_NO is not metered');

    /** @type {number[]} */
    const statuses = [];
    let changed = 0;
    const onMessage = (/** @type {import('dbus-next').Message} */ msg) => {
      if (msg.path !== '/') return;
      if (
        msg.interface === 'org.freedesktop.DBus.Properties' &&
        msg.member === 'PropertiesChanged' &&
        msg.body[0] === 'org.freedesktop.Passim' &&
        'Status' in msg.body[1]
      )
        statuses.push(msg.body[1].Status.value);
      if (msg.interface === 'org.freedesktop.Passim' && msg.member === 'Changed') changed++;
    };
    const matchRules = [
      "type='signal',sender='org.freedesktop.Passim',path='/',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'",
      "type='signal',sender='org.freedesktop.Passim',path='/',interface='org.freedesktop.Passim',member='Changed'",
    ];
    const bus = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' };
    assert.ok(h1.networkManager, 'h1 runs the fake NetworkManager');
    for (const rule of matchRules) await call(h1.client, 'AddMatch', 's', [rule], bus);
    h1.client.on('message', onMessage);
    try {
      h1.networkManager.setMetered(Metered.YES);
      await waitFor(() => statuses.includes(4), 'PropertiesChanged with Status 4', 5000);
      assert.equal(await getProperty(h1.client, 'Status'), 4);
      await waitFor(() => changed > 0, 'Changed on the status change', 5000);
      await waitNotFound(h2, file, 10000);

      const changedBefore = changed;
      h1.networkManager.setMetered(Metered.NO);
      await waitFor(() => statuses.at(-1) === 3, 'PropertiesChanged with Status 3', 5000);
      assert.equal(await getProperty(h1.client, 'Status'), 3);
      await waitFor(() => changed > changedBefore, 'Changed on the status change', 5000);
      await waitFound(h2, file, [h1], 10000);

      // "Guess yes" counts as metered too.
      h1.networkManager.setMetered(Metered.GUESS_YES);
      await waitFor(() => statuses.at(-1) === 4, 'PropertiesChanged with Status 4 for GUESS_YES', 5000);
      h1.networkManager.setMetered(Metered.GUESS_NO);
      await waitFor(() => statuses.at(-1) === 3, 'PropertiesChanged with Status 3 for GUESS_NO', 5000);
      await waitFound(h2, file, [h1], 10000);
    } finally {
      h1.client.off('message', onMessage);
      for (const rule of matchRules) await call(h1.client, 'RemoveMatch', 's', [rule], bus);
      h1.networkManager.setMetered(Metered.GUESS_NO);
    }
    await h1.unpublish(file.hash);
  });

  lanTest('600 lookups in a row all succeed: every browser and resolver is freed in Avahi', async () => {
    // Avahi allows 1024 objects per client; each hit makes a browser and a resolver, so a leak fails within ~500.
    const file = await makeFile();
    await h1.publish(file.path, { filename: file.name });
    await waitFound(h2, file, [h1]);
    const failed = [];
    for (let i = 0; i < 600; i++) {
      const result = await h2.lookup(file.name, file.hash);
      if (result.status !== 302) failed.push({ i, ...result });
    }
    assert.deepEqual(failed, []);
    await h1.unpublish(file.hash);
  });

  lanTest('a name taken by another host → an alternative name, kept in step with the Name property', async () => {
    for (const item of await getItems(h3.client)) await h3.unpublish(item.hash);
    const name = await getProperty(h3.client, 'Name');
    // h2 claims the instance names h3 would use next (Name, or Name-N while Name is held back after a withdrawal).
    const squatted = [name, `${name}-1`, `${name}-2`];
    const squatters = squatted.map((n) => h2.avahiPublish(['-s', n, '_cache._tcp', '1234']));
    try {
      await waitFor(
        async () => {
          const seen = (await h1.avahiBrowse('_cache._tcp')).filter((e) => e.address === h2.address).map((e) => e.name);
          return squatted.every((n) => seen.includes(n));
        },
        `h1 to see h2's services named ${squatted.join(', ')}`,
      );
      const file = await makeFile();
      await h3.publish(file.path, { filename: file.name });
      const renamed = await waitFor(
        async () => {
          const current = await getProperty(h3.client, 'Name');
          return current !== name ? current : null;
        },
        'h3 to take an alternative name',
        15000,
      );
      assert.ok(renamed.startsWith(name), `${renamed} is derived from ${name}`);
      await waitFor(
        async () => (await h1.avahiBrowse('_cache._tcp')).some((e) => e.name.startsWith(renamed) && e.address === h3.address),
        `h1 to see an instance of h3 named after ${renamed}`,
      );
      await waitFound(h1, file, [h3]);
      await h3.unpublish(file.hash);
    } finally {
      for (const squatter of squatters) await squatter.stop();
    }
  });

  lanTest('a hash nobody has → 404', async () => {
    const hash = sha256(randomBytes(32));
    assert.equal((await h2.lookup('nobody.bin', hash)).status, 404);
    assert.equal((await h1.lookup('nobody.bin', hash)).status, 404);
  });
});
