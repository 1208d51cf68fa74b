// Boots a real systemd in a container (systemd-nspawn) from a Debian root built by .ci/debian-root, on a
// machine whose PID 1 is not systemd and whose cgroups are mixed v1/v2.
//
// The cached root is never written to: each boot mounts an overlay (the cached root below, a fresh scratch
// folder on top) inside a private mount namespace, runs the caller's `prepare` shell code against it (e.g.
// data/install.sh with DESTDIR), then, in that same namespace, mounts cgroup2 on /sys/fs/cgroup and a tmpfs
// on /run/systemd (nspawn keeps its locks in /run/systemd/nspawn), moves itself into a cgroup of its own and
// starts `systemd-nspawn --keep-unit --register=no --private-network -b`. Every mount disappears with the
// namespace; the cgroup is removed once nspawn has exited; stop() removes the scratch folder. Should the
// test process die first, the wrapper shuts the container down and removes the scratch folder itself.
//
// Commands run inside with `nsenter -t <container PID 1> -a`, from an empty environment; `user` runs them
// through setpriv as that user with its groups. Everything is ended by PID: poweroff.target first,
// then SIGKILL to the container's PID 1 (which ends its whole PID namespace) and to nspawn.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pidOf, runProcess, waitFor } from './process.js';

/** The root `bash .ci/setup` builds with `.ci/debian-root trixie-systemd trixie systemd,...`. */
export const SYSTEMD_ROOT = '/var/cache/passim-ci/roots/trixie-systemd';

/** What the tests need from the root; a root without them is reported as missing. */
const NEEDED = [
  '.passim-ci-stamp',
  'usr/lib/systemd/systemd',
  'usr/bin/systemctl',
  'usr/bin/systemd-analyze',
  'usr/bin/dbus-daemon',
  'usr/lib/polkit-1/polkitd',
  'usr/sbin/avahi-daemon',
  'usr/bin/node',
  'usr/bin/curl',
  'usr/sbin/useradd',
  'usr/bin/setpriv',
];

/** Throws, naming the command that builds it, unless `root` is a complete root for booting systemd. */
export function requireSystemdRoot(root = SYSTEMD_ROOT) {
  const missing = NEEDED.filter((path) => !existsSync(join(root, path)));
  if (missing.length) {
    throw new Error(
      `The Debian trixie root with systemd is missing or incomplete at ${root} (no ${missing.join(', ')}): ` +
        'run `bash .ci/setup` as root (it builds it with .ci/debian-root trixie-systemd trixie ...).',
    );
  }
  for (const tool of ['systemd-nspawn', 'nsenter', 'unshare']) {
    if (!['/usr/bin', '/usr/sbin', '/bin', '/sbin'].some((dir) => existsSync(join(dir, tool)))) {
      throw new Error(
        `${tool} is not installed on this machine: run \`bash .ci/setup\` as root (systemd-container provides systemd-nspawn).`,
      );
    }
  }
  return root;
}

const PATH_INSIDE = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// Runs in a private mount namespace. Arguments: LOWER SCRATCH MACHINE PREPARE CWD.
const WRAPPER = `
set -eu
lower=$1 scratch=$2 machine=$3 prepare=$4 cwd=$5
root=$scratch/root
mkdir -p "$scratch/upper" "$scratch/work" "$root"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$scratch/upper,workdir=$scratch/work" "$root"
# What debootstrap may leave behind: its stub start-stop-daemon (the real one moved aside as .REAL) when it
# stopped half-way, and a policy-rc.d that forbids starting services. Neither belongs in a booted system.
for dir in "$root/usr/sbin" "$root/sbin"; do
  if [ -f "$dir/start-stop-daemon.REAL" ] && [ ! -L "$dir/start-stop-daemon.REAL" ]; then
    mv -f "$dir/start-stop-daemon.REAL" "$dir/start-stop-daemon"
  fi
done
rm -f "$root/usr/sbin/policy-rc.d"
(cd "$cwd" && CONTAINER_ROOT=$root sh -ec "$prepare") >&2
echo prepared > "$scratch/prepared"

# This machine's PID 1 is not systemd: give nspawn a unified cgroup hierarchy and a /run/systemd of its own.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /run/systemd
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run/systemd
mkdir /run/systemd/nspawn
# Should the test process die without stopping the container (killed, crashed), stop it from here: nspawn
# turns SIGTERM into a clean shutdown of the container. Started before the move into the new cgroup.
parent=$PPID
(
  while kill -0 "$parent" 2>/dev/null; do sleep 1; done
  [ -f "$scratch/nspawn.pid" ] && kill -TERM "$(cat "$scratch/nspawn.pid")" 2>/dev/null
) &
watchdog=$!
cgroup=/sys/fs/cgroup/$machine
mkdir "$cgroup"
echo $$ > "$cgroup/cgroup.procs"
systemd-nspawn --quiet --keep-unit --register=no --private-network --link-journal=no --console=read-only \\
  --resolv-conf=off --timezone=off -M "$machine" -D "$root" -b &
nspawn=$!
echo "$nspawn" > "$scratch/nspawn.pid"
set +e
wait "$nspawn"
code=$?
# Out of the container's cgroup, then remove it, deepest first (systemd removes its own on poweroff).
echo $$ > /sys/fs/cgroup/cgroup.procs
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  [ -d "$cgroup" ] || break
  find "$cgroup" -depth -type d -exec rmdir {} \\; 2>/dev/null
  [ -d "$cgroup" ] && sleep 0.5
done
[ -d "$cgroup" ] && echo "nspawn wrapper: could not remove $cgroup" >&2
if kill -0 "$parent" 2>/dev/null; then
  kill "$watchdog" 2>/dev/null
else
  # Orphaned: nobody else will remove the scratch root.
  umount "$root" && rm -rf --one-file-system "$scratch"
fi
exit $code
`;

/**
 * The positive integer in the file at `path`, or undefined.
 * @param {string} path
 */
async function readNumber(path) {
  try {
    const value = Number((await readFile(path, 'utf8')).trim());
    return Number.isInteger(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/** @param {number} pid */
async function processStatus(pid) {
  try {
    const text = await readFile(`/proc/${pid}/status`, 'utf8');
    const field = (/** @type {string} */ name) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text)?.[1];
    return { ppid: Number(field('PPid')), nspid: (field('NSpid') ?? '').split(/\s+/).map(Number) };
  } catch {
    return undefined;
  }
}

/**
 * The container's PID 1 (its host PID): a descendant of nspawn whose PID in its own namespace is 1.
 * @param {number} nspawnPid
 */
async function findContainerInit(nspawnPid) {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const status = await processStatus(pid);
    if (!status || status.nspid.length < 2 || status.nspid.at(-1) !== 1) continue;
    // Walk up: nspawn itself, or the process it forked that forked this one.
    let parent = status.ppid;
    for (let depth = 0; depth < 4 && parent > 1; depth++) {
      if (parent === nspawnPid) return pid;
      parent = (await processStatus(parent))?.ppid ?? 0;
    }
  }
  return undefined;
}

/**
 * A booted container (bootContainer's result).
 * @typedef {Awaited<ReturnType<typeof bootContainer>>} Container
 */

/**
 * How container.exec() runs a program: user (a name: setpriv with its UID, GID and groups), env (more variables).
 * @typedef {{ user?: string, env?: Record<string, string> }} ExecOptions
 */

/**
 * Boots `root` under systemd-nspawn. options:
 *   root       the cached root (default SYSTEMD_ROOT); only read
 *   prepare    shell code run (cwd `cwd`) before the boot, with $CONTAINER_ROOT the writable root
 *   cwd        its working folder (default /)
 *   bootTimeoutMs  how long to wait for the container's PID 1 (default 60 s)
 * Returns { machine, pid (host PID of the container's PID 1), nspawnPid, scratch, rootPath(p), exec(), sh(),
 * waitUntilRunning(), output(), timings, stop() }.
 * @param {{ root?: string, prepare?: string, cwd?: string, bootTimeoutMs?: number }} options
 */
export async function bootContainer(options = {}) {
  const lower = requireSystemdRoot(options.root ?? SYSTEMD_ROOT);
  const machine = `passim-test-${randomBytes(3).toString('hex')}`;
  const scratch = await mkdtemp('/var/tmp/passim-nspawn-');
  const started = Date.now();
  const wrapper = spawn(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', WRAPPER, 'sh', lower, scratch, machine, options.prepare ?? ':', options.cwd ?? '/'],
    {
      env: { PATH: process.env.PATH, LANG: 'C.UTF-8' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  wrapper.stdout.on('data', (d) => {
    output += d;
  });
  wrapper.stderr.on('data', (d) => {
    output += d;
  });
  /** @typedef {{ code: number | null, signal: NodeJS.Signals | null }} Exit */
  /** @type {Exit | undefined} */
  let wrapperExit;
  /** @type {Promise<Exit>} */
  const exited = new Promise((resolve) =>
    wrapper.once('exit', (code, signal) => {
      wrapperExit = { code, signal };
      resolve(wrapperExit);
    }),
  );
  /** @type {{ prepared?: number, started?: number, running?: number, stopped?: number }} */
  const timings = {};
  /** @type {number | undefined} */
  let nspawnPid;
  /** @type {number | undefined} */
  let pid;

  const container = {
    machine,
    scratch,
    timings,
    get pid() {
      return pid;
    },
    get nspawnPid() {
      return nspawnPid;
    },
    output: () => output,
    exited,
    /** The host's path to `path` inside the running container. */
    rootPath: (/** @type {string} */ path) => `/proc/${pid}/root${path}`,
    /**
     * Runs argv inside the container from an empty environment; resolves { code, stdout, stderr }.
     * options: user (a name: setpriv with its UID, GID and groups), env (more variables).
     * @param {string[]} argv
     * @param {ExecOptions} execOptions
     */
    exec(argv, execOptions = {}) {
      if (!pid) throw new Error('the container is not running');
      const home = execOptions.user ? `/home/${execOptions.user}` : '/root';
      const env = {
        PATH: PATH_INSIDE,
        LANG: 'C.UTF-8',
        HOME: home,
        TERM: 'dumb',
        SYSTEMD_PAGER: '',
        PAGER: 'cat',
        ...(execOptions.user ? { USER: execOptions.user, LOGNAME: execOptions.user } : {}),
        ...(execOptions.env ?? {}),
      };
      const asUser = execOptions.user
        ? ['/usr/bin/setpriv', `--reuid=${execOptions.user}`, `--regid=${execOptions.user}`, '--init-groups']
        : [];
      return runProcess(
        'nsenter',
        ['-t', String(pid), '-a', '--', ...asUser, '/usr/bin/env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv],
        { env: { PATH: process.env.PATH } },
      );
    },
    /**
     * Runs a shell script inside the container (sh -c).
     * @param {string} script
     * @param {ExecOptions} execOptions
     */
    sh(script, execOptions = {}) {
      return container.exec(['/bin/sh', '-c', script], execOptions);
    },
    /** Waits for `systemctl is-system-running` to say running or degraded; returns what it said. */
    async waitUntilRunning(timeoutMs = 90000) {
      let last = '';
      const state = await Promise.race([
        waitFor(
          async () => {
            const { stdout } = await container.exec(['systemctl', 'is-system-running']);
            last = stdout.trim();
            return ['running', 'degraded'].includes(last) ? last : undefined;
          },
          "the container's systemd to finish booting",
          timeoutMs,
          250,
        ).catch((err) => {
          throw new Error(`${err.message} (last state: ${last || 'none'})\n${output}`);
        }),
        exited.then(({ code, signal }) => {
          throw new Error(`systemd-nspawn exited (${code ?? signal}) while booting:\n${output}`);
        }),
      ]);
      timings.running = Date.now() - started;
      return state;
    },
    /** Powers the container off, kills what is left by PID, removes the scratch folder. */
    async stop() {
      if (!wrapperExit && pid) {
        // Straight to systemd over its private socket: `systemctl poweroff` would ask logind over D-Bus first,
        // which hangs for two D-Bus timeouts once a test has restarted dbus under logind's feet.
        await container.exec(['systemctl', 'start', 'poweroff.target', '--job-mode=replace-irreversibly', '--no-block']).catch(() => {});
        await exitedWithin(30000);
      }
      if (!wrapperExit) {
        // PID 1 of a PID namespace takes every process of the namespace with it.
        for (const target of [pid, nspawnPid]) {
          if (target)
            try {
              process.kill(target, 'SIGKILL');
            } catch {
              /* gone already */
            }
        }
        await exitedWithin(10000);
      }
      if (!wrapperExit) {
        try {
          process.kill(pidOf(wrapper), 'SIGKILL');
        } catch {
          /* gone already */
        }
        await exited;
      }
      // The overlay lived in the wrapper's mount namespace, which has ended: only plain folders are left.
      await rm(scratch, { recursive: true, force: true });
      timings.stopped = Date.now() - started;
      return wrapperExit;
    },
  };

  /**
   * Waits for the wrapper to exit, at most `ms` (the timer never outlives the wait).
   * @param {number} ms
   */
  async function exitedWithin(ms) {
    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    await Promise.race([
      exited,
      new Promise((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }

  try {
    // The prepare step (install) first, then nspawn's PID, then the container's PID 1.
    await Promise.race([
      waitFor(() => existsSync(join(scratch, 'prepared')), 'the scratch root to be prepared', 180000, 100),
      exited.then(({ code, signal }) => {
        throw new Error(`preparing the container failed (${code ?? signal}):\n${output}`);
      }),
    ]);
    timings.prepared = Date.now() - started;
    const nspawn = await Promise.race([
      waitFor(() => readNumber(join(scratch, 'nspawn.pid')), 'systemd-nspawn to start', 30000, 50),
      exited.then(({ code, signal }) => {
        throw new Error(`the nspawn wrapper exited (${code ?? signal}):\n${output}`);
      }),
    ]);
    nspawnPid = nspawn;
    pid = await Promise.race([
      waitFor(() => findContainerInit(nspawn), "the container's PID 1", options.bootTimeoutMs ?? 60000, 100),
      exited.then(({ code, signal }) => {
        throw new Error(`systemd-nspawn exited (${code ?? signal}):\n${output}`);
      }),
    ]);
    timings.started = Date.now() - started;
  } catch (err) {
    await container.stop();
    throw err;
  }
  return container;
}
