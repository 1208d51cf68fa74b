// passim installed the way a distribution would, in a Debian trixie system booted with a real systemd
// (systemd-nspawn): the unit, D-Bus activation, polkit, journald and systemd-analyze at work together.
//
// The root is built and cached by `bash .ci/setup` (.ci/debian-root trixie-systemd trixie ...); each run
// boots an overlay of it (test/lib/nspawn.js) after `DESTDIR=... PREFIX=/usr NODE=/usr/bin/node sh
// data/install.sh`, then does what the README tells an administrator to: systemd-sysusers, daemon-reload,
// reload dbus, enable --now passim. All tests share that one container, in order.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT } from './lib/harness.js';
import { runProcess, waitFor } from './lib/process.js';
import { SYSTEMD_ROOT, bootContainer, requireSystemdRoot } from './lib/nspawn.js';

const sha256 = (/** @type {string} */ data) => createHash('sha256').update(data).digest('hex');
/** The exposure README.md promises for passim.service (`systemd-analyze security`). */
const MAX_EXPOSURE = 1.6;
/** Where the tests keep their files inside the container. */
const FILES = '/srv/passim-test';

/**
 * `what` with the command's exit status and output, for assertion messages.
 * @param {string} what
 * @param {import('./lib/process.js').RunResult | undefined} result undefined if it never ran to its end
 */
function describeRun(what, result) {
  if (!result) return `${what} never ran to its end`;
  const { code, stdout, stderr } = result;
  return `${what} exited with ${code}\n--- stdout:\n${stdout}--- stderr:\n${stderr}`;
}

/** Compiles src/ into dist/ when a module is missing or older than its source (data/install.sh copies dist/). */
async function buildIfStale() {
  const sources = (await readdir(join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
  let stale = false;
  for (const source of sources) {
    const built = join(ROOT, 'dist', source.replace(/\.ts$/, '.js'));
    const [sourceStat, builtStat] = await Promise.all([stat(join(ROOT, 'src', source)), stat(built).catch(() => undefined)]);
    if (!builtStat || builtStat.mtimeMs < sourceStat.mtimeMs) stale = true;
  }
  if (!stale) return false;
  const tsc = await runProcess(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'], { cwd: ROOT });
  assert.equal(tsc.code, 0, describeRun('tsc -p . (dist/ was older than src/)', tsc));
  return true;
}

describe('passim under a real systemd (Debian trixie in systemd-nspawn)', () => {
  /** @type {import('./lib/nspawn.js').Container} */
  let container;
  const started = Date.now();
  /** The host's uptime when the test began, to compare with the kernel log's timestamps. */
  let bootUptime = Infinity;

  /**
   * Runs argv in the container; options.user runs it as that user.
   * @param {string[]} argv
   * @param {import('./lib/nspawn.js').ExecOptions} [options]
   */
  const run = (argv, options) => container.exec(argv, options);
  /**
   * Runs argv and asserts it succeeded; returns its stdout.
   * @param {string[]} argv
   * @param {import('./lib/nspawn.js').ExecOptions} [options]
   */
  async function ok(argv, options) {
    const result = await run(argv, options);
    assert.equal(result.code, 0, describeRun(argv.join(' '), result));
    return result.stdout;
  }
  const show = async (/** @type {string} */ property) =>
    (await ok(['systemctl', 'show', '-p', property, '--value', 'passim.service'])).trim();
  /**
   * Writes a file into the container (through /proc/PID/root) readable by everyone.
   * @param {string} path
   * @param {string} content
   */
  async function putFile(path, content) {
    await mkdir(container.rootPath(join(path, '..')), { recursive: true, mode: 0o755 });
    await writeFile(container.rootPath(path), content, { mode: 0o644 });
  }
  /** `busctl call` of Properties.Get for one of passimd's properties: a D-Bus call that activates it. */
  const getProperty = (/** @type {string} */ name) =>
    run(['busctl', 'call', 'org.freedesktop.Passim', '/', 'org.freedesktop.DBus.Properties', 'Get', 'ss', 'org.freedesktop.Passim', name]);
  /** passimctl status --json as root; undefined while the daemon does not answer. */
  async function status() {
    const result = await run(['passimctl', 'status', '--json']);
    if (result.code !== 0) return undefined;
    return JSON.parse(result.stdout);
  }
  const hashes = async () => ((await status())?.items ?? []).map((/** @type {{ hash: string }} */ item) => item.hash);
  /**
   * Waits until passimctl status answers; fails with its last output after `timeoutMs`.
   * @param {string} what
   */
  async function waitForStatus(what, timeoutMs = 60000) {
    /** @type {import('./lib/process.js').RunResult | undefined} */
    let last;
    await waitFor(
      async () => {
        last = await run(['passimctl', 'status']);
        return last.code === 0;
      },
      what,
      timeoutMs,
      500,
    ).catch(async (err) => {
      const journal = await run(['journalctl', '--no-pager', '-n', '40', '-u', 'passim', '-u', 'dbus']);
      throw new Error(`${err.message}\n${describeRun('passimctl status', last)}\n--- journal:\n${journal.stdout}`);
    });
  }

  before(async () => {
    // Never skipped: a machine without the root fails here with the command that builds it.
    requireSystemdRoot(SYSTEMD_ROOT);
    bootUptime = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
    const built = await buildIfStale();
    if (built) console.log('systemd test: dist/ was stale, rebuilt it with tsc');
    container = await bootContainer({
      root: SYSTEMD_ROOT,
      cwd: ROOT,
      // Exactly as a packager: into a staging root, launchers pointing at the distribution's node.
      prepare: 'DESTDIR="$CONTAINER_ROOT" PREFIX=/usr NODE=/usr/bin/node sh data/install.sh',
    });
    const state = await container.waitUntilRunning();
    if (state === 'degraded') {
      console.log(`systemd test: the container booted degraded:\n${(await run(['systemctl', '--failed', '--no-pager'])).stdout}`);
    }

    // Avahi wants a multicast interface; --private-network gives only lo and the kernel has no dummy driver.
    // A veth pair, both ends inside the container's network namespace; only pv0 gets addresses.
    const net = (/** @type {string[]} */ args) => runProcess('nsenter', ['-t', String(container.pid), '-n', '--', 'ip', ...args]);
    for (const args of [
      ['link', 'add', 'pv0', 'type', 'veth', 'peer', 'name', 'pv1'],
      ['link', 'set', 'pv1', 'addrgenmode', 'none'],
      ['addr', 'add', '10.99.0.1/24', 'dev', 'pv0'],
      ['link', 'set', 'pv1', 'up'],
      ['link', 'set', 'pv0', 'up'],
    ]) {
      const result = await net(args);
      assert.equal(result.code, 0, describeRun(`ip ${args.join(' ')}`, result));
    }

    // The distribution's node must be able to load what install.sh copied (the usocket addon was built by
    // this machine's node for its ABI).
    const versions = JSON.parse(await ok(['node', '-p', 'JSON.stringify(process.versions)']));
    assert.equal(
      versions.modules,
      process.versions.modules,
      `the root's node ${versions.node} has ABI ${versions.modules}, but node_modules was built by node ${process.versions.node} ` +
        `(ABI ${process.versions.modules}): its native addons cannot load; install.sh must rebuild them for NODE or refuse`,
    );
    await ok(['node', '-e', 'require("/usr/lib/passim/node_modules/usocket")']);

    // What README.md (Installing) says to run after installing.
    await ok(['systemd-sysusers']);
    await ok(['systemctl', 'daemon-reload']);
    await ok(['systemctl', 'reload', 'dbus']);
    const enable = await run(['systemctl', 'enable', '--now', 'passim']);
    if (enable.code !== 0) {
      const journal = await run(['journalctl', '--no-pager', '-u', 'passim']);
      assert.fail(`${describeRun('systemctl enable --now passim', enable)}\n--- journal:\n${journal.stdout}`);
    }
    console.log(`systemd test: passim enabled and started ${Date.now() - started} ms after the test began`);
  });

  after(async () => {
    if (!container) return;
    await container.stop();
    const { prepared, running, stopped } = container.timings;
    console.log(
      `systemd test: whole run ${Date.now() - started} ms (overlay and install.sh ${prepared} ms, ` +
        `booted after ${running} ms, powered off and removed after ${stopped} ms)`,
    );
  });

  test('the unit is active and its main process runs as the passim user', async () => {
    assert.equal(await show('ActiveState'), 'active');
    assert.equal(await show('SubState'), 'running');
    assert.equal(await show('UnitFileState'), 'enabled');
    const mainPid = Number(await show('MainPID'));
    assert.ok(mainPid > 0, `MainPID is ${mainPid}`);
    const uid = (await ok(['id', '-u', 'passim'])).trim();
    const procStatus = await ok(['cat', `/proc/${mainPid}/status`]);
    assert.match(procStatus, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    assert.equal((await ok(['ps', '-o', 'user=', '-p', String(mainPid)])).trim(), 'passim');
    // The state folders systemd made for it.
    assert.equal((await ok(['stat', '-c', '%U %a', '/var/lib/passim/data'])).trim(), 'passim 755');
    assert.equal((await ok(['stat', '-c', '%U %a', '/var/log/passim'])).trim(), 'passim 750');
  });

  test('the main process is called passimd (comm and pidof)', async () => {
    const mainPid = (await show('MainPID')).trim();
    const comm = (await ok(['cat', `/proc/${mainPid}/comm`])).trim();
    const pidof = await run(['pidof', 'passimd']);
    assert.equal(comm, 'passimd', `/proc/${mainPid}/comm of passim.service's MainPID is "${comm}"`);
    assert.equal(pidof.code, 0, describeRun('pidof passimd', pidof));
    assert.deepEqual(pidof.stdout.trim().split(/\s+/), [mainPid]);
  });

  test('root publishes with passimctl and curl fetches the bytes from https://localhost:27500', async () => {
    const content = `firmware published by root under systemd ${Date.now()}\n`.repeat(64);
    const hash = sha256(content);
    await putFile(`${FILES}/firmware.cab`, content);
    const published = await run(['passimctl', 'publish', `${FILES}/firmware.cab`]);
    assert.equal(published.code, 0, describeRun('passimctl publish (as root)', published));
    assert.match(published.stdout, /^Published: firmware\.cab/m);
    assert.ok((await hashes()).includes(hash));

    const fetched = await run(['curl', '-k', '-sS', '--fail', `https://localhost:27500/firmware.cab?sha256=${hash}`]);
    assert.equal(fetched.code, 0, describeRun('curl', fetched));
    assert.equal(fetched.stdout, content);
    // The store belongs to passim.
    assert.equal((await ok(['stat', '-c', '%U', `/var/lib/passim/data/${hash}-firmware.cab`])).trim(), 'passim');
  });

  test('a plain user is refused by polkit with a clear message', async () => {
    await ok(['useradd', '--create-home', 'plainuser']);
    const content = "a plain user's file\n";
    await putFile(`${FILES}/plain.txt`, content);
    const refused = await run(['passimctl', 'publish', `${FILES}/plain.txt`], { user: 'plainuser' });
    assert.notEqual(refused.code, 0, describeRun('passimctl publish (as plainuser)', refused));
    assert.match(refused.stderr, /not authori[sz]ed|permission/i, describeRun('passimctl publish (as plainuser)', refused));
    // Refused by polkit's decision, not because polkitd would not answer passimd at all.
    assert.doesNotMatch(refused.stderr, /could not check|CheckAuthorization/, describeRun('passimctl publish (as plainuser)', refused));
    assert.ok(!(await hashes()).includes(sha256(content)));
  });

  test('a polkit rule in /etc/polkit-1/rules.d lets a group publish', async () => {
    await ok(['groupadd', 'updaters']);
    await ok(['useradd', '--create-home', '--groups', 'updaters', 'updater']);
    // README.md's example, word for word.
    await putFile(
      '/etc/polkit-1/rules.d/50-passim-updaters.rules',
      `polkit.addRule(function (action, subject) {
  if (action.id == "org.freedesktop.passim.publish" && subject.isInGroup("updaters"))
    return polkit.Result.YES;
});
`,
    );
    const content = 'published by a member of updaters\n';
    await putFile(`${FILES}/delegated.txt`, content);
    // polkitd picks up rules.d changes by itself (inotify); give it a moment.
    /** @type {import('./lib/process.js').RunResult | undefined} */
    let last;
    await waitFor(
      async () => {
        last = await run(['passimctl', 'publish', `${FILES}/delegated.txt`], { user: 'updater' });
        return last.code === 0;
      },
      'the updaters rule to let updater publish',
      20000,
      500,
    ).catch((err) => {
      throw new Error(`${err.message}\n${describeRun('passimctl publish (as updater)', last)}`);
    });
    assert.ok(last);
    assert.match(last.stdout, /^Published: delegated\.txt/m);
    assert.ok((await hashes()).includes(sha256(content)));
    // Still nobody else.
    const refused = await run(['passimctl', 'publish', `${FILES}/plain.txt`], { user: 'plainuser' });
    assert.notEqual(refused.code, 0, describeRun('passimctl publish (as plainuser, not in updaters)', refused));
  });

  test('D-Bus activation starts the stopped service', async () => {
    await ok(['systemctl', 'stop', 'passim']);
    assert.equal(await show('ActiveState'), 'inactive');
    const activated = await getProperty('DaemonVersion');
    assert.equal(activated.code, 0, describeRun('busctl call (activation)', activated));
    const version = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).version;
    assert.equal(activated.stdout.trim(), `v s "${version}"`);
    assert.equal(await show('ActiveState'), 'active');
    // passimctl alone activates it too.
    await ok(['systemctl', 'stop', 'passim']);
    const viaCli = await run(['passimctl', 'status']);
    assert.equal(viaCli.code, 0, describeRun('passimctl status (activation)', viaCli));
    assert.equal(await show('ActiveState'), 'active');
  });

  test('the service answers again after each of three `systemctl restart dbus`', async () => {
    const rounds = [];
    // Each lost bus costs passim.service one start; with the previous test's starts, the third restart would
    // otherwise meet StartLimitBurst (5 in 10 s), and dbus-daemon then waits out its 25 s activation timeout.
    // dbus.service has the same limit, and it counts its start at boot a few seconds ago.
    await ok(['systemctl', 'reset-failed', 'passim', 'dbus']);
    for (let round = 1; round <= 3; round++) {
      const before = await show('MainPID');
      const since = (await ok(['date', '+@%s'])).trim();
      const began = Date.now();
      await ok(['systemctl', 'restart', 'dbus']);
      // Generous: passimd must notice the lost bus and exit, systemd restart or activate it.
      await waitForStatus(`passimctl status to answer after dbus restart #${round} (passimd PID before: ${before})`, 60000);
      const took = Date.now() - began;
      rounds.push(took);
      if (took > 5000) {
        // Slow but not failed: show why.
        const journal = await run([
          'journalctl',
          '--no-pager',
          '-o',
          'short-monotonic',
          '--since',
          since,
          '-u',
          'passim',
          '-u',
          'dbus',
          '-u',
          'polkit',
          '-u',
          'avahi-daemon',
        ]);
        console.log(`systemd test: dbus restart #${round} took ${took} ms until passimctl status answered:\n${journal.stdout}`);
      }
      assert.equal(await show('ActiveState'), 'active');
    }
    console.log(`systemd test: passimctl status answered ${rounds.join(', ')} ms after each dbus restart`);
  });

  test('a broken configuration fails the restart and is logged at error priority', async () => {
    const conf = container.rootPath('/etc/passim.conf');
    const original = await readFile(conf);
    // The earlier tests started passim often enough to reach StartLimitBurst; an administrator's restart
    // after editing the file must meet the configuration error, not the start limit.
    await ok(['systemctl', 'reset-failed', 'passim']);
    const since = (await ok(['date', '+@%s'])).trim();
    try {
      await writeFile(conf, '[daemon]\nPort=notaport\n');
      const restart = await run(['systemctl', 'restart', 'passim']);
      assert.notEqual(restart.code, 0, describeRun('systemctl restart passim (Port=notaport)', restart));
      /** @type {import('./lib/process.js').RunResult | undefined} */
      let errors;
      await waitFor(
        async () => {
          errors = await run(['journalctl', '--no-pager', '-o', 'cat', '-p', 'err', '-u', 'passim', '--since', since]);
          return /Port=notaport/.test(errors.stdout);
        },
        'the configuration error in `journalctl -p err -u passim`',
        10000,
        500,
      ).catch(async (err) => {
        const all = await run([
          'journalctl',
          '--no-pager',
          '-o',
          'short-monotonic',
          '--output-fields=PRIORITY,MESSAGE',
          '-u',
          'passim',
          '--since',
          since,
        ]);
        const verbose = await run([
          'journalctl',
          '--no-pager',
          '-o',
          'json',
          '--output-fields=PRIORITY,MESSAGE',
          '-u',
          'passim',
          '--since',
          since,
          '-g',
          'notaport',
        ]);
        throw new Error(
          `${err.message}\n--- journalctl -p err -u passim:\n${errors?.stdout}` +
            `--- journalctl -u passim:\n${all.stdout}--- its priorities:\n${verbose.stdout}`,
        );
      });
      assert.ok(errors);
      assert.match(errors.stdout, /\/etc\/passim\.conf.*Port=notaport/);
    } finally {
      await writeFile(conf, original);
      await run(['systemctl', 'reset-failed', 'passim']);
    }
    await ok(['systemctl', 'restart', 'passim']);
    await waitForStatus('passimctl status after the configuration was restored');
  });

  test("the passim user reads who is behind a local connection: one user cannot take root's share", async () => {
    // MaxConnections=64 by default: each local user may hold 16. plainuser holds 16 transfers it never
    // reads, sees its 17th refused, and keeps holding while root asks; the owner comes from /proc/net/tcp,
    // read by the sandboxed, unprivileged daemon.
    const content = 'x'.repeat(1024 * 1024);
    await putFile(`${FILES}/shared.bin`, content);
    // A share-limit the 18 downloads below cannot reach (the default 5 would delete the item).
    await ok(['passimctl', 'publish', `${FILES}/shared.bin`, '3600', '1000']);
    const path = `/shared.bin?sha256=${sha256(content)}`;
    const marker = '/tmp/passim-test-held';
    await run(['rm', '-f', marker]);
    const script = `
      const tls = require('node:tls');
      const fs = require('node:fs');
      // One more request; its status line's code goes to onStatus.
      const get = (onStatus) => {
        const s = tls.connect({ host: '127.0.0.1', port: 27500, rejectUnauthorized: false }, () => {
          s.write('GET ${path} HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n');
        });
        s.once('data', (d) => onStatus(String(d).split(' ')[1]));
        s.on('error', () => {});
      };
      let open = 0;
      for (let i = 0; i < 16; i++) {
        const s = tls.connect({ host: '127.0.0.1', port: 27500, rejectUnauthorized: false }, () => {
          s.write('GET ${path} HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n');
          s.pause();
          if (++open === 16) setTimeout(() => get((status) => {
            console.log('17th: ' + status);
            fs.writeFileSync('${marker}', status);
            setTimeout(() => process.exit(0), 8000);
          }), 500);
        });
        s.on('error', () => {});
      }`;
    const holder = run(['node', '-e', script], { user: 'plainuser' });
    try {
      await waitFor(async () => (await run(['test', '-e', marker])).code === 0, "plainuser's 17th connection", 20000, 200);
      const fetched = await run(['curl', '-k', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `https://localhost:27500${path}`]);
      assert.equal(fetched.stdout, '200', describeRun("root's curl while plainuser holds its share", fetched));
    } finally {
      const held = await holder;
      assert.match(held.stdout, /^17th: 503$/m, describeRun("plainuser's connections", held));
      await ok(['passimctl', 'unpublish', sha256(content)]);
    }
  });

  test('passim.socket is enabled and active with the service, listening on loopback only', async () => {
    assert.equal((await ok(['systemctl', 'is-enabled', 'passim.socket'])).trim(), 'enabled');
    assert.equal((await ok(['systemctl', 'is-active', 'passim.socket'])).trim(), 'active');
    const listen = await ok(['systemctl', 'show', '-p', 'Listen', '--value', 'passim.socket']);
    assert.deepEqual(listen.trim().split(/\s+/).sort(), ['127.0.0.1:27500', '(Stream)', '(Stream)', '[::1]:27500'].sort());
  });

  describe('idle exit (IdleTimeout=3) and socket activation', () => {
    /** @type {Buffer} */
    let originalConf;
    const IDLE_S = 3;
    const isActive = async () => (await run(['systemctl', 'is-active', 'passim.service'])).stdout.trim();
    /** Waits until passim.service went inactive by itself; fails with its journal. */
    async function waitIdleExit(/** @type {string} */ what) {
      await waitFor(async () => (await isActive()) === 'inactive', what, 30000, 250).catch(async (err) => {
        const journal = await run(['journalctl', '--no-pager', '-n', '30', '-u', 'passim', '-u', 'passim.socket']);
        throw new Error(`${err.message}\n--- journal:\n${journal.stdout}`);
      });
    }

    before(async () => {
      const conf = container.rootPath('/etc/passim.conf');
      originalConf = await readFile(conf);
      await writeFile(conf, `${originalConf}\nIdleTimeout=${IDLE_S}\n`);
      // Nothing published: the earlier tests' items go.
      for (const hash of await hashes()) await ok(['passimctl', 'unpublish', hash]);
      await ok(['systemctl', 'reset-failed', 'passim']);
      await ok(['systemctl', 'restart', 'passim']);
    });

    after(async () => {
      await writeFile(container.rootPath('/etc/passim.conf'), originalConf);
      await run(['systemctl', 'reset-failed', 'passim']);
      await ok(['systemctl', 'restart', 'passim']);
    });

    test('with nothing published the service exits by itself, and the socket stays', async () => {
      await waitIdleExit('passim.service to exit when idle');
      assert.equal(await show('Result'), 'success');
      assert.equal((await ok(['systemctl', 'is-active', 'passim.socket'])).trim(), 'active');
      const journal = await ok(['journalctl', '--no-pager', '-o', 'cat', '-u', 'passim']);
      assert.match(journal, /exiting until the next request or call/);
    });

    test('curl https://localhost:27500/ starts it again and gets its answer', async () => {
      const missing = sha256('not published anywhere');
      const fetched = await run([
        'curl',
        '-k',
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        `https://localhost:27500/none.bin?sha256=${missing}`,
      ]);
      // passimd itself answered: a 404 for a hash nobody has.
      assert.equal(fetched.stdout, '404', describeRun('curl (socket activation)', fetched));
      await waitIdleExit('passim.service to exit again after the request');
    });

    test('a D-Bus call starts it again and gets its answer', async () => {
      const activated = await getProperty('Status');
      assert.equal(activated.code, 0, describeRun('busctl call (activation after an idle exit)', activated));
      assert.equal(activated.stdout.trim(), 'v u 3');
      await waitIdleExit('passim.service to exit again after the call');
    });

    test('with an item published it stays up; the last unpublish lets it exit', async () => {
      const content = 'kept while published';
      await putFile(`${FILES}/kept.txt`, content);
      await ok(['passimctl', 'publish', `${FILES}/kept.txt`]);
      const pid = await show('MainPID');
      await new Promise((resolve) => setTimeout(resolve, IDLE_S * 3 * 1000));
      assert.equal(await isActive(), 'active');
      assert.equal(await show('MainPID'), pid, 'the same process all along');
      await ok(['passimctl', 'unpublish', sha256(content)]);
      await waitIdleExit('passim.service to exit once nothing is published');
    });
  });

  test(`systemd-analyze security passim.service (online) is not worse than ${MAX_EXPOSURE}`, async () => {
    const analysis = await run(['systemd-analyze', 'security', '--no-pager', 'passim.service']);
    const match = /Overall exposure level for passim\.service: (\d+(?:\.\d+)?)/.exec(analysis.stdout);
    assert.ok(match, describeRun('systemd-analyze security passim.service', analysis));
    const exposure = Number(match[1]);
    console.log(`systemd test: online exposure ${exposure}`);
    assert.ok(exposure <= MAX_EXPOSURE, `exposure ${exposure} > ${MAX_EXPOSURE}:\n${analysis.stdout}`);
  });

  test('no seccomp kill in the journal', async () => {
    const journal = await ok(['journalctl', '--no-pager', '-o', 'short-monotonic']);
    assert.match(journal, /passimd\[\d+\]: serving \d+ items/, "the journal has none of passimd's lines: nothing to check");
    const killed = journal.split('\n').filter((line) => /SECCOMP|audit: type=1326|code=killed, status=31\/SYS/.test(line));
    assert.deepEqual(killed, []);
    assert.doesNotMatch(await show('ExecMainStatus'), /^31$/);
    // journald in a container has no /dev/kmsg; the kernel's own audit lines for the container's processes are
    // in the host's log.
    // Only lines since this test file started, for node or passimd.
    const dmesg = await runProcess('dmesg', []);
    if (dmesg.code === 0) {
      const kernel = dmesg.stdout.split('\n').filter((line) => {
        const time = /^\[\s*(\d+\.\d+)\]/.exec(line);
        return time && Number(time[1]) >= bootUptime && /type=1326|SECCOMP/.test(line) && /comm="(node|passimd)"/.test(line);
      });
      assert.deepEqual(kernel, []);
    }
  });
});
