// Our passimd against the ORIGINAL clients from Debian unstable, run from the root .ci/debian-root builds
// (test/lib/debian-root.js): every command of the original `passim` tool, and libpassim through GObject
// introspection (test/fixtures/libpassim_client.py). Effects are checked through our daemon: GetItems, the files
// in its store, HTTPS downloads hashed here; error names are read off the bus with dbus-monitor, because the
// original tool prints only the message.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dbus from 'dbus-next';
import { ROOT, connect, startBus, startDaemon } from './lib/harness.js';
import { MONITOR_POLICY, startErrorMonitor } from './lib/bus-monitor.js';
import { SID_ROOT, requireRoot, runInRoot } from './lib/debian-root.js';
import { fetchItem, getItems, getProperty } from './lib/passim.js';
import { EXISTS, INVALID_ARGS, INVALID_DATA, NOT_FOUND, PERMISSION_DENIED } from './lib/dbus-errors.js';

const sha256 = (/** @type {Buffer} */ data) => createHash('sha256').update(data).digest('hex');

/**
 * What test/fixtures/libpassim_client.py prints: the action's result (its shape depends on the action), or the
 * GError with which GIOErrorEnum and GDBusError values it matches.
 * @typedef {{ ok: true, result: any } | { ok: false, error: LibpassimError }} LibpassimAnswer
 */
/** @typedef {{ domain: string, code: number, message: string, matches: Record<string, boolean>, dbus_matches: Record<string, boolean> }} LibpassimError */

const MAX_ITEM_SIZE = 256 * 1024;
const WORK_IN_ROOT = '/tmp/work';
const FIXTURES_IN_ROOT = '/tmp/fixtures';
const NOBODY = 65534;

/**
 * The shared set-up of both suites: a bus root may monitor, our passimd on it, the error monitor, a work folder
 * every user can read that appears at /tmp/work inside the root, and helpers to run the original tools.
 * @param {import('./lib/harness.js').DaemonOptions} daemonOptions
 */
function realClients(daemonOptions) {
  /**
   * What setUp() starts, set before any test runs (tearDown copes with a setUp that failed half-way).
   * @typedef {object} Started
   * @property {string} root
   * @property {import('./lib/harness.js').Bus} bus
   * @property {import('./lib/harness.js').Daemon} daemon
   * @property {import('dbus-next').MessageBus} client
   * @property {Awaited<ReturnType<typeof startErrorMonitor>>} monitor
   * @property {string} work
   * @property {string} daemonName our passimd's unique bus name
   */
  /**
   * A file made by makeFile().
   * @typedef {{ name: string, path: string, inRoot: string, content: Buffer, hash: string }} WorkFile
   */
  const ctx = {
    .../** @type {Started} */ ({}),
    files: 0,
    async setUp() {
      ctx.root = requireRoot(SID_ROOT);
      ctx.bus = await startBus({ extraPolicy: MONITOR_POLICY });
      ctx.daemon = await startDaemon(ctx.bus, { configText: `MaxItemSize=${MAX_ITEM_SIZE}\n`, ...daemonOptions });
      ctx.client = await connect(ctx.bus);
      ctx.monitor = await startErrorMonitor(ctx.bus);
      ctx.work = await mkdtemp(join(tmpdir(), 'passim-real-clients-'));
      await chmod(ctx.work, 0o755);
      const reply = await ctx.client.call(
        new dbus.Message({
          destination: 'org.freedesktop.DBus',
          path: '/org/freedesktop/DBus',
          interface: 'org.freedesktop.DBus',
          member: 'GetNameOwner',
          signature: 's',
          body: ['org.freedesktop.Passim'],
        }),
      );
      assert.ok(reply, 'GetNameOwner answered');
      ctx.daemonName = reply.body[0];
    },
    async tearDown() {
      await ctx.monitor?.stop();
      ctx.client?.disconnect();
      await ctx.daemon?.cleanup();
      await ctx.bus?.stop();
      if (ctx.work) await rm(ctx.work, { recursive: true, force: true });
    },
    /**
     * How the original tools run from the root: on our bus, in the work folder.
     * @param {import('./lib/debian-root.js').RootOptions} extra
     * @returns {import('./lib/debian-root.js').RootOptions}
     */
    options(extra = {}) {
      return {
        bus: ctx.bus,
        cwd: WORK_IN_ROOT,
        binds: [
          { source: ctx.work, target: WORK_IN_ROOT },
          { source: join(ROOT, 'test', 'fixtures'), target: FIXTURES_IN_ROOT, readOnly: true },
        ],
        ...extra,
      };
    },
    /**
     * The original `passim` tool; options: uid/gid. Resolves with { code, stdout, stderr }.
     * @param {string[]} args
     * @param {import('./lib/debian-root.js').RootOptions} [extra]
     */
    passim(args, extra) {
      return runInRoot(ctx.root, '/usr/bin/passim', args, ctx.options(extra));
    },
    /**
     * test/fixtures/libpassim_client.py with the root's python3: its JSON answer ({ ok, result | error }).
     * @param {string[]} args
     * @param {import('./lib/debian-root.js').RootOptions} [extra]
     * @returns {Promise<LibpassimAnswer>}
     */
    async libpassim(args, extra) {
      const r = await runInRoot(ctx.root, '/usr/bin/python3', [`${FIXTURES_IN_ROOT}/libpassim_client.py`, ...args], ctx.options(extra));
      assert.equal(r.code, 0, `libpassim_client.py ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
      try {
        return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
      } catch {
        throw new Error(`libpassim_client.py ${args.join(' ')} printed no JSON:\n${r.stdout}${r.stderr}`);
      }
    },
    /**
     * A new file in the work folder: { name, path (host), inRoot (path inside the root), content, hash }.
     * @param {string} name
     * @returns {Promise<WorkFile>}
     */
    async makeFile(name, size = 4096) {
      const content = randomBytes(size);
      const dir = join(ctx.work, `f${++ctx.files}`);
      await mkdir(dir, { mode: 0o755 });
      await chmod(dir, 0o755);
      const path = join(dir, name);
      await writeFile(path, content, { mode: 0o644 });
      return { name, path, inRoot: `${WORK_IN_ROOT}/f${ctx.files}/${name}`, content, hash: sha256(content) };
    },
    /**
     * Runs `fn`, then returns the errors our daemon sent while it ran, as [{ name, text }].
     * @param {() => Promise<unknown>} fn
     */
    async daemonErrors(fn) {
      await ctx.monitor.sync();
      const before = ctx.monitor.errors().length;
      await fn();
      await ctx.monitor.sync();
      return ctx.monitor
        .errors()
        .slice(before)
        .filter((e) => e.sender === ctx.daemonName)
        .map(({ name, text }) => ({ name, text }));
    },
    /** Fails the coming test at once, with the daemon's output, when an earlier one killed our passimd. */
    assertAlive() {
      const { child } = ctx.daemon;
      assert.ok(
        child.exitCode === null && child.signalCode === null,
        `our passimd died in an earlier test (${child.exitCode ?? child.signalCode}):\n${ctx.daemon.output().slice(-3000)}`,
      );
    },
    /** @param {string} hash */
    async item(hash) {
      return (await getItems(ctx.client)).find((i) => i.hash === hash);
    },
    async storeFiles() {
      return (await readdir(ctx.daemon.dataDir).catch(() => [])).sort();
    },
    /**
     * Asserts our daemon serves `file` over HTTPS under `basename` with the right bytes.
     * @param {WorkFile} file
     */
    async assertServed(file, basename = file.name) {
      const { status, body } = await fetchItem(ctx.daemon.port, basename, file.hash);
      assert.equal(status, 200, `GET /${basename}?sha256=${file.hash}`);
      assert.equal(sha256(body), file.hash, `the bytes served for ${basename} hash right`);
    },
    /** @param {WorkFile} file */
    async assertStored(file, basename = file.name) {
      const stored = await readFile(join(ctx.daemon.dataDir, `${file.hash}-${basename}`));
      assert.ok(stored.equals(file.content), `the store holds ${file.hash}-${basename} with the published bytes`);
    },
  };
  return ctx;
}

describe('the original passim tool (Debian unstable) against our passimd', () => {
  const ctx = realClients({});
  before(() => ctx.setUp());
  beforeEach(() => ctx.assertAlive());
  after(() => ctx.tearDown());

  test('passim --help offers exactly the commands this suite runs', async () => {
    const r = await ctx.passim(['--help']);
    assert.equal(r.code, 0, r.stderr);
    // Command lines are indented by two and start with a lowercase word; `  passim [OPTION…]` is the usage line.
    const commands = [...r.stdout.matchAll(/^ {2}([a-z]+)\b/gm)]
      .map((m) => m[1])
      .filter((c) => c !== 'passim')
      .sort();
    assert.deepEqual(
      commands,
      ['download', 'dump', 'publish', 'status', 'unpublish'],
      `a new command in the original tool needs a test here:\n${r.stdout}`,
    );
    assert.match(r.stdout, /--next-reboot/);
    assert.match(r.stdout, /--version/);
  });

  test('passim --version prints its own version and our DaemonVersion', async () => {
    const r = await ctx.passim(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^client version: +0\.1\.\d+$/m);
    const version = await getProperty(ctx.client, 'DaemonVersion');
    assert.match(r.stdout, new RegExp(`^daemon version: +${version.replace(/\./g, '\\.')}$`, 'm'));
  });

  test('passim status prints our Name, Status and Uri; dump prints the same', async () => {
    const status = await ctx.passim(['status']);
    assert.equal(status.code, 0, status.stderr);
    const name = await getProperty(ctx.client, 'Name');
    const uri = await getProperty(ctx.client, 'Uri');
    assert.match(status.stdout, new RegExp(`^Name: +${name}$`, 'm'));
    assert.match(status.stdout, /^Status: +Running$/m);
    assert.equal(uri, ctx.daemon.uri);
    assert.match(status.stdout, new RegExp(`^URI: +${uri.replace(/[.]/g, '\\.')}$`, 'm'));
    const dump = await ctx.passim(['dump']);
    assert.equal(dump.code, 0, dump.stderr);
    assert.equal(dump.stdout, status.stdout);
  });

  test('passim publish FILE: stored, listed with the defaults, served with the right hash, shown by status', async () => {
    const file = await ctx.makeFile('firmware.cab', 64 * 1024);
    const r = await ctx.passim(['publish', file.inRoot]);
    assert.equal(r.code, 0, `passim publish failed:\n${r.stdout}${r.stderr}\n${ctx.daemon.output().slice(-2000)}`);
    assert.match(r.stdout, new RegExp(`^Published: ${file.hash} firmware\\.cab\\b`, 'm'));

    const item = await ctx.item(file.hash);
    assert.ok(item, 'GetItems lists the hash');
    assert.equal(item.filename, 'firmware.cab');
    assert.equal(item['max-age'], 86400);
    assert.equal(item['share-limit'], 5);
    assert.equal(Number(item.size), file.content.length);
    assert.equal(item.flags, undefined, 'no flags');
    assert.match(item.cmdline ?? '', /passim/, 'the caller is recorded as the passim tool');
    await ctx.assertStored(file);
    await ctx.assertServed(file);

    const status = await ctx.passim(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^${file.hash}$`, 'm'));
    assert.match(status.stdout, /Filename: +firmware\.cab$/m);
  });

  test('passim publish FILE MAX-AGE MAX-SHARE: max-age set; MAX-SHARE arrives as share-count, as the tool sends it', async () => {
    const file = await ctx.makeFile('aged.bin');
    const r = await ctx.passim(['publish', file.inRoot, '600', '3']);
    assert.equal(r.code, 0, r.stderr);
    // The tool's own summary of what it sent: share:<share-count>/<share-limit>.
    assert.match(r.stdout, /age:\d+\/600 share:3\/5\b/);
    const item = await ctx.item(file.hash);
    assert.ok(item, 'GetItems lists the hash');
    assert.equal(item['max-age'], 600);
    assert.equal(item['share-count'], 3);
    assert.equal(item['share-limit'], 5);
    await ctx.assertServed(file);
  });

  test('passim publish --next-reboot FILE: flagged next-reboot, held back (423) until then', async () => {
    const file = await ctx.makeFile('later.bin');
    const r = await ctx.passim(['publish', '--next-reboot', file.inRoot]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /flags:next-reboot/);
    const item = await ctx.item(file.hash);
    assert.ok(item, 'GetItems lists the hash');
    assert.equal(Number(item.flags) & 2, 2, 'the next-reboot flag (2) is set');
    await ctx.assertStored(file);
    assert.equal((await fetchItem(ctx.daemon.port, file.name, file.hash)).status, 423);
    const status = await ctx.passim(['status']);
    assert.match(status.stdout, /Flags: +.*Next Reboot/);
  });

  test('passim publish of a published file: exit 1, G_IO_ERROR_EXISTS on the bus, nothing changes', async () => {
    const file = await ctx.makeFile('twice.bin');
    assert.equal((await ctx.passim(['publish', file.inRoot])).code, 0);
    const storeBefore = await ctx.storeFiles();
    /** @type {import('./lib/process.js').RunResult | undefined} */
    let r;
    const errors = await ctx.daemonErrors(async () => {
      r = await ctx.passim(['publish', file.inRoot]);
    });
    assert.ok(r);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, new RegExp(file.hash), 'the message names the hash');
    assert.deepEqual(
      errors.map((e) => e.name),
      [EXISTS],
      `errors sent: ${JSON.stringify(errors)}`,
    );
    assert.deepEqual(await ctx.storeFiles(), storeBefore);
    await ctx.assertServed(file);
  });

  test('passim unpublish HASH: gone from GetItems, the store and HTTP; again → G_IO_ERROR_NOT_FOUND', async () => {
    const file = await ctx.makeFile('gone.bin');
    assert.equal((await ctx.passim(['publish', file.inRoot])).code, 0);
    const r = await ctx.passim(['unpublish', file.hash]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Unpublished: ${file.hash}`));
    assert.equal(await ctx.item(file.hash), undefined);
    assert.equal(
      (await ctx.storeFiles()).some((f) => f.startsWith(file.hash)),
      false,
      'the store no longer holds it',
    );
    assert.equal((await fetchItem(ctx.daemon.port, file.name, file.hash)).status, 404);

    /** @type {import('./lib/process.js').RunResult | undefined} */
    let again;
    const errors = await ctx.daemonErrors(async () => {
      again = await ctx.passim(['unpublish', file.hash]);
    });
    assert.ok(again);
    assert.equal(again.code, 1, again.stdout);
    assert.match(again.stderr, new RegExp(file.hash));
    assert.deepEqual(
      errors.map((e) => e.name),
      [NOT_FOUND],
      `errors sent: ${JSON.stringify(errors)}`,
    );
  });

  test('passim publish of a file over MaxItemSize: exit 1, G_IO_ERROR_INVALID_DATA, nothing stored', async () => {
    const file = await ctx.makeFile('huge.bin', MAX_ITEM_SIZE + 1);
    const storeBefore = await ctx.storeFiles();
    /** @type {import('./lib/process.js').RunResult | undefined} */
    let r;
    const errors = await ctx.daemonErrors(async () => {
      r = await ctx.passim(['publish', file.inRoot]);
    });
    assert.ok(r);
    assert.equal(r.code, 1, r.stdout);
    assert.deepEqual(
      errors.map((e) => e.name),
      [INVALID_DATA],
      `errors sent: ${JSON.stringify(errors)}`,
    );
    assert.equal(await ctx.item(file.hash), undefined);
    assert.deepEqual(await ctx.storeFiles(), storeBefore, 'no file (not even a partial one) is left in the store');
  });

  test('passim download of a hash no peer has: asks our daemon over HTTPS, gets 404, saves nothing', async () => {
    const file = await ctx.makeFile('nowhere.bin');
    const cwd = await mkdtemp(join(ctx.work, 'download-'));
    await chmod(cwd, 0o755);
    const r = await ctx.passim(['download', file.name, file.hash], { cwd: `${WORK_IN_ROOT}/${cwd.split('/').at(-1)}` });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, new RegExp(`Failed to download nowhere\\.bin from [^ ]+:${ctx.daemon.port}: Not Found`));
    assert.deepEqual(await readdir(cwd), []);
  });
});

describe('the original passim tool against our passimd with NeverShare=true (Status 5, unknown to it)', () => {
  const ctx = realClients({ configText: 'NeverShare=true\n' });
  before(() => ctx.setUp());
  beforeEach(() => ctx.assertAlive());
  after(() => ctx.tearDown());

  test('passim status still prints Name and Uri, and publishing works', async () => {
    assert.equal(await getProperty(ctx.client, 'Status'), 5);
    const status = await ctx.passim(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^Name: +${await getProperty(ctx.client, 'Name')}$`, 'm'));
    assert.match(status.stdout, /^URI: +https:\/\/localhost:/m);
    assert.match(status.stdout, /^Status: *$/m, 'libpassim has no name for 5: an empty field, no crash');
    const file = await ctx.makeFile('kept-local.bin');
    const published = await ctx.passim(['publish', file.inRoot]);
    assert.equal(published.code, 0, published.stderr);
    assert.ok((await getItems(ctx.client)).some((item) => item.hash === file.hash));
  });
});

describe('libpassim (Debian unstable, through GObject introspection) against our passimd', () => {
  const ctx = realClients({});
  before(() => ctx.setUp());
  beforeEach(() => ctx.assertAlive());
  after(() => ctx.tearDown());

  test('PassimClient.load reads our version, status, URI and name', async () => {
    const answer = await ctx.libpassim(['info']);
    assert.ok(answer.ok, JSON.stringify(answer));
    const info = answer.result;
    assert.equal(info.version, await getProperty(ctx.client, 'DaemonVersion'));
    assert.equal(info.status, 3, 'PASSIM_STATUS_RUNNING');
    assert.equal(info.uri, ctx.daemon.uri);
    assert.equal(info.name, await getProperty(ctx.client, 'Name'));
    assert.equal(info.download_saving, 0);
    assert.equal(info.carbon_saving, 0);
    assert.match(info.library_version, /^0\.1\.\d+$/);
  });

  test("publish from a GFile with basename, max-age and share-limit (the handle is libpassim's raw fd number)", async () => {
    const file = await ctx.makeFile('from-file.bin', 32 * 1024);
    const answer = await ctx.libpassim(['publish-file', file.inRoot, 'renamed.bin', '900', '2']);
    assert.ok(answer.ok, `${JSON.stringify(answer)}\n${ctx.daemon.output().slice(-2000)}`);
    const item = await ctx.item(file.hash);
    assert.ok(item, 'GetItems lists the hash');
    assert.equal(item.filename, 'renamed.bin');
    assert.equal(item['max-age'], 900);
    assert.equal(item['share-limit'], 2);
    assert.equal(Number(item.size), file.content.length);
    assert.match(item.cmdline ?? '', /python3/);
    await ctx.assertStored(file, 'renamed.bin');
    await ctx.assertServed(file, 'renamed.bin');
  });

  test('a second publish of the same file raises a GLib.Error matching G_IO_ERROR_EXISTS', async () => {
    const file = await ctx.makeFile('dup.bin');
    assert.ok((await ctx.libpassim(['publish-file', file.inRoot, file.name, '600', '5'])).ok);
    /** @type {LibpassimAnswer | undefined} */
    let answer;
    const errors = await ctx.daemonErrors(async () => {
      answer = await ctx.libpassim(['publish-file', file.inRoot, file.name, '600', '5']);
    });
    assert.ok(answer);
    assert.equal(answer.ok, false, 'the second publish fails');
    assert.equal(answer.error.matches.exists, true, `error.matches(G_IO_ERROR, G_IO_ERROR_EXISTS): ${JSON.stringify(answer.error)}`);
    assert.equal(answer.error.domain, 'g-io-error-quark');
    assert.deepEqual(
      errors.map((e) => e.name),
      [EXISTS],
    );
    await ctx.assertServed(file);
  });

  test('publish with passim_item_load_filename (hash, size and ctime sent along)', async () => {
    const file = await ctx.makeFile('loaded.bin');
    const answer = await ctx.libpassim(['publish-load', file.inRoot]);
    assert.ok(answer.ok, JSON.stringify(answer));
    assert.equal(answer.result.hash, file.hash, 'libpassim computed the same hash');
    const item = await ctx.item(file.hash);
    assert.ok(item, 'GetItems lists the hash');
    assert.equal(item.filename, 'loaded.bin');
    assert.equal(item['max-age'], 86400);
    assert.equal(item['share-limit'], 5);
    await ctx.assertServed(file);
  });

  test('publish from GBytes (libpassim passes a memfd)', async () => {
    const file = await ctx.makeFile('bytes.bin', 10000);
    const answer = await ctx.libpassim(['publish-bytes', file.inRoot, 'from-bytes.bin']);
    assert.ok(answer.ok, JSON.stringify(answer));
    const item = await ctx.item(file.hash);
    assert.ok(item, 'GetItems lists the hash');
    assert.equal(item.filename, 'from-bytes.bin');
    assert.equal(Number(item.size), 10000);
    await ctx.assertStored(file, 'from-bytes.bin');
    await ctx.assertServed(file, 'from-bytes.bin');
  });

  test('publish from a GUnixInputStream', async () => {
    const file = await ctx.makeFile('stream.bin', 20000);
    const answer = await ctx.libpassim(['publish-stream', file.inRoot, 'from-stream.bin']);
    assert.ok(answer.ok, JSON.stringify(answer));
    const item = await ctx.item(file.hash);
    assert.ok(item, 'GetItems lists the hash');
    assert.equal(item.filename, 'from-stream.bin');
    await ctx.assertServed(file, 'from-stream.bin');
  });

  test('publish with PASSIM_ITEM_FLAG_NEXT_REBOOT: flagged and held back', async () => {
    const file = await ctx.makeFile('reboot.bin');
    const answer = await ctx.libpassim(['publish-file', file.inRoot, file.name, '600', '5', 'next-reboot']);
    assert.ok(answer.ok, JSON.stringify(answer));
    const item = await ctx.item(file.hash);
    assert.ok(item, 'GetItems lists the hash');
    assert.equal(Number(item.flags) & 2, 2);
    assert.equal((await fetchItem(ctx.daemon.port, file.name, file.hash)).status, 423);
  });

  test('passim_client_get_items returns what GetItems has, field by field', async () => {
    const file = await ctx.makeFile('listed.bin', 5000);
    assert.ok((await ctx.libpassim(['publish-file', file.inRoot, file.name, '1200', '4'])).ok);
    const answer = await ctx.libpassim(['items']);
    assert.ok(answer.ok, JSON.stringify(answer));
    const ours = await getItems(ctx.client);
    assert.deepEqual(answer.result.map((/** @type {{ hash: string }} */ i) => i.hash).sort(), ours.map((i) => i.hash).sort());
    const listed = answer.result.find((/** @type {{ hash: string }} */ i) => i.hash === file.hash);
    assert.equal(listed.basename, file.name);
    assert.equal(listed.max_age, 1200);
    assert.equal(listed.share_limit, 4);
    assert.equal(listed.share_count, 0);
    assert.equal(listed.size, 5000);
    assert.equal(listed.flags, 0);
    assert.equal(listed.cmdline, 'python3');
    assert.ok(listed.ctime > 0, 'ctime is set');
  });

  test('unpublish removes the item; unpublishing an unknown hash matches G_IO_ERROR_NOT_FOUND', async () => {
    const file = await ctx.makeFile('unpub.bin');
    assert.ok((await ctx.libpassim(['publish-file', file.inRoot, file.name, '600', '5'])).ok);
    const answer = await ctx.libpassim(['unpublish', file.hash]);
    assert.ok(answer.ok, JSON.stringify(answer));
    assert.equal(await ctx.item(file.hash), undefined);
    assert.equal((await fetchItem(ctx.daemon.port, file.name, file.hash)).status, 404);

    /** @type {LibpassimAnswer | undefined} */
    let again;
    const errors = await ctx.daemonErrors(async () => {
      again = await ctx.libpassim(['unpublish', file.hash]);
    });
    assert.ok(again);
    assert.equal(again.ok, false);
    assert.equal(again.error.matches.not_found, true, JSON.stringify(again.error));
    assert.deepEqual(
      errors.map((e) => e.name),
      [NOT_FOUND],
    );
  });

  test('an item without a basename is refused with org.freedesktop.DBus.Error.InvalidArgs', async () => {
    const file = await ctx.makeFile('nameless.bin');
    /** @type {LibpassimAnswer | undefined} */
    let answer;
    const errors = await ctx.daemonErrors(async () => {
      answer = await ctx.libpassim(['publish-stream', file.inRoot, '']);
    });
    assert.ok(answer);
    assert.equal(answer.ok, false);
    assert.equal(answer.error.dbus_matches.invalid_args, true, JSON.stringify(answer.error));
    assert.deepEqual(
      errors.map((e) => e.name),
      [INVALID_ARGS],
    );
    assert.equal(await ctx.item(file.hash), undefined);
  });

  test('bytes over MaxItemSize are refused with G_IO_ERROR_INVALID_DATA and leave nothing', async () => {
    const file = await ctx.makeFile('too-big.bin', MAX_ITEM_SIZE + 4096);
    const storeBefore = await ctx.storeFiles();
    /** @type {LibpassimAnswer | undefined} */
    let answer;
    const errors = await ctx.daemonErrors(async () => {
      answer = await ctx.libpassim(['publish-bytes', file.inRoot, file.name]);
    });
    assert.ok(answer);
    assert.equal(answer.ok, false);
    assert.equal(answer.error.matches.invalid_data, true, JSON.stringify(answer.error));
    assert.deepEqual(
      errors.map((e) => e.name),
      [INVALID_DATA],
    );
    assert.deepEqual(await ctx.storeFiles(), storeBefore);
  });
});

describe('the original tools as an unprivileged user (uid 65534) against our passimd without --insecure', () => {
  // No polkitd on this bus: our daemon falls back to letting only root publish and unpublish.
  const ctx = realClients({ insecure: false });
  before(() => ctx.setUp());
  beforeEach(() => ctx.assertAlive());
  after(() => ctx.tearDown());
  const nobody = { uid: NOBODY, gid: NOBODY };

  test('passim publish as uid 65534 is refused with G_IO_ERROR_PERMISSION_DENIED and stores nothing', async () => {
    const file = await ctx.makeFile('sneaky.bin');
    const storeBefore = await ctx.storeFiles();
    /** @type {import('./lib/process.js').RunResult | undefined} */
    let r;
    const errors = await ctx.daemonErrors(async () => {
      r = await ctx.passim(['publish', file.inRoot], nobody);
    });
    assert.ok(r);
    assert.equal(r.code, 1, r.stdout);
    assert.notEqual(r.stderr.trim(), '', 'the tool prints the reason');
    assert.deepEqual(
      errors.map((e) => e.name),
      [PERMISSION_DENIED],
      `errors sent: ${JSON.stringify(errors)}`,
    );
    assert.equal(await ctx.item(file.hash), undefined);
    assert.deepEqual(await ctx.storeFiles(), storeBefore);
  });

  test('libpassim publish as uid 65534 raises a GLib.Error matching G_IO_ERROR_PERMISSION_DENIED', async () => {
    const file = await ctx.makeFile('sneaky2.bin');
    const answer = await ctx.libpassim(['publish-file', file.inRoot, file.name, '600', '5'], nobody);
    assert.equal(answer.ok, false);
    assert.equal(answer.error.matches.permission_denied, true, JSON.stringify(answer.error));
    assert.equal(await ctx.item(file.hash), undefined);
  });

  test('root publishes; passim unpublish as uid 65534 is refused and the item stays; status works for anyone', async () => {
    const file = await ctx.makeFile('kept.bin');
    const published = await ctx.passim(['publish', file.inRoot]);
    assert.equal(published.code, 0, `root may publish without polkit:\n${published.stderr}`);
    /** @type {import('./lib/process.js').RunResult | undefined} */
    let r;
    const errors = await ctx.daemonErrors(async () => {
      r = await ctx.passim(['unpublish', file.hash], nobody);
    });
    assert.ok(r);
    assert.equal(r.code, 1, r.stdout);
    assert.deepEqual(
      errors.map((e) => e.name),
      [PERMISSION_DENIED],
      `errors sent: ${JSON.stringify(errors)}`,
    );
    assert.ok(await ctx.item(file.hash), 'the item is still published');
    await ctx.assertServed(file);

    const status = await ctx.passim(['status'], nobody);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^${file.hash}$`, 'm'));
  });
});
