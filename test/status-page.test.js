// The status page in headless Chromium on a test LAN (test/lib/lan.js), after real transfers: h1 fetches one
// file from neighbour h2 (a redirect) and one from an origin, and the page, passimctl status --json and the
// counters all show those bytes. Screenshots (light, dark, German) go to test/artifacts/; axe-core finds
// no accessibility violation. An unprivileged caller cannot push the counters past their bound, and a
// machine on the LAN cannot see the page.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { formatSize } from '../dist/shared/format.js';
import { MAX_CALLER_BYTES_PER_DAY, MAX_REPORT_BYTES } from '../dist/daemon/transfer-reports.js';
import { startLan } from './lib/lan.js';
import { stopProcess, waitFor } from './lib/process.js';

const ROOT = new URL('..', import.meta.url).pathname;
const ARTIFACTS = join(ROOT, 'test', 'artifacts');
const AXE_SOURCE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const NOBODY = 65534;
const sha256 = (/** @type {Buffer} */ data) => createHash('sha256').update(data).digest('hex');

// Serves the folder in argv[1] on 127.0.0.1 (port printed first).
const ORIGIN = `
import { createReadStream } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
const server = createServer((req, res) => {
  const file = createReadStream(join(process.argv[1], new URL(req.url, 'http://o').pathname.slice(1)));
  file.on('error', () => res.writeHead(404).end());
  file.on('open', () => { res.writeHead(200); file.pipe(res); });
});
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
`;

/**
 * Runs test/lib/call-as.js as `uid` on `env`'s bus; resolves with its JSON answer.
 * @param {number} uid @param {string[]} args @param {NodeJS.ProcessEnv} env
 * @returns {Promise<any>}
 */
function callAs(uid, args, env) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(ROOT, 'test', 'lib', 'call-as.js'), ...args],
      { uid, gid: uid, env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        if (!stdout) reject(err ?? new Error(`call-as.js printed nothing: ${stderr}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

describe('the status page', () => {
  /** @type {import('./lib/lan.js').Lan} */
  let lan;
  /** @type {import('./lib/lan.js').Host} */
  let h1;
  /** @type {import('./lib/lan.js').Host} */
  let h2;
  /** @type {string} */
  let scratch;
  /** @type {import('node:child_process').ChildProcess} */
  let origin;
  /** @type {import('playwright-core').Browser} */
  let browser;
  const fromPeer = Buffer.from(randomBytes(1024 * 1024).toString('hex')); // 2 MiB
  const fromOrigin = Buffer.from(randomBytes(32 * 1024).toString('hex')); // 64 KiB
  let originUrl = '';

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'passim-page-test-'));
    await chmod(scratch, 0o755);
    await mkdir(join(scratch, 'origin'));
    await mkdir(ARTIFACTS, { recursive: true });
    await writeFile(join(scratch, 'origin', 'origin.bin'), fromOrigin);
    lan = await startLan(2);
    [h1, h2] = lan.hosts;
    origin = spawn('ip', ['netns', 'exec', h1.ns, process.execPath, '--input-type=module', '-e', ORIGIN, join(scratch, 'origin')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let port = 0;
    createInterface({ input: /** @type {import('node:stream').Readable} */ (origin.stdout) }).on('line', (line) => {
      if (line.startsWith('port ')) port = Number(line.slice(5));
    });
    await waitFor(() => port > 0, 'the origin server to listen');
    originUrl = `http://127.0.0.1:${port}`;
    // Chromium runs inside h1's namespace, where localhost:27500 is h1's passimd.
    const wrapper = join(scratch, 'chromium-in-h1');
    await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${h1.ns} /usr/bin/chromium "$@"\n`, { mode: 0o755 });
    browser = await chromium.launch({
      executablePath: wrapper,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  after(async () => {
    await browser?.close();
    if (origin) await stopProcess(origin);
    await lan?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  test('after a download from a neighbour and one from the origin, the page shows the bytes moved', async () => {
    const peerHash = sha256(fromPeer);
    const published = join(scratch, 'peer.bin');
    await writeFile(published, fromPeer);
    await h2.publish(published, { filename: 'peer.bin' });
    await waitFor(async () => (await h1.lookup('peer.bin', peerHash)).status === 302, 'h1 to find peer.bin on h2');
    const cwd = await mkdtemp(join(scratch, 'fetched-'));
    const viaPeer = await h1.cli(['fetch', `${originUrl}/peer.bin`, '--sha256', peerHash], { cwd });
    assert.equal(viaPeer.code, 0, viaPeer.stderr);
    assert.match(viaPeer.stdout, /from neighbour/);
    const viaOrigin = await h1.cli(['fetch', `${originUrl}/origin.bin`, '--sha256', sha256(fromOrigin)], { cwd });
    assert.equal(viaOrigin.code, 0, viaOrigin.stderr);
    assert.match(viaOrigin.stdout, /from 127\.0\.0\.1/);

    const status = JSON.parse((await h1.cli(['status', '--json'])).stdout);
    const today = status.traffic.at(-1);
    assert.equal(today.fromNeighbours, fromPeer.length);
    assert.equal(today.fromOrigin, fromOrigin.length);
    assert.deepEqual(
      status.neighbours.map((/** @type {any} */ n) => [n.address, n.summary]),
      [[h2.address, true]],
    );
    const served = JSON.parse((await h2.cli(['status', '--json'])).stdout).traffic.at(-1);
    // h2 served the file to h1, plus whatever the lookups' HEAD requests cost (no body).
    assert.equal(served.servedToNeighbours, fromPeer.length);

    const saved = Math.round((100 * fromPeer.length) / (fromPeer.length + fromOrigin.length));
    const expected = `This week: ${formatSize(fromPeer.length, 'en')} from neighbours, ${formatSize(fromOrigin.length, 'en')} from the internet — saved ${saved}%.`;
    for (const colorScheme of /** @type {const} */ (['light', 'dark'])) {
      const context = await browser.newContext({ ignoreHTTPSErrors: true, colorScheme, viewport: { width: 1100, height: 1400 } });
      const page = await context.newPage();
      const response = await page.goto('https://localhost:27500/');
      assert.equal(response?.status(), 200);
      assert.equal(await page.locator('p.summary').innerText(), expected);
      assert.equal(await page.getAttribute('html', 'lang'), 'en');
      assert.equal(await page.getAttribute('html', 'dir'), 'ltr');
      const chart = page.locator('svg.chart');
      assert.equal(await chart.getAttribute('role'), 'img');
      assert.match((await chart.locator('title').textContent()) ?? '', /from neighbours 2\.1 MB in all, from the internet 65\.5 kB in all/);
      assert.equal(await page.locator('svg.chart rect').count(), 2, 'one bar of each kind, today');
      assert.match(await page.locator('main').innerText(), new RegExp(h2.address.replaceAll('.', '\\.')));
      assert.match(await page.locator('main').innerText(), /Passim with a summary/);
      await page.screenshot({ path: join(ARTIFACTS, `status-page-${colorScheme}.png`), fullPage: true });
      await page.addScriptTag({ content: AXE_SOURCE });
      const violations = await page.evaluate(async () => (await /** @type {any} */ (globalThis).axe.run()).violations);
      assert.deepEqual(
        violations.map((/** @type {any} */ v) => `${v.id}: ${v.nodes.map((/** @type {any} */ n) => n.html).join(' | ')}`),
        [],
      );
      await context.close();
    }

    const german = await browser.newContext({
      ignoreHTTPSErrors: true,
      locale: 'de-DE',
      extraHTTPHeaders: { 'Accept-Language': 'de' },
      viewport: { width: 1100, height: 1400 },
    });
    const page = await german.newPage();
    await page.goto('https://localhost:27500/');
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
    const deSize = (/** @type {number} */ n) => formatSize(n, 'de');
    assert.equal(
      await page.locator('p.summary').innerText(),
      `Diese Woche: ${deSize(fromPeer.length)} von Nachbarn, ${deSize(fromOrigin.length)} aus dem Internet – ${saved} % gespart.`,
    );
    assert.match(await page.locator('main').innerText(), /Geltende Begrenzungen/);
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-de.png'), fullPage: true });
    await page.addScriptTag({ content: AXE_SOURCE });
    assert.deepEqual(
      (await page.evaluate(async () => (await /** @type {any} */ (globalThis).axe.run()).violations)).map((/** @type {any} */ v) => v.id),
      [],
    );
    await german.close();
  });

  test('a LAN client cannot see the page', async () => {
    // h2 shares, so it listens on its LAN address; h1 asks it from the LAN.
    const r = await new Promise((resolve) => {
      execFile(
        'ip',
        ['netns', 'exec', h1.ns, process.execPath, join(ROOT, 'test', 'lib', 'fetch.js'), `https://${h2.address}:27500/`],
        (_err, stdout) => resolve(JSON.parse(stdout)),
      );
    });
    assert.equal(/** @type {any} */ (r).status, 403);
  });

  test('an unprivileged caller cannot push the counters past their bound', async () => {
    const before = JSON.parse((await h1.cli(['status', '--json'])).stdout).traffic.at(-1).fromOrigin;
    const unbacked = await callAs(NOBODY, ['report', sha256(Buffer.from('never looked up')), 'origin', '1000'], h1.bus.env);
    assert.equal(unbacked.ok, false);
    assert.match(unbacked.text, /No lookup/);
    let counted = 0;
    for (let i = 0; i < 12; i++) {
      const hash = sha256(Buffer.from(`made up ${i}`));
      assert.equal((await h1.get(`/x.bin?sha256=${hash}`)).status, 404);
      const answer = await callAs(NOBODY, ['report', hash, 'origin', String(10 * MAX_REPORT_BYTES)], h1.bus.env);
      assert.equal(answer.ok, true, answer.text);
      assert.ok(Number(answer.result) <= MAX_REPORT_BYTES);
      counted += Number(answer.result);
    }
    assert.equal(counted, MAX_CALLER_BYTES_PER_DAY);
    const afterwards = JSON.parse((await h1.cli(['status', '--json'])).stdout).traffic.at(-1).fromOrigin;
    assert.equal(afterwards - before, MAX_CALLER_BYTES_PER_DAY);
  });
});
