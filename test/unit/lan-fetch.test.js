// fetchFromLan and fetchFromOrigin (src/client/) against HTTPS and HTTP servers in this process that play
// passimd, a neighbour and an origin: where the bytes come from, which redirects are followed, and that no
// wrong or partial byte reaches the destination.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { announcedLength, fetchFromLan, neighbourOf } from '../../dist/client/lan-fetch.js';
import { HashMismatchError, OriginError, fetchFromOrigin } from '../../dist/client/origin-fetch.js';
import { loadOrCreateCredentials } from '../../dist/daemon/tls.js';
import { silentLogger } from '../../dist/shared/log.js';

const sha256 = (/** @type {Buffer | string} */ data) => createHash('sha256').update(data).digest('hex');
const content = randomBytes(300 * 1024);
const hash = sha256(content);
const other = Buffer.from('not the content');

/** @type {string} */
let dir;
/** @type {import('node:https').Server} */
let daemon;
/** @type {import('node:https').Server} */
let peer;
/** @type {import('node:http').Server} */
let origin;
let daemonPort = 0;
let peerPort = 0;
let originPort = 0;
/** Paths asked of each server, in order. */
const asked = { daemon: /** @type {string[]} */ ([]), peer: /** @type {string[]} */ ([]), origin: /** @type {string[]} */ ([]) };
/** What the stand-in daemon answers for each request; set by each test. */
let daemonAnswer = (/** @type {import('node:http').ServerResponse} */ res) => {
  res.writeHead(404).end();
};
let peerAnswer = (/** @type {import('node:http').ServerResponse} */ res) => {
  res.writeHead(200, { 'Content-Length': content.length }).end(content);
};
/** @type {Set<import('node:net').Socket>} */
const sockets = new Set();

/**
 * @param {import('node:http').Server} server
 * @param {string} host
 */
async function listen(server, host) {
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await /** @type {Promise<void>} */ (new Promise((resolve) => server.listen(0, host, resolve)));
  return /** @type {import('node:net').AddressInfo} */ (server.address()).port;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'passim-lan-fetch-'));
  const { key, cert } = await loadOrCreateCredentials(join(dir, 'key.pem'), join(dir, 'cert.pem'), silentLogger);
  daemon = createHttpsServer({ key, cert }, (req, res) => {
    asked.daemon.push(req.url ?? '');
    daemonAnswer(res);
  });
  peer = createHttpsServer({ key, cert }, (req, res) => {
    asked.peer.push(req.url ?? '');
    peerAnswer(res);
  });
  origin = createHttpServer((req, res) => {
    asked.origin.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://origin');
    if (url.pathname === '/file.bin') res.writeHead(200, { 'Content-Length': content.length }).end(content);
    else if (url.pathname === '/moved.bin') res.writeHead(302, { Location: '/file.bin' }).end();
    else if (url.pathname === '/loop.bin') res.writeHead(302, { Location: '/loop.bin' }).end();
    else if (url.pathname === '/wrong.bin') res.writeHead(200).end(other);
    else res.writeHead(500).end();
  });
  daemonPort = await listen(daemon, '127.0.0.1');
  peerPort = await listen(peer, '127.0.0.1');
  originPort = await listen(origin, '127.0.0.1');
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all([daemon, peer, origin].map((s) => new Promise((resolve) => s?.close(resolve))));
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A fresh folder for one test's destination, to see every file it leaves. */
async function folder() {
  return mkdtemp(join(dir, 'out-'));
}

const redirectToPeer = (/** @type {string} */ location) => (/** @type {import('node:http').ServerResponse} */ res) => {
  res.writeHead(302, { Location: location }).end();
};

test('the local passimd has it: saved, source local, progress reported', async () => {
  daemonAnswer = (res) => res.writeHead(200, { 'Content-Length': content.length }).end(content);
  const out = await folder();
  /** @type {[number, number | undefined][]} */
  const progress = [];
  const result = await fetchFromLan('file.bin', hash.toUpperCase(), join(out, 'file.bin'), {
    port: daemonPort,
    onProgress: (received, total) => progress.push([received, total]),
  });
  assert.deepEqual(result, { source: 'local', size: content.length });
  assert.ok((await readFile(join(out, 'file.bin'))).equals(content));
  assert.deepEqual(await readdir(out), ['file.bin']);
  assert.deepEqual(progress[0], [0, content.length]);
  assert.deepEqual(progress.at(-1), [content.length, content.length]);
  assert.equal(asked.daemon.at(-1), `/file.bin?sha256=${hash}`);
});

test('a neighbour has it: one redirect followed, source peer with its address', async () => {
  daemonAnswer = redirectToPeer(`https://127.0.0.1:${peerPort}/file.bin?sha256=${hash}`);
  const out = await folder();
  const before = asked.peer.length;
  const result = await fetchFromLan('file.bin', hash, join(out, 'saved'), { port: daemonPort });
  assert.deepEqual(result, { source: 'peer', peer: '127.0.0.1', size: content.length });
  assert.ok((await readFile(join(out, 'saved'))).equals(content));
  assert.deepEqual(asked.peer.slice(before), [`/file.bin?sha256=${hash}`]);
});

test('null, and nothing written, for a miss, a refusal, an absent daemon or a daemon that does not answer', async () => {
  const out = await folder();
  for (const status of [404, 403, 503, 500]) {
    daemonAnswer = (res) => res.writeHead(status).end('no');
    assert.equal(await fetchFromLan('file.bin', hash, join(out, 'file.bin'), { port: daemonPort }), null, `HTTP ${status}`);
  }
  // Nothing listens on the port the peer had before it closed: a connection refused.
  const closed = createHttpServer();
  const closedPort = await listen(closed, '127.0.0.1');
  await new Promise((resolve) => closed.close(resolve));
  assert.equal(await fetchFromLan('file.bin', hash, join(out, 'file.bin'), { port: closedPort }), null, 'connection refused');

  daemonAnswer = () => {}; // never answers
  const start = performance.now();
  assert.equal(await fetchFromLan('file.bin', hash, join(out, 'file.bin'), { port: daemonPort, lookupTimeoutMs: 300 }), null);
  assert.ok(performance.now() - start < 5000, 'the lookup time-out ended it');
  assert.deepEqual(await readdir(out), []);
});

test('misses and redirects reuse one connection to passimd; a large answer that is not the content closes it', async () => {
  /** Connections the stand-in daemon accepted. */
  let accepted = 0;
  const count = () => accepted++;
  daemon.on('secureConnection', count);
  try {
    daemonAnswer = (res) => res.writeHead(404, { 'Content-Length': 9 }).end('not here\n');
    for (let i = 0; i < 5; i++)
      assert.equal(await fetchFromLan('file.bin', hash, join(await folder(), 'file.bin'), { port: daemonPort }), null);
    // With a body and its length, as passimd sends a redirect.
    daemonAnswer = (res) =>
      res.writeHead(302, { Location: `https://127.0.0.1:${peerPort}/file.bin?sha256=${hash}`, 'Content-Length': 11 }).end('Redirecting');
    const found = await fetchFromLan('file.bin', hash, join(await folder(), 'file.bin'), { port: daemonPort });
    assert.equal(found?.source, 'peer');
    assert.equal(accepted, 1, 'one TLS connection for five misses and a redirect');
    // A body over what is worth reading to keep the connection: closed instead, the next lookup connects anew.
    daemonAnswer = (res) => res.writeHead(404, { 'Content-Length': 1024 * 1024 }).end(Buffer.alloc(1024 * 1024));
    assert.equal(await fetchFromLan('file.bin', hash, join(await folder(), 'file.bin'), { port: daemonPort }), null);
    daemonAnswer = (res) => res.writeHead(404, { 'Content-Length': 0 }).end();
    assert.equal(await fetchFromLan('file.bin', hash, join(await folder(), 'file.bin'), { port: daemonPort }), null);
    assert.equal(accepted, 2, 'a new connection after the large answer');
  } finally {
    daemon.off('secureConnection', count);
  }
});

test('redirects only to https://ADDRESS:PORT/NAME?sha256=HASH of the same name and hash', async () => {
  const out = await folder();
  const before = asked.peer.length;
  for (const location of [
    `https://localhost:${peerPort}/file.bin?sha256=${hash}`, // a name, not an address
    `http://127.0.0.1:${peerPort}/file.bin?sha256=${hash}`,
    `https://127.0.0.1:${peerPort}/file.bin?sha256=${'a'.repeat(64)}`,
    `https://127.0.0.1:${peerPort}/other.bin?sha256=${hash}`,
    `https://127.0.0.1:${peerPort}/file.bin?sha256=${hash}&x=1`,
    `https://user@127.0.0.1:${peerPort}/file.bin?sha256=${hash}`,
    '/file.bin',
    'not a url',
  ]) {
    daemonAnswer = redirectToPeer(location);
    assert.equal(await fetchFromLan('file.bin', hash, join(out, 'file.bin'), { port: daemonPort }), null, location);
  }
  assert.equal(asked.peer.length, before, 'the peer was never asked');
  assert.deepEqual(await readdir(out), []);

  // A second redirect, from the neighbour, is not followed either.
  daemonAnswer = redirectToPeer(`https://127.0.0.1:${peerPort}/file.bin?sha256=${hash}`);
  peerAnswer = (res) => res.writeHead(302, { Location: `https://127.0.0.1:${peerPort}/file.bin?sha256=${hash}` }).end();
  assert.equal(await fetchFromLan('file.bin', hash, join(out, 'file.bin'), { port: daemonPort }), null);
  assert.equal(asked.peer.length, before + 1);
});

test('neighbourOf: IPv6 addresses with a zone, and the hash in either case', () => {
  assert.deepEqual(
    neighbourOf(`https://[fe80::1%25eth0]:27500/a%20b.bin?sha256=${hash.toUpperCase()}`, 'a b.bin', hash)?.address,
    'fe80::1%eth0',
  );
  assert.equal(neighbourOf(`https://192.168.1.2:27500/a.bin?sha256=${hash}`, 'a.bin', hash)?.address, '192.168.1.2');
  assert.equal(neighbourOf(`https://192.168.1.2/a.bin?sha256=${hash}`, 'a.bin', hash), undefined, 'no port');
  assert.equal(neighbourOf(`https://192.168.1.2:27500/a.bin?sha256=${hash}#x`, 'a.bin', hash), undefined);
});

test('a neighbour that sends wrong bytes, too few bytes or stalls: null, nothing written', async () => {
  const out = await folder();
  daemonAnswer = redirectToPeer(`https://127.0.0.1:${peerPort}/file.bin?sha256=${hash}`);
  peerAnswer = (res) => res.writeHead(200, { 'Content-Length': other.length }).end(other);
  assert.equal(await fetchFromLan('file.bin', hash, join(out, 'file.bin'), { port: daemonPort }), null, 'wrong bytes');
  peerAnswer = (res) => {
    res.writeHead(200, { 'Content-Length': content.length });
    res.write(content.subarray(0, 1000));
    setTimeout(() => res.destroy(), 50);
  };
  assert.equal(await fetchFromLan('file.bin', hash, join(out, 'file.bin'), { port: daemonPort }), null, 'cut short');
  peerAnswer = (res) => {
    res.writeHead(200, { 'Content-Length': content.length });
    res.write(content.subarray(0, 1000)); // and nothing more
  };
  const start = performance.now();
  const stalled = await fetchFromLan('file.bin', hash, join(out, 'file.bin'), { port: daemonPort, stallTimeoutMs: 500 });
  assert.equal(stalled, null, 'stalled');
  assert.ok(performance.now() - start < 5000, 'the stall time-out ended it');
  assert.deepEqual(await readdir(out), []);
  peerAnswer = (res) => res.writeHead(200, { 'Content-Length': content.length }).end(content);
});

test('an aborted fetch resolves null and leaves nothing', async () => {
  const out = await folder();
  daemonAnswer = (res) => {
    res.writeHead(200, { 'Content-Length': content.length });
    res.write(content.subarray(0, 1000));
  };
  const controller = new AbortController();
  const fetching = fetchFromLan('file.bin', hash, join(out, 'file.bin'), {
    port: daemonPort,
    signal: controller.signal,
    onProgress: (received) => {
      if (received > 0) controller.abort();
    },
  });
  assert.equal(await fetching, null);
  assert.deepEqual(await readdir(out), []);
});

test('a destination that cannot be written rejects; a wrong hash argument rejects', async () => {
  daemonAnswer = (res) => res.writeHead(200, { 'Content-Length': content.length }).end(content);
  await assert.rejects(fetchFromLan('file.bin', hash, join(dir, 'no-such-folder', 'file.bin'), { port: daemonPort }), { code: 'ENOENT' });
  await assert.rejects(fetchFromLan('file.bin', 'abc', join(dir, 'x'), { port: daemonPort }), /not a SHA-256 hash/);
});

test('fetchFromOrigin: follows redirects, verifies the hash, reports the origin failing', async () => {
  const out = await folder();
  const base = `http://127.0.0.1:${originPort}`;
  const saved = await fetchFromOrigin(`${base}/moved.bin`, hash, join(out, 'file.bin'));
  assert.equal(saved.size, content.length);
  assert.equal(saved.url.href, `${base}/file.bin`);
  assert.ok((await readFile(join(out, 'file.bin'))).equals(content));

  const wrong = join(out, 'wrong.bin');
  await assert.rejects(fetchFromOrigin(`${base}/wrong.bin`, hash, wrong), (err) => {
    assert.ok(err instanceof HashMismatchError);
    assert.equal(err.got, sha256(other));
    return true;
  });
  await assert.rejects(
    fetchFromOrigin(`${base}/loop.bin`, hash, wrong),
    (err) => err instanceof OriginError && /Too many redirects/.test(err.message),
  );
  await assert.rejects(
    fetchFromOrigin(`${base}/broken.bin`, hash, wrong),
    (err) => err instanceof OriginError && /HTTP 500/.test(err.message),
  );
  await assert.rejects(
    fetchFromOrigin(`https://127.0.0.1:${peerPort}/file.bin`, hash, wrong),
    (err) => err instanceof OriginError,
    'a self-signed certificate is refused',
  );
  assert.deepEqual(await readdir(out), ['file.bin']);
});

test('neighbourOf: any Location header gives a neighbour with this name and hash, or nothing; it never throws', async () => {
  const { default: fc } = await import('fast-check');
  const hash = 'ab'.repeat(32);
  const plausible = fc
    .tuple(
      fc.oneof(fc.constant('192.168.1.2'), fc.constant('[fe80::1%25eth0]'), fc.constant('[::1]'), fc.string({ maxLength: 20 })),
      fc.oneof(fc.integer({ min: 0, max: 70000 }).map(String), fc.string({ maxLength: 6 })),
      fc.oneof(fc.constant('a.bin'), fc.string({ maxLength: 12 })),
      fc.oneof(fc.constant(hash), fc.constant(hash.toUpperCase()), fc.stringMatching(/^[0-9a-fA-F]{0,70}$/)),
    )
    .map(([host, port, name, sha]) => `https://${host}:${port}/${name}?sha256=${sha}`);
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 120 }), plausible), (location) => {
      const neighbour = neighbourOf(location, 'a.bin', hash);
      if (neighbour === undefined) return;
      assert.equal(neighbour.url.protocol, 'https:');
      assert.equal(neighbour.url.pathname, '/a.bin');
      assert.equal(neighbour.url.searchParams.get('sha256')?.toLowerCase(), hash);
      assert.ok(Number(neighbour.url.port || 443) >= 1);
    }),
    { numRuns: 3000 },
  );
});

test('announcedLength: any Content-Length header gives its value when it is digits only, else nothing', async () => {
  const { default: fc } = await import('fast-check');
  fc.assert(
    fc.property(fc.option(fc.oneof(fc.nat().map(String), fc.string({ maxLength: 30 }), fc.stringMatching(/^\d{1,400}$/))), (header) => {
      const length = announcedLength(
        /** @type {import('node:http').IncomingMessage} */ (
          /** @type {unknown} */ ({ headers: header === null ? {} : { 'content-length': header } })
        ),
      );
      if (header !== null && /^\d+$/.test(header)) assert.equal(length, Number(header));
      else assert.equal(length, undefined);
    }),
  );
});
