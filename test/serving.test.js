// What serving costs and what the owner's limits allow: memory held by clients that never read, connection
// caps, the upload rate, shares counted by bytes, content checked against its hash. The daemon runs in one
// test namespace, remote clients in another; no assertion is about how fast anything is, only about what
// the daemon lets through.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, rm, stat, utimes, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT } from './lib/harness.js';
import { startLan } from './lib/lan.js';
import { residentBytes, stopProcess, waitFor } from './lib/process.js';
import { nsExec } from './lib/netns.js';
import { getItems, publish } from './lib/passim.js';

const FETCH = join(ROOT, 'test', 'lib', 'fetch.js');
/** An unprivileged user (nobody); the tests also use the UIDs just below it, which need no passwd entry. */
const NOBODY = 65534;
const sha256 = (/** @type {string | Buffer} */ data) => createHash('sha256').update(data).digest('hex');
const MiB = 1024 * 1024;

describe('serving limits', () => {
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
  const RATE = 2 * MiB;

  before(async () => {
    // With Avahi, as in use: the LAN side is open only while something is advertised.
    lan = await startLan(2, {
      configText: `MaxUploadRate=${RATE}\nMaxConnections=8\nMaxItemSize=${64 * MiB}\n`,
    });
    [server, remote] = lan.hosts;
    daemon = server.daemon;
    client = server.client;
    scratch = await mkdtemp(join(tmpdir(), 'passim-serving-test-'));
  });

  after(async () => {
    await lan?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /**
   * Publishes `content` as `name` (share-limit 1000 unless `attrs` says otherwise); returns its hash.
   * @param {string} name
   * @param {Buffer} content
   * @param {Record<string, unknown>} attrs
   */
  async function publishBytes(name, content, attrs = {}) {
    const path = join(scratch, name);
    await writeFile(path, content);
    await publish(client, path, { filename: name, 'share-limit': 1000, ...attrs });
    await waitFor(async () => (await server.listening()).includes(server.address), 'the LAN listener');
    return sha256(content);
  }

  /**
   * The command prefix that runs a program as `uid` (nothing for root): local users have their own share of
   * MaxConnections, told apart by the owner of their socket.
   * @param {number | undefined} uid
   */
  const asUser = (uid) => (uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups']);

  /**
   * GET from inside `host`'s namespace with test/lib/fetch.js; what it reports.
   * @param {{ ns: string }} host
   * @param {string} address
   * @param {string} path
   * @param {string} [range]
   * @param {number} [uid] run as this user (root if undefined)
   */
  async function fetchFrom(host, address, path, range, uid) {
    const [command = process.execPath, ...prefix] = [...asUser(uid), process.execPath];
    const { stdout } = await nsExec(host.ns, command, [
      ...prefix,
      FETCH,
      `https://${address}:${daemon.port}${path}`,
      'GET',
      ...(range ? [range] : []),
    ]);
    return JSON.parse(stdout);
  }

  /**
   * `count` TLS connections from inside `host`'s namespace that ask for `path` (if not null) and never read
   * the answer, held until stop(); opened resolves once all of them are connected.
   * @param {{ ns: string }} host
   * @param {string} address
   * @param {string | null} path
   * @param {number} count
   * @param {number} [uid] run as this user (root if undefined)
   */
  function stalledClients(host, address, path, count, uid) {
    const script = `
      const tls = require('node:tls');
      let open = 0;
      for (let i = 0; i < ${count}; i++) {
        const s = tls.connect({ host: ${JSON.stringify(address)}, port: ${daemon.port}, rejectUnauthorized: false }, () => {
          ${path === null ? '' : `s.write('GET ${path} HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n');`}
          s.pause();
          if (++open === ${count}) console.log('open');
        });
        s.on('error', () => {});
      }
      // Held until the test closes our standard input.
      process.stdin.on('end', () => process.exit(0)).resume();`;
    const child = spawn('ip', ['netns', 'exec', host.ns, ...asUser(uid), process.execPath, '-e', script], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    /** @type {Promise<void>} */
    const opened = new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => {
        if (String(d).includes('open')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`the stalled clients exited with ${code} before all were open`)));
    });
    return { opened, stop: () => stopProcess(child) };
  }

  test('a remote transfer keeps to MaxUploadRate; loopback is not limited', async () => {
    const content = randomBytes(6 * MiB);
    const hash = await publishBytes('rated.bin', content);
    const remoteFetch = await fetchFrom(remote, server.address, `/rated.bin?sha256=${hash}`);
    assert.equal(remoteFetch.sha256, hash);
    const rate = remoteFetch.size / (remoteFetch.transferMs / 1000);
    assert.ok(Math.abs(rate - RATE) / RATE < 0.1, `remote rate ${(rate / MiB).toFixed(2)} MiB/s against a limit of ${RATE / MiB} MiB/s`);
    const local = await fetchFrom(server, '127.0.0.1', `/rated.bin?sha256=${hash}`);
    assert.equal(local.sha256, hash);
    assert.ok(local.size / (local.transferMs / 1000) > 2 * RATE, 'loopback ran past the limit');
  });

  test('MaxConnections: one address holds at most a quarter; more get 503 with Retry-After', async () => {
    const hash = await publishBytes('capped.bin', randomBytes(40 * MiB));
    // MaxConnections=8 gives each address 2; two stalled transfers take them.
    const holders = stalledClients(remote, server.address, `/capped.bin?sha256=${hash}`, 2);
    try {
      await holders.opened;
      await waitFor(async () => {
        const refused = await fetchFrom(remote, server.address, `/capped.bin?sha256=${hash}`, 'bytes=0-0');
        return refused.status === 503 ? refused : undefined;
      }, 'a third connection from the same address to be refused');
      const refused = await fetchFrom(remote, server.address, `/capped.bin?sha256=${hash}`, 'bytes=0-0');
      assert.equal(refused.status, 503);
      assert.match(refused.headers['retry-after'], /^\d+$/);
      // This machine's own clients have their own allowance.
      assert.equal((await fetchFrom(server, '127.0.0.1', `/capped.bin?sha256=${hash}`, 'bytes=0-0')).status, 206);
    } finally {
      await holders.stop();
    }
  });

  test('MaxConnections on this machine: each user holds at most a quarter, and root still gets in', async () => {
    const hash = await publishBytes('local-capped.bin', randomBytes(40 * MiB));
    const path = `/local-capped.bin?sha256=${hash}`;
    // An unprivileged local user takes its share (2 of 8) with transfers it never reads.
    const holders = stalledClients(server, '127.0.0.1', path, 2, NOBODY);
    try {
      await holders.opened;
      await waitFor(
        async () => (await fetchFrom(server, '127.0.0.1', path, 'bytes=0-0', NOBODY)).status === 503,
        "the user's third connection to be refused",
      );
      const refused = await fetchFrom(server, '127.0.0.1', path, 'bytes=0-0', NOBODY);
      assert.equal(refused.status, 503);
      assert.match(refused.headers['retry-after'], /^\d+$/);
      // root (fwupd, passimctl) is another user: its share is untouched.
      assert.equal((await fetchFrom(server, '127.0.0.1', path, 'bytes=0-0')).status, 206);
      assert.equal((await fetchFrom(server, '127.0.0.1', path, 'bytes=0-0', NOBODY + 1)).status, 206, 'so is any other user');
    } finally {
      await holders.stop();
    }
  });

  test("a local connection over its user's share waits for one of them to close instead of getting 503", async () => {
    const hash = await publishBytes('local-wait.bin', randomBytes(40 * MiB));
    const path = `/local-wait.bin?sha256=${hash}`;
    const holders = stalledClients(server, '127.0.0.1', path, 2, NOBODY);
    let released = false;
    try {
      await holders.opened;
      // Its third connection waits; the user's stalled transfers end while it does.
      const waited = daemon.output().split('waits for a slot').length;
      const third = fetchFrom(server, '127.0.0.1', path, 'bytes=0-0', NOBODY);
      await waitFor(async () => daemon.output().split('waits for a slot').length > waited, 'the third connection to wait');
      await holders.stop();
      released = true;
      const answer = await third;
      assert.equal(answer.status, 206, 'served once a slot was free');
    } finally {
      if (!released) await holders.stop();
    }
  });

  test('clients that never read hold little memory each, and the daemon keeps serving', async () => {
    // One connection that asks for nothing, open from before the publish to the last reading: with a
    // connection open the daemon is never quiet, so it does not compact its heap (memory-release.ts) during
    // the test, which would count the heap growing back as the stalled connections' memory.
    const keeper = stalledClients(server, '127.0.0.1', null, 1, NOBODY - 3);
    await keeper.opened;
    const hash = await publishBytes('stall.bin', randomBytes(40 * MiB));
    await fetchFrom(server, '127.0.0.1', `/stall.bin?sha256=${hash}`); // warm up: buffers, the file, the code
    // …and the code of a stalled transfer, so that what follows measures connections, not first-time costs.
    const warmUp = stalledClients(server, '127.0.0.1', `/stall.bin?sha256=${hash}`, 2, NOBODY);
    await warmUp.opened;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await warmUp.stop();
    // Anonymous memory only: what the daemon allocates for the connections. Its executable's pages (RssFile)
    // move with whatever code runs for the first time, and are shared with the page cache anyway.
    const before = await residentBytes(daemon.pid, 'RssAnon');
    const beforeFile = (await residentBytes(daemon.pid)) - before;
    let during = before;
    let duringFile = beforeFile;
    // This machine's allowance at MaxConnections=8, less the keeper's: three users, each with its share of two.
    const users = [NOBODY, NOBODY - 1, NOBODY - 2];
    const count = 2 * users.length;
    const holders = users.map((uid) => stalledClients(server, '127.0.0.1', `/stall.bin?sha256=${hash}`, 2, uid));
    try {
      await Promise.all(holders.map((h) => h.opened));
      // The daemon fills each connection's buffers, then stops reading ahead for it.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      during = await residentBytes(daemon.pid, 'RssAnon');
      duringFile = (await residentBytes(daemon.pid)) - during;
    } finally {
      for (const h of holders) await h.stop();
      await keeper.stop();
    }
    // The bound the README states: about 256 KiB per connection that never reads.
    const perConnection = (during - before) / count;
    console.log(
      `serving test: ${Math.round(perConnection / 1024)} KiB of RssAnon per stalled connection ` +
        `(the rest of VmRSS moved by ${Math.round((duringFile - beforeFile) / 1024)} KiB in all)`,
    );
    assert.ok(perConnection < 512 * 1024, `${Math.round(perConnection / 1024)} KiB per stalled connection`);
    const again = await fetchFrom(server, '127.0.0.1', `/stall.bin?sha256=${hash}`);
    assert.equal(again.sha256, hash, 'still serving');
  });

  test('a whole file fetched in ranges is one share, and the share-limit deletes it', async () => {
    const content = randomBytes(3 * MiB);
    const hash = await publishBytes('ranges.bin', content, { 'share-limit': 2 });
    const half = content.length / 2;
    const path = `/ranges.bin?sha256=${hash}`;
    const first = await fetchFrom(remote, server.address, path, `bytes=0-${half - 1}`);
    assert.equal(first.status, 206);
    let item = (await getItems(client)).find((i) => i.hash === hash);
    assert.ok(item);
    assert.equal(item['share-count'], undefined, 'half a file is not a share');
    // The rest, as a download resumed after an interruption.
    const second = await fetchFrom(remote, server.address, path, `bytes=${half}-`);
    assert.equal(second.status, 206);
    item = (await getItems(client)).find((i) => i.hash === hash);
    assert.ok(item);
    assert.equal(item['share-count'], 1, 'the whole file in two ranges is one share');
    // Another whole file's worth, in ranges again: the second share reaches the limit.
    await fetchFrom(remote, server.address, path, 'bytes=0-');
    await waitFor(async () => !(await getItems(client)).some((i) => i.hash === hash), 'the item to be deleted at its share-limit');
    assert.equal((await fetchFrom(remote, server.address, path, 'bytes=0-')).status, 403);
    await waitFor(
      async () => new RegExp(`DELTE hash=${hash}.*reason=share-limit`).test(await readFile(daemon.auditLog, 'utf8')),
      'the DELTE line of the share-limit',
    );
  });

  test('a stored file corrupted in place, size and mtime kept, is never delivered whole', async () => {
    const content = randomBytes(4 * MiB);
    const hash = await publishBytes('corrupt.bin', content);
    const stored = join(daemon.dataDir, `${hash}-corrupt.bin`);
    const { mtime, atime } = await stat(stored);
    const handle = await open(stored, 'r+');
    await handle.write(Buffer.from([content[2 * MiB] ^ 0xff]), 0, 1, 2 * MiB);
    await handle.close();
    await utimes(stored, atime, mtime);
    const got = await fetchFrom(server, '127.0.0.1', `/corrupt.bin?sha256=${hash}`);
    assert.notEqual(got.sha256, hash);
    assert.ok(got.size < content.length, `${got.size} of ${content.length} bytes arrived`);
    assert.equal(got.ended, false, 'the connection was cut');
    // Withdrawn at once, checked again and deleted.
    assert.equal(
      (await getItems(client)).some((i) => i.hash === hash),
      false,
      'no longer listed',
    );
    await waitFor(
      async () => new RegExp(`DELTE hash=${hash}.*reason=corrupt`).test(await readFile(daemon.auditLog, 'utf8')),
      'the corrupt item to be deleted',
    );
    assert.equal((await fetchFrom(server, '127.0.0.1', `/corrupt.bin?sha256=${hash}`)).status, 404);
    assert.match(daemon.output(), /does not hold|no longer matches/);
  });

  test('a small item kept in memory and then corrupted in place is not served from memory', async () => {
    const content = randomBytes(1000);
    const hash = await publishBytes('small-corrupt.bin', content);
    const path = `/small-corrupt.bin?sha256=${hash}`;
    for (let i = 0; i < 2; i++) assert.equal((await fetchFrom(server, '127.0.0.1', path)).sha256, hash);
    const stored = join(daemon.dataDir, `${hash}-small-corrupt.bin`);
    const { mtime, atime } = await stat(stored);
    const handle = await open(stored, 'r+');
    await handle.write(Buffer.from([content[500] ^ 0xff]), 0, 1, 500);
    await handle.close();
    await utimes(stored, atime, mtime);
    const got = await fetchFrom(server, '127.0.0.1', path);
    assert.notEqual(got.status, 200, 'the changed file is read and checked, not answered from memory');
    await waitFor(
      async () => new RegExp(`DELTE hash=${hash}.*reason=corrupt`).test(await readFile(daemon.auditLog, 'utf8')),
      'the corrupt item to be deleted',
    );
    assert.equal((await fetchFrom(server, '127.0.0.1', path)).status, 404);
  });
});
