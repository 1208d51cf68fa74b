// Runs programs from a Debian root built by .ci/debian-root (the original Passim daemon, CLI and libpassim
// from Debian unstable) against a test bus, optionally inside a test network namespace and as another user.
//
// Each program runs as: [ip netns exec NS] unshare -m --propagation private sh -c '<mounts>; exec chroot
// [--userspec=U:G] ROOT env -i ... PROGRAM ARGS'. Every mount (a tmpfs on the root's /run and /tmp, a /proc,
// the bus socket's folder on /run/dbus, the binds asked for) is made in that private mount namespace, so
// nothing reaches the host's mount table and everything disappears with the process. Every step execs the
// next, so the PID the caller holds is the program's own. The only writes to the cached root are empty
// mount points (e.g. /var/lib/passim) created on first use.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connect, nameHasOwner } from './harness.js';
import { pidOf, runProcess, stopProcess, waitFor } from './process.js';

/** The root `bash .ci/setup` builds with `.ci/debian-root sid-passim sid passim,libpassim1,...`. */
export const SID_ROOT = '/var/cache/passim-ci/roots/sid-passim';

/** Where the bus socket's folder appears inside the root: the system bus's default address. */
export const BUS_DIR_IN_ROOT = '/run/dbus';
export const BUS_ADDRESS_IN_ROOT = `unix:path=${BUS_DIR_IN_ROOT}/system_bus_socket`;

/**
 * Throws unless `root` is a complete root built by .ci/debian-root with the original Passim in it.
 * Tests call it in their before hook: a missing root fails them, with the command that builds it.
 */
export function requireRoot(root = SID_ROOT) {
  const needed = ['.passim-ci-stamp', 'usr/bin/passim', 'usr/libexec/passimd', 'usr/bin/python3'];
  const missing = needed.filter((path) => !existsSync(join(root, path)));
  if (missing.length) {
    throw new Error(
      `The Debian root with the original Passim is missing or incomplete at ${root} ` +
        `(no ${missing.join(', ')}): run \`bash .ci/setup\` as root (it builds it with .ci/debian-root).`,
    );
  }
  return root;
}

// The shell that runs first in the private mount namespace. Arguments: ROOT USERSPEC CWD then triples
// SOURCE TARGET rw|ro (binds; a target that does not exist is created as an empty folder or file), then `--`,
// then the environment as NAME=VALUE words and the program with its arguments, as `env` takes them.
const SETUP = `
set -e
root=$1 userspec=$2 cwd=$3
shift 3
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
while [ "$1" != "--" ]; do
  source=$1 target=$root$2 mode=$3
  shift 3
  if [ -d "$source" ]; then
    mkdir -p "$target"
  else
    mkdir -p "$(dirname "$target")"
    [ -e "$target" ] || : > "$target"
  fi
  mount --bind "$source" "$target"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$target"; fi
done
shift
if [ -n "$userspec" ]; then
  exec chroot --userspec="$userspec" --groups="\${userspec#*:}" "$root" env -i -C "$cwd" "$@"
fi
exec chroot "$root" env -i -C "$cwd" "$@"
`;

/**
 * A host file or folder that appears at `target` inside the root.
 * @typedef {{ source: string, target: string, readOnly?: boolean }} Bind
 */

/**
 * @typedef {object} RootOptions
 * @property {{ socketPath: string }} [bus]
 * @property {string} [netns]
 * @property {number} [uid]
 * @property {number} [gid]
 * @property {Bind[]} [binds]
 * @property {Record<string, string>} [env]
 * @property {string} [cwd]
 */

/**
 * The command line (for spawn) that runs `program args` from `root`.
 * options:
 *   bus        a harness.startBus() result: its socket folder appears at /run/dbus and DBUS_SYSTEM_BUS_ADDRESS
 *              points there (the program sees the test bus as its system bus)
 *   netns      a network namespace to run in
 *   uid, gid   run as this user (chroot --userspec; groups: just gid)
 *   binds      [{ source, target, readOnly }]: host files or folders that appear at `target` inside the root
 *              (targets under /tmp and /run cost nothing: both are a fresh tmpfs for each program)
 *   env        more environment variables (the program starts from an empty environment)
 *   cwd        working folder inside the root (default /)
 * @param {string} root
 * @param {string} program
 * @param {readonly string[]} args
 * @param {RootOptions} options
 * @returns {[string, string[]]}
 */
export function rootCommand(root, program, args = [], options = {}) {
  const binds = [...(options.binds ?? [])];
  /** @type {Record<string, string>} */
  const env = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    // Nothing may write into the cached root: HOME is on the per-program tmpfs, GSettings stays in memory.
    HOME: '/tmp',
    GSETTINGS_BACKEND: 'memory',
  };
  if (options.bus) {
    binds.unshift({ source: dirname(options.bus.socketPath), target: BUS_DIR_IN_ROOT });
    env.DBUS_SYSTEM_BUS_ADDRESS = BUS_ADDRESS_IN_ROOT;
  }
  Object.assign(env, options.env ?? {});
  const userspec = options.uid !== undefined ? `${options.uid}:${options.gid ?? options.uid}` : '';
  const setupArgs = [root, userspec, options.cwd ?? '/'];
  for (const { source, target, readOnly } of binds) {
    if (!target.startsWith('/')) throw new Error(`bind target ${target} must be absolute`);
    setupArgs.push(source, target, readOnly ? 'ro' : 'rw');
  }
  if (program.includes('=')) throw new Error(`${program}: env would take it for a variable`);
  setupArgs.push('--', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), program, ...args);
  const argv = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', SETUP, 'sh', ...setupArgs];
  return options.netns ? ['ip', ['netns', 'exec', options.netns, ...argv]] : [argv[0], argv.slice(1)];
}

/**
 * Runs `program args` from `root` to its end; resolves with { code, stdout, stderr }. Options: rootCommand's, and
 * onSpawn as runProcess takes it.
 * @param {string} root
 * @param {string} program
 * @param {readonly string[]} args
 * @param {RootOptions & Pick<import('./process.js').RunOptions, 'onSpawn'>} options
 */
export function runInRoot(root, program, args = [], options = {}) {
  const [command, commandArgs] = rootCommand(root, program, args, options);
  return runProcess(command, commandArgs, { env: { PATH: process.env.PATH }, onSpawn: options.onSpawn });
}

/**
 * Starts a long-running `program args` from `root`; returns { pid, child, output(), exited, stop() }.
 * stop() sends SIGTERM to that PID (SIGKILL after 5 s) and waits for it to end; its mounts end with it.
 * @param {string} root
 * @param {string} program
 * @param {readonly string[]} args
 * @param {RootOptions} options
 */
export function startInRoot(root, program, args = [], options = {}) {
  const [command, commandArgs] = rootCommand(root, program, args, options);
  const child = spawn(command, commandArgs, { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    pid: pidOf(child),
    child,
    output: () => output,
    exited,
    stop: (/** @type {NodeJS.Signals} */ signal = 'SIGTERM') => stopProcess(child, signal),
  };
}

/**
 * The original passimd started by startOriginalDaemon().
 * @typedef {Awaited<ReturnType<typeof startOriginalDaemon>>} OriginalDaemon
 */

/**
 * Starts the original /usr/libexec/passimd from `root` on `bus` (as root, like its unit), with tmp folders
 * over its /var/lib/passim and /var/log/passim and a tmp /etc/passim.conf ([daemon] Port=`port` plus
 * `configText`); resolves once it owns org.freedesktop.Passim.
 * options: bus (required), netns, port (default 27500), configText, env (e.g. { G_MESSAGES_DEBUG: 'all' },
 * the default), binds (more).
 * Returns { pid, child, port, output(), exited, stateDir, dataDir, logDir, stop(), cleanup() }.
 * @param {string} root
 * @param {{ bus: import('./harness.js').Bus, netns?: string, port?: number, configText?: string, args?: string[], env?: Record<string, string>, binds?: Bind[] }} options
 */
export async function startOriginalDaemon(root, options) {
  if (!options.bus) throw new Error('startOriginalDaemon needs a bus');
  const port = options.port ?? 27500;
  const dir = await mkdtemp(join(tmpdir(), 'passim-original-'));
  const stateDir = join(dir, 'lib');
  const logDir = join(dir, 'log');
  const confPath = join(dir, 'passim.conf');
  await mkdir(stateDir);
  await mkdir(logDir);
  await writeFile(confPath, `[daemon]\nPort=${port}\n${options.configText ?? ''}`);
  const daemon = startInRoot(root, '/usr/libexec/passimd', options.args ?? [], {
    bus: options.bus,
    netns: options.netns,
    env: { G_MESSAGES_DEBUG: 'all', ...(options.env ?? {}) },
    binds: [
      { source: stateDir, target: '/var/lib/passim' },
      { source: logDir, target: '/var/log/passim' },
      { source: confPath, target: '/etc/passim.conf' },
      ...(options.binds ?? []),
    ],
  });
  const cleanup = async () => {
    await daemon.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const client = await connect(options.bus);
  try {
    await Promise.race([
      waitFor(() => nameHasOwner(client, 'org.freedesktop.Passim'), 'the original passimd to own org.freedesktop.Passim', 30000),
      daemon.exited.then(({ code, signal }) => {
        throw new Error(`the original passimd exited with ${code ?? signal}:\n${daemon.output()}`);
      }),
    ]);
  } catch (err) {
    await cleanup();
    throw err;
  } finally {
    client.disconnect();
  }
  return {
    ...daemon,
    port,
    stateDir,
    dataDir: join(stateDir, 'data'),
    logDir,
    cleanup,
  };
}
