// The HTTPS file server against a real Store in a temporary folder, over real TLS on 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { FileServer } from '../dist/daemon/http/server.js';
import { isLoopback } from '../dist/daemon/lan/subnets.js';
import { Store } from '../dist/daemon/store/store.js';
import { loadOrCreateCredentials } from '../dist/daemon/tls.js';
import { silentLogger } from '../dist/shared/log.js';
import { defaultConfig, pathsFromEnv } from '../dist/daemon/config.js';

/** Discovery that finds nobody: these tests are about this machine's own items. */
const NO_PEERS = { find: async () => [] };

/** @type {string} */
let root;
/** @type {Store} */
let store;
/** @type {import('../dist/daemon/tls.js').Credentials} */
let credentials;
/** @type {FileServer} */
let server;
/** @type {Agent} */
let agent;

/** @param {string} dataDir */
function config(dataDir) {
  return { ...defaultConfig(pathsFromEnv({})), port: 0, dataDir, maxItemSize: 1 << 30 };
}

/**
 * @param {import('../dist/daemon/lan/peers.js').Discovery} discovery
 * @param {string} webDir
 * @param {((address: string) => boolean) | undefined} isNeighbour
 */
async function startServer(discovery, webDir = join(root, 'no-web-dir'), isNeighbour = undefined) {
  const s = new FileServer({
    isNeighbour,
    config: config(join(root, 'data')),
    store,
    discovery,
    credentials,
    log: silentLogger,
    webDir,
    name: 'Passim-<TEST>',
  });
  await s.start();
  return s;
}

/**
 * What fetch() resolves with.
 * @typedef {{ status: number | undefined, headers: import('node:http').IncomingHttpHeaders, body: Buffer, reusedSocket: boolean }} Response
 */

/**
 * One HTTPS request; resolves with status, headers and the whole body.
 * @param {string} path
 * @param {{ method?: string, headers?: Record<string, string>, port?: number }} options
 * @returns {Promise<Response>}
 */
function fetch(path, { method = 'GET', headers = {}, port = server.port } = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, ca: credentials.cert, agent }, (res) => {
      /** @type {Buffer[]} */
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), reusedSocket: req.reusedSocket }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Publishes `content` as `basename` straight into the store.
 * @param {Buffer} content
 * @param {string} basename
 * @param {Partial<import('../dist/daemon/store/store.js').PublishOptions>} options
 */
async function publish(content, basename, options = {}) {
  return store.publish(Readable.from([content]), {
    basename,
    maxAge: 86400,
    shareLimit: 100,
    shareCount: 0,
    nextReboot: false,
    cmdline: 'http-test',
    ...options,
  });
}

/**
 * Waits (bounded) for a condition that an asynchronous server-side step makes true.
 * @param {() => boolean} condition
 * @param {string} what
 */
async function until(condition, what) {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`gave up waiting for ${what}`);
}

/**
 * until() for a condition that takes a while to compute.
 * @param {() => Promise<boolean>} condition
 * @param {string} what
 */
async function untilAsync(condition, what) {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`gave up waiting for ${what}`);
}

/** What this process's file descriptors point at. */
async function openPaths() {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets;
}

const sha256 = (/** @type {Buffer} */ buffer) => createHash('sha256').update(buffer).digest('hex');

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'passim-http-'));
  credentials = await loadOrCreateCredentials(join(root, 'state', 'secret.key'), join(root, 'state', 'cert.pem'), silentLogger);
  store = await Store.open({
    dataDir: join(root, 'data'),
    maxItemSize: 1 << 30,
    auditLogPath: join(root, 'log', 'audit.log'),
    log: silentLogger,
  });
  agent = new Agent({ keepAlive: true, maxSockets: 4 });
  server = await startServer(NO_PEERS);
});

after(async () => {
  agent.destroy();
  await server.stop();
  await rm(root, { recursive: true, force: true });
});

test('credentials: key 0600, cert 0644, a valid self-signed pair, reused on the second call', async () => {
  const keyPath = join(root, 'state', 'secret.key');
  const certPath = join(root, 'state', 'cert.pem');
  assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
  assert.equal((await stat(certPath)).mode & 0o777, 0o644);
  assert.equal((await stat(join(root, 'state'))).mode & 0o777, 0o755);

  const x509 = new X509Certificate(credentials.cert);
  assert.ok(x509.checkPrivateKey(createPrivateKey(credentials.key)));
  assert.ok(x509.verify(x509.publicKey), 'self-signed');
  assert.match(x509.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  assert.match(x509.subjectAltName ?? '', /DNS:localhost/);
  const years = (Date.parse(x509.validTo) - Date.now()) / (365.25 * 86400_000);
  assert.ok(years > 9.9 && years < 10.1, `valid for ${years} years`);
  assert.equal(x509.publicKey.asymmetricKeyType, 'rsa');
  assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, 2048);

  const again = await loadOrCreateCredentials(keyPath, certPath, silentLogger);
  assert.equal(again.key, credentials.key);
  assert.equal(again.cert, credentials.cert);
  assert.equal(await readFile(keyPath, 'utf8'), credentials.key);
});

test('credentials: a missing certificate makes a new pair, atomically replacing the key', async () => {
  const dir = join(root, 'state2', 'nested');
  const first = await loadOrCreateCredentials(join(dir, 'secret.key'), join(dir, 'cert.pem'), silentLogger);
  await rm(join(dir, 'cert.pem'));
  const second = await loadOrCreateCredentials(join(dir, 'secret.key'), join(dir, 'cert.pem'), silentLogger);
  assert.notEqual(second.key, first.key);
  assert.equal(await readFile(join(dir, 'secret.key'), 'utf8'), second.key);
  assert.ok(new X509Certificate(second.cert).checkPrivateKey(createPrivateKey(second.key)));
  assert.equal((await stat(join(dir, 'secret.key'))).mode & 0o777, 0o600);
});

test('isLoopback', () => {
  for (const a of ['127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(a), a);
  for (const a of ['10.0.0.1', '192.168.1.127', '::ffff:10.0.0.1', 'fe80::1', '::', '', '1.127.0.0']) assert.ok(!isLoopback(a), a);
});

test('GET serves the exact bytes with the expected headers, over a kept-alive connection', async () => {
  const content = Buffer.from('hello passim\n'.repeat(1000));
  const item = await publish(content, 'hello world.txt');
  const url = `/hello%20world.txt?sha256=${item.hash}`;
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, content);
  assert.equal(res.headers['content-length'], String(content.length));
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(res.headers['content-disposition'], 'attachment; filename="hello%20world.txt"');
  assert.equal(res.headers.etag, `"${item.hash}"`);
  assert.equal(res.headers['accept-ranges'], 'bytes');
  const serverHeader = res.headers.server;
  assert.ok(typeof serverHeader === 'string', 'one Server header');
  assert.match(serverHeader, /^Passim\//);

  // The URL's basename is informative only, upper-case hex is accepted, and the connection is reused.
  const other = await fetch(`/other.bin?sha256=${item.hash.toUpperCase()}`);
  assert.equal(other.status, 200);
  assert.deepEqual(other.body, content);
  assert.ok(other.reusedSocket, 'keep-alive');

  const unknownType = await publish(Buffer.from('x'), 'firmware.weird');
  assert.equal((await fetch(`/x?sha256=${unknownType.hash}`)).headers['content-type'], 'application/octet-stream');
  const cab = await publish(Buffer.from('cab'), 'firmware.CAB');
  assert.equal((await fetch(`/x?sha256=${cab.hash}`)).headers['content-type'], 'application/vnd.ms-cab-compressed');
});

test('an empty item is served as 200 with Content-Length 0', async () => {
  const item = await publish(Buffer.alloc(0), 'empty.bin');
  const res = await fetch(`/empty.bin?sha256=${item.hash}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-length'], '0');
  assert.equal(res.body.length, 0);
  assert.equal((await fetch(`/empty.bin?sha256=${item.hash}`, { headers: { Range: 'bytes=0-' } })).status, 416);
});

test('HEAD gives the same headers and no body', async () => {
  const content = Buffer.from('head test');
  const item = await publish(content, 'head.txt');
  const res = await fetch(`/head.txt?sha256=${item.hash}`, { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.equal(res.body.length, 0);
  assert.equal(res.headers['content-length'], String(content.length));
  assert.equal(res.headers.etag, `"${item.hash}"`);
  assert.equal(res.headers['content-disposition'], 'attachment; filename="head.txt"');
});

test('Range requests: 206 for single ranges, 200 for several or malformed, 416 when unsatisfiable', async () => {
  const content = Buffer.from('0123456789abcdefghij');
  const item = await publish(content, 'range.bin');
  const url = `/range.bin?sha256=${item.hash}`;
  /** @type {[string, number, number][]} */
  const cases = [
    ['bytes=2-5', 2, 5],
    ['bytes=15-', 15, 19],
    ['bytes=-3', 17, 19],
    ['bytes=10-1000', 10, 19],
    ['bytes=-1000', 0, 19],
    ['bytes=0-0', 0, 0],
  ];
  for (const [range, start, end] of cases) {
    const res = await fetch(url, { headers: { Range: range } });
    assert.equal(res.status, 206, range);
    assert.equal(res.headers['content-range'], `bytes ${start}-${end}/20`, range);
    assert.equal(res.headers['content-length'], String(end - start + 1), range);
    assert.deepEqual(res.body, content.subarray(start, end + 1), range);
  }
  const head = await fetch(url, { method: 'HEAD', headers: { Range: 'bytes=2-5' } });
  assert.equal(head.status, 206);
  assert.equal(head.headers['content-range'], 'bytes 2-5/20');
  assert.equal(head.body.length, 0);

  for (const range of ['bytes=0-1,5-6', 'bytes=5-2', 'items=0-1', 'bytes=x-1']) {
    const res = await fetch(url, { headers: { Range: range } });
    assert.equal(res.status, 200, range);
    assert.deepEqual(res.body, content, range);
  }
  for (const range of ['bytes=20-', 'bytes=25-30', 'bytes=-0']) {
    const res = await fetch(url, { headers: { Range: range } });
    assert.equal(res.status, 416, range);
    assert.equal(res.headers['content-range'], 'bytes */20', range);
  }
  // If-Range naming another version means "send it all"; naming ours keeps the range.
  const stale = await fetch(url, { headers: { Range: 'bytes=2-5', 'If-Range': '"0000"' } });
  assert.equal(stale.status, 200);
  const fresh = await fetch(url, { headers: { Range: 'bytes=2-5', 'If-Range': `"${item.hash}"` } });
  assert.equal(fresh.status, 206);
});

test('If-None-Match with our ETag or * gives 304; another tag gives 200', async () => {
  const item = await publish(Buffer.from('etag test'), 'etag.txt');
  const url = `/etag.txt?sha256=${item.hash}`;
  for (const tag of [`"${item.hash}"`, '*', `"abc", W/"${item.hash}"`]) {
    const res = await fetch(url, { headers: { 'If-None-Match': tag } });
    assert.equal(res.status, 304, tag);
    assert.equal(res.headers.etag, `"${item.hash}"`);
    assert.equal(res.body.length, 0);
  }
  assert.equal((await fetch(url, { headers: { 'If-None-Match': '"other"' } })).status, 200);
  await until(() => store.get(item.hash)?.shareCount === 1, 'the one 200 counted');
});

test('malformed requests get 400 or 406 with an escaped HTML error page', async () => {
  const item = await publish(Buffer.from('bad requests'), 'bad.txt');
  const h = item.hash;
  /** @type {[string, number][]} */
  const cases = [
    ['/bad.txt', 400],
    ['/bad.txt?', 400],
    ['/bad.txt?localhost=true', 400],
    [`/bad.txt?sha256=${h}&sha256=${h}`, 400],
    [`/bad.txt?sha256=${h}&localhost=maybe`, 400],
    [`/bad.txt?sha256=${h}&localhost=true&localhost=true`, 400],
    [`/bad%zz.txt?sha256=${h}`, 400],
    [`/bad.txt?sha256=${h}%zz`, 400],
    [`/a%2Fb.txt?sha256=${h}`, 400],
    [`/dir/bad.txt?sha256=${h}`, 400],
    [`/..?sha256=${h}`, 400],
    [`/%00?sha256=${h}`, 400],
    ['/bad.txt?sha256=abc', 406],
    [`/bad.txt?sha256=${h.slice(0, 63)}g`, 406],
    [`/bad.txt?sha256=${h}0`, 406],
    ['/bad.txt?sha256=', 406],
  ];
  for (const [path, status] of cases) {
    const res = await fetch(path);
    assert.equal(res.status, status, path);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8', path);
    const body = res.body.toString();
    assert.match(body, new RegExp(`<title>${status} `), path);
    assert.doesNotMatch(body, /\/tmp|at .*\(|node:/, path);
  }
  const good = await fetch(`/bad.txt?sha256=${h}&localhost=true&other=1`);
  assert.equal(good.status, 200);
});

test('POST and other methods get 405 with Allow', async () => {
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const res = await fetch('/', { method });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.allow, 'GET, HEAD');
  }
});

test('a next-reboot item is 423 Locked', async () => {
  const item = await publish(Buffer.from('after reboot'), 'reboot.txt', { nextReboot: true });
  const res = await fetch(`/reboot.txt?sha256=${item.hash}`);
  assert.equal(res.status, 423);
  assert.match(res.body.toString(), /423 Locked/);
});

test('an unknown hash, or localhost=false, with no peers is 404', async () => {
  const res = await fetch(`/nothing.txt?sha256=${'a'.repeat(64)}`);
  assert.equal(res.status, 404);
  const item = await publish(Buffer.from('here but skipped'), 'here.txt');
  assert.equal((await fetch(`/here.txt?sha256=${item.hash}&localhost=false`)).status, 404);
  assert.equal((await fetch(`/here.txt?sha256=${item.hash}&localhost=true`)).status, 200);
});

test('a hash found on a peer redirects there with 302', async () => {
  /** @type {string[]} */
  const asked = [];
  const peers = new Map([
    [
      'b'.repeat(64),
      [
        { address: '192.0.2.7', port: 27500 },
        { address: '192.0.2.8', port: 1 },
      ],
    ],
    ['c'.repeat(64), [{ address: 'fe80::1%eth0', port: 27501 }]],
  ]);
  const discovery = {
    /** @param {string} hash */
    async find(hash) {
      asked.push(hash);
      return peers.get(hash) ?? [];
    },
  };
  // As if this machine had 192.0.2.0/24 and a link-local address on its link.
  const redirecting = await startServer(
    discovery,
    undefined,
    (/** @type {string} */ address) => address.startsWith('192.0.2.') || address.startsWith('fe80::'),
  );
  try {
    const v4 = await fetch(`/my%20file.cab?sha256=${'B'.repeat(64)}`, { port: redirecting.port });
    assert.equal(v4.status, 302);
    assert.equal(v4.headers.location, `https://192.0.2.7:27500/my%20file.cab?sha256=${'b'.repeat(64)}`);
    const v6 = await fetch(`/x.cab?sha256=${'c'.repeat(64)}`, { port: redirecting.port });
    assert.equal(v6.status, 302);
    assert.equal(v6.headers.location, `https://[fe80::1%25eth0]:27501/x.cab?sha256=${'c'.repeat(64)}`);
    assert.equal((await fetch(`/x.cab?sha256=${'d'.repeat(64)}`, { port: redirecting.port })).status, 404);
    assert.deepEqual(asked, ['b'.repeat(64), 'c'.repeat(64), 'd'.repeat(64)]);
  } finally {
    await redirecting.stop();
  }
});

test('a redirect goes only to a neighbour: never loopback, never an address behind a router', async () => {
  const hostile = [
    { address: '127.0.0.1', port: 22 },
    { address: '::1', port: 22 },
    { address: '203.0.113.9', port: 27500 },
  ];
  const discovery = { find: async () => hostile };
  // The real rule, against this machine's real interfaces: none of these is on a link of ours.
  const redirecting = await startServer(discovery);
  try {
    const res = await fetch(`/x.cab?sha256=${'e'.repeat(64)}`, { port: redirecting.port });
    assert.equal(res.status, 404);
    assert.equal(res.headers.location, undefined);
  } finally {
    await redirecting.stop();
  }
});

test('the index page lists items with every dynamic string escaped', async () => {
  const item = await publish(Buffer.from('hostile'), `<script>alert("x&y")'.txt`, { cmdline: '<b>evil</b>' });
  const res = await fetch('/');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
  const html = res.body.toString();
  assert.doesNotMatch(html, /<script>|<b>evil/);
  assert.ok(html.includes('&#60;script&#62;alert(&#34;x&#38;y&#34;)&#39;.txt'));
  assert.ok(html.includes('&#60;b&#62;evil&#60;/b&#62;'));
  assert.ok(html.includes(item.hash));
  assert.ok(html.includes(`href="/%3Cscript%3Ealert(%22x%26y%22)&#39;.txt?sha256=${item.hash}"`));
  assert.ok(html.includes('<title>Passim-&#60;TEST&#62;</title>'));
  assert.equal((await fetch('/', { method: 'HEAD' })).body.length, 0);
});

test('/style.css and /favicon.ico: built-in defaults, or the files in webDir', async () => {
  const css = await fetch('/style.css');
  assert.equal(css.status, 200);
  assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
  assert.match(css.body.toString(), /body \{/);
  const ico = await fetch('/favicon.ico');
  assert.equal(ico.status, 200);
  assert.equal(ico.headers['content-type'], 'image/vnd.microsoft.icon');
  assert.deepEqual([...ico.body.subarray(0, 6)], [0, 0, 1, 0, 1, 0]);
  assert.equal(ico.body.readUInt32LE(14) + 22, ico.body.length, 'ICO entry size matches');

  const webDir = join(root, 'web');
  await mkdir(webDir, { recursive: true });
  await writeFile(join(webDir, 'style.css'), 'h1 { color: red; }\n');
  const themed = await startServer(NO_PEERS, webDir);
  try {
    const custom = await fetch('/style.css', { port: themed.port });
    assert.equal(custom.status, 200);
    assert.equal(custom.body.toString(), 'h1 { color: red; }\n');
    assert.equal(custom.headers['content-length'], '19');
    const fallback = await fetch('/favicon.ico', { port: themed.port });
    assert.deepEqual(fallback.body, ico.body);
  } finally {
    await themed.stop();
  }
});

test('share counting: once per completed full GET, not HEAD, range or 304; deleted at the limit', async () => {
  const content = Buffer.from('count me');
  const item = await publish(content, 'count.txt', { shareLimit: 2 });
  const url = `/count.txt?sha256=${item.hash}`;
  await fetch(url, { method: 'HEAD' });
  await fetch(url, { headers: { Range: 'bytes=0-3' } });
  await fetch(url, { headers: { 'If-None-Match': '*' } });
  const first = await fetch(url);
  assert.equal(first.status, 200);
  await until(() => store.get(item.hash)?.shareCount === 1, 'share-count 1');
  await fetch(url, { method: 'HEAD' });
  assert.equal(store.get(item.hash)?.shareCount, 1);

  const second = await fetch(url);
  assert.deepEqual(second.body, content);
  await until(() => store.get(item.hash) === undefined, 'deletion at the share limit');
  await assert.rejects(access(item.path));
  // The server keeps item files open between requests; a deleted item's descriptor must be closed.
  await untilAsync(async () => !(await openPaths()).some((p) => p.startsWith(item.path)), 'the descriptor closed');
  assert.equal((await fetch(url)).status, 404);

  // Audit lines are written after the share, not before it completes: close() waits for them.
  await store.close();
  const audit = await readFile(join(root, 'log', 'audit.log'), 'utf8');
  const shares = audit.split('\n').filter((l) => l.includes(' SHARE ') && l.includes(item.hash));
  assert.equal(shares.length, 2);
  assert.match(shares[0], /ipaddr=127\.0\.0\.1/);
});

test('a large item: an aborted transfer does not count; full and ranged bodies are intact', async () => {
  // Larger than the loopback socket buffers, so the server cannot finish before the client hangs up.
  const content = Buffer.alloc(48 * 1024 * 1024);
  for (let i = 0; i < content.length; i += 4096) content.writeUInt32LE(i, i);
  const item = await publish(content, 'big.img', { shareLimit: 10 });
  const url = `/big.img?sha256=${item.hash}`;

  await /** @type {Promise<void>} */ (
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: url, ca: credentials.cert }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => ('code' in err && err.code === 'ECONNRESET' ? resolve() : reject(err)));
      req.end();
    })
  );

  const full = await fetch(url);
  assert.equal(full.status, 200);
  assert.equal(sha256(full.body), item.hash);
  await until(() => store.get(item.hash)?.shareCount === 1, 'share-count 1');
  // The complete transfer above took far longer than noticing the hang-up; one count means the abort made none.
  assert.equal(store.get(item.hash)?.shareCount, 1);

  // A range larger than one read, across read boundaries, streamed from an offset.
  const part = await fetch(url, { headers: { Range: 'bytes=1000001-4000000' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 1000001-4000000/${content.length}`);
  assert.ok(part.body.equals(content.subarray(1000001, 4000001)));
  assert.equal(store.get(item.hash)?.shareCount, 1);
});

test('a file removed behind the store is 404, not a crash', async () => {
  const item = await publish(Buffer.from('vanishing'), 'vanish.txt');
  await rm(item.path);
  const res = await fetch(`/vanish.txt?sha256=${item.hash}`);
  assert.equal(res.status, 404);
  assert.equal((await fetch('/')).status, 200, 'the server still works');
});

test('port 0 binds a free port; a taken port is a clear error', async () => {
  assert.ok(server.port > 0);
  const clash = new FileServer({
    config: { ...config(join(root, 'data')), port: server.port },
    store,
    discovery: NO_PEERS,
    credentials,
    log: silentLogger,
    webDir: root,
  });
  await assert.rejects(clash.start(), (err) => err instanceof Error && err.name === 'PassimError' && /port/.test(err.message));
});

test('while the store still loads, a file of its folder not checked yet is served, not 404', async () => {
  const dataDir = join(root, 'loading-data');
  await mkdir(dataDir);
  for (let i = 0; i < 3000; i++) {
    const content = Buffer.from(`loading ${i}`);
    // No verified stamp: each file is hashed as it is checked, so loading takes a while.
    await writeFile(join(dataDir, `${sha256(content)}-f${i}.txt`), content);
  }
  const loading = await Store.open({
    dataDir,
    maxItemSize: 1 << 30,
    auditLogPath: join(root, 'log', 'loading-audit.log'),
    log: silentLogger,
    loadInBackgroundAbove: 0,
  });
  const s = new FileServer({
    config: config(dataDir),
    store: loading,
    discovery: NO_PEERS,
    credentials,
    log: silentLogger,
    webDir: join(root, 'no-web-dir'),
    name: 'Passim-<TEST>',
  });
  await s.start();
  try {
    // Listed last, checked last.
    const names = await readdir(dataDir);
    const last = names[names.length - 1] ?? '';
    const hash = last.slice(0, 64);
    assert.ok(loading.isLoading && !loading.has(hash), 'the file is not checked yet');
    const res = await fetch(`/${last.slice(65)}?sha256=${hash}`, { port: s.port });
    assert.equal(res.status, 200);
    assert.equal(sha256(res.body), hash);
    assert.equal((await fetch(`/absent.txt?sha256=${'b'.repeat(64)}`, { port: s.port })).status, 404);
  } finally {
    await s.stop();
    await loading.close();
  }
});
