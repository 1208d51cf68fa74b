// passimctl fetch on a test LAN (test/lib/lan.js): the bytes come from a neighbour that has the file, from
// this machine's passimd, or from the origin, an HTTP server inside h1's namespace; the hash decides what
// is kept, and --publish hands the result to the local passimd. Then the exit status of a refused publish,
// against a passimd that checks its callers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect, runCli, startBus, startDaemon } from './lib/harness.js';
import { stopProcess, waitFor } from './lib/process.js';
import { startLan } from './lib/lan.js';
import { getItems } from './lib/passim.js';

const sha256 = (/** @type {Buffer | string} */ data) => createHash('sha256').update(data).digest('hex');

// Serves the files of the folder in argv[1] on 127.0.0.1 (port printed first), and prints each path asked.
const ORIGIN = `
import { createReadStream } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
const root = process.argv[1];
const server = createServer((req, res) => {
  process.stdout.write('GET ' + req.url + '\\n');
  const file = createReadStream(join(root, decodeURIComponent(new URL(req.url, 'http://o').pathname.slice(1))));
  file.on('error', () => res.writeHead(404).end());
  file.on('open', () => { res.writeHead(200); file.pipe(res); });
});
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
`;

/**
 * An origin server inside `ns` serving `root`; resolves with its base URL, the paths it was asked for and stop().
 * @param {string} ns
 * @param {string} root
 */
async function startOrigin(ns, root) {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', ORIGIN, root], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  /** @type {string[]} */
  const asked = [];
  let port = 0;
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('port ')) port = Number(line.slice(5));
    else asked.push(line.slice(4));
  });
  await waitFor(() => port > 0, 'the origin server to listen');
  return { url: `http://127.0.0.1:${port}`, asked, stop: () => stopProcess(child) };
}

describe('passimctl fetch on a LAN', () => {
  /** @type {import('./lib/lan.js').Lan} */
  let lan;
  /** @type {import('./lib/lan.js').Host} */
  let h1;
  /** @type {import('./lib/lan.js').Host} */
  let h2;
  /** @type {string} */
  let scratch;
  /** @type {string} */
  let served;
  /** @type {Awaited<ReturnType<typeof startOrigin>>} */
  let origin;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'passim-fetch-test-'));
    served = join(scratch, 'origin');
    await mkdir(served);
    lan = await startLan(2);
    [h1, h2] = lan.hosts;
    origin = await startOrigin(h1.ns, served);
  });

  after(async () => {
    await origin?.stop();
    await lan?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /**
   * A file with unique content (hex digits) that the origin serves: { name, hash, content, url }.
   * @param {string} name
   */
  async function originFile(name, size = 64 * 1024) {
    // Text, so that what passimctl writes to standard output can be compared as the string runProcess gives.
    const content = Buffer.from(randomBytes(size / 2).toString('hex'));
    await writeFile(join(served, name), content);
    return { name, hash: sha256(content), content, url: `${origin.url}/${name}` };
  }

  /**
   * Publishes `file` on `host` and waits until h1's passimd redirects a lookup of it there.
   * @param {import('./lib/lan.js').Host} host
   * @param {{ name: string, content: Buffer, hash: string }} file
   */
  async function shareFrom(host, file) {
    const path = join(scratch, `published-${file.name}`);
    await writeFile(path, file.content);
    await host.publish(path, { filename: file.name });
    await waitFor(async () => {
      const found = await h1.lookup(file.name, file.hash);
      return found.status === 302 && found.peer === host.address;
    }, `h1 to find ${file.name} on ${host.name}`);
  }

  /** @param {string} name */
  const asked = (name) => origin.asked.filter((path) => path === `/${name}`).length;

  test('a neighbour has it: the bytes come from it, the origin gets no request', async () => {
    const file = await originFile('from-peer.bin', 2 * 1024 * 1024);
    await shareFrom(h2, file);
    const cwd = await mkdtemp(join(scratch, 'peer-'));
    const r = await h1.cli(['fetch', file.url, '--sha256', file.hash], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Saved from-peer.bin (2.1 MB) from neighbour ${h2.address}\n`);
    assert.deepEqual(await readdir(cwd), [file.name]);
    assert.ok((await readFile(join(cwd, file.name))).equals(file.content));
    assert.equal(asked(file.name), 0, 'the origin was not asked');
  });

  test('no neighbour has it: the bytes come from the origin', async () => {
    const file = await originFile('from-origin.bin');
    const cwd = await mkdtemp(join(scratch, 'origin-'));
    const r = await h1.cli(['fetch', file.url, '--sha256', file.hash, '-o', 'saved.bin'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Saved saved.bin (65.5 kB) from ${new URL(origin.url).host}\n`);
    assert.deepEqual(await readdir(cwd), ['saved.bin']);
    assert.ok((await readFile(join(cwd, 'saved.bin'))).equals(file.content));
    assert.equal(asked(file.name), 1);
  });

  test('a hash the content does not have: exit 2, nothing written', async () => {
    const file = await originFile('wrong.bin');
    const cwd = await mkdtemp(join(scratch, 'wrong-'));
    const claimed = sha256('something else');
    const r = await h1.cli(['fetch', file.url, '--sha256', claimed], { cwd });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`does not match the hash: expected ${claimed}, got ${file.hash}; nothing was saved`));
    assert.equal(r.stdout, '');
    assert.deepEqual(await readdir(cwd), []);
  });

  test('the origin is down but a neighbour has it: fetched from the neighbour; neither: exit 3', async () => {
    const file = await originFile('origin-down.bin');
    const url = `http://127.0.0.1:1/${file.name}`; // nothing listens on port 1
    const cwd = await mkdtemp(join(scratch, 'down-'));
    const missing = await h1.cli(['fetch', url, '--sha256', file.hash], { cwd });
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /^Cannot download from 127\.0\.0\.1:1: .*ECONNREFUSED/m);
    assert.deepEqual(await readdir(cwd), []);

    await shareFrom(h2, file);
    const r = await h1.cli(['fetch', url, '--sha256', file.hash], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`from neighbour ${h2.address.replaceAll('.', '\\.')}$`, 'm'));
    assert.ok((await readFile(join(cwd, file.name))).equals(file.content));
  });

  test('--publish: the fetched file becomes an item of the local passimd; fetched again, it comes from there', async () => {
    const file = await originFile('publish-me.bin');
    const cwd = await mkdtemp(join(scratch, 'publish-'));
    const r = await h1.cli(['fetch', file.url, '--sha256', file.hash, '--publish', '600', '3'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Published: publish-me\\.bin ${file.hash}$`, 'm'));
    const item = (await getItems(h1.client)).find((i) => i.hash === file.hash);
    assert.ok(item, "h1's passimd lists the item");
    assert.equal(item.filename, file.name);
    assert.equal(item['max-age'], 600);
    assert.equal(item['share-limit'], 3);

    const again = await mkdtemp(join(scratch, 'local-'));
    const local = await h1.cli(['fetch', file.url, '--sha256', file.hash, '-o', '-', '--publish'], { cwd: again });
    assert.equal(local.code, 0, local.stderr);
    assert.equal(local.stdout, file.content.toString(), 'the content on standard output');
    assert.match(local.stderr, /^Saved publish-me\.bin \(65\.5 kB\) from this machine's passimd$/m);
    assert.match(local.stderr, new RegExp(`^Already published: ${file.hash}$`, 'm'));
    assert.deepEqual(await readdir(again), [], '-o - leaves no file');
    assert.equal(asked(file.name), 1, 'the origin was asked only the first time');
  });
});

describe('passimctl fetch --publish refused', () => {
  /** @type {import('./lib/harness.js').Bus} */
  let bus;
  /** @type {import('./lib/harness.js').Daemon} */
  let daemon;
  /** @type {import('node:http').Server} */
  let server;
  /** @type {string} */
  let work;
  const content = Buffer.from('a file for anyone\n');

  before(async () => {
    bus = await startBus();
    daemon = await startDaemon(bus, { insecure: false });
    await chmod(dirname(bus.socketPath), 0o755);
    work = await mkdtemp(join(tmpdir(), 'passim-fetch-refused-'));
    await chmod(work, 0o777);
    server = createServer((_req, res) => res.end(content));
    await /** @type {Promise<void>} */ (new Promise((resolve) => server.listen(0, '127.0.0.1', resolve)));
  });

  after(async () => {
    if (server) await new Promise((resolve) => server.close(resolve));
    await daemon?.cleanup();
    await bus?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the file is saved, the refusal reported, exit 4', async () => {
    const url = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}/anyone.txt`;
    const r = await runCli(bus, ['fetch', url, '--sha256', sha256(content), '--publish'], { uid: 65534, gid: 65534, cwd: work });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stdout, /^Saved anyone\.txt \(18 bytes\) from 127\.0\.0\.1:\d+$/m);
    assert.match(r.stderr, /^Permission denied: /m);
    assert.deepEqual(await readFile(join(work, 'anyone.txt')), content);
    const client = await connect(bus);
    try {
      assert.deepEqual(await getItems(client), []);
    } finally {
      client.disconnect();
    }
  });
});
