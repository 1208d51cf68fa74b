#!/usr/bin/env node
// Benchmark of the HTTPS file server: prints figures, asserts nothing.
//   node bench/serve.js            (run `npx tsc -p .` first)
// The server runs in this process; the client is a forked copy of this script (`--client`), so each gets a core.
import { execFile, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const BIG_SIZE = 100 * 1000 * 1000;
const THROUGHPUT_RUNS = 7;
const CONNECTIONS = 16;
const REQUESTS_SECONDS = 5;

const median = (/** @type {number[]} */ values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

// ---------------------------------------------------------------- client side (forked process)

/**
 * What the server side asks of a forked client.
 * @typedef {{ kind: 'throughput', port: number, ca: string, path: string, runs: number }} ThroughputJob
 * @typedef {{ kind: 'requests', port: number, ca: string, path: string, extraHeaders?: string, seconds: number }} RequestsJob
 */

/**
 * @param {number} port
 * @param {string} ca
 * @returns {Promise<import('node:tls').TLSSocket>}
 */
function openTls(port, ca) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

const requestBytes = (/** @type {string} */ path, extraHeaders = '') =>
  Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n${extraHeaders}\r\n`);

/**
 * Sends `request` on `socket` and resolves with the length of the whole response (head and body) once it has
 * arrived. The body is counted, not parsed or kept: a plain TLS socket keeps the client's own cost low, so
 * what gets measured is the server.
 * @param {import('node:tls').TLSSocket} socket
 * @param {Buffer} request
 * @returns {Promise<number>}
 */
function exchange(socket, request) {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    let total = -1;
    let received = 0;
    const onData = (/** @type {Buffer} */ chunk) => {
      received += chunk.length;
      if (total < 0) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const match = /content-length: *(\d+)/i.exec(head.subarray(0, end).toString());
        if (!match) return reject(new Error(`no Content-Length in: ${head.subarray(0, end)}`));
        total = end + 4 + Number(match[1]);
        head = Buffer.alloc(0); // not needed any more
      }
      if (received >= total) {
        socket.off('data', onData);
        resolve(total);
      }
    };
    socket.on('data', onData);
    socket.write(request);
  });
}

/**
 * Downloads the big item `runs` times over one kept-alive connection; returns MB/s per run.
 * @param {ThroughputJob} job
 */
async function clientThroughput({ port, ca, path, runs }) {
  const socket = await openTls(port, ca);
  /** @type {number[]} */
  const rates = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    await exchange(socket, requestBytes(path));
    rates.push(BIG_SIZE / (Number(process.hrtime.bigint() - started) / 1e9) / 1e6);
  }
  socket.destroy();
  return rates;
}

/**
 * Small requests on CONNECTIONS kept-alive connections, one in flight on each. Every response to the same
 * request has the same length (the Date header is fixed-width), so counting bytes counts responses.
 * @param {RequestsJob} job
 */
async function clientRequests({ port, ca, path, extraHeaders, seconds }) {
  const request = requestBytes(path, extraHeaders);
  const probe = await openTls(port, ca);
  const responseLength = await exchange(probe, request);
  probe.destroy();

  const sockets = await Promise.all(Array.from({ length: CONNECTIONS }, () => openTls(port, ca)));
  let completed = 0;
  let running = true;
  const done = sockets.map(
    (socket) =>
      /** @type {Promise<void>} */ (
        new Promise((resolve) => {
          let pending = 0;
          socket.on('data', (/** @type {Buffer} */ chunk) => {
            pending += chunk.length;
            while (pending >= responseLength) {
              pending -= responseLength;
              completed += 1;
              if (running) socket.write(request);
              else return resolve();
            }
          });
          socket.write(request);
        })
      ),
  );
  const started = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  running = false;
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const counted = completed;
  await Promise.all(done);
  for (const socket of sockets) socket.destroy();
  return counted / elapsed;
}

if (process.argv[2] === '--client') {
  process.once('message', async (message) => {
    // The job runClient() sent over the IPC channel.
    const job = /** @type {ThroughputJob | RequestsJob} */ (message);
    const result = job.kind === 'throughput' ? await clientThroughput(job) : await clientRequests(job);
    if (!process.send) throw new Error('--client runs as a child forked by this benchmark');
    process.send(result, () => process.exit(0));
  });
} else {
  await main();
}

// ---------------------------------------------------------------- server side (this process)

/**
 * Runs `job` in a forked client; resolves with its answer: MB/s per run for throughput, requests/s for requests.
 * @template {ThroughputJob | RequestsJob} J
 * @param {J} job
 * @returns {Promise<J extends ThroughputJob ? number[] : number>}
 */
function runClient(job) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--client'], { stdio: 'inherit' });
    // What the client's process.send(result) carried over the IPC channel.
    child.once('message', (answer) => resolve(/** @type {J extends ThroughputJob ? number[] : number} */ (answer)));
    child.once('error', reject);
    child.once('exit', (code) => code !== 0 && reject(new Error(`client exited with ${code}`)));
    child.send(job);
  });
}

/**
 * 1 MiB random blocks, generated on the fly so the item is never held in memory.
 * @param {number} size
 */
function randomContent(size) {
  return Readable.from(
    (function* () {
      for (let left = size; left > 0; left -= 1 << 20) yield randomBytes(Math.min(left, 1 << 20));
    })(),
  );
}

function opensslAes() {
  return new Promise((resolve) => {
    execFile('openssl', ['speed', '-seconds', '2', '-bytes', '16384', '-evp', 'aes-256-gcm'], (err, stdout) => {
      if (err) return resolve(`skipped (${err.code === 'ENOENT' ? 'openssl not installed' : err.message.split('\n')[0]})`);
      const line = stdout.split('\n').find((l) => /^aes-256-gcm\s/i.test(l.trim()));
      const figure = line && /([\d.]+)k\s*$/.exec(line.trim());
      resolve(figure ? `${((Number(figure[1]) * 1000) / 1e6).toFixed(0)} MB/s (16 KB blocks, one core)` : 'skipped (unexpected output)');
    });
  });
}

async function main() {
  const { FileServer } = await import('../dist/daemon/http/server.js');
  const { Store } = await import('../dist/daemon/store/store.js');
  const { loadOrCreateCredentials } = await import('../dist/daemon/tls.js');
  const { silentLogger } = await import('../dist/shared/log.js');

  const root = await mkdtemp(join(tmpdir(), 'passim-bench-'));
  let server;
  try {
    const credentials = await loadOrCreateCredentials(join(root, 'secret.key'), join(root, 'cert.pem'), silentLogger);
    const store = await Store.open({
      dataDir: join(root, 'data'),
      maxItemSize: 2 * BIG_SIZE,
      auditLogPath: join(root, 'audit.log'),
      log: silentLogger,
    });
    const unlimited = { maxAge: 86400, shareLimit: 0xffffffff, shareCount: 0, nextReboot: false, cmdline: 'bench' };
    const big = await store.publish(randomContent(BIG_SIZE), { ...unlimited, basename: 'big.bin' });
    const small = await store.publish(randomContent(1024), { ...unlimited, basename: 'small.bin' });
    const { defaultConfig, pathsFromEnv } = await import('../dist/daemon/config.js');
    // Loopback clients are never rate-limited; MaxConnections is raised so the load test measures serving.
    const config = {
      ...defaultConfig(pathsFromEnv({})),
      port: 0,
      dataDir: join(root, 'data'),
      maxItemSize: 2 * BIG_SIZE,
      maxConnections: 4096,
    };
    server = new FileServer({
      config,
      store,
      discovery: { find: async () => [] },
      credentials,
      log: silentLogger,
      webDir: root,
    });
    await server.start();
    const common = { port: server.port, ca: credentials.cert };

    console.log(`passim HTTPS server benchmark (Node ${process.version}, loopback, server and client in separate processes)`);
    const rates = await runClient({ ...common, kind: 'throughput', path: `/big.bin?sha256=${big.hash}`, runs: THROUGHPUT_RUNS });
    console.log(
      `1. 100 MB item over TLS: best ${Math.max(...rates).toFixed(0)} MB/s, median ${median(rates).toFixed(0)} MB/s ` +
        `(${THROUGHPUT_RUNS} runs: ${rates.map((r) => r.toFixed(0)).join(', ')}; target 1300)`,
    );
    const smallPath = `/small.bin?sha256=${small.hash}`;
    const shares = await runClient({ ...common, kind: 'requests', path: smallPath, seconds: REQUESTS_SECONDS });
    console.log(
      `2. 1 KiB item, ${CONNECTIONS} keep-alive connections, ${REQUESTS_SECONDS} s: ${shares.toFixed(0)} requests/s ` +
        '(target 6000; every one a completed share: share-count xattr and audit line)',
    );
    const ranges = await runClient({
      ...common,
      kind: 'requests',
      path: smallPath,
      extraHeaders: 'Range: bytes=0-\r\n',
      seconds: REQUESTS_SECONDS,
    });
    console.log(`   the same as Range requests, which are not shares: ${ranges.toFixed(0)} requests/s (the serving path alone)`);
    console.log(`3. openssl speed -evp aes-256-gcm: ${await opensslAes()}`);
  } finally {
    await server?.stop();
    await rm(root, { recursive: true, force: true });
  }
}
