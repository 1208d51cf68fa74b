#!/usr/bin/env node
// Scale benchmark: ours with 10,000, 100,000 and 1,000,000 items, and the original beside it where there is one
// (publishing). Prints figures next to their targets, asserts nothing.
//   npx tsc -p . && node bench/scale.js [SIZE...]      (as root; npm run bench:scale; sizes also from SCALE_SIZES=10000,100000)
//
// Per size, a LAN of two test hosts from test/lib/lan.js (each with its bus and avahi-daemon), both running ours
// as installed (data/passimd.options), Port=27500 and Cooldown=0:
// - h2 holds the N items. Its store is built on disk in the original's format rather than published: files
//   `<sha256>-item-<i>.bin` of 64–512 random bytes with the xattrs the original writes (user.max_age and
//   user.share_limit, both 4294967295 so that nothing expires or is deleted between runs, user.cmdline) plus ours
//   (user.share_count 0, and user.passim.verified, the stamp a daemon that ran before would have written, so
//   that no file is hashed at start). It is kept under /var/tmp/passim-bench-scale-N (complete.json marks a
//   finished build) and reused by later runs. h2's passimd runs with --verbose: its log says when the store is
//   loaded.
// - h1 starts its passimd only once h2's has loaded its store and settled, and measures from inside its
//   namespace, as a client that keeps its connection sees it: one keep-alive HTTPS connection to h1's passimd,
//   GET /NAME?sha256=HASH&localhost=false.
// Then the original passimd (from the Debian root `bash .ci/setup` builds, test/lib/debian-root.js) starts on a
// host of its own LAN (so that h1 never waits for a neighbour without a summary), and one small file after
// another, then 8 clients at once, are published over D-Bus (a file descriptor each) to it and to ours.
// Last, h2's passimd is stopped and started again on the same state, so on the index snapshot it wrote at
// shutdown (as after a reboot), and its start-up measured again.
//
// Environment (defaults in brackets): SCALE_SIZES [10000,100000,1000000]; SCALE_LOOKUPS [200] keep-alive
// lookups per figure; SCALE_CURL [20] curl lookups; SCALE_PROPAGATION [5] new items published on h2;
// SCALE_PUBLISHES [100] one after another; SCALE_PARALLEL_ROUNDS [8] rounds of SCALE_PARALLEL_CLIENTS [8] clients
// publishing SCALE_PARALLEL_EACH [3] files each at once;
// SCALE_SETTLE_SECONDS [15] after h2's store is loaded, before its RSS is read and h1 starts;
// SCALE_START_TIMEOUT [900] seconds h2 may take to load its store; SCALE_BUILD_WORKERS [2] processes that build a store.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { envNumber } from './lib/env.js';
import { startRun } from './lib/run.js';
import { childTracker, originalDaemonCommand } from './lib/processes.js';

const SELF = fileURLToPath(import.meta.url);
const PORT = 27500;
/** What a finished store folder holds in complete.json; a store built another way is built again. */
const STORE_FORMAT = 1;
const ITEM_NAME = /^([0-9a-f]{64})-(item-\d+\.bin)$/;
const U32_MAX = 0xffffffff;
/**
 * Log lines of h2's passimd that say its whole store of `n` items is loaded: the store's own (debug), or main's
 * line once it serves (which, when the store loads in the background, counts only what is loaded by then).
 */
const storeLoaded = (/** @type {number} */ n) => [new RegExp(`loaded ${n} items from`), new RegExp(`serving (all )?${n} items from`)];
const now = () => performance.timeOrigin + performance.now();

if (process.argv[2] === '--build-worker') buildWorker(process.argv.slice(3));
else if (process.argv[2] === '--client') client(process.argv.slice(3));
else await main();

// ---------------------------------------------------------------- helper processes

/**
 * Writes items FROM..TO-1 into DIR in the original's format, with our verification stamp; a line per 10,000.
 * @param {string[]} args DIR FROM TO
 */
async function buildWorker([dir, from, to]) {
  const { setAttributeSync } = await import('@napi-rs/xattr');
  const u32 = (/** @type {number} */ value) => {
    const buf = Buffer.alloc(4);
    buf.writeUInt32LE(value);
    return buf;
  };
  const maxAge = u32(U32_MAX);
  const shareLimit = u32(U32_MAX);
  const shareCount = u32(0);
  for (let i = Number(from); i < Number(to); i++) {
    const content = randomBytes(64 + randomInt(449));
    const hash = createHash('sha256').update(content).digest('hex');
    const path = join(dir, `${hash}-item-${i}.bin`);
    writeFileSync(path, content, { mode: 0o644 });
    const { size, mtimeNs } = statSync(path, { bigint: true });
    setAttributeSync(path, 'user.max_age', maxAge);
    setAttributeSync(path, 'user.share_limit', shareLimit);
    setAttributeSync(path, 'user.share_count', shareCount);
    setAttributeSync(path, 'user.cmdline', 'passim-bench-scale');
    // XATTR.verified (src/daemon/store/xattrs.ts): `<size>:<mtimeNs>:<sha256>`.
    setAttributeSync(path, 'user.passim.verified', `${size}:${mtimeNs}:${hash}`);
    if ((i + 1 - Number(from)) % 10000 === 0) process.stdout.write('10000\n');
  }
}

/**
 * Runs inside a namespace: HTTPS GETs to https://localhost:PORT over one kept-alive connection, asked for on
 * stdin as JSON lines and answered on stdout:
 *   { id, op: 'series', paths }  → { id, results: [{ status, location, ms, reused }] }, one after another;
 *   { id, op: 'until', paths, status, host, intervalMs, timeoutMs } → { id, ok, at, tries, last, firstAnswerAt,
 *   slowest }: GET every intervalMs, each time the next of `paths`, until the answer has that status (and a
 *   Location on that host); `at` and `firstAnswerAt` (the first HTTP answer of any status) are epoch times in
 *   ms (performance.timeOrigin + now), comparable with the parent's; `slowest` is the longest answer, in ms.
 * @param {string[]} args PORT
 */
function client([port]) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, keepAliveMsecs: 1000 });
  /** @type {(path: string) => Promise<{ status: number, location?: string, ms: number, reused: boolean } | { error: string, ms: number }>} */
  const get = (path) =>
    new Promise((resolve) => {
      const start = performance.now();
      const req = request({ host: 'localhost', port: Number(port), path, agent, rejectUnauthorized: false, timeout: 30000 }, (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, location: res.headers.location, ms: performance.now() - start, reused: req.reusedSocket }),
        );
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) =>
        resolve({ error: String(/** @type {NodeJS.ErrnoException} */ (err).code ?? err.message), ms: performance.now() - start }),
      );
      req.end();
    });
  const send = (/** @type {object} */ m) => process.stdout.write(`${JSON.stringify(m)}\n`);
  let queue = Promise.resolve();
  createInterface({ input: process.stdin }).on('line', (line) => {
    const command = JSON.parse(line);
    queue = queue.then(async () => {
      if (command.op === 'series') {
        const results = [];
        for (const path of command.paths) results.push(await get(path));
        send({ id: command.id, results });
        return;
      }
      const deadline = performance.now() + command.timeoutMs;
      /** @type {string[]} */
      const paths = command.paths;
      let tries = 0;
      let last;
      /** Epoch ms of the first HTTP answer of any status, and the slowest answer. */
      let firstAnswerAt = null;
      let slowest = 0;
      while (performance.now() < deadline) {
        const started = performance.now();
        last = await get(paths[tries % paths.length]);
        tries += 1;
        if ('status' in last) {
          firstAnswerAt ??= performance.timeOrigin + performance.now();
          slowest = Math.max(slowest, last.ms);
        }
        if (
          'status' in last &&
          last.status === command.status &&
          (!command.host || new URL(last.location ?? 'x:/').hostname === command.host)
        ) {
          send({ id: command.id, ok: true, at: performance.timeOrigin + performance.now(), tries, last, firstAnswerAt, slowest });
          return;
        }
        await new Promise((r) => setTimeout(r, Math.max(0, command.intervalMs - (performance.now() - started))));
      }
      send({ id: command.id, ok: false, tries, last, firstAnswerAt, slowest });
    });
  });
  process.once('SIGTERM', () => process.exit(0));
}

// ---------------------------------------------------------------- the benchmark

async function main() {
  const sizeWords = process.argv.slice(2).length ? process.argv.slice(2) : (process.env.SCALE_SIZES || '10000,100000,1000000').split(',');
  const SIZES = sizeWords.map((w) => Number(w.replace(/_/g, '')));
  if (SIZES.some((n) => !Number.isInteger(n) || n < 1000)) {
    console.error(`sizes must be integers of at least 1000, got ${sizeWords.join(' ')}`);
    process.exit(2);
  }
  const LOOKUPS = envNumber('SCALE_LOOKUPS', 200);
  const CURL = envNumber('SCALE_CURL', 20);
  const PROPAGATION = envNumber('SCALE_PROPAGATION', 5);
  const PUBLISHES = envNumber('SCALE_PUBLISHES', 100);
  const PARALLEL_CLIENTS = envNumber('SCALE_PARALLEL_CLIENTS', 8);
  const PARALLEL_EACH = envNumber('SCALE_PARALLEL_EACH', 3);
  const PARALLEL_ROUNDS = envNumber('SCALE_PARALLEL_ROUNDS', 8);
  const SETTLE_MS = envNumber('SCALE_SETTLE_SECONDS', 15) * 1000;
  const START_TIMEOUT_MS = envNumber('SCALE_START_TIMEOUT', 900) * 1000;
  const BUILD_WORKERS = envNumber('SCALE_BUILD_WORKERS', 2);

  const loadAtStart = loadavg();
  const started = startRun('bench/scale.js');
  const say = started.say;
  /** @type {(text: string) => never} */
  const fail = started.fail;
  for (const tool of ['curl', 'ip']) if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) fail(`${tool} is not installed.`);
  const { SID_ROOT, requireRoot } = await import('../test/lib/debian-root.js');
  /** @type {string} */
  let root;
  try {
    root = requireRoot(SID_ROOT);
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  const { INSTALLED_LAUNCH, PASSIMD, connect, nameHasOwner } = await import('../test/lib/harness.js');
  const { pidOf, stopProcess } = await import('../test/lib/process.js');
  const { startLan } = await import('../test/lib/lan.js');
  const { call, getProperty, publish } = await import('../test/lib/passim.js');

  // ---- what this process starts besides the LANs (lan.js cleans up its own)
  const track = childTracker();

  // ---- small helpers
  const sorted = (/** @type {number[]} */ values) => [...values].sort((a, b) => a - b);
  /** Nearest-rank percentile. */
  const percentile = (/** @type {number[]} */ values, /** @type {number} */ p) => {
    const s = sorted(values);
    return s.length ? s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)] : NaN;
  };
  const median = (/** @type {number[]} */ values) => {
    const s = sorted(values);
    if (!s.length) return NaN;
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  /** VmRSS and VmHWM of a process, in MiB. */
  const memory = (/** @type {number} */ pid) => {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (/** @type {string} */ key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  };
  const alive = (/** @type {number} */ pid) =>
    existsSync(`/proc/${pid}/stat`) && !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  /** The avahi-daemon of a namespace (test/lib/lan.js starts one per host). */
  const avahiIn = (/** @type {string} */ ns) => {
    const pids = spawnSync('ip', ['netns', 'pids', ns]).stdout.toString().split('\n').filter(Boolean).map(Number);
    const pid = pids.find((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'avahi-daemon';
      } catch {
        return false;
      }
    });
    if (pid === undefined) throw new Error(`no avahi-daemon in ${ns}`);
    return pid;
  };
  const fmt = (/** @type {number} */ v, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
  const randomHash = () => randomBytes(32).toString('hex');

  /**
   * The keep-alive client (see client()) inside `ns`.
   * @param {string} ns
   */
  const startClient = (ns) => {
    const child = track(
      spawn('ip', ['netns', 'exec', ns, process.execPath, SELF, '--client', String(PORT)], { stdio: ['pipe', 'pipe', 'inherit'] }),
    );
    /** @type {Map<number, { resolve: (reply: any) => void, reject: (err: Error) => void }>} */
    const waiting = new Map();
    let nextId = 0;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const reply = JSON.parse(line);
      waiting.get(reply.id)?.resolve(reply);
      waiting.delete(reply.id);
    });
    child.once('exit', () => {
      for (const w of waiting.values()) w.reject(new Error(`the client in ${ns} exited`));
      waiting.clear();
    });
    /** @type {(command: object) => Promise<any>} */
    const ask = (command) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        child.stdin.write(`${JSON.stringify({ id, ...command })}\n`);
      });
    return {
      /** @type {(paths: string[]) => Promise<({ status: number, location?: string, ms: number, reused: boolean } | { error: string, ms: number })[]>} */
      series: async (paths) => (await ask({ op: 'series', paths })).results,
      /**
       * @type {(paths: string | string[], status: number, host: string | null, timeoutMs: number, intervalMs?: number) =>
       *   Promise<{ ok: boolean, at: number, tries: number, last: any, firstAnswerAt: number | null, slowest: number }>}
       */
      until: (paths, status, host, timeoutMs, intervalMs = 20) =>
        ask({ op: 'until', paths: Array.isArray(paths) ? paths : [paths], status, host, intervalMs, timeoutMs }),
      stop: () => stopProcess(child),
    };
  };

  // ---- the store of N items on disk, built once and reused
  /**
   * @param {number} n
   * @returns {Promise<{ dataDir: string, count: number, sample: string[], reused: boolean, buildSeconds: number, removed: number }>}
   */
  const ensureStore = async (n) => {
    const dir = `/var/tmp/passim-bench-scale-${n}`;
    const dataDir = join(dir, 'data');
    const marker = join(dir, 'complete.json');
    /** The item names in the folder (a random sample of 5,000), after removing what earlier runs left behind. */
    const survey = () => {
      const names = readdirSync(dataDir);
      let count = 0;
      let removed = 0;
      /** @type {string[]} */
      const sample = [];
      for (const name of names) {
        if (!ITEM_NAME.test(name)) {
          // A publish of an interrupted run, or a temporary file: not part of the store.
          rmSync(join(dataDir, name), { force: true, recursive: true });
          removed += 1;
          continue;
        }
        count += 1;
        if (sample.length < 5000) sample.push(name);
        else if (randomInt(count) < 5000) sample[randomInt(5000)] = name;
      }
      return { count, sample, removed };
    };
    if (existsSync(marker)) {
      const built = JSON.parse(readFileSync(marker, 'utf8'));
      if (built.format === STORE_FORMAT && built.count === n) {
        const { count, sample, removed } = survey();
        if (count === n) return { dataDir, count, sample, reused: true, buildSeconds: built.buildSeconds, removed };
        say(`${dir} holds ${count} items, not ${n}: building it again`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true, mode: 0o755 });
    say(`building ${n} items in ${dataDir} (${BUILD_WORKERS} processes; kept for later runs)`);
    const started = performance.now();
    let done = 0;
    let reported = 0;
    const workers = Array.from({ length: BUILD_WORKERS }, (_, w) => {
      const from = Math.floor((n * w) / BUILD_WORKERS);
      const to = Math.floor((n * (w + 1)) / BUILD_WORKERS);
      const child = track(
        spawn(process.execPath, [SELF, '--build-worker', dataDir, String(from), String(to)], { stdio: ['ignore', 'pipe', 'inherit'] }),
      );
      createInterface({ input: child.stdout }).on('line', (line) => {
        done += Number(line);
        if (done - reported >= 100000) {
          reported = done;
          say(`  ${done} of ${n} written`);
        }
      });
      return new Promise((resolve, reject) =>
        child.once('exit', (code) => (code === 0 ? resolve(code) : reject(new Error(`a store builder exited with ${code}`)))),
      );
    });
    await Promise.all(workers);
    const buildSeconds = (performance.now() - started) / 1000;
    writeFileSync(marker, JSON.stringify({ format: STORE_FORMAT, count: n, buildSeconds, built: new Date().toISOString() }));
    const { count, sample, removed } = survey();
    say(`built ${count} items in ${buildSeconds.toFixed(0)} s`);
    return { dataDir, count, sample, reused: false, buildSeconds, removed };
  };

  const scratch = await mkdtemp(join(tmpdir(), 'passim-scale-'));
  process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));

  /**
   * A passimd started for startLan: ours or the original, its output kept (the last 64 KiB) and watched.
   * @typedef {{ pid: number, child: import('node:child_process').ChildProcess, output: () => string,
   *   whenLogged: (patterns: RegExp[], timeoutMs: number) => Promise<{ at: number, match: RegExpExecArray }>,
   *   exited: Promise<number | string | null>, cleanup: () => Promise<void>, dir?: string }} BenchDaemon
   */
  /**
   * @param {import('node:child_process').ChildProcessByStdio<null, import('node:stream').Readable, import('node:stream').Readable>} child
   * @returns {BenchDaemon}
   */
  const watchDaemon = (child) => {
    let tail = '';
    /** @type {{ patterns: RegExp[], resolve: (r: { at: number, match: RegExpExecArray }) => void }[]} */
    const watchers = [];
    const onData = (/** @type {Buffer} */ chunk) => {
      const at = now();
      const carry = tail.slice(-1000);
      tail = (tail + chunk.toString()).slice(-65536);
      const text = carry + chunk.toString();
      for (const w of [...watchers]) {
        for (const pattern of w.patterns) {
          const match = pattern.exec(text);
          if (match) {
            watchers.splice(watchers.indexOf(w), 1);
            w.resolve({ at, match });
            break;
          }
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    /** @type {Promise<number | string | null>} */
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    return {
      pid: pidOf(child),
      child,
      output: () => tail,
      whenLogged: (patterns, timeoutMs) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no log line ${patterns.join(' or ')} within ${timeoutMs / 1000} s`)), timeoutMs);
          const found = patterns.map((p) => p.exec(tail)).find(Boolean);
          if (found) {
            clearTimeout(timer);
            resolve({ at: now(), match: found });
            return;
          }
          watchers.push({
            patterns,
            resolve: (r) => {
              clearTimeout(timer);
              resolve(r);
            },
          });
          exited.then((code) => reject(new Error(`passimd exited with ${code}:\n${tail.slice(-3000)}`)));
        }),
      exited,
      cleanup: () => stopProcess(child),
    };
  };

  /**
   * Ours on a test host, as installed; resolves once spawned (not once it owns its name).
   * @param {{ ns: string, bus: import('../test/lib/harness.js').Bus }} host
   * @param {{ config: string, verbose: boolean, dir?: string }} options dir: the folders of an earlier start, to start again on its state
   */
  const spawnOurs = async ({ ns, bus }, { config, verbose, dir: reused }) => {
    const dir = reused ?? (await mkdtemp(join(scratch, 'ours-')));
    if (!reused) {
      await mkdir(join(dir, 'var'));
      await mkdir(join(dir, 'etc'));
      await writeFile(join(dir, 'etc', 'passim.conf'), `[daemon]\nPort=${PORT}\nCooldown=0\n${config}`);
    }
    const child = track(
      spawn('ip', ['netns', 'exec', ns, process.execPath, ...INSTALLED_LAUNCH.flags, PASSIMD, ...(verbose ? ['--verbose'] : [])], {
        env: {
          PATH: process.env.PATH,
          LANG: 'C.UTF-8',
          LOCALSTATEDIR: join(dir, 'var'),
          SYSCONFDIR: join(dir, 'etc'),
          ...bus.env,
          ...INSTALLED_LAUNCH.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    return { ...watchDaemon(child), dir };
  };

  /**
   * When `daemon` owns org.freedesktop.Passim on `bus` (asked every 20 ms), as an epoch time in ms.
   * @param {import('../test/lib/harness.js').Bus} bus
   * @param {BenchDaemon} daemon
   * @param {number} timeoutMs
   */
  const whenOwner = async (bus, daemon, timeoutMs) => {
    const busClient = await connect(bus);
    try {
      const deadline = performance.now() + timeoutMs;
      let gone = false;
      daemon.exited.then(() => {
        gone = true;
      });
      while (performance.now() < deadline) {
        if (gone) throw new Error(`passimd exited:\n${daemon.output().slice(-3000)}`);
        if (await nameHasOwner(busClient, 'org.freedesktop.Passim')) return now();
        await sleep(20);
      }
      throw new Error(`passimd did not own its bus name within ${timeoutMs / 1000} s:\n${daemon.output().slice(-3000)}`);
    } finally {
      busClient.disconnect();
    }
  };

  /** The original passimd on a test host, as bench/compare.js starts it. */
  const startOriginal = async (
    /** @type {{ ns: string, bus: import('../test/lib/harness.js').Bus, port: number }} */ { ns, bus, port },
  ) => {
    const { command, args } = await originalDaemonCommand(root, scratch, { ns, bus, port });
    const daemon = watchDaemon(track(spawn(command, args, { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] })));
    await whenOwner(bus, daemon, 30000);
    return daemon;
  };

  /** Small files to publish, written once: 64–512 random bytes each. @type {{ name: string, path: string, hash: string }[]} */
  const publishFiles = [];
  const needed = PUBLISHES + PARALLEL_ROUNDS * PARALLEL_CLIENTS * PARALLEL_EACH;
  await mkdir(join(scratch, 'publish'));
  for (let i = 0; i < needed; i++) {
    const content = randomBytes(64 + randomInt(449));
    const name = `scale-publish-${i}.bin`;
    const path = join(scratch, 'publish', name);
    await writeFile(path, content, { mode: 0o644 });
    publishFiles.push({ name, path, hash: createHash('sha256').update(content).digest('hex') });
  }

  /**
   * Publishes one file after another to the daemon on `bus`, then rounds of PARALLEL_CLIENTS connections at
   * once. Every item is unpublished again (not timed) before the next publish or round: the original fails to
   * publish once Avahi refuses its subtypes (an entry group holds 32 entries), so each daemon holds at most
   * one round's items besides what it had.
   * @param {import('../test/lib/harness.js').Bus} bus
   */
  const publishRuns = async (bus) => {
    const clients = await Promise.all(Array.from({ length: PARALLEL_CLIENTS }, () => connect(bus)));
    /** @type {number[]} */
    const times = [];
    /** @type {string[]} */
    const failures = [];
    /** @type {(c: import('dbus-next').MessageBus, file: { name: string, path: string }) => Promise<boolean>} */
    const attempt = async (c, file) => {
      try {
        await publish(c, file.path, { filename: file.name });
        return true;
      } catch (err) {
        failures.push(String(err instanceof Error ? err.message : err));
        return false;
      }
    };
    const unpublishAll = (/** @type {{ hash: string }[]} */ files) =>
      Promise.all(files.map((f) => call(clients[0], 'Unpublish', 's', [f.hash]).catch(() => {})));
    let ok = 0;
    let seconds = 0;
    try {
      for (const file of publishFiles.slice(0, PUBLISHES)) {
        const started = performance.now();
        if (await attempt(clients[0], file)) times.push(performance.now() - started);
        await unpublishAll([file]);
      }
      for (let round = 0; round < PARALLEL_ROUNDS; round++) {
        const base = PUBLISHES + round * PARALLEL_CLIENTS * PARALLEL_EACH;
        const files = publishFiles.slice(base, base + PARALLEL_CLIENTS * PARALLEL_EACH);
        const started = performance.now();
        await Promise.all(
          clients.map(async (c, k) => {
            for (const file of files.slice(k * PARALLEL_EACH, (k + 1) * PARALLEL_EACH)) if (await attempt(c, file)) ok += 1;
          }),
        );
        seconds += (performance.now() - started) / 1000;
        await unpublishAll(files);
      }
    } finally {
      for (const c of clients) c.disconnect();
    }
    return { times, perSecond: ok / seconds, ok, failures };
  };

  /** @type {string[][]} measure, size, ours, target, original */
  const rows = [];
  /** @type {string[]} */
  const notes = [];
  /** @type {Record<string, string>} */
  const versions = {};

  for (const n of SIZES) {
    const size = n.toLocaleString('en');
    /** @type {(measure: string, ours: string, target: string, original?: string) => void} */
    const row = (measure, ours, target, original = '') => {
      rows.push([measure, size, ours, target, original]);
    };
    say(`==== ${size} items`);
    const store = await ensureStore(n);
    notes.push(
      `${size}: store ${store.dataDir}, ${store.reused ? `reused (built earlier in ${fmt(store.buildSeconds, 0)} s)` : `built in this run in ${fmt(store.buildSeconds, 0)} s`}, ` +
        `each file with user.max_age, user.share_limit (4294967295), user.share_count, user.cmdline and our user.passim.verified stamp written as a daemon that ran before would have` +
        `${store.removed ? `; removed ${store.removed} files earlier runs left` : ''}; its files are in the page cache (just built or read)`,
    );
    const sampleItems = store.sample.map((name) => {
      const [, hash, basename] = /** @type {RegExpExecArray} */ (ITEM_NAME.exec(name));
      return { hash, basename };
    });

    /**
     * @typedef {{ spawnAt: number, ownedAt: number, answeredAt: number, firstAnswerAt: number, slowest: number, randomAnsweredAt: number,
     *   loadedAt: number, loadedLine: string, loadedSignals: string }} StartFigures
     */
    /** @type {StartFigures & { rss: { rss: number, hwm: number }, avahiBefore: number, avahiAfter: number, address: string }} */
    const h2Start = /** @type {any} */ ({});
    /** @type {{ ownedAt: number, foundAt: number, tries: number, last: any }} */
    const h1Start = /** @type {any} */ ({});
    /** @type {(value: unknown) => void} */
    let h2Settled = () => {};
    /** @type {(err: unknown) => void} */
    let h2Failed = () => {};
    const h2Ready = new Promise((resolve, reject) => {
      h2Settled = resolve;
      h2Failed = reject;
    });
    h2Ready.catch(() => {});
    /** @type {ReturnType<typeof startClient>[]} */
    const clients = [];
    /** @type {ReturnType<typeof startClient> | undefined} */
    let h1Client;
    /** @type {ReturnType<typeof startClient>[]} h2's start-up probes */
    let h2Probes = [];
    /** @type {BenchDaemon | undefined} h2's passimd started again on its snapshot */
    let restarted;
    /** @type {Awaited<ReturnType<typeof startLan>> | undefined} */
    let lan;
    /** @type {Awaited<ReturnType<typeof startLan>> | undefined} */
    let originalLan;
    try {
      /**
       * Starts h2's passimd on the store (on the state of an earlier start when `dir` is given) and measures
       * its start-up: bus name, first HTTP answer, first own item served, one random item served, whole store loaded.
       * @param {{ ns: string, bus: import('../test/lib/harness.js').Bus }} host
       * @param {ReturnType<typeof startClient>} probe
       * @param {ReturnType<typeof startClient>} randomProbe
       * @param {string} [dir]
       */
      const startMeasured = async (host, probe, randomProbe, dir) => {
        /** @type {StartFigures} */
        const figures = /** @type {any} */ ({});
        figures.spawnAt = now();
        const daemon = await spawnOurs(host, { config: `Path=${store.dataDir}\n`, verbose: true, dir });
        // A store that loads in the background serves each item once it is checked: one probe asks for a
        // different sampled item each time (its first 200 is when items are served at all), the other for
        // one random item throughout.
        const own = sampleItems[0];
        const owned = whenOwner(host.bus, daemon, START_TIMEOUT_MS);
        // Loaded: its log says so, or its ItemCount property reaches N, whichever comes first.
        /** @type {Record<string, number>} */
        const loadedBy = {};
        const logged = daemon.whenLogged(storeLoaded(store.count), START_TIMEOUT_MS).then(({ at, match }) => {
          loadedBy[`log "${match[0].replace(/\d+/, 'N').replace(/ from$/, '')}"`] = at;
        });
        const counted = owned.then(async () => {
          const busClient = await connect(host.bus);
          try {
            const deadline = performance.now() + START_TIMEOUT_MS;
            while (performance.now() < deadline) {
              if ((await getProperty(busClient, 'ItemCount')) >= store.count) {
                loadedBy['ItemCount = N'] = now();
                return;
              }
              await sleep(50);
            }
          } finally {
            busClient.disconnect();
          }
        });
        const [ownedAt, answered, randomAnswered] = await Promise.all([
          owned,
          probe.until(
            sampleItems.map((item) => `/${item.basename}?sha256=${item.hash}`),
            200,
            null,
            START_TIMEOUT_MS,
          ),
          randomProbe.until(`/${own.basename}?sha256=${own.hash}`, 200, null, START_TIMEOUT_MS),
          Promise.any([logged, counted]),
        ]);
        if (!answered.ok) throw new Error(`h2 never served its own item: ${JSON.stringify(answered.last)}`);
        figures.ownedAt = ownedAt;
        figures.answeredAt = answered.at;
        figures.firstAnswerAt = answered.firstAnswerAt ?? NaN;
        figures.slowest = Math.max(answered.slowest, randomAnswered.slowest);
        figures.randomAnsweredAt = randomAnswered.ok ? randomAnswered.at : NaN;
        await Promise.race([Promise.allSettled([logged, counted]), sleep(SETTLE_MS)]);
        const [first, loadedAt] = Object.entries(loadedBy).sort((a, b) => a[1] - b[1])[0];
        figures.loadedAt = loadedAt;
        figures.loadedLine = first;
        figures.loadedSignals = Object.entries(loadedBy)
          .map(([k, v]) => `${k} after ${fmt((v - figures.spawnAt) / 1000, 2)} s`)
          .join(', ');
        say(
          `h2${dir ? ' (again)' : ''}: bus name after ${fmt((ownedAt - figures.spawnAt) / 1000, 2)} s, first HTTP answer after ${fmt((figures.firstAnswerAt - figures.spawnAt) / 1000, 2)} s, ` +
            `first own item served after ${fmt((answered.at - figures.spawnAt) / 1000, 2)} s, ` +
            `a random one after ${fmt((figures.randomAnsweredAt - figures.spawnAt) / 1000, 2)} s, ` +
            `store loaded: ${figures.loadedSignals}; settling ${SETTLE_MS / 1000} s`,
        );
        return { daemon, figures };
      };
      const startH2 = async (/** @type {{ ns: string, bus: import('../test/lib/harness.js').Bus, address: string }} */ host) => {
        try {
          h2Start.address = host.address;
          h2Start.avahiBefore = memory(avahiIn(host.ns)).rss;
          const probe = startClient(host.ns);
          const randomProbe = startClient(host.ns);
          clients.push(probe, randomProbe);
          h2Probes = [probe, randomProbe];
          say(`h2: starting passimd on ${size} items`);
          const { daemon, figures } = await startMeasured(host, probe, randomProbe);
          Object.assign(h2Start, figures);
          await sleep(SETTLE_MS);
          if (!alive(daemon.pid)) throw new Error(`h2's passimd died:\n${daemon.output().slice(-3000)}`);
          h2Start.rss = memory(daemon.pid);
          h2Start.avahiAfter = memory(avahiIn(host.ns)).rss;
          h2Settled(undefined);
          return daemon;
        } catch (err) {
          h2Failed(err);
          throw err;
        }
      };
      const startH1 = async (/** @type {{ ns: string, bus: import('../test/lib/harness.js').Bus }} */ host) => {
        await h2Ready;
        const lookups = startClient(host.ns);
        clients.push(lookups);
        h1Client = lookups;
        say('h1: starting passimd, now that h2 shares');
        const daemon = await spawnOurs(host, { config: '', verbose: false });
        h1Start.ownedAt = await whenOwner(host.bus, daemon, 60000);
        const item = sampleItems[1];
        const found = await lookups.until(`/${item.basename}?sha256=${item.hash}&localhost=false`, 302, h2Start.address, 120000);
        h1Start.foundAt = found.ok ? found.at : NaN;
        h1Start.tries = found.tries;
        h1Start.last = found.last;
        say(
          found.ok
            ? `h1: found an item of h2 ${fmt((found.at - h1Start.ownedAt) / 1000, 2)} s after owning its bus name (${found.tries} lookups)`
            : `h1: never found an item of h2 within 120 s: ${JSON.stringify(found.last)}`,
        );
        return daemon;
      };
      lan = await startLan(2, { daemons: { 1: startH1, 2: startH2 } });
      const [h1, h2] = lan.hosts;
      versions.ours = await getProperty(h1.client, 'DaemonVersion');
      const lookups = /** @type {ReturnType<typeof startClient>} */ (h1Client);

      row('passimd start-up: bus name owned, s', fmt((h2Start.ownedAt - h2Start.spawnAt) / 1000, 2), '');
      row('passimd start-up: first HTTP answer on loopback (any status), s', fmt((h2Start.firstAnswerAt - h2Start.spawnAt) / 1000, 2), '');
      row(
        'passimd start-up: own items served (first 200 on loopback, a different sampled item each time), s',
        fmt((h2Start.answeredAt - h2Start.spawnAt) / 1000, 2),
        '≤ 5 s',
      );
      row(
        'passimd start-up: one random own item served (first 200 on loopback), s',
        fmt((h2Start.randomAnsweredAt - h2Start.spawnAt) / 1000, 2),
        '',
      );
      row(`passimd start-up: whole store loaded (${h2Start.loadedLine}), s`, fmt((h2Start.loadedAt - h2Start.spawnAt) / 1000, 2), '≤ 60 s');
      row(
        `passimd RSS on h2, ${SETTLE_MS / 1000} s after loading (VmHWM), MiB`,
        `${fmt(h2Start.rss.rss)} (${fmt(h2Start.rss.hwm)})`,
        '≤ 250 MB at 1,000,000',
      );
      notes.push(
        `${size}: h2's store loaded, by each signal seen: ${h2Start.loadedSignals}; the slowest answer to the start-up probes took ${fmt(h2Start.slowest, 0)} ms`,
      );
      row(
        'avahi-daemon RSS on h2, 0 items → N items, MiB',
        `${fmt(h2Start.avahiBefore, 2)} → ${fmt(h2Start.avahiAfter, 2)} (${h2Start.avahiAfter >= h2Start.avahiBefore ? '+' : ''}${fmt(h2Start.avahiAfter - h2Start.avahiBefore, 2)})`,
        '≤ +2 MB',
      );
      row(
        'new neighbour learns the peer: h1 owns its bus name → first 302 to h2, s',
        fmt((h1Start.foundAt - h1Start.ownedAt) / 1000, 2),
        '≤ 10 s at 1,000,000',
      );

      // ---- lookups from h1, one kept-alive connection
      /** @type {(paths: string[]) => Promise<{ times: number[], statuses: Record<string, number>, reused: number }>} */
      const measure = async (paths) => {
        await lookups.series(paths.slice(0, 10)); // the connection, and the daemon's code paths, warm
        const results = await lookups.series(paths);
        /** @type {Record<string, number>} */
        const statuses = {};
        for (const r of results) {
          const key = 'error' in r ? r.error : r.location ? `${r.status} to ${new URL(r.location).hostname}` : String(r.status);
          statuses[key] = (statuses[key] ?? 0) + 1;
        }
        return { times: results.map((r) => r.ms), statuses, reused: results.filter((r) => 'reused' in r && r.reused).length };
      };
      const misses = await measure(Array.from({ length: LOOKUPS }, (_, i) => `/miss-${i}.bin?sha256=${randomHash()}&localhost=false`));
      say(
        `misses: median ${fmt(median(misses.times), 2)} ms, p95 ${fmt(percentile(misses.times, 95), 2)} ms ${JSON.stringify(misses.statuses)}`,
      );
      row(
        `lookup miss, keep-alive client: median / p95 of ${LOOKUPS}, ms`,
        `${fmt(median(misses.times), 2)} / ${fmt(percentile(misses.times, 95), 2)}`,
        '≤ 5 ms',
      );
      notes.push(`${size}: misses ${JSON.stringify(misses.statuses)}, ${misses.reused} of ${LOOKUPS} on the kept connection`);
      const hitItems = sampleItems.slice(2, 2 + LOOKUPS + 10);
      const hits = await measure(hitItems.map((item) => `/${item.basename}?sha256=${item.hash}&localhost=false`));
      say(`hits: median ${fmt(median(hits.times), 2)} ms, p95 ${fmt(percentile(hits.times, 95), 2)} ms ${JSON.stringify(hits.statuses)}`);
      row(
        `lookup hit, keep-alive client: median / p95 of ${hitItems.length - 10} distinct items, ms`,
        `${fmt(median(hits.times), 2)} / ${fmt(percentile(hits.times, 95), 2)}`,
        '≤ 20 ms',
      );
      notes.push(`${size}: hits ${JSON.stringify(hits.statuses)} (h2 is ${h2.address}), ${hits.reused} on the kept connection`);

      /** @type {(hashes: { basename: string, hash: string }[]) => Promise<{ times: number[], codes: Record<string, number> }>} */
      const curlRuns = async (items) => {
        /** @type {number[]} */
        const times = [];
        /** @type {Record<string, number>} */
        const codes = {};
        for (const item of items) {
          const r = spawnSync('ip', [
            'netns',
            'exec',
            h1.ns,
            'curl',
            '-k',
            '-s',
            '--max-time',
            '30',
            '-o',
            '/dev/null',
            '-w',
            '%{http_code} %{time_total}',
            `https://localhost:${PORT}/${item.basename}?sha256=${item.hash}&localhost=false`,
          ]);
          const [code, time] = r.stdout.toString().trim().split(' ');
          codes[code] = (codes[code] ?? 0) + 1;
          times.push(Number(time) * 1000);
        }
        return { times, codes };
      };
      const curlMiss = await curlRuns(Array.from({ length: CURL }, (_, i) => ({ basename: `curl-miss-${i}.bin`, hash: randomHash() })));
      const curlHit = await curlRuns(sampleItems.slice(2 + LOOKUPS + 10, 2 + LOOKUPS + 10 + CURL));
      row(
        `lookup miss, curl (a new TLS connection each): median / p95 of ${CURL}, ms`,
        `${fmt(median(curlMiss.times), 1)} / ${fmt(percentile(curlMiss.times, 95), 1)}`,
        'was 292 ms',
      );
      row(
        `lookup hit, curl: median / p95 of ${CURL}, ms`,
        `${fmt(median(curlHit.times), 1)} / ${fmt(percentile(curlHit.times, 95), 1)}`,
        '',
      );
      notes.push(`${size}: curl misses answered ${JSON.stringify(curlMiss.codes)}, hits ${JSON.stringify(curlHit.codes)}`);

      // ---- a new item on h2 reaching h1's answers
      /** @type {number[]} */
      const reach = [];
      const fresh = [];
      for (let k = 0; k < PROPAGATION; k++) {
        await sleep(1500); // past the TXT record's once-a-second update and the once-a-second fetch
        const content = randomBytes(256);
        const file = {
          name: `scale-new-${k}.bin`,
          path: join(scratch, `scale-new-${k}.bin`),
          hash: createHash('sha256').update(content).digest('hex'),
        };
        await writeFile(file.path, content);
        await h2.publish(file.path, { filename: file.name });
        const published = now();
        fresh.push(file);
        const found = await lookups.until(`/${file.name}?sha256=${file.hash}&localhost=false`, 302, h2.address, 30000);
        reach.push(found.ok ? found.at - published : NaN);
        say(
          `new item ${k + 1}: ${found.ok ? `in h1's answers after ${fmt(found.at - published, 0)} ms (${found.tries} lookups)` : `not found within 30 s: ${JSON.stringify(found.last)}`}`,
        );
      }
      row(
        `new item published on h2 → in h1's answers (polled every 20 ms): median (max) of ${PROPAGATION}, ms`,
        `${fmt(median(reach), 0)} (${fmt(Math.max(...reach), 0)})`,
        '≤ 2000 ms',
      );

      // ---- publishing, ours (h2 with N items, h1 with none) and the original
      say('starting the original passimd on a LAN of its own');
      originalLan = await startLan(1, { daemons: { 1: startOriginal } });
      const original = originalLan.hosts[0];
      versions.original = await getProperty(original.client, 'DaemonVersion');
      /** @type {Record<string, Awaited<ReturnType<typeof publishRuns>>>} */
      const published = {};
      for (const [label, host] of /** @type {const} */ ([
        ['ours, h2 with N items', h2],
        ['ours, h1 with none', h1],
        ['original', original],
      ])) {
        say(
          `publishing to ${label}: ${PUBLISHES} one after another, then ${PARALLEL_ROUNDS} rounds of ${PARALLEL_CLIENTS} clients × ${PARALLEL_EACH}`,
        );
        published[label] = await publishRuns(host.bus);
        const p = published[label];
        say(
          `  median ${fmt(median(p.times), 1)} ms, p95 ${fmt(percentile(p.times, 95), 1)} ms; ${fmt(p.perSecond, 0)} publishes/s with ${PARALLEL_CLIENTS} clients`,
        );
        if (p.failures.length) notes.push(`${size}: ${label}: ${p.failures.length} publishes failed, e.g. ${p.failures[0]}`);
      }
      const o = published.original;
      for (const label of ['ours, h2 with N items', 'ours, h1 with none']) {
        const p = published[label];
        row(
          `publish a small file, one after another (${label}): median / p95 of ${PUBLISHES}, ms`,
          `${fmt(median(p.times), 1)} / ${fmt(percentile(p.times, 95), 1)}`,
          '',
          `${fmt(median(o.times), 1)} / ${fmt(percentile(o.times, 95), 1)}`,
        );
        row(
          `publishes per second, ${PARALLEL_CLIENTS} clients at once, ${PARALLEL_ROUNDS} rounds of ${PARALLEL_CLIENTS} × ${PARALLEL_EACH} (${label})`,
          `${fmt(p.perSecond, 0)} (${p.ok} ok)`,
          '',
          `${fmt(o.perSecond, 0)} (${o.ok} ok)`,
        );
      }
      // The store folder is reused: what this run published to h2 goes again (not timed).
      const h2Bus = await connect(h2.bus);
      try {
        for (const file of [...publishFiles, ...fresh]) await call(h2Bus, 'Unpublish', 's', [file.hash]).catch(() => {});
      } finally {
        h2Bus.disconnect();
      }

      // ---- h2 again, on the state its first start left behind: the index snapshot written at shutdown
      const firstDaemon = /** @type {BenchDaemon} */ (h2.daemon);
      const stopStarted = performance.now();
      await stopProcess(firstDaemon.child, 'SIGTERM', 120000);
      const stopSeconds = (performance.now() - stopStarted) / 1000;
      const stateDir = /** @type {string} */ (firstDaemon.dir);
      const snapshotPath = join(stateDir, 'var', 'lib', 'passim', 'index.bin');
      const snapshotBytes = existsSync(snapshotPath) ? statSync(snapshotPath).size : 0;
      say(
        `h2 stopped in ${fmt(stopSeconds, 1)} s; index snapshot ${snapshotBytes ? `of ${fmt(snapshotBytes / 1e6, 1)} MB` : 'not written'}; starting it again`,
      );
      const again = await startMeasured(h2, h2Probes[0], h2Probes[1], stateDir);
      restarted = again.daemon;
      await sleep(SETTLE_MS);
      const rssAgain = memory(again.daemon.pid);
      const took = /took (\d+) items of/.exec(again.daemon.output())?.[1];
      const f = again.figures;
      const since = (/** @type {number} */ t) => fmt((t - f.spawnAt) / 1000, 2);
      row(
        'passimd restart on its index snapshot: bus name / first own item served / a random one / whole store loaded, s',
        `${since(f.ownedAt)} / ${since(f.answeredAt)} / ${since(f.randomAnsweredAt)} / ${since(f.loadedAt)}`,
        '≤ 5 s served, ≤ 60 s loaded',
      );
      row(
        `passimd RSS after the restart, ${SETTLE_MS / 1000} s after loading (VmHWM), MiB`,
        `${fmt(rssAgain.rss)} (${fmt(rssAgain.hwm)})`,
        '≤ 250 MB at 1,000,000',
      );
      notes.push(
        `${size}: h2 stopped (SIGTERM) in ${fmt(stopSeconds, 1)} s, index snapshot ${snapshotBytes ? `of ${fmt(snapshotBytes / 1e6, 1)} MB written` : 'NOT written'}; ` +
          `started again on the same state, ${took ? `it took ${took} items from it` : 'its log did not say it used it'}; loaded: ${f.loadedSignals}`,
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      say(`${size}: FAILED: ${message.slice(0, 4000)}`);
      notes.push(`${size}: FAILED: ${message.split('\n')[0]}`);
      for (const key of /** @type {const} */ (['spawnAt', 'ownedAt', 'answeredAt', 'loadedAt'])) {
        if (h2Start[key] && key !== 'spawnAt')
          notes.push(`${size}:   h2 ${key} after ${fmt((h2Start[key] - h2Start.spawnAt) / 1000, 2)} s`);
      }
    } finally {
      await restarted?.cleanup().catch(() => {});
      for (const c of clients) await c.stop().catch(() => {});
      await originalLan?.stop().catch((err) => say(`teardown: ${err.message}`));
      await lan?.stop().catch((err) => say(`teardown: ${err.message}`));
    }
  }

  // ---- the table
  const header = ['measure', 'size', `ours (${versions.ours ?? '?'})`, 'target', `original (${versions.original ?? '?'})`];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (/** @type {string[]} */ cells) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const out = [''];
  out.push(
    `passimd at scale: ours (Node ${process.version}) with ${SIZES.map((n) => n.toLocaleString('en')).join(', ')} items, ${new Date().toISOString()}`,
  );
  out.push(
    `machine: ${spawnSync('nproc').stdout.toString().trim()} cores, load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')} at the start and ` +
      `${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} at the end; targets are goals, not assertions`,
  );
  out.push('');
  out.push(line(header));
  out.push(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) out.push(line(r));
  out.push('');
  out.push('notes:');
  for (const n of notes) out.push(`  ${n}`);
  out.push(
    '  h2 runs ours with --verbose (its log says when the store is loaded); h1 without. Both as installed: ' +
      `${Object.entries(INSTALLED_LAUNCH.env)
        .map(([k, v]) => `${k}=${v} `)
        .join('')}node ${INSTALLED_LAUNCH.flags.join(' ')} bin/passimd; passim.conf Port=${PORT}, Cooldown=0, h2 also Path=<store>.`,
  );
  out.push(
    "  start-up times run from spawning h2's passimd: bus name polled every 20 ms; its own items asked for every 20 ms over loopback (GET /NAME?sha256=HASH) " +
      'by two kept-alive clients, one asking for a different one of 5,000 sampled items each time, the other for one random item throughout; ' +
      `the store counted as loaded at its log line (${storeLoaded(0)
        .map((r) => `"${r.source.replace('0', 'N')}"`)
        .join(' or ')}) or when its ItemCount property ` +
      '(polled every 50 ms once it owns its name) reaches N, whichever comes first.',
  );
  out.push(
    "  lookups: GET /NAME?sha256=HASH&localhost=false from a Node client inside h1's namespace over one kept-alive HTTPS connection to h1's passimd " +
      '(10 warm-up requests not counted); curl: a new connection (TLS handshake) each, curl -k -w %{time_total}.',
  );
  out.push(
    `  publishing: D-Bus Publish with a file descriptor (test/lib/passim.js) of files of 64–512 random bytes; the original runs from ${root} on a LAN of its own, ` +
      'with an empty store, as bench/compare.js starts it; every item is unpublished (not timed) before the next publish or round, so each daemon holds at most 24 ' +
      'published items besides its store: the original fails to publish past about 31 (Avahi refuses its subtypes: an entry group holds 32 entries).',
  );
  out.push('  RSS figures are VmRSS in MiB (1 MiB = 1.048576 MB).');
  out.push('');
  out.push('reproduce:');
  out.push('  npx tsc -p . && sh po/catalogs.sh build dist   # or npm run build');
  out.push(`  node bench/scale.js ${SIZES.join(' ')}          # or npm run bench:scale (all three sizes), as root`);
  console.log(out.join('\n'));
  await rm(scratch, { recursive: true, force: true });
}
