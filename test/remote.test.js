// What a client on another machine may and may not do: passimd runs in one test namespace, the client in another.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT } from './lib/harness.js';
import { startLan } from './lib/lan.js';
import { nsExec } from './lib/netns.js';
import { waitFor } from './lib/process.js';
import { getItems, publish } from './lib/passim.js';

const FETCH = join(ROOT, 'test', 'lib', 'fetch.js');
const sha256 = (/** @type {string} */ data) => createHash('sha256').update(data).digest('hex');

describe('remote clients', () => {
  /** @type {import('./lib/lan.js').Lan} */
  let lan;
  /** @type {import('./lib/harness.js').Daemon} */
  let daemon;
  /** @type {import('dbus-next').MessageBus} */
  let client;
  /** @type {string} */
  let scratch;
  /** @type {import('./lib/lan.js').Host} */
  let server;
  /** @type {import('./lib/lan.js').Host} */
  let remote;
  /** @type {Record<string, string>} */
  const items = {};

  before(async () => {
    // With Avahi, as in use: the LAN side is open only while something is advertised.
    lan = await startLan(2, { configText: 'Cooldown=3600\n' });
    [server, remote] = lan.hosts;
    daemon = server.daemon;
    client = server.client;
    scratch = await mkdtemp(join(tmpdir(), 'passim-remote-test-'));
    for (const name of ['first.bin', 'second.bin']) {
      const content = `content of ${name}`;
      await writeFile(join(scratch, name), content);
      await publish(client, join(scratch, name), { filename: name, 'share-limit': 10 });
      items[name] = sha256(content);
    }
    await waitFor(async () => (await server.listening()).includes(server.address), 'the LAN listener');
  });

  after(async () => {
    await lan?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /**
   * GET (or HEAD) from inside `host`'s namespace; { status, sha256, headers }.
   * @param {{ ns: string }} host
   * @param {string} address
   * @param {string} path
   */
  async function fetchFrom(host, address, path, method = 'GET') {
    const { stdout } = await nsExec(host.ns, process.execPath, [FETCH, `https://${address}:${daemon.port}${path}`, method]);
    return JSON.parse(stdout);
  }

  const itemPath = (/** @type {string} */ name) => `/${name}?sha256=${items[name]}`;

  test('the index page and its assets are for this machine only', async () => {
    for (const path of ['/', '/style.css', '/favicon.ico']) {
      assert.equal((await fetchFrom(remote, server.address, path)).status, 403, `${path} from another machine`);
      assert.equal((await fetchFrom(server, '127.0.0.1', path)).status, 200, `${path} from loopback`);
    }
  });

  test('a remote client cannot make the daemon search the network', async () => {
    const missing = sha256('nobody has this');
    assert.equal((await fetchFrom(remote, server.address, `/x.bin?sha256=${missing}`)).status, 403);
    assert.equal((await fetchFrom(server, '127.0.0.1', `/x.bin?sha256=${missing}`)).status, 404);
  });

  test('a remote client gets an item once per cooldown, per hash; loopback has no cooldown', async () => {
    const first = await fetchFrom(remote, server.address, itemPath('first.bin'));
    assert.equal(first.status, 200);
    assert.equal(first.sha256, items['first.bin']);
    assert.equal((await fetchFrom(remote, server.address, itemPath('first.bin'))).status, 403, 'again within Cooldown');
    assert.equal((await fetchFrom(remote, server.address, itemPath('second.bin'))).status, 200, 'another hash');
    for (let i = 0; i < 2; i++) assert.equal((await fetchFrom(server, '127.0.0.1', itemPath('first.bin'))).status, 200);

    const shares = Object.fromEntries((await getItems(client)).map((i) => [i.filename, i['share-count']]));
    assert.deepEqual(shares, { 'first.bin': 3, 'second.bin': 1 }, 'only completed transfers count');
  });
});
