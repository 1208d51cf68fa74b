// A LAN of test hosts: per host a network namespace (test/lib/netns.js), its own system-like dbus-daemon,
// an avahi-daemon inside the namespace and passimd inside the namespace. Everything is stopped by PID and
// the namespaces are deleted on stop(), and, as a last resort, when the test process exits.
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dbus from 'dbus-next';
import { connect, PASSIMCTL, startBus, startDaemon } from './harness.js';
import { pidOf, runProcess, stopProcess, waitFor } from './process.js';
import { createLan } from './netns.js';
import { listeningAddresses } from './listening.js';
import { NETWORK_MANAGER_POLICY, startFakeNetworkManager } from './fake-network-manager.js';
import { call, publish } from './passim.js';

export const PASSIM_PORT = 27500;

/** The host name a test host's avahi-daemon announces (without .local). */
export function avahiHostName(/** @type {string} */ ns) {
  return `passim-${ns}`;
}
const AVAHI_SERVER_RUNNING = 2;

/**
 * @param {string} hostName
 * @param {string} iface
 */
function avahiConfig(hostName, iface) {
  // Avahi's default limits are kept on purpose (entries-per-entry-group-max etc.): passimd must cope with them.
  return `[server]
host-name=${hostName}
use-ipv4=yes
use-ipv6=no
allow-interfaces=${iface}
enable-dbus=yes
disallow-other-stacks=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000

[wide-area]
enable-wide-area=no

[publish]
publish-hinfo=no
publish-workstation=no

[reflector]
enable-reflector=no
`;
}

/**
 * Whether avahi-daemon is running, asked on the bus or, when the bus policy refuses that, read from its log.
 * @param {import('dbus-next').MessageBus} client
 * @param {() => string} output
 */
async function avahiRunning(client, output) {
  try {
    return (await avahiCall(client, 'GetState'))[0] === AVAHI_SERVER_RUNNING;
  } catch (err) {
    if (!(err instanceof dbus.DBusError) || err.type !== 'org.freedesktop.DBus.Error.AccessDenied') throw err;
    return output().includes('Server startup complete.');
  }
}

/**
 * @param {import('dbus-next').MessageBus} client
 * @param {string} member
 * @param {string} signature
 * @param {unknown[]} body
 * @returns {Promise<any[]>}
 */
async function avahiCall(client, member, signature = '', body = []) {
  const reply = await client.call(
    new dbus.Message({
      destination: 'org.freedesktop.Avahi',
      path: '/',
      interface: 'org.freedesktop.Avahi.Server',
      member,
      signature,
      body,
    }),
  );
  if (!reply) throw new Error(`${member}: no reply`);
  return reply.body;
}

// Every process and namespace alive in this test process, so that an exit without stop() still cleans up.
/** @type {{ pids: Set<number>, namespaces: Set<string> }} */
const live = { pids: new Set(), namespaces: new Set() };
process.once('exit', () => {
  for (const pid of live.pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const ns of live.namespaces) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
});

/**
 * @template {import('node:child_process').ChildProcess} C
 * @param {C} child
 * @returns {C}
 */
function track(child) {
  const { pid } = child;
  if (pid === undefined) return child; // it did not start: nothing to kill
  live.pids.add(pid);
  child.once('exit', () => live.pids.delete(pid));
  return child;
}

/**
 * avahi-daemon for one host, inside its namespace, under its own mount namespace with a private folder on
 * /run/avahi-daemon (PID file and socket), talking to the host's bus.
 * @param {{ ns: string, iface: string, bus: import('./harness.js').BusAddress, client: import('dbus-next').MessageBus, dir: string }} host
 */
async function createAvahi({ ns, iface, bus, client, dir }) {
  const runDir = join(dir, 'run');
  const confPath = join(dir, 'avahi-daemon.conf');
  await mkdir(runDir, { recursive: true });
  await mkdir('/run/avahi-daemon', { recursive: true }); // the mount point
  await writeFile(confPath, avahiConfig(avahiHostName(ns), iface));
  /** @type {import('node:child_process').ChildProcessByStdio<null, import('node:stream').Readable, import('node:stream').Readable> | null} */
  let child = null;
  let output = '';
  const avahi = {
    pid: /** @type {number | null} */ (null),
    output: () => output,
    async start() {
      if (child) throw new Error('avahi-daemon is already running');
      output = '';
      // `exec` at each step (ip netns exec, unshare without --fork, sh) so that the PID we hold is avahi-daemon's.
      child = track(
        spawn(
          'ip',
          [
            'netns',
            'exec',
            ns,
            'unshare',
            '-m',
            'sh',
            '-c',
            'mount --bind "$1" /run/avahi-daemon && exec avahi-daemon -f "$2" --no-drop-root --no-chroot --no-rlimits',
            'sh',
            runDir,
            confPath,
          ],
          {
            env: { ...process.env, ...bus.env },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        ),
      );
      const started = child;
      avahi.pid = pidOf(started);
      started.stdout.on('data', (d) => {
        output += d;
      });
      started.stderr.on('data', (d) => {
        output += d;
      });
      const exited = new Promise((resolve) => started.once('exit', resolve));
      try {
        await Promise.race([
          waitFor(() => avahiRunning(client, () => output), `avahi-daemon in ${ns} to be running`, 15000),
          exited.then((code) => {
            throw new Error(`avahi-daemon in ${ns} exited with ${code}:\n${output}`);
          }),
        ]);
      } catch (err) {
        await avahi.stop();
        throw err;
      }
    },
    /**
     * Stops avahi-daemon; SIGKILL leaves no goodbye packets and no clean exit, as a crash would.
     * @param {NodeJS.Signals} signal
     */
    async stop(signal = 'SIGTERM') {
      if (!child) return;
      const stopping = child;
      child = null;
      avahi.pid = null;
      await stopProcess(stopping, signal);
    },
    async restart() {
      await avahi.stop();
      await avahi.start();
    },
  };
  return avahi;
}

// Runs inside a host's namespace: one HTTPS GET per stdin line ({ id, url }), never following redirects,
// answering { id, status, headers } or { id, error } per stdout line. One process serves a whole test.
const FETCHER = `
import { request } from 'node:https';
import { createInterface } from 'node:readline';
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, url } = JSON.parse(line);
  const req = request(url, { rejectUnauthorized: false, timeout: 30000 }, (res) => {
    res.resume();
    res.on('end', () => send({ id, status: res.statusCode, headers: res.headers }));
  });
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', (err) => send({ id, error: err.message }));
  req.end();
});
`;

/**
 * What the fetcher answers for one GET.
 * @typedef {{ status: number, headers: import('node:http').IncomingHttpHeaders }} FetchResult
 */

/** @param {string} ns */
function createFetcher(ns) {
  const child = track(
    spawn('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', FETCHER], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  /** @type {Map<number, { url: string, resolve: (result: FetchResult) => void, reject: (err: Error) => void }>} */
  const pending = new Map();
  let nextId = 0;
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const reply = JSON.parse(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
      const waiter = pending.get(reply.id);
      pending.delete(reply.id);
      if (reply.error) waiter?.reject(new Error(`GET ${waiter.url}: ${reply.error}`));
      else waiter?.resolve({ status: reply.status, headers: reply.headers });
    }
  });
  child.once('exit', () => {
    for (const waiter of pending.values()) waiter.reject(new Error(`fetcher in ${ns} exited`));
    pending.clear();
  });
  return {
    /**
     * @param {string} url
     * @returns {Promise<FetchResult>}
     */
    get(url) {
      return new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { url, resolve, reject });
        child.stdin.write(`${JSON.stringify({ id, url })}\n`);
      });
    },
    async stop() {
      await stopProcess(child);
    },
  };
}

/**
 * Runs a program inside `ns` with the host's bus; resolves with { code, stdout, stderr }.
 * @param {string} ns
 * @param {import('./harness.js').BusAddress} bus
 * @param {string} command
 * @param {readonly string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs?: number }} options
 */
function runInHost(ns, bus, command, args, options = {}) {
  return runProcess('ip', ['netns', 'exec', ns, command, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...bus.env, ...(options.env ?? {}) },
    onSpawn: track,
    timeoutMs: options.timeoutMs,
  });
}

/** avahi-browse -rt can wait forever for a resolver when a service goes away while it is resolved. */
const AVAHI_BROWSE_TIMEOUT_MS = 10000;

/**
 * avahi-browse -rpt TYPE on the host's Avahi: the resolved instances as { name, host, address, port }.
 * @param {string} ns
 * @param {import('./harness.js').BusAddress} bus
 * @param {string} type
 */
async function avahiBrowse(ns, bus, type) {
  const { code, stdout, stderr } = await runInHost(ns, bus, 'avahi-browse', ['-rpt', type], { timeoutMs: AVAHI_BROWSE_TIMEOUT_MS });
  if (code === null) throw new Error(`avahi-browse ${type} did not finish within ${AVAHI_BROWSE_TIMEOUT_MS / 1000} s`);
  if (code !== 0) throw new Error(`avahi-browse ${type} failed (${code}): ${stderr}`);
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('=;'))
    .map((line) => {
      const [, , , escaped, , , host, address, port] = line.split(';');
      // avahi-browse -p writes special characters as \DDD (decimal) and others as \C.
      const name = escaped.replace(/\\(\d{3})/g, (_, code) => String.fromCharCode(Number(code))).replace(/\\(.)/g, '$1');
      return { name, host, address, port: Number(port) };
    });
}

/**
 * What startLan needs of a passimd other than ours (options.daemons).
 * @typedef {{ pid: number, output(): string, cleanup(): Promise<unknown> }} LanDaemon
 */

/**
 * @template {LanDaemon} D
 * @typedef {object} LanOptions
 * @property {string} [configText]
 * @property {Record<number, string>} [hostConfigText]
 * @property {number[]} [networkManager]
 * @property {Record<number, string>} [busPolicy]
 * @property {Record<number, (host: { name: string, ns: string, address: string, bus: import('./harness.js').Bus, port: number }) => Promise<D>>} [daemons]
 * @property {(text: string) => void} [onProgress]
 */

/**
 * What startLan resolves with.
 * @template {LanDaemon} [D=import('./harness.js').Daemon]
 * @typedef {{ hosts: Host<D>[], addRoutedHost(): Promise<import('./netns.js').NamespaceHost>, stop(): Promise<void> }} Lan
 */

/**
 * One host of a LAN (see startLan).
 * @template {LanDaemon} [D=import('./harness.js').Daemon]
 * @typedef {object} Host
 * @property {string} name
 * @property {string} ns
 * @property {string} address
 * @property {import('./harness.js').Bus} bus
 * @property {import('dbus-next').MessageBus} client
 * @property {Awaited<ReturnType<typeof createAvahi>>} avahi
 * @property {D} daemon
 * @property {Awaited<ReturnType<typeof startFakeNetworkManager>> | undefined} networkManager
 * @property {(args: string[], opts?: { cwd?: string, env?: NodeJS.ProcessEnv }) => Promise<import('./process.js').RunResult>} cli
 * @property {(path: string, attrs: Record<string, unknown>) => Promise<any[]>} publish
 * @property {(hash: string) => Promise<any[]>} unpublish
 * @property {(pathAndQuery: string) => Promise<FetchResult>} get
 * @property {(basename: string, hash: string) => Promise<{ status: number, location: string | undefined, peer: string | undefined, ms: number }>} lookup
 * @property {() => Promise<string[]>} listening addresses passimd listens on in the host's namespace
 * @property {(type: string) => Promise<{ name: string, host: string, address: string, port: number }[]>} avahiBrowse
 * @property {(args: string[]) => { stop(): Promise<void> }} avahiPublish
 */

/**
 * Builds a LAN of `count` hosts h1..hN, each with bus, avahi-daemon and passimd (Port=27500, Cooldown=0).
 * options: configText (more [daemon] lines), hostConfigText ({ hostNumber: lines for that host only }), networkManager (host numbers, 1-based, that get a fake
 * NetworkManager on their bus before passimd starts; its initial Metered is GUESS_NO), busPolicy ({ hostNumber:
 * <policy> XML } added to that host's bus configuration, e.g. to refuse Avahi's methods), daemons ({ hostNumber:
 * async ({ name, ns, address, bus, port }) => daemon } to start that host's passimd instead of ours; the daemon
 * must own org.freedesktop.Passim on `bus` when it resolves and have pid, output() and cleanup()),
 * onProgress(text) (told as each part comes up, for the demo).
 * Returns { hosts, stop() }; each host:
 *   { name, ns, address, bus, client (dbus-next, on the host's bus), avahi { pid, start(), stop(signal), restart(), output() },
 *     daemon (startDaemon result), networkManager (or undefined), cli(args, { cwd, env }) (passimctl inside
 *     the namespace), publish(path, attrs), unpublish(hash), get(pathAndQuery) (HTTPS GET to the host's own
 *     passimd from inside its namespace, no redirect following → { status, headers }),
 *     lookup(basename, hash) (get with localhost=false → { status, location, peer, ms }),
 *     avahiBrowse(type), avahiPublish(args) (an avahi-publish child, returns { stop() }) }
 * @template {LanDaemon} [D=import('./harness.js').Daemon]
 * @param {number} count
 * @param {LanOptions<D>} options
 */
export async function startLan(count, options = {}) {
  const withNetworkManager = new Set(options.networkManager ?? []);
  const progress = options.onProgress ?? (() => {});
  /** @type {(() => unknown)[]} */
  const cleanups = [];
  /** @type {Lan<D | import('./harness.js').Daemon>} */
  const lan = {
    hosts: [],
    addRoutedHost() {
      throw new Error('the LAN is not up yet');
    },
    async stop() {
      // Reverse order of creation; every step runs even when one fails.
      /** @type {unknown[]} */
      const errors = [];
      let cleanup;
      while ((cleanup = cleanups.pop())) {
        try {
          await cleanup();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length) throw new AggregateError(errors, 'LAN teardown had errors');
    },
  };
  try {
    const net = await createLan(count);
    const namespaces = [net.switchNs, ...net.hosts.map((h) => h.ns)];
    for (const ns of namespaces) live.namespaces.add(ns);
    cleanups.push(async () => {
      await net.destroy();
      for (const ns of namespaces) live.namespaces.delete(ns);
    });
    const dir = await mkdtemp(join(tmpdir(), 'passim-lan-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    progress(`network: ${net.hosts.map((h) => `${h.ns} ${h.address}`).join(', ')}`);
    lan.addRoutedHost = async () => {
      const host = await net.addRoutedHost();
      // The host and its router go with the LAN (net.destroy); listed so that an aborted run removes them too.
      for (const ns of [host.ns, host.ns.replace(/-far$/, '-rt')]) {
        namespaces.push(ns);
        live.namespaces.add(ns);
      }
      return host;
    };

    // allSettled: a host that fails must not leave the others still starting after the teardown.
    const started = await Promise.allSettled(
      net.hosts.map(async ({ ns, address, iface }, index) => {
        const name = `h${index + 1}`;
        const hostDir = join(dir, name);
        await mkdir(hostDir);
        const extraPolicy = [withNetworkManager.has(index + 1) ? NETWORK_MANAGER_POLICY : '', options.busPolicy?.[index + 1] ?? ''].join(
          '\n',
        );
        const bus = await startBus({ extraPolicy });
        live.pids.add(bus.pid);
        cleanups.push(async () => {
          await bus.stop();
          live.pids.delete(bus.pid);
        });
        const client = await connect(bus);
        cleanups.push(() => client.disconnect());
        let networkManager;
        if (withNetworkManager.has(index + 1)) {
          const started = await startFakeNetworkManager(bus);
          networkManager = started;
          cleanups.push(() => started.stop());
        }
        const avahi = await createAvahi({ ns, iface, bus, client, dir: hostDir });
        cleanups.push(() => avahi.stop());
        await avahi.start();
        progress(`${name}: avahi-daemon running as ${avahiHostName(ns)}.local (PID ${avahi.pid})`);
        // A host may run another passimd (e.g. the original, test/lib/debian-root.js) started by the test.
        const startOther = options.daemons?.[index + 1];
        const daemon = startOther
          ? await startOther({ name, ns, address, bus, port: PASSIM_PORT })
          : await startDaemon(bus, {
              netns: ns,
              port: PASSIM_PORT,
              configText: `Cooldown=0\n${options.configText ?? ''}${options.hostConfigText?.[index + 1] ?? ''}`,
            });
        live.pids.add(daemon.pid);
        cleanups.push(async () => {
          await daemon.cleanup();
          live.pids.delete(daemon.pid);
        });
        progress(
          `${name}: passimd on localhost:${PASSIM_PORT} (PID ${daemon.pid}); ${address}:${PASSIM_PORT} opens once it shares something`,
        );
        const fetcher = createFetcher(ns);
        cleanups.push(() => fetcher.stop());

        const get = (/** @type {string} */ pathAndQuery) => fetcher.get(`https://localhost:${PASSIM_PORT}${pathAndQuery}`);
        /** @type {Host<D | import('./harness.js').Daemon>} */
        const host = {
          name,
          ns,
          address,
          bus,
          client,
          avahi,
          daemon,
          networkManager,
          cli: (args, opts = {}) => runInHost(ns, bus, process.execPath, [PASSIMCTL, ...args], opts),
          publish: (path, attrs) => publish(client, path, attrs),
          unpublish: (hash) => call(client, 'Unpublish', 's', [hash]),
          get,
          async lookup(basename, hash) {
            const start = performance.now();
            const { status, headers } = await get(`/${encodeURIComponent(basename)}?sha256=${hash}&localhost=false`);
            const location = headers.location;
            // ms is for failure reports only.
            return { status, location, peer: location ? new URL(location).hostname : undefined, ms: Math.round(performance.now() - start) };
          },
          listening: () => listeningAddresses(ns, PASSIM_PORT),
          avahiBrowse: (type) => avahiBrowse(ns, bus, type),
          avahiPublish(args) {
            const child = track(
              spawn('ip', ['netns', 'exec', ns, 'avahi-publish', ...args], {
                env: { ...process.env, ...bus.env },
                stdio: 'ignore',
              }),
            );
            const stop = () => stopProcess(child);
            cleanups.push(stop);
            return { stop };
          },
        };
        return host;
      }),
    );
    for (const result of started) {
      if (result.status === 'rejected') throw result.reason;
      lan.hosts.push(result.value);
    }
  } catch (err) {
    await lan.stop().catch(() => {});
    throw err;
  }
  return lan;
}
