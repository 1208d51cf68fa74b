#!/usr/bin/env node
// Side-by-side benchmark of the ORIGINAL passimd (C, 0.1.x from Debian unstable) and OURS, in one run:
// prints figures, asserts nothing.
//   npx tsc -p . && node bench/compare.js      (as root; needs the Debian root `bash .ci/setup` builds)
//
// Three test hosts from test/lib/lan.js, each with its own bus and avahi-daemon: h1 runs the original
// /usr/libexec/passimd from the cached root (test/lib/debian-root.js), h2 runs ours (node bin/passimd, with
// the environment and Node.js options of data/passimd.options, as the installed launcher runs it). Both
// run as shipped: default configuration (Port=27500), no --verbose for ours; the original sets
// G_MESSAGES_DEBUG=all itself, so it logs every request, as under systemd. Each daemon's output goes to a
// file (as the journal would take it), not through this process. Every client runs inside the daemon's own
// namespace over loopback, https://localhost:27500/NAME?sha256=HASH, certificate not checked (-k), and only
// one daemon is measured at a time; repeated measurements alternate original, ours, bare Node. h3 runs ours
// with a MaxConnections whose per-user share admits every client of the load tests (4a and 4b), which are
// run against it too: by default ours answers root's connections past its share with 503.
//
// Items are published to each through D-Bus (dbus-next, a file descriptor per item) with share-limit
// 0xffffffff: every GET is a share and an item is deleted at its share-limit, and the original's own
// `passim publish FILE AGE SHARE` sets the share-COUNT, so its CLI cannot give a big limit.
//
// The counts come from environment variables (defaults in brackets), e.g. for a quick run:
//   COMPARE_BIG_RUNS=2 COMPARE_SMALL_RUNS=1 COMPARE_DOWNLOADS=50 COMPARE_STALLED=100 node bench/compare.js
//   COMPARE_BIG_MB [100]         size of the big item, in MB (10^6 bytes)
//   COMPARE_BIG_RUNS [7]         curl downloads of the big item per server
//   COMPARE_SMALL_RUNS [3]       wrk runs on the 13-byte item per server
//   COMPARE_WRK_SECONDS [5]      length of each wrk run
//   COMPARE_WRK_CONNECTIONS [16] wrk -c
//   COMPARE_MEDIUM_MIB [20]      size of the item for the concurrency tests, in MiB
//   COMPARE_DOWNLOADS [500]      concurrent full downloads of it (curl --parallel, 250 per curl process)
//   COMPARE_DOWNLOAD_TIMEOUT [60] curl --max-time for each of them, in seconds
//   COMPARE_STALLED [1000]       TLS connections that request it and never read
//   COMPARE_STALL_SECONDS [10]   how long they are held
//   COMPARE_SETTLE_SECONDS [20]  when the settled RSS after serving is read (the 2 s one is read too)
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, existsSync, openSync, readFileSync, rmSync, stat as statCb, writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { defaultConfig, pathsFromEnv } from '../dist/daemon/config.js';
import { ConnectionLimits } from '../dist/daemon/http/connection-limits.js';
import { envNumber } from './lib/env.js';
import { startRun } from './lib/run.js';
import { childTracker, originalDaemonCommand } from './lib/processes.js';

/**
 * Memory figures of a process from /proc/PID/status, in MiB, and the peaks a sampler saw.
 * @typedef {{ rss: number, hwm: number, anon: number, file: number, shmem: number }} Memory
 * @typedef {{ rss: number, anon: number, file: number }} Peak
 */
/**
 * A program run to its end by run(): exit code (-1 for a signal or timeout), output, and the error if any.
 * @typedef {{ code: number, stdout: string, stderr: string, err: import('node:child_process').ExecFileException | null }} CommandResult
 */
/**
 * The stall client's two JSON lines: once its connections are open, and after they were released.
 * @typedef {{ ready: true, connected: number, failed: number, openMs: number, errors: Record<string, number> }} StallReady
 * @typedef {{ done: true, connected: number, failed: number, closedWhileHeld: number, stillOpen: number, errors: Record<string, number> }} StallDone
 */
/**
 * The concurrent downloads of the medium item against one daemon.
 * @typedef {{ ok: number, wall: number, cpu: number, hwm: number, peak: Peak, after: number, statuses: Record<string, number>,
 *   alive: boolean, last: number, medianTime: number }} Concurrent
 */
/**
 * The stalled connections against one daemon: skipped, or measured.
 * @typedef {{ skipped: string, ready?: undefined, done?: undefined, held?: undefined, alive?: undefined }} StallSkipped
 * @typedef {{ skipped?: undefined, ready: StallReady, done: StallDone, probe: { code: number, status: string, ms: number },
 *   established: number, held: Memory, hwm: number, peak: Peak, cpu: number, alive: boolean, after: number }} StallMeasured
 */
/**
 * One server under measurement and what was measured of it. Made with label, ns, pid and port; the other
 * fields are filled in as the runs go (the optional ones only for some servers, or only when something happened).
 * @typedef {object} Server
 * @property {string} label
 * @property {string} ns
 * @property {number} pid
 * @property {number} port
 * @property {string} [version]
 * @property {string} [comm]
 * @property {string} [nofile]
 * @property {string} [backlog]
 * @property {number} rssIdle
 * @property {number} rssServed
 * @property {string} tls
 * @property {string} alpn
 * @property {string} connectedTo
 * @property {string} [httpVersion]
 * @property {number[]} speeds
 * @property {number} bigCpu
 * @property {number} bigBytes
 * @property {string[]} bigFailures
 * @property {number[]} rps the small-item runs (not for the 1 MiB bare server)
 * @property {number} smallCpu daemon CPU seconds over the small-item runs, likewise
 * @property {number} smallRequests requests wrk completed in them
 * @property {number} smallSeconds their length, summed
 * @property {number} [rssSettled] VmRSS once the burst is long over (SETTLE_SECONDS)
 * @property {string[]} wrkNotes likewise
 * @property {Concurrent} [concurrent]
 * @property {StallSkipped | StallMeasured} [stall]
 */
/**
 * A daemon started for startLan (startOriginal, startOurs).
 * @typedef {{ pid: number, child: import('node:child_process').ChildProcess, output: () => string,
 *   exited: Promise<number | NodeJS.Signals | null>, cleanup: () => Promise<void> }} BenchDaemon
 */
/** @typedef {import('../test/lib/lan.js').Host<BenchDaemon | import('../test/lib/harness.js').Daemon>} BenchHost */
/** @typedef {Server & { host: BenchHost, rssPublished: number }} DaemonServer */
/** @typedef {Server & { child: import('node:child_process').ChildProcess }} BareServer */

const SELF = fileURLToPath(import.meta.url);
const PORT = 27500;
const BARE_PORT = 27600;

// ---------------------------------------------------------------- helper processes (run inside a namespace)

/**
 * The bare Node HTTPS server: GET /NAME serves DIR/NAME with fs.createReadStream piped to the response,
 * read in chunks of HWM bytes (0: createReadStream's default, 64 KiB).
 * @param {string[]} args DIR PORT CERT KEY HWM
 */
function bareServer([dir, port, certPath, keyPath, hwm]) {
  const streamOptions = Number(hwm) > 0 ? { highWaterMark: Number(hwm) } : undefined;
  const server = createServer({ cert: readFileSync(certPath), key: readFileSync(keyPath) }, (req, res) => {
    const name = basename(decodeURIComponent(new URL(req.url ?? '/', 'https://localhost').pathname));
    const path = join(dir, name);
    statCb(path, (err, st) => {
      if (err || !st.isFile()) {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Length': st.size, 'Content-Type': 'application/octet-stream' });
      createReadStream(path, streamOptions).pipe(res);
    });
  });
  server.listen(Number(port), () => process.stdout.write('listening\n'));
  process.once('SIGTERM', () => process.exit(0));
}

/**
 * COUNT TLS connections to 127.0.0.1:PORT, at most CONCURRENCY handshakes at a time; each sends
 * `GET PATH` and is paused, so it never reads the response. Writes one JSON line when all are open, then
 * holds them until a line arrives on stdin, writes a last JSON line with what happened meanwhile and exits.
 * @param {string[]} args PORT PATH COUNT CONCURRENCY
 */
async function stallClient([port, path, count, concurrency]) {
  const send = (/** @type {StallReady | StallDone} */ m) => process.stdout.write(`${JSON.stringify(m)}\n`);
  const request = `GET ${path} HTTP/1.1\r\nHost: localhost:${port}\r\nUser-Agent: passim-bench-stall\r\n\r\n`;
  /** @type {import('node:tls').TLSSocket[]} */
  const sockets = [];
  /** @type {Record<string, number>} */
  const errors = {};
  let connected = 0;
  let failed = 0;
  let closedWhileHeld = 0;
  let holding = false;
  const started = performance.now();
  const open = () =>
    /** @type {Promise<void>} */ (
      new Promise((resolve) => {
        let isOpen = false;
        const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), servername: 'localhost', rejectUnauthorized: false });
        const timer = setTimeout(() => socket.destroy(new Error('no TLS handshake within 20 s')), 20000);
        socket.once('secureConnect', () => {
          clearTimeout(timer);
          isOpen = true;
          connected += 1;
          socket.write(request);
          socket.pause();
          sockets.push(socket);
          resolve();
        });
        socket.on('error', (err) => {
          const key = String(('code' in err ? err.code : undefined) ?? err.message);
          errors[key] = (errors[key] ?? 0) + 1;
        });
        socket.once('close', () => {
          clearTimeout(timer);
          if (!isOpen) {
            failed += 1;
            resolve();
          } else if (holding) {
            closedWhileHeld += 1;
          }
        });
      })
    );
  let next = 0;
  const total = Number(count);
  await Promise.all(
    Array.from({ length: Math.min(Number(concurrency), total) }, async () => {
      while (next < total) {
        next += 1;
        await open();
      }
    }),
  );
  holding = true;
  send({ ready: true, connected, failed, openMs: Math.round(performance.now() - started), errors });
  createInterface({ input: process.stdin }).once('line', () => {
    const stillOpen = sockets.filter((s) => !s.destroyed).length;
    send({ done: true, connected, failed, closedWhileHeld, stillOpen, errors });
    for (const socket of sockets) socket.destroy();
    setTimeout(() => process.exit(0), 100);
  });
}

if (process.argv[2] === '--bare-server') {
  bareServer(process.argv.slice(3));
} else if (process.argv[2] === '--stall') {
  await stallClient(process.argv.slice(3));
} else {
  await main();
}

// ---------------------------------------------------------------- the benchmark

async function main() {
  const BIG_SIZE = Math.round(envNumber('COMPARE_BIG_MB', 100, { integer: false }) * 1e6);
  const BIG_RUNS = envNumber('COMPARE_BIG_RUNS', 7);
  const SMALL_RUNS = envNumber('COMPARE_SMALL_RUNS', 3);
  const WRK_SECONDS = envNumber('COMPARE_WRK_SECONDS', 5, { integer: false });
  const WRK_CONNECTIONS = envNumber('COMPARE_WRK_CONNECTIONS', 16);
  const MEDIUM_SIZE = Math.round(envNumber('COMPARE_MEDIUM_MIB', 20, { integer: false }) * 1024 * 1024);
  const DOWNLOADS = envNumber('COMPARE_DOWNLOADS', 500);
  const DOWNLOAD_TIMEOUT = envNumber('COMPARE_DOWNLOAD_TIMEOUT', 60, { integer: false });
  const STALLED = envNumber('COMPARE_STALLED', 1000);
  const STALL_SECONDS = envNumber('COMPARE_STALL_SECONDS', 10, { integer: false });
  const SETTLE_SECONDS = Math.max(2, envNumber('COMPARE_SETTLE_SECONDS', 20, { integer: false }));
  // What one local user (root, here) may hold: a share of MaxConnections, by default and on h3, where the
  // share covers every client of the load tests.
  const rootShare = (/** @type {number} */ maxConnections) => new ConnectionLimits(maxConnections).perHolder;
  const DEFAULT_ROOT_SHARE = rootShare(defaultConfig(pathsFromEnv()).maxConnections);
  let OPEN_MAX_CONNECTIONS = Math.max(DOWNLOADS, STALLED);
  // More than all of them: the probe GET during the stalled connections is root's too.
  while (rootShare(OPEN_MAX_CONNECTIONS) <= Math.max(DOWNLOADS, STALLED)) OPEN_MAX_CONNECTIONS *= 2;
  const SMALL_CONTENT = Buffer.from('Hello World!\n'); // 13 bytes
  const CURL_PARALLEL = 250; // curl 7.x caps --parallel-max at 300

  const loadAtStart = loadavg()[0];
  // ---- preconditions, each with the command that fixes it
  const started = startRun('bench/compare.js');
  const say = started.say;
  /** @type {(text: string) => never} */
  const fail = started.fail;
  const { SID_ROOT, requireRoot } = await import('../test/lib/debian-root.js');
  /** @type {string} */
  let root;
  try {
    root = requireRoot(SID_ROOT);
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  for (const tool of ['curl', 'wrk', 'openssl', 'ip', 'ss']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      fail(`${tool} is not installed${tool === 'wrk' ? ' (apt-get install wrk)' : ''}.`);
    }
  }
  const { INSTALLED_LAUNCH, PASSIMD, connect, nameHasOwner } = await import('../test/lib/harness.js');
  const { pidOf, stopProcess, waitFor } = await import('../test/lib/process.js');
  const { startLan } = await import('../test/lib/lan.js');
  const { getProperty, publish } = await import('../test/lib/passim.js');

  // Ours runs as installed: with the environment and Node.js options that data/install.sh writes into the launcher.
  const launch = INSTALLED_LAUNCH;

  const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim()) || 100;

  // ---- cleanup of what this process starts besides the LAN (lan.js cleans up its own)
  const track = childTracker();

  // ---- small helpers
  const median = (/** @type {number[]} */ values) => {
    const s = [...values].sort((a, b) => a - b);
    if (!s.length) return NaN;
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  /** @type {(command: string, args: string[], options?: { timeout?: number }) => Promise<CommandResult>} */
  const run = (command, args, options = {}) =>
    new Promise((resolve) => {
      track(
        execFile(
          command,
          args,
          { maxBuffer: 64 * 1024 * 1024, timeout: options.timeout ?? 0, env: { PATH: process.env.PATH, LANG: 'C.UTF-8' } },
          (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr, err }),
        ),
      );
    });
  /** @type {(ns: string, command: string, args: string[], options?: { timeout?: number }) => Promise<CommandResult>} */
  const inNs = (ns, command, args, options) => run('ip', ['netns', 'exec', ns, command, ...args], options);

  /** utime + stime (whole process, all threads) in seconds, from /proc/PID/stat. */
  const cpuSeconds = (/** @type {number} */ pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 and 15 of proc(5)
  };
  /** VmRSS, VmHWM, RssAnon, RssFile, RssShmem from /proc/PID/status, in MiB. */
  /** @type {(pid: number) => Memory} */
  const memory = (pid) => {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (/** @type {string} */ key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return {
      rss: kb('VmRSS') / 1024,
      hwm: kb('VmHWM') / 1024,
      anon: kb('RssAnon') / 1024,
      file: kb('RssFile') / 1024,
      shmem: kb('RssShmem') / 1024,
    };
  };
  /** Resets VmHWM to the current RSS (proc(5), clear_refs value 5). */
  const resetPeak = (/** @type {number} */ pid) => writeFileSync(`/proc/${pid}/clear_refs`, '5');
  /** Samples memory(pid) every 100 ms until stop(); returns the peaks of each figure. */
  const sampler = (/** @type {number} */ pid) => {
    /** @type {Peak} */
    const peak = { rss: 0, anon: 0, file: 0 };
    const take = () => {
      try {
        const m = memory(pid);
        for (const k of /** @type {const} */ (['rss', 'anon', 'file'])) peak[k] = Math.max(peak[k], m[k]);
      } catch {
        /* gone */
      }
    };
    take();
    const timer = setInterval(take, 100);
    return () => {
      clearInterval(timer);
      take();
      return peak;
    };
  };
  const alive = (/** @type {number} */ pid) =>
    existsSync(`/proc/${pid}/stat`) && !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  const comm = (/** @type {number} */ pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  const maxOpenFiles = (/** @type {number} */ pid) =>
    /^Max open files\s+(\S+)\s+(\S+)/m
      .exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))
      ?.slice(1)
      .join('/') ?? '?';

  const scratch = await mkdtemp(join(tmpdir(), 'passim-compare-'));
  process.once('exit', () => rmSync(scratch, { recursive: true, force: true })); // after an interrupt
  await chmod(scratch, 0o755);
  /** @type {import('../test/lib/lan.js').Lan<BenchDaemon | import('../test/lib/harness.js').Daemon> | undefined} */
  let lan;
  /** @type {BareServer[]} */
  const bares = [];
  try {
    // ---- the items: written once, published to both daemons
    say(`writing items: ${BIG_SIZE / 1e6} MB, ${MEDIUM_SIZE / 1048576} MiB, ${SMALL_CONTENT.length} bytes`);
    const itemsDir = join(scratch, 'items');
    await mkdir(itemsDir, { mode: 0o755 });
    /** @type {(name: string, size: number, content?: Buffer) => Promise<{ name: string, path: string, size: number, hash: string }>} */
    const writeItem = async (name, size, content) => {
      const path = join(itemsDir, name);
      const hash = createHash('sha256');
      const fd = openSync(path, 'w', 0o644);
      try {
        if (content) {
          writeFileSync(fd, content);
          hash.update(content);
        } else {
          for (let left = size; left > 0; left -= 1 << 20) {
            const block = randomBytes(Math.min(left, 1 << 20));
            hash.update(block);
            writeFileSync(fd, block);
          }
        }
      } finally {
        closeSync(fd);
      }
      return { name, path, size: content ? content.length : size, hash: hash.digest('hex') };
    };
    const big = await writeItem('big.bin', BIG_SIZE);
    const medium = await writeItem('medium.bin', MEDIUM_SIZE);
    const small = await writeItem('small.txt', 0, SMALL_CONTENT);
    const itemPath = (/** @type {{ name: string, hash: string }} */ item) => `/${item.name}?sha256=${item.hash}`;

    // ---- the two daemons, each started as shipped, output to a file
    /** @typedef {{ ns: string, bus: import('../test/lib/harness.js').Bus, port: number }} HostToStart */
    /** @type {(host: HostToStart) => Promise<BenchDaemon>} */
    const startOriginal = async ({ ns, bus, port }) => {
      const { command, args, dir } = await originalDaemonCommand(root, scratch, { ns, bus, port });
      const logPath = join(dir, 'passimd.log');
      const logFd = openSync(logPath, 'w');
      const child = track(spawn(command, args, { env: { PATH: process.env.PATH }, stdio: ['ignore', logFd, logFd] }));
      closeSync(logFd);
      return waitOwner({ child, bus, logPath, what: 'the original passimd' });
    };
    /** @type {(extraConfig?: string) => (host: HostToStart) => Promise<BenchDaemon>} */
    const startOurs =
      (extraConfig = '') =>
      async ({ ns, bus, port }) => {
        const dir = await mkdtemp(join(scratch, 'ours-'));
        const localStateDir = join(dir, 'var');
        const sysconfDir = join(dir, 'etc');
        await mkdir(localStateDir);
        await mkdir(sysconfDir);
        await writeFile(join(sysconfDir, 'passim.conf'), `[daemon]\nPort=${port}\n${extraConfig}`);
        const logPath = join(dir, 'passimd.log');
        const logFd = openSync(logPath, 'w');
        const child = track(
          spawn('ip', ['netns', 'exec', ns, process.execPath, ...launch.flags, PASSIMD], {
            env: {
              PATH: process.env.PATH,
              LANG: 'C.UTF-8',
              LOCALSTATEDIR: localStateDir,
              SYSCONFDIR: sysconfDir,
              ...bus.env,
              ...launch.env,
            },
            stdio: ['ignore', logFd, logFd],
          }),
        );
        closeSync(logFd);
        return waitOwner({ child, bus, logPath, what: 'our passimd' });
      };
    /**
     * Waits until `child` owns org.freedesktop.Passim on `bus`.
     * @param {{ child: import('node:child_process').ChildProcess, bus: import('../test/lib/harness.js').Bus, logPath: string, what: string }} started
     * @returns {Promise<BenchDaemon>}
     */
    async function waitOwner({ child, bus, logPath, what }) {
      const output = () => {
        try {
          return readFileSync(logPath, 'utf8').slice(-5000);
        } catch {
          return '';
        }
      };
      /** @type {Promise<number | NodeJS.Signals | null>} */
      const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
      const client = await connect(bus);
      try {
        await Promise.race([
          waitFor(() => nameHasOwner(client, 'org.freedesktop.Passim'), `${what} to own org.freedesktop.Passim`, 30000),
          exited.then((code) => {
            throw new Error(`${what} exited with ${code}:\n${output()}`);
          }),
        ]);
      } catch (err) {
        await stopProcess(child);
        throw err;
      } finally {
        client.disconnect();
      }
      return { pid: pidOf(child), child, output, exited, cleanup: () => stopProcess(child) };
    }

    say(
      `starting three test hosts: h1 the original passimd, h2 ours, h3 ours with MaxConnections=${OPEN_MAX_CONNECTIONS} (each with its bus and avahi-daemon)`,
    );
    lan = await startLan(3, {
      daemons: { 1: startOriginal, 2: startOurs(), 3: startOurs(`MaxConnections=${OPEN_MAX_CONNECTIONS}\n`) },
    });
    const [h1, h2, h3] = lan.hosts;
    // The measured fields are filled in below (see Server).
    const servers = {
      original: /** @type {DaemonServer} */ ({ label: 'original', host: h1, ns: h1.ns, pid: h1.daemon.pid, port: PORT }),
      ours: /** @type {DaemonServer} */ ({ label: 'ours', host: h2, ns: h2.ns, pid: h2.daemon.pid, port: PORT }),
      // Only for the load tests: as many connections as the original takes.
      oursOpen: /** @type {DaemonServer} */ ({ label: 'ours (open)', host: h3, ns: h3.ns, pid: h3.daemon.pid, port: PORT }),
    };
    servers.original.version = await getProperty(h1.client, 'DaemonVersion');
    servers.ours.version = await getProperty(h2.client, 'DaemonVersion');
    servers.oursOpen.version = servers.ours.version;
    for (const s of Object.values(servers)) {
      s.comm = comm(s.pid);
      s.nofile = maxOpenFiles(s.pid);
      // ss shows a listening socket's backlog in Send-Q
      const listening = await inNs(s.ns, 'ss', ['-Hltn', `( sport = :${s.port} )`]);
      s.backlog = [
        ...new Set(
          listening.stdout
            .split('\n')
            .filter(Boolean)
            .map((l) => `${l.trim().split(/\s+/)[3]} backlog ${l.trim().split(/\s+/)[2]}`),
        ),
      ].join(', ');
      say(`${s.label}: ${s.comm} ${s.version}, PID ${s.pid}, in ${s.ns}, open files limit ${s.nofile}, listening on ${s.backlog}`);
    }

    // ---- the bare Node HTTPS server, in h2's namespace, same items, its own self-signed certificate
    const certPath = join(scratch, 'bare-cert.pem');
    const keyPath = join(scratch, 'bare-key.pem');
    const openssl = await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
    ]);
    if (openssl.code !== 0) throw new Error(`openssl req failed: ${openssl.stderr}`);
    /** @type {(label: string, port: number, hwm: number) => Promise<BareServer>} */
    const startBare = async (label, port, hwm) => {
      const child = track(
        spawn(
          'ip',
          ['netns', 'exec', h2.ns, process.execPath, SELF, '--bare-server', itemsDir, String(port), certPath, keyPath, String(hwm)],
          {
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        ),
      );
      const server = /** @type {BareServer} */ ({ label, ns: h2.ns, pid: pidOf(child), port, child }); // measured fields: below
      bares.push(server);
      await new Promise((resolve, reject) => {
        child.stdout.once('data', resolve);
        child.once('exit', (code) => reject(new Error(`the bare Node server exited with ${code}`)));
      });
      child.removeAllListeners('exit');
      return server;
    };
    // The first is the minimal server; the second reads 1 MiB at a time, as ours does (src/http-server.ts).
    const bare = await startBare('bare Node', BARE_PORT, 0);
    const bare1m = await startBare('bare Node 1 MiB', BARE_PORT + 1, 1 << 20);
    const all = [servers.original, servers.ours, bare, bare1m];
    const smallServers = [servers.original, servers.ours, bare];

    // ---- RSS idle after start (a few seconds to settle)
    await sleep(3000);
    for (const s of all) s.rssIdle = memory(s.pid).rss;
    say(`idle RSS: ${all.map((s) => `${s.label} ${s.rssIdle.toFixed(1)} MiB`).join(', ')}`);

    // ---- publish through D-Bus with a share-limit no run reaches
    for (const s of Object.values(servers)) {
      for (const item of [big, medium, small]) {
        await publish(s.host.client, item.path, { filename: item.name, 'share-limit': 0xffffffff });
      }
    }
    await sleep(2000);
    for (const s of [servers.original, servers.ours]) s.rssPublished = memory(s.pid).rss;
    say(`RSS after publishing: ${[servers.original, servers.ours].map((s) => `${s.label} ${s.rssPublished.toFixed(1)} MiB`).join(', ')}`);

    const url = (/** @type {Server} */ s, /** @type {{ name: string, hash: string }} */ item) =>
      `https://localhost:${s.port}${itemPath(item)}`;

    // sanity: each serves the small item with the right bytes; which protocol and cipher curl gets
    for (const s of all) {
      const r = await inNs(s.ns, 'curl', ['-k', '-sS', '-v', '--max-time', '10', url(s, small)]);
      if (r.code !== 0 || r.stdout !== SMALL_CONTENT.toString()) {
        throw new Error(`${s.label} did not serve the small item (curl ${r.code}): ${r.stdout.slice(0, 300)} ${r.stderr.slice(-800)}`);
      }
      s.tls = /SSL connection using (.*)/.exec(r.stderr)?.[1]?.trim() ?? '?';
      s.alpn = /ALPN: server accepted (\S+)/.exec(r.stderr)?.[1] ?? (/ALPN: server did not agree/.test(r.stderr) ? 'none' : '?');
      s.connectedTo = /Connected to \S+ \(([^)]+)\)/.exec(r.stderr)?.[1] ?? '?';
      say(`${s.label}: ${s.tls}, ALPN ${s.alpn}, curl connected to ${s.connectedTo}`);
    }

    // ---- 1 and 2: the big item with curl, interleaved; daemon CPU around each download
    say(`big item: ${BIG_RUNS} curl downloads per server, interleaved`);
    for (const s of all) Object.assign(s, { speeds: [], bigCpu: 0, bigBytes: 0, bigFailures: [] });
    for (let i = 0; i < BIG_RUNS; i++) {
      for (const s of all) {
        const before = cpuSeconds(s.pid);
        const r = await inNs(s.ns, 'curl', [
          '-k',
          '-s',
          '--max-time',
          '120',
          '-o',
          '/dev/null',
          '-w',
          '%{speed_download} %{http_code} %{size_download} %{http_version}',
          url(s, big),
        ]);
        s.bigCpu += cpuSeconds(s.pid) - before;
        const [speed, status, size, httpVersion] = r.stdout.trim().split(' ');
        if (r.code !== 0 || status !== '200' || Number(size) !== big.size) {
          s.bigFailures.push(`curl ${r.code}, HTTP ${status}, ${size} bytes`);
          continue;
        }
        s.httpVersion = httpVersion;
        s.bigBytes += Number(size);
        s.speeds.push(Number(speed) / 1e6);
      }
      say(`  run ${i + 1}: ${all.map((s) => `${s.label} ${s.speeds.at(-1)?.toFixed(0) ?? '-'} MB/s`).join(', ')}`);
    }

    // ---- 3: the 13-byte item with wrk, interleaved
    say(`small item: ${SMALL_RUNS} × wrk -t1 -c${WRK_CONNECTIONS} -d${WRK_SECONDS}s per server, interleaved`);
    for (const s of smallServers) Object.assign(s, { rps: [], wrkNotes: [], smallCpu: 0, smallRequests: 0, smallSeconds: 0 });
    for (let i = 0; i < SMALL_RUNS; i++) {
      for (const s of smallServers) {
        const before = cpuSeconds(s.pid);
        const r = await inNs(s.ns, 'wrk', ['-t1', `-c${WRK_CONNECTIONS}`, `-d${WRK_SECONDS}s`, url(s, small)], {
          timeout: (WRK_SECONDS + 30) * 1000,
        });
        const cpu = cpuSeconds(s.pid) - before;
        const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
        // "N requests in 5.00s": what the daemon's CPU over the run bought.
        const done = /(\d+) requests in ([\d.]+)s/.exec(r.stdout);
        if (done) {
          s.smallCpu += cpu;
          s.smallRequests += Number(done[1]);
          s.smallSeconds += Number(done[2]);
        }
        const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1];
        const socketErrors = /Socket errors: (.*)/.exec(r.stdout)?.[1];
        if (non2xx) s.wrkNotes.push(`run ${i + 1}: ${non2xx} non-2xx responses`);
        if (socketErrors) s.wrkNotes.push(`run ${i + 1}: socket errors ${socketErrors}`);
        if (r.code !== 0 || !Number.isFinite(rps))
          s.wrkNotes.push(`run ${i + 1}: wrk exited ${r.code}: ${(r.stderr || r.stdout).slice(0, 200)}`);
        else s.rps.push(rps);
      }
      say(`  run ${i + 1}: ${smallServers.map((s) => `${s.label} ${s.rps.at(-1)?.toFixed(0) ?? '-'} req/s`).join(', ')}`);
    }

    await sleep(2000);
    for (const s of all) s.rssServed = memory(s.pid).rss;
    say(`RSS after serving: ${all.map((s) => `${s.label} ${s.rssServed.toFixed(1)} MiB`).join(', ')}`);
    // V8 gives back the heap that a burst grew only once the allocation rate has stayed low for a while
    // (its memory reducer): the RSS a daemon keeps between bursts is this one.
    await sleep((SETTLE_SECONDS - 2) * 1000);
    for (const s of all) s.rssSettled = memory(s.pid).rss;
    say(`RSS ${SETTLE_SECONDS} s after serving: ${all.map((s) => `${s.label} ${s.rssSettled?.toFixed(1)} MiB`).join(', ')}`);

    // ---- 4a: DOWNLOADS concurrent full downloads of the medium item (HTTP/1.1: one connection each)
    const loaded = [servers.original, servers.ours, servers.oursOpen];
    for (const s of loaded) {
      say(`${s.label}: ${DOWNLOADS} concurrent downloads of ${MEDIUM_SIZE / 1048576} MiB (curl --parallel, HTTP/1.1)`);
      resetPeak(s.pid);
      const stop = sampler(s.pid);
      const before = cpuSeconds(s.pid);
      const started = performance.now();
      const batches = [];
      for (let left = DOWNLOADS; left > 0; left -= CURL_PARALLEL) {
        const n = Math.min(left, CURL_PARALLEL);
        const args = [
          '-k',
          '-s',
          '--http1.1',
          '-Z',
          '--parallel-immediate',
          '--parallel-max',
          String(n),
          '--max-time',
          String(DOWNLOAD_TIMEOUT),
          '-w',
          '%{http_code} %{size_download} %{exitcode} %{time_total}\\n',
        ];
        for (let j = 0; j < n; j++) args.push('-o', '/dev/null', url(s, medium));
        batches.push(inNs(s.ns, 'curl', args, { timeout: (DOWNLOAD_TIMEOUT + 60) * 1000 }));
      }
      const results = await Promise.all(batches);
      const wall = (performance.now() - started) / 1000;
      const cpu = cpuSeconds(s.pid) - before;
      const peak = stop();
      const transfers = results
        .flatMap((r) => r.stdout.trim().split('\n').filter(Boolean))
        .map((l) => {
          const [status, size, exitcode, time] = l.split(' ');
          return { complete: status === '200' && Number(size) === MEDIUM_SIZE, status, exitcode, time: Number(time) };
        });
      const done = transfers.filter((t) => t.complete);
      const ok = done.length;
      /** @type {Record<string, number>} */
      const statuses = {};
      for (const t of transfers) {
        if (t.complete) continue;
        const key = `HTTP ${t.status}, curl exit ${t.exitcode}`;
        statuses[key] = (statuses[key] ?? 0) + 1;
      }
      if (transfers.length < DOWNLOADS) statuses['no result from curl'] = DOWNLOADS - transfers.length;
      s.concurrent = {
        ok,
        wall,
        cpu,
        hwm: memory(s.pid).hwm,
        peak,
        after: memory(s.pid).rss,
        statuses,
        alive: alive(s.pid),
        last: done.length ? Math.max(...done.map((t) => t.time)) : NaN,
        medianTime: median(done.map((t) => t.time)),
      };
      say(
        `  ${ok}/${DOWNLOADS} complete, the last after ${s.concurrent.last.toFixed(1)} s (median ${s.concurrent.medianTime.toFixed(1)} s); ` +
          `all over in ${wall.toFixed(1)} s, VmHWM ${s.concurrent.hwm.toFixed(0)} MiB ` +
          `(peak anon ${peak.anon.toFixed(0)}, file ${peak.file.toFixed(0)}), daemon CPU ${cpu.toFixed(1)} s` +
          `${Object.keys(statuses).length ? `, others: ${JSON.stringify(statuses)}` : ''}`,
      );
      await sleep(2000);
    }

    // ---- 4b: STALLED connections that request the medium item and never read
    for (const s of loaded) {
      if (!alive(s.pid)) {
        s.stall = { skipped: 'daemon not running' };
        continue;
      }
      say(`${s.label}: ${STALLED} stalled TLS connections requesting ${MEDIUM_SIZE / 1048576} MiB, held ${STALL_SECONDS} s`);
      resetPeak(s.pid);
      const stop = sampler(s.pid);
      const before = cpuSeconds(s.pid);
      const client = track(
        spawn('ip', ['netns', 'exec', s.ns, process.execPath, SELF, '--stall', String(s.port), itemPath(medium), String(STALLED), '100'], {
          stdio: ['pipe', 'pipe', 'inherit'],
        }),
      );
      const messages = createInterface({ input: client.stdout });
      // The stall client's next JSON line (StallReady, then StallDone).
      /** @type {(timeoutMs: number) => Promise<any>} */
      const nextMessage = (timeoutMs) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('the stall client did not answer in time')), timeoutMs);
          messages.once('line', (line) => {
            clearTimeout(timer);
            resolve(JSON.parse(line));
          });
        });
      let ready;
      let done;
      let probe;
      let established = NaN;
      let held;
      try {
        ready = await nextMessage(120000);
        say(
          `  ${ready.connected} open in ${ready.openMs} ms${ready.failed ? `, ${ready.failed} failed ${JSON.stringify(ready.errors)}` : ''}`,
        );
        const holdStart = performance.now();
        await sleep((STALL_SECONDS * 1000) / 2);
        // Does the daemon still answer someone else meanwhile?
        const p = await inNs(s.ns, 'curl', [
          '-k',
          '-s',
          '--max-time',
          '10',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code} %{time_total}',
          url(s, small),
        ]);
        const [status, time] = p.stdout.trim().split(' ');
        probe = { code: p.code, status, ms: Number(time) * 1000 };
        await sleep(Math.max(0, STALL_SECONDS * 1000 - (performance.now() - holdStart)));
        held = memory(s.pid);
        const ssOut = await inNs(s.ns, 'ss', ['-Htn', 'state', 'established', `( sport = :${s.port} )`]);
        established = ssOut.stdout.split('\n').filter(Boolean).length;
        client.stdin.write('release\n');
        done = await nextMessage(30000);
      } finally {
        await stopProcess(client);
      }
      const peak = stop();
      const cpu = cpuSeconds(s.pid) - before;
      await sleep(2000);
      s.stall = {
        ready,
        done,
        probe,
        established,
        held,
        hwm: held.hwm,
        peak,
        cpu,
        alive: alive(s.pid),
        after: alive(s.pid) ? memory(s.pid).rss : NaN,
      };
      say(
        `  held: VmRSS ${held.rss.toFixed(0)} MiB (anon ${held.anon.toFixed(0)}, file ${held.file.toFixed(0)}), VmHWM ${held.hwm.toFixed(0)} MiB, ` +
          `${established} established on the server side, ${done.closedWhileHeld} closed by the server while held; ` +
          `probe GET of the small item: ${probe.status} in ${probe.ms.toFixed(0)} ms; daemon CPU ${cpu.toFixed(1)} s; ` +
          `${s.stall.alive ? `RSS after release ${s.stall.after.toFixed(0)} MiB` : 'DAEMON GONE'}`,
      );
    }

    // ---- the table
    const o = servers.original;
    const u = servers.ours;
    const fmt = (/** @type {number} */ v, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
    const ratio = (/** @type {number} */ a, /** @type {number} */ b) =>
      Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : 'n/a';
    const withRange = (/** @type {number[]} */ values, digits = 0) =>
      values.length ? `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})` : 'n/a';
    const cpuPerGb = (/** @type {Server} */ s) => (s.bigBytes ? s.bigCpu / (s.bigBytes / 1e9) : NaN);
    const cpuPerRequest = (/** @type {Server} */ s) => (s.smallRequests ? (s.smallCpu / s.smallRequests) * 1e6 : NaN);
    // Under 100 % the daemon waited for wrk, so its req/s is wrk's as much as its own.
    const busy = (/** @type {Server} */ s) => (s.smallSeconds ? (s.smallCpu / s.smallSeconds) * 100 : NaN);
    const rows = [
      [
        `1. ${BIG_SIZE / 1e6} MB over TLS, curl, MB/s: median (range), ${BIG_RUNS} runs`,
        withRange(o.speeds),
        withRange(u.speeds),
        ratio(median(u.speeds), median(o.speeds)),
      ],
      ['2. daemon CPU per GB served (utime+stime), s', fmt(cpuPerGb(o), 2), fmt(cpuPerGb(u), 2), ratio(cpuPerGb(u), cpuPerGb(o))],
      [
        `3. ${SMALL_CONTENT.length}-byte item, wrk -t1 -c${WRK_CONNECTIONS} -d${WRK_SECONDS}s, req/s: median (range), ${SMALL_RUNS} runs`,
        withRange(o.rps),
        withRange(u.rps),
        ratio(median(u.rps), median(o.rps)),
      ],
      [
        '   daemon CPU per request (3), µs; busy % of one core',
        `${fmt(cpuPerRequest(o))}; ${fmt(busy(o))} %`,
        `${fmt(cpuPerRequest(u))}; ${fmt(busy(u))} %`,
        ratio(cpuPerRequest(u), cpuPerRequest(o)),
      ],
      ['4. VmRSS idle after start, MiB', fmt(o.rssIdle, 1), fmt(u.rssIdle, 1), ratio(u.rssIdle, o.rssIdle)],
      ['   VmRSS after publishing the 3 items, MiB', fmt(o.rssPublished, 1), fmt(u.rssPublished, 1), ratio(u.rssPublished, o.rssPublished)],
      ['   VmRSS 2 s after serving (1 and 3), MiB', fmt(o.rssServed, 1), fmt(u.rssServed, 1), ratio(u.rssServed, o.rssServed)],
      [
        `   VmRSS ${SETTLE_SECONDS} s after serving, MiB`,
        fmt(o.rssSettled ?? NaN, 1),
        fmt(u.rssSettled ?? NaN, 1),
        ratio(u.rssSettled ?? NaN, o.rssSettled ?? NaN),
      ],
    ];
    const mib = MEDIUM_SIZE / 1048576;
    /** The load tests' rows, the original against `u`. @type {(u: Server) => string[][]} */
    const loadRows = (u) => {
      /** @type {string[][]} */
      const load = [];
      if (o.concurrent && u.concurrent) {
        load.push(
          [
            `   ${DOWNLOADS} concurrent ${mib} MiB downloads: VmHWM, MiB`,
            fmt(o.concurrent.hwm),
            fmt(u.concurrent.hwm),
            ratio(u.concurrent.hwm, o.concurrent.hwm),
          ],
          [
            '     of which peak RssAnon (sampled every 100 ms), MiB',
            fmt(o.concurrent.peak.anon),
            fmt(u.concurrent.peak.anon),
            ratio(u.concurrent.peak.anon, o.concurrent.peak.anon),
          ],
          [
            '     of which peak RssFile (sampled), MiB',
            fmt(o.concurrent.peak.file),
            fmt(u.concurrent.peak.file),
            ratio(u.concurrent.peak.file, o.concurrent.peak.file),
          ],
          [
            `     complete within curl --max-time ${DOWNLOAD_TIMEOUT} s`,
            `${o.concurrent.ok}/${DOWNLOADS}`,
            `${u.concurrent.ok}/${DOWNLOADS}`,
            ratio(u.concurrent.ok, o.concurrent.ok),
          ],
          [
            '     time to the last complete download (median), s',
            `${fmt(o.concurrent.last, 1)} (${fmt(o.concurrent.medianTime, 1)})`,
            `${fmt(u.concurrent.last, 1)} (${fmt(u.concurrent.medianTime, 1)})`,
            ratio(u.concurrent.last, o.concurrent.last),
          ],
          [
            '     daemon CPU per GB served, s',
            fmt(o.concurrent.cpu / ((o.concurrent.ok * MEDIUM_SIZE) / 1e9), 2),
            fmt(u.concurrent.cpu / ((u.concurrent.ok * MEDIUM_SIZE) / 1e9), 2),
            ratio(u.concurrent.cpu / (u.concurrent.ok || NaN), o.concurrent.cpu / (o.concurrent.ok || NaN)),
          ],
        );
      }
      if (o.stall?.held && u.stall?.held) {
        load.push(
          [
            `   ${STALLED} stalled connections (${mib} MiB asked, never read): VmRSS held, MiB`,
            fmt(o.stall.held.rss),
            fmt(u.stall.held.rss),
            ratio(u.stall.held.rss, o.stall.held.rss),
          ],
          ['     VmHWM, MiB', fmt(o.stall.hwm), fmt(u.stall.hwm), ratio(u.stall.hwm, o.stall.hwm)],
          [
            '     RssAnon / RssFile held, MiB',
            `${fmt(o.stall.held.anon)} / ${fmt(o.stall.held.file)}`,
            `${fmt(u.stall.held.anon)} / ${fmt(u.stall.held.file)}`,
            `anon ${ratio(u.stall.held.anon, o.stall.held.anon)}`,
          ],
          [
            '     TLS handshakes done (within 20 s each) / established at the end',
            `${o.stall.ready.connected} / ${o.stall.established}`,
            `${u.stall.ready.connected} / ${u.stall.established}`,
            '',
          ],
          [
            '     time to open them (100 handshakes in flight), s',
            fmt(o.stall.ready.openMs / 1000, 1),
            fmt(u.stall.ready.openMs / 1000, 1),
            ratio(u.stall.ready.openMs, o.stall.ready.openMs),
          ],
          [
            "     another client's small GET meanwhile, ms",
            `${o.stall.probe.status} in ${fmt(o.stall.probe.ms)}`,
            `${u.stall.probe.status} in ${fmt(u.stall.probe.ms)}`,
            ratio(u.stall.probe.ms, o.stall.probe.ms),
          ],
          ['     VmRSS 2 s after they close, MiB', fmt(o.stall.after), fmt(u.stall.after), ratio(u.stall.after, o.stall.after)],
        );
      }
      return load;
    };
    rows.push(...loadRows(u));
    const openRows = loadRows(servers.oursOpen);
    const header = ['measure', `original (${o.version})`, `ours (${u.version})`, 'ours/original'];
    const widths = header.map((h, i) => Math.max(h.length, ...[...rows, ...openRows].map((r) => String(r[i]).length)));
    const line = (/** @type {string[]} */ cells) =>
      `| ${cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ')} |`;
    const out = [];
    out.push('');
    out.push(
      `passimd side by side: the original (C, Debian unstable) and ours (Node ${process.version}), one run, ${new Date().toISOString()}`,
    );
    out.push(
      `machine: ${spawnSync('nproc').stdout.toString().trim()} cores, 1-minute load ${loadAtStart.toFixed(2)} at the start and ${loadavg()[0].toFixed(2)} at the end ` +
        `(this run adds about 2); every client inside the daemon's own namespace on loopback; ratios > 1 mean ours is higher`,
    );
    out.push('');
    out.push(line(header));
    out.push(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of rows) out.push(line(r));
    out.push('');
    out.push(
      `The load tests again, against ours with MaxConnections=${OPEN_MAX_CONNECTIONS} (h3): this machine's root then has ` +
        `${rootShare(OPEN_MAX_CONNECTIONS)} of them, so ours serves every download and holds every stalled connection as the original does, ` +
        `instead of answering those over root's ${DEFAULT_ROOT_SHARE} with 503:`,
    );
    out.push('');
    out.push(line(header));
    out.push(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of openRows) out.push(line(r));
    out.push('');
    out.push(
      `bare Node HTTPS (https.createServer, fs.createReadStream(file).pipe(res), RSA-2048 self-signed, in h2's namespace, same items and clients):`,
    );
    out.push(
      `  default 64 KiB reads: ${BIG_SIZE / 1e6} MB with curl ${withRange(bare.speeds)} MB/s (${ratio(median(bare.speeds), median(o.speeds))} the original), ` +
        `${fmt(cpuPerGb(bare), 2)} CPU s/GB; ${SMALL_CONTENT.length}-byte item with wrk ${withRange(bare.rps)} req/s (${ratio(median(bare.rps), median(o.rps))}), ${fmt(cpuPerRequest(bare))} µs CPU per request; ` +
        `VmRSS idle ${fmt(bare.rssIdle, 1)} MiB, after serving ${fmt(bare.rssServed, 1)} MiB (${fmt(bare.rssSettled ?? NaN, 1)} after ${SETTLE_SECONDS} s)`,
    );
    out.push(
      `  1 MiB reads (highWaterMark, as ours): ${BIG_SIZE / 1e6} MB with curl ${withRange(bare1m.speeds)} MB/s (${ratio(median(bare1m.speeds), median(o.speeds))} the original), ` +
        `${fmt(cpuPerGb(bare1m), 2)} CPU s/GB; VmRSS after serving ${fmt(bare1m.rssServed, 1)} MiB`,
    );
    out.push('');
    out.push('notes:');
    for (const s of [...all, servers.oursOpen]) {
      const served = s.tls
        ? `${s.tls}, ALPN ${s.alpn}, HTTP ${s.httpVersion ?? '?'} for the big item, curl connected to ${s.connectedTo}`
        : 'load tests only';
      out.push(
        `  ${s.label}: ${s.comm ?? 'node'} PID ${s.pid}; ${served}` +
          `${s.nofile ? `; open files limit ${s.nofile}` : ''}${s.backlog ? `; listening on ${s.backlog}` : ''}`,
      );
      for (const f of s.bigFailures ?? []) out.push(`    big-item download failed: ${f}`);
      for (const n of s.wrkNotes ?? []) out.push(`    wrk ${n}`);
      if (s.concurrent && Object.keys(s.concurrent.statuses).length)
        out.push(
          `    concurrent downloads not complete: ${JSON.stringify(s.concurrent.statuses)} (curl exit 28: timed out, 35: TLS connect error, 56: receive error)`,
        );
      if (s.concurrent)
        out.push(
          `    concurrent downloads: all over in ${fmt(s.concurrent.wall, 1)} s, daemon CPU ${fmt(s.concurrent.cpu, 1)} s, VmRSS after ${fmt(s.concurrent.after)} MiB`,
        );
      if (s.concurrent && !s.concurrent.alive) out.push('    THE DAEMON DIED during the concurrent downloads');
      if (s.stall?.ready?.failed)
        out.push(`    stalled connections that failed to open: ${s.stall.ready.failed} ${JSON.stringify(s.stall.ready.errors)}`);
      if (s.stall?.done?.closedWhileHeld)
        out.push(`    stalled connections closed by the server while held: ${s.stall.done.closedWhileHeld}`);
      if (s.stall?.held)
        out.push(
          `    stall phase: handshakes took ${s.stall.ready.openMs} ms for ${s.stall.ready.connected}, daemon CPU ${fmt(s.stall.cpu, 1)} s, sampled peak RSS ${fmt(s.stall.peak.rss)} MiB`,
        );
      if (s.stall && s.stall.alive === false) out.push('    THE DAEMON DIED during the stalled connections');
      if (s.stall?.skipped) out.push(`    stall phase skipped: ${s.stall.skipped}`);
    }
    out.push('  the original logs every request (it sets G_MESSAGES_DEBUG=all itself); ours runs without --verbose; both write to a file.');
    out.push(
      `  ours runs as installed (data/passimd.options): ${Object.entries(launch.env)
        .map(([k, v]) => `${k}=${v} `)
        .join('')}node ${launch.flags.join(' ')} bin/passimd`,
    );
    out.push('  VmRSS counts mapped file pages too (RssFile): the original serves each request from its own mmap of the file.');
    console.log(out.join('\n'));
  } finally {
    for (const b of bares) await stopProcess(b.child).catch(() => {});
    await lan?.stop().catch((err) => console.error(`teardown: ${err.message}`));
    await rm(scratch, { recursive: true, force: true });
  }
}
