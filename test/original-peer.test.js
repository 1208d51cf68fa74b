// Our passimd and the ORIGINAL passimd from Debian unstable on one test LAN (test/lib/lan.js): h1 runs the
// original daemon from the root .ci/debian-root builds (test/lib/debian-root.js) with h1's bus and Avahi, h2 runs
// ours. Each publishes a file; each host then fetches the other's file through its OWN daemon,
// https://localhost:27500/NAME?sha256=HASH, which must redirect to the peer; the bytes are hashed here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nameHasOwner } from './lib/harness.js';
import { waitFor } from './lib/process.js';
import { PASSIM_PORT, startLan } from './lib/lan.js';
import { SID_ROOT, requireRoot, runInRoot, startOriginalDaemon } from './lib/debian-root.js';
import { getItems, getProperty } from './lib/passim.js';

const sha256 = (/** @type {Buffer} */ data) => createHash('sha256').update(data).digest('hex');
const WORK_IN_ROOT = '/tmp/work';

describe('our passimd and the original passimd (Debian unstable) on one LAN', () => {
  /** @typedef {import('./lib/debian-root.js').OriginalDaemon | import('./lib/harness.js').Daemon} EitherDaemon */
  /** @type {string} */
  let root;
  /** @type {import('./lib/lan.js').Lan<EitherDaemon>} */
  let lan;
  /** @type {import('./lib/lan.js').Host<EitherDaemon>} */
  let original; // h1: the original passimd
  /** @type {import('./lib/lan.js').Host<EitherDaemon>} */
  let ours; // h2: our passimd
  /** @type {string} */
  let scratch;
  let counter = 0;

  before(async () => {
    root = requireRoot(SID_ROOT);
    scratch = await mkdtemp(join(tmpdir(), 'passim-original-peer-'));
    await chmod(scratch, 0o755);
    lan = await startLan(2, {
      daemons: { 1: ({ ns, bus, port }) => startOriginalDaemon(root, { bus, netns: ns, port }) },
    });
    [original, ours] = lan.hosts;
  });

  after(async () => {
    await lan?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /**
   * A new file in the scratch folder (visible at /tmp/work inside the root): { name, path, inRoot, content, hash }.
   * @param {string} name
   */
  async function makeFile(name, size = 96 * 1024) {
    const content = randomBytes(size);
    const dir = `f${++counter}`;
    await mkdir(join(scratch, dir), { mode: 0o755 });
    const path = join(scratch, dir, name);
    await writeFile(path, content, { mode: 0o644 });
    return { name, path, inRoot: `${WORK_IN_ROOT}/${dir}/${name}`, content, hash: sha256(content) };
  }

  /** An empty folder for downloads: { path, inRoot }. */
  async function downloadDir() {
    const dir = `dl${++counter}`;
    await mkdir(join(scratch, dir), { mode: 0o755 });
    return { path: join(scratch, dir), inRoot: `${WORK_IN_ROOT}/${dir}` };
  }

  /**
   * Runs a program from the root inside `host`'s namespace, on its bus, with the scratch folder at /tmp/work.
   * @param {import('./lib/lan.js').Host<EitherDaemon>} host
   * @param {string} program
   * @param {string[]} args
   * @param {import('./lib/debian-root.js').RootOptions} options
   */
  function inRoot(host, program, args, options = {}) {
    return runInRoot(root, program, args, {
      bus: host.bus,
      netns: host.ns,
      cwd: WORK_IN_ROOT,
      binds: [{ source: scratch, target: WORK_IN_ROOT }],
      ...options,
    });
  }

  /**
   * curl from the root inside `host`: `https://localhost:27500/NAME?sha256=HASH`, following redirects or not.
   * @param {import('./lib/lan.js').Host<EitherDaemon>} host
   * @param {{ name: string, hash: string }} file
   * @param {{ follow: boolean, output?: string }} options
   */
  async function curl(host, file, { follow, output = '/dev/null' }) {
    const url = `https://localhost:${PASSIM_PORT}/${file.name}?sha256=${file.hash}`;
    const r = await inRoot(host, '/usr/bin/curl', [
      '-k',
      '-sS',
      '--noproxy',
      '*',
      '--max-time',
      '60',
      ...(follow ? ['-L'] : []),
      '-o',
      output,
      '-w',
      '%{http_code} %{num_redirects} %{redirect_url} %{url_effective}',
      url,
    ]);
    const [status, redirects, redirectUrl, effective] = r.stdout.trim().split(' ');
    return { code: r.code, stderr: r.stderr, status: Number(status), redirects: Number(redirects), redirectUrl, effective };
  }

  const outputs = () =>
    lan.hosts.map((h) => `--- passimd on ${h.name}${h === original ? ' (original)' : ''}:\n${h.daemon.output().slice(-5000)}`).join('\n');

  /**
   * A test whose failure report carries both daemons' output; fails early if one died.
   * @param {string} name
   * @param {() => Promise<void>} fn
   */
  function peerTest(name, fn) {
    test(name, async () => {
      const owned = await Promise.all(lan.hosts.map((h) => nameHasOwner(h.client, 'org.freedesktop.Passim')));
      assert.deepEqual(
        lan.hosts.filter((_, i) => !owned[i]).map((h) => h.name),
        [],
        'both daemons still own their name',
      );
      try {
        await fn();
      } catch (err) {
        if (err instanceof Error) err.message += `\n${outputs()}`;
        throw err;
      }
    });
  }

  /**
   * Waits until `host`'s own daemon redirects a loopback request for `file` to `peer`; returns the curl result.
   * @param {import('./lib/lan.js').Host<EitherDaemon>} host
   * @param {{ name: string, hash: string }} file
   * @param {import('./lib/lan.js').Host<EitherDaemon>} peer
   */
  function waitRedirect(host, file, peer) {
    return waitFor(
      async () => {
        const r = await curl(host, file, { follow: false });
        return r.status >= 300 && r.status < 400 && r.redirectUrl && new URL(r.redirectUrl).hostname === peer.address ? r : null;
      },
      `${host.name}'s daemon to redirect ${file.name} to ${peer.name} (${peer.address})`,
      30000,
      500,
    );
  }

  // Published once, fetched by several tests below.
  /** @typedef {Awaited<ReturnType<typeof makeFile>>} ScratchFile */
  /** @type {ScratchFile} */
  let fromOriginal;
  /** @type {ScratchFile} */
  let fromOurs;

  peerTest('h1 runs the original passimd from the root; the original passim tool publishes on it', async () => {
    assert.match(await getProperty(original.client, 'DaemonVersion'), /^0\.1\.\d+$/, 'h1 answers as the original daemon');
    assert.notEqual(await getProperty(ours.client, 'DaemonVersion'), await getProperty(original.client, 'DaemonVersion'));

    fromOriginal = await makeFile('from-original.bin');
    const r = await inRoot(original, '/usr/bin/passim', ['publish', fromOriginal.inRoot]);
    assert.equal(r.code, 0, `passim publish on h1 failed:\n${r.stdout}${r.stderr}`);
    const item = (await getItems(original.client)).find((i) => i.hash === fromOriginal.hash);
    assert.ok(item, 'the original daemon lists the file');
    assert.equal(item.filename, fromOriginal.name);
  });

  peerTest('passimctl publishes on h2 (ours)', async () => {
    fromOurs = await makeFile('from-ours.bin');
    const r = await ours.cli(['publish', fromOurs.path]);
    assert.equal(r.code, 0, `passimctl publish on h2 failed:\n${r.stdout}${r.stderr}`);
    assert.ok((await getItems(ours.client)).some((i) => i.hash === fromOurs.hash));
  });

  peerTest('h2 → its own (our) daemon redirects to the original on h1; curl -L gets the right bytes', async () => {
    assert.ok(fromOriginal, 'published by the first test');
    const redirect = await waitRedirect(ours, fromOriginal, original);
    assert.equal(redirect.status, 302);
    assert.equal(redirect.redirectUrl, `https://${original.address}:${PASSIM_PORT}/${fromOriginal.name}?sha256=${fromOriginal.hash}`);

    const dir = await downloadDir();
    const got = await curl(ours, fromOriginal, { follow: true, output: `${dir.inRoot}/${fromOriginal.name}` });
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.status, 200, `GET through h2 → ${got.effective}`);
    assert.equal(got.redirects, 1);
    assert.equal(new URL(got.effective).hostname, original.address, 'the bytes came from h1');
    assert.equal(sha256(await readFile(join(dir.path, fromOriginal.name))), fromOriginal.hash);
  });

  peerTest('h1 → its own (original) daemon redirects to ours on h2; curl -L gets the right bytes', async () => {
    assert.ok(fromOurs, 'published by the second test');
    const redirect = await waitRedirect(original, fromOurs, ours);
    assert.ok([302, 303, 307].includes(redirect.status), `redirect status ${redirect.status}`);
    assert.equal(new URL(redirect.redirectUrl).port, String(PASSIM_PORT));

    const dir = await downloadDir();
    const got = await curl(original, fromOurs, { follow: true, output: `${dir.inRoot}/${fromOurs.name}` });
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.status, 200, `GET through h1 → ${got.effective}`);
    assert.equal(new URL(got.effective).hostname, ours.address, 'the bytes came from h2');
    assert.equal(sha256(await readFile(join(dir.path, fromOurs.name))), fromOurs.hash);
  });

  peerTest("the original passim download on h2, through our daemon, saves h1's file with a verified hash", async () => {
    await waitRedirect(ours, fromOriginal, original);
    const dir = await downloadDir();
    const r = await inRoot(ours, '/usr/bin/passim', ['download', fromOriginal.name, fromOriginal.hash], { cwd: dir.inRoot });
    assert.equal(r.code, 0, `passim download on h2 failed:\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Saved .*${fromOriginal.name.replace('.', '\\.')}`));
    assert.deepEqual(await readdir(dir.path), [fromOriginal.name]);
    assert.equal(sha256(await readFile(join(dir.path, fromOriginal.name))), fromOriginal.hash);
  });

  peerTest('the original passim download on h1, through the original daemon, saves our file from h2', async () => {
    await waitRedirect(original, fromOurs, ours);
    const dir = await downloadDir();
    const r = await inRoot(original, '/usr/bin/passim', ['download', fromOurs.name, fromOurs.hash], { cwd: dir.inRoot });
    assert.equal(r.code, 0, `passim download on h1 failed:\n${r.stdout}${r.stderr}`);
    assert.deepEqual(await readdir(dir.path), [fromOurs.name]);
    assert.equal(sha256(await readFile(join(dir.path, fromOurs.name))), fromOurs.hash);
  });

  peerTest("passimctl download on h2 gets h1's file from the original daemon", async () => {
    await waitRedirect(ours, fromOriginal, original);
    const dir = await downloadDir();
    const r = await ours.cli(['download', fromOriginal.name, fromOriginal.hash], { cwd: dir.path });
    assert.equal(r.code, 0, `passimctl download on h2 failed:\n${r.stdout}${r.stderr}`);
    assert.deepEqual(await readdir(dir.path), [fromOriginal.name]);
    assert.equal(sha256(await readFile(join(dir.path, fromOriginal.name))), fromOriginal.hash);
  });
});
