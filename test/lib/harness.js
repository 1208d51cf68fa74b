// Starts the real parts the tests need: a private system-like dbus-daemon and passimd, stopped by PID, and runs
// passimctl. The generic process helpers (waitFor, stopProcess, runProcess, freePort) are in process.js.
import './english.js';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import dbus from 'dbus-next';
import { freePort, pidOf, runProcess, stopProcess, waitFor } from './process.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PASSIMD = join(ROOT, 'bin', 'passimd');
export const PASSIMCTL = join(ROOT, 'bin', 'passimctl');

/**
 * How the installed passimd runs (data/passimd.options, which data/install.sh writes into the launcher):
 * the environment and the Node.js options. The tests and the benchmark start bin/passimd the same way.
 */
export const INSTALLED_LAUNCH = (() => {
  const launch = { flags: /** @type {string[]} */ ([]), env: /** @type {Record<string, string>} */ ({}) };
  for (const line of readFileSync(join(ROOT, 'data', 'passimd.options'), 'utf8').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('-')) launch.flags.push(line);
    else launch.env[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
  }
  return launch;
})();

/**
 * @param {string} socketPath
 * @param {string} extraPolicy
 */
function systemBusConfig(socketPath, extraPolicy) {
  // Mirrors Debian's system.conf: deny by default, allow what services' own policy files allow.
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socketPath}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Peer"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Debug.Stats"/>
  </policy>
  <include>${join(ROOT, 'dbus', 'org.freedesktop.Passim.conf')}</include>
  <includedir>/usr/share/dbus-1/system.d</includedir>
${extraPolicy}
</busconfig>
`;
}

/**
 * What connect(), startDaemon() and runCli() need of a bus: startBus()'s result, or a LAN host's bus.
 * @typedef {{ address: string, env: Record<string, string> }} BusAddress
 */

/** @typedef {Awaited<ReturnType<typeof startBus>>} Bus */
/** @typedef {Awaited<ReturnType<typeof startDaemon>>} Daemon */

/**
 * A private dbus-daemon configured like a system bus.
 * options.extraPolicy: <policy> XML added to the config, for services with no policy file installed here
 * (the tests' fake NetworkManager).
 * @param {{ extraPolicy?: string }} options
 */
export async function startBus(options = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'passim-bus-'));
  await chmod(dir, 0o755); // other users (the privilege tests) must reach the socket
  const socketPath = join(dir, 'system_bus_socket');
  const configPath = join(dir, 'system.conf');
  await writeFile(configPath, systemBusConfig(socketPath, options.extraPolicy ?? ''));
  const child = spawn('dbus-daemon', ['--config-file', configPath, '--nofork', '--nopidfile', '--nosyslog', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // dbus-daemon warns about the passim user missing on test machines and about fd limits: only shown on failure.
  let errors = '';
  child.stderr.on('data', (d) => {
    errors += d;
  });
  /** @type {string} */
  const address = await new Promise((resolve, reject) => {
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`dbus-daemon exited with ${code}: ${errors}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.trim());
    });
  });
  child.removeAllListeners('exit');
  return {
    address,
    socketPath,
    pid: pidOf(child),
    env: { DBUS_SYSTEM_BUS_ADDRESS: address },
    async stop() {
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Connects a dbus-next client to `bus`; the caller disconnects it.
 * @param {{ address: string }} bus
 * @param {import('dbus-next').SystemBusOptions} options
 */
export async function connect(bus, options = {}) {
  const previous = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  process.env.DBUS_SYSTEM_BUS_ADDRESS = bus.address;
  try {
    const client = dbus.systemBus({ negotiateUnixFd: true, ...options });
    await new Promise((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    return client;
  } finally {
    if (previous === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = previous;
  }
}

/**
 * Whether `name` has an owner on the bus `client` is connected to.
 * @param {import('dbus-next').MessageBus} client
 * @param {string} name
 * @returns {Promise<boolean>}
 */
export async function nameHasOwner(client, name) {
  const reply = await client.call(
    new dbus.Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'NameHasOwner',
      signature: 's',
      body: [name],
    }),
  );
  if (!reply) throw new Error('NameHasOwner: no reply');
  return reply.body[0];
}

/**
 * @typedef {object} DaemonOptions
 * @property {boolean} [insecure]
 * @property {string} [configText]
 * @property {string[]} [args]
 * @property {string} [netns]
 * @property {string} [localStateDir]
 * @property {string} [sysconfDir]
 * @property {number} [port]
 * @property {string} [program]
 * @property {NodeJS.ProcessEnv} [env]
 * @property {number} [uid]
 * @property {number} [gid]
 */

/**
 * Starts bin/passimd on `bus` with its own LOCALSTATEDIR and SYSCONFDIR.
 * options: insecure (default true), configText (extra [daemon] lines), args, netns, localStateDir (reuse a store),
 * port (default: a free one), program (an executable passimd to run instead of node bin/passimd, e.g. an
 * installed launcher), uid/gid (run as that user; its folders must be reachable by it).
 * @param {BusAddress} bus
 * @param {DaemonOptions} options
 */
export async function startDaemon(bus, options = {}) {
  const localStateDir = options.localStateDir ?? (await mkdtemp(join(tmpdir(), 'passim-state-')));
  const sysconfDir = options.sysconfDir ?? (await mkdtemp(join(tmpdir(), 'passim-etc-')));
  const port = options.port ?? (await freePort());
  await mkdir(sysconfDir, { recursive: true });
  await writeFile(join(sysconfDir, 'passim.conf'), `[daemon]\nPort=${port}\n${options.configText ?? ''}`);
  const args = ['--verbose', ...(options.insecure === false ? [] : ['--insecure']), ...(options.args ?? [])];
  const argv = options.program ? [options.program, ...args] : [process.execPath, ...INSTALLED_LAUNCH.flags, PASSIMD, ...args];
  const command = options.netns ? 'ip' : argv[0];
  const commandArgs = options.netns ? ['netns', 'exec', options.netns, ...argv] : argv.slice(1);
  const child = spawn(command, commandArgs, {
    env: {
      ...process.env,
      ...(options.program ? {} : INSTALLED_LAUNCH.env),
      ...bus.env,
      LOCALSTATEDIR: localStateDir,
      SYSCONFDIR: sysconfDir,
      ...(options.env ?? {}),
    },
    uid: options.uid,
    gid: options.gid,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const client = await connect(bus);
  try {
    await Promise.race([
      waitFor(() => nameHasOwner(client, 'org.freedesktop.Passim'), 'passimd to own org.freedesktop.Passim'),
      exited.then(({ code }) => {
        throw new Error(`passimd exited with ${code}:\n${output}`);
      }),
    ]);
  } catch (err) {
    if (child.exitCode === null) await stopProcess(child);
    throw err;
  } finally {
    client.disconnect();
  }
  return {
    pid: pidOf(child),
    child,
    port,
    uri: `https://localhost:${port}/`,
    localStateDir,
    sysconfDir,
    dataDir: join(localStateDir, 'lib', 'passim', 'data'),
    auditLog: join(localStateDir, 'log', 'passim', 'audit.log'),
    exited,
    output: () => output,
    /**
     * Stops the daemon; its folders stay so that a restart can reuse them.
     * @param {NodeJS.Signals} signal
     */
    async stop(signal = 'SIGTERM') {
      await stopProcess(child, signal);
      return exited;
    },
    async cleanup() {
      await stopProcess(child);
      if (!options.localStateDir) await rm(localStateDir, { recursive: true, force: true });
      if (!options.sysconfDir) await rm(sysconfDir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs bin/passimctl against `bus`. options: cwd, env, uid/gid (run as another user).
 * @param {{ env: Record<string, string> } | null | undefined} bus
 * @param {readonly string[]} args
 * @param {import('./process.js').RunOptions} options
 */
export function runCli(bus, args, options = {}) {
  return runProcess(process.execPath, [PASSIMCTL, ...args], {
    ...options,
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...(bus ? bus.env : {}), ...(options.env ?? {}) },
  });
}
