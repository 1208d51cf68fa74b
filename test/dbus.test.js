// The org.freedesktop.Passim D-Bus API of a real passimd on a private system bus.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import dbus from 'dbus-next';
import { ROOT, connect, startBus, startDaemon } from './lib/harness.js';
import { waitFor } from './lib/process.js';
import { call, expectDBusError, fetchItem, getAllProperties, getItems, getProperty, publish } from './lib/passim.js';
import { EXISTS, INVALID_ARGS, INVALID_DATA, NOT_FOUND, PERMISSION_DENIED } from './lib/dbus-errors.js';

const { Variant } = dbus;
const execFileAsync = promisify(execFile);
const VERSION = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).version;

const sha256 = (/** @type {string | Buffer} */ data) => createHash('sha256').update(data).digest('hex');

/** @type {import('./lib/harness.js').Bus} */
let bus;
/** @type {string} */
let scratch;

before(async () => {
  bus = await startBus();
  scratch = await mkdtemp(join(tmpdir(), 'passim-dbus-test-'));
});

after(async () => {
  await bus?.stop();
  await rm(scratch, { recursive: true, force: true });
});

/**
 * Writes `content` to `name` in the scratch folder; returns its path.
 * @param {string} name
 * @param {string | Buffer} content
 */
async function writeScratch(name, content) {
  const path = join(scratch, name);
  await writeFile(path, content);
  return path;
}

describe('properties and introspection', () => {
  /** @type {import('./lib/harness.js').Daemon} */
  let daemon;
  /** @type {import('dbus-next').MessageBus} */
  let client;
  before(async () => {
    daemon = await startDaemon(bus);
    client = await connect(bus);
  });
  after(async () => {
    client?.disconnect();
    await daemon?.cleanup();
  });

  test('every property has its documented value', async () => {
    const props = await getAllProperties(client);
    assert.deepEqual(Object.keys(props).sort(), [
      'CarbonSaving',
      'DaemonVersion',
      'DownloadSaving',
      'ItemCount',
      'MaxConnections',
      'MaxStorageSize',
      'MaxUploadRate',
      'Name',
      'Neighbours',
      'Status',
      'Traffic',
      'Uri',
    ]);
    assert.equal(props.DaemonVersion, VERSION);
    assert.equal(props.Uri, `https://localhost:${daemon.port}/`);
    assert.match(props.Name, /^Passim-[0-9A-F]{4}$/);
    assert.equal(props.Status, 3);
    assert.equal(props.DownloadSaving, 0n);
    assert.equal(props.CarbonSaving, 0);
    assert.equal(props.ItemCount, 0);
    assert.deepEqual(props.Neighbours, [], 'no Avahi on this bus: no neighbours');
    assert.ok(Array.isArray(props.Traffic));
    for (const day of props.Traffic) assert.match(day[0], /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(await getProperty(client, 'Status'), 3);
  });

  test('properties are read-only and unknown ones are errors', async () => {
    const set = await expectDBusError(
      call(client, 'Set', 'ssv', ['org.freedesktop.Passim', 'Name', new Variant('s', 'x')], {
        interface: 'org.freedesktop.DBus.Properties',
      }),
    );
    assert.equal(set.type, INVALID_ARGS);
    const unknown = await expectDBusError(getProperty(client, 'NoSuchThing'));
    assert.equal(unknown.type, 'org.freedesktop.DBus.Error.InvalidArgs');
  });

  test('introspection is the shipped XML and matches what the daemon exports', async () => {
    const [xml] = await call(client, 'Introspect', '', [], { interface: 'org.freedesktop.DBus.Introspectable' });
    const shipped = await readFile(join(ROOT, 'dbus', 'org.freedesktop.Passim.xml'), 'utf8');
    assert.match(shipped, /<doc:doc>/, 'the shipped file carries doc comments');
    const members = (/** @type {string} */ text) =>
      [...text.matchAll(/<(property|method|signal|arg) ([^>]*?)\/?>/g)].map((m) => m[0].replace(/\s+/g, ' '));
    const ours = (/** @type {string} */ text) =>
      text.slice(
        text.indexOf('<interface name="org.freedesktop.Passim">'),
        text.indexOf('</interface>', text.indexOf('<interface name="org.freedesktop.Passim">')),
      );
    assert.deepEqual(members(ours(xml)), members(ours(shipped)), 'Introspect serves dbus/org.freedesktop.Passim.xml');
    const declared = [...shipped.matchAll(/<property name="([^"]+)"/g)].map((m) => m[1]).sort();
    assert.deepEqual(declared, Object.keys(await getAllProperties(client)).sort());
    assert.doesNotMatch(xml, /doc:/);

    const { stdout } = await execFileAsync('busctl', [`--address=${bus.address}`, 'introspect', 'org.freedesktop.Passim', '/']);
    for (const member of ['.GetItems', '.Publish', '.Unpublish', '.Changed', '.DaemonVersion', '.CarbonSaving']) {
      assert.ok(stdout.includes(member), `busctl introspect shows ${member}`);
    }
    assert.match(stdout, /\.Publish\s+method\s+ha\{sv\}/);
  });

  test('an unknown method is UnknownMethod', async () => {
    const err = await expectDBusError(call(client, 'Frobnicate'));
    assert.equal(err.type, 'org.freedesktop.DBus.Error.UnknownMethod');
  });
});

describe('Publish, GetItems and Unpublish', () => {
  /** @type {import('./lib/harness.js').Daemon} */
  let daemon;
  /** @type {import('dbus-next').MessageBus} */
  let client;
  before(async () => {
    daemon = await startDaemon(bus, { configText: 'MaxItemSize=2000000000\n' });
    client = await connect(bus);
  });
  after(async () => {
    client?.disconnect();
    await daemon?.cleanup();
  });

  const storedFiles = async () => (await readdir(daemon.dataDir)).sort();

  test('a small file is stored under its hash with every attribute, and Changed is emitted', async () => {
    const content = 'hello passim\n';
    const path = await writeScratch('hello.txt', content);
    let changed = 0;
    const onMessage = (/** @type {import('dbus-next').Message} */ msg) => {
      if (msg.member === 'Changed' && msg.interface === 'org.freedesktop.Passim') changed++;
    };
    await call(client, 'AddMatch', 's', ["type='signal',interface='org.freedesktop.Passim',member='Changed'"], {
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
    });
    client.on('message', onMessage);
    const before = Math.floor(Date.now() / 1000);
    await publish(client, path, { filename: 'hello.txt', 'max-age': 600, 'share-limit': 3 });
    const hash = sha256(content);
    const item = (await getItems(client)).find((i) => i.hash === hash);
    assert.ok(item, 'GetItems lists the new item');
    assert.equal(item.filename, 'hello.txt');
    assert.equal(item.cmdline, 'node');
    assert.equal(item['max-age'], 600);
    assert.equal(item['share-limit'], 3);
    assert.equal(item.size, BigInt(content.length));
    assert.ok(!('share-count' in item), 'zero share-count is left out');
    assert.ok(!('flags' in item), 'zero flags are left out');
    assert.ok(item.ctime >= BigInt(before) && item.ctime <= BigInt(Math.floor(Date.now() / 1000) + 1));
    assert.deepEqual(Object.keys(item).sort(), ['cmdline', 'ctime', 'filename', 'hash', 'max-age', 'share-limit', 'size']);
    assert.ok((await storedFiles()).includes(`${hash}-hello.txt`));
    await waitFor(() => changed > 0, 'the Changed signal');
    client.off('message', onMessage);
  });

  test('an empty file can be published', async () => {
    const path = await writeScratch('empty.bin', '');
    await publish(client, path, { filename: 'empty.bin' });
    const item = (await getItems(client)).find((i) => i.filename === 'empty.bin');
    assert.ok(item);
    assert.equal(item.hash, sha256(''));
    assert.ok(!('size' in item), 'zero size is left out');
    assert.equal(item['max-age'], 86400, 'default max-age');
    assert.equal(item['share-limit'], 5, 'default share-limit');
  });

  test('a 1 GiB file streams through with bounded memory', async () => {
    const path = join(scratch, 'big.img');
    await writeFile(path, '');
    await truncate(path, 1024 * 1024 * 1024); // sparse: zeros, hashed like any content
    const peak = async () => Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${daemon.pid}/status`, 'utf8'))?.[1]) * 1024;
    const peakBefore = await peak();
    await publish(client, path, { filename: 'big.img' });
    const growth = (await peak()) - peakBefore;
    assert.ok(growth < 64 * 1024 * 1024, `peak RSS grew by ${(growth / 1048576).toFixed(1)} MiB`);
    const item = (await getItems(client)).find((i) => i.filename === 'big.img');
    assert.ok(item);
    assert.equal(item.size, 1024n * 1024n * 1024n);
    assert.equal(item.hash, '49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14');
    await call(client, 'Unpublish', 's', [item.hash]);
    await rm(path);
  });

  test('each Publish gets its own descriptor while other calls arrive in the same reads', async () => {
    // dbus-next alone hands a message every descriptor read so far: a Publish whose bytes arrive together with
    // the end of another call then loses its fd. Flood the daemon with calls while publishing.
    const flooder = await connect(bus);
    let flooding = true;
    const flood = (async () => {
      while (flooding) await Promise.all(Array.from({ length: 50 }, () => call(flooder, 'GetItems')));
    })();
    try {
      const paths = [];
      for (let i = 0; i < 40; i++) paths.push(await writeScratch(`fd-${i}.txt`, `descriptor ${i}`));
      await Promise.all(paths.map((path, i) => publish(client, path, { filename: `fd-${i}.txt` })));
      const items = await getItems(client);
      for (let i = 0; i < 40; i++)
        assert.ok(
          items.some((item) => item.hash === sha256(`descriptor ${i}`)),
          `fd-${i}.txt published`,
        );
    } finally {
      flooding = false;
      await flood;
      flooder.disconnect();
    }
    for (let i = 0; i < 40; i++) await call(client, 'Unpublish', 's', [sha256(`descriptor ${i}`)]);
  });

  test('every refusal has a proper error name and leaves no file behind', async () => {
    const path = await writeScratch('refused.txt', 'refused content');
    const files = await storedFiles();
    /** @type {[Record<string, unknown>, string, RegExp][]} */
    const cases = [
      [{}, 'org.freedesktop.DBus.Error.InvalidArgs', /filename/],
      [{ filename: '' }, 'org.freedesktop.DBus.Error.InvalidArgs', /filename/],
      [{ filename: 'a/b.txt' }, 'org.freedesktop.DBus.Error.InvalidArgs', /./],
      [{ filename: 'bad\nname.txt' }, 'org.freedesktop.DBus.Error.InvalidArgs', /./],
      [{ filename: 'x.txt', 'share-limit': 2, 'share-count': 2 }, 'org.freedesktop.DBus.Error.InvalidArgs', /share/],
      [{ filename: 'x.txt', 'max-age': new Variant('s', 'soon') }, 'org.freedesktop.DBus.Error.InvalidArgs', /max-age/],
    ];
    for (const [attrs, name, text] of cases) {
      const err = await expectDBusError(publish(client, path, attrs));
      assert.equal(err.type, name, `${JSON.stringify(attrs)} → ${err.type}: ${err.text}`);
      assert.match(err.text, text);
    }
    assert.deepEqual(await storedFiles(), files);
  });

  test('publishing a hash twice is refused with Exists', async () => {
    const path = await writeScratch('twice.txt', 'twice');
    await publish(client, path, { filename: 'twice.txt' });
    const files = await storedFiles();
    const err = await expectDBusError(publish(client, path, { filename: 'other-name.txt' }));
    assert.equal(err.type, EXISTS);
    assert.ok(err.text.includes(sha256('twice')));
    assert.deepEqual(await storedFiles(), files);
  });

  test('ItemCount follows publishes and unpublishes, and PropertiesChanged carries each new value', async () => {
    /** @type {number[]} */
    const signalled = [];
    const onMessage = (/** @type {import('dbus-next').Message} */ msg) => {
      if (msg.member !== 'PropertiesChanged' || msg.body[0] !== 'org.freedesktop.Passim') return;
      const count = msg.body[1].ItemCount;
      if (count) signalled.push(count.value);
    };
    const rule = "type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'";
    const busDaemon = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' };
    await call(client, 'AddMatch', 's', [rule], busDaemon);
    client.on('message', onMessage);
    try {
      const before = await getProperty(client, 'ItemCount');
      assert.equal(before, (await getItems(client)).length);
      const path = await writeScratch('counted.txt', 'counted');
      await publish(client, path, { filename: 'counted.txt' });
      assert.equal(await getProperty(client, 'ItemCount'), before + 1);
      await call(client, 'Unpublish', 's', [sha256('counted')]);
      assert.equal(await getProperty(client, 'ItemCount'), before);
      await waitFor(() => signalled.length >= 2, 'two PropertiesChanged with ItemCount');
      assert.deepEqual(signalled, [before + 1, before]);
    } finally {
      client.off('message', onMessage);
      await call(client, 'RemoveMatch', 's', [rule], busDaemon);
    }
  });

  test('Unpublish removes file and item; an unknown hash is NotFound and named', async () => {
    const path = await writeScratch('gone.txt', 'soon gone');
    await publish(client, path, { filename: 'gone.txt' });
    const hash = sha256('soon gone');
    await call(client, 'Unpublish', 's', [hash]);
    assert.ok(!(await getItems(client)).some((i) => i.hash === hash));
    assert.ok(!(await storedFiles()).some((f) => f.startsWith(hash)));
    const err = await expectDBusError(call(client, 'Unpublish', 's', [hash]));
    assert.equal(err.type, NOT_FOUND);
    assert.ok(err.text.includes(hash));
  });

  test('a next-reboot item is disabled and refused over HTTP with 423', async () => {
    const path = await writeScratch('reboot.txt', 'after reboot');
    await publish(client, path, { filename: 'reboot.txt', flags: 2n });
    const hash = sha256('after reboot');
    const item = (await getItems(client)).find((i) => i.hash === hash);
    assert.ok(item);
    assert.equal(item.flags, 3n, 'disabled and next-reboot');
    assert.equal((await fetchItem(daemon.port, 'reboot.txt', hash)).status, 423);
  });
});

describe('limits and persistence', () => {
  test('MaxItemSize is enforced, the error names the limit, nothing is left', async () => {
    const daemon = await startDaemon(bus, { configText: 'MaxItemSize=1000\n' });
    const client = await connect(bus);
    try {
      const path = await writeScratch('large.bin', Buffer.alloc(1001, 7));
      const err = await expectDBusError(publish(client, path, { filename: 'large.bin' }));
      assert.equal(err.type, INVALID_DATA);
      assert.match(err.text, /1000/);
      assert.deepEqual(await readdir(daemon.dataDir), []);
      await publish(client, await writeScratch('fits.bin', Buffer.alloc(1000, 7)), { filename: 'fits.bin' });
    } finally {
      client.disconnect();
      await daemon.cleanup();
    }
  });

  test('a restart keeps items, attributes, share-count and savings; the share-limit deletes', async () => {
    const first = await startDaemon(bus);
    let client = await connect(bus);
    const content = Buffer.alloc(4096, 1);
    const hash = sha256(content);
    let second;
    try {
      await publish(client, await writeScratch('kept.bin', content), { filename: 'kept.bin', 'max-age': 3600, 'share-limit': 3 });
      const got = await fetchItem(first.port, 'kept.bin', hash);
      assert.equal(got.status, 200);
      assert.equal(sha256(got.body), hash);
      await waitFor(async () => (await getItems(client))[0]['share-count'] === 1, 'share-count 1');
      assert.equal(await getProperty(client, 'DownloadSaving'), 4096n);
      const beforeRestart = await getItems(client);
      client.disconnect();
      await first.stop();

      second = await startDaemon(bus, { localStateDir: first.localStateDir, sysconfDir: first.sysconfDir, port: first.port });
      client = await connect(bus);
      assert.deepEqual(await getItems(client), beforeRestart);
      assert.equal(await getProperty(client, 'DownloadSaving'), 4096n);
      const carbon = await getProperty(client, 'CarbonSaving');
      assert.ok(Math.abs(carbon - ((4096 / 1048576) * 0.026367) / 1024) < 1e-15);

      // Two more completed transfers reach the share-limit of 3: the item goes.
      for (let i = 0; i < 2; i++) assert.equal((await fetchItem(second.port, 'kept.bin', hash)).status, 200);
      await waitFor(async () => (await getItems(client)).length === 0, 'deletion at the share-limit');
      assert.deepEqual(await readdir(second.dataDir), []);
      // Audit lines are written after the operation, without holding it up.
      const shares = (/** @type {string} */ text) => text.split('\n').filter((l) => / SHARE /.test(l)).length;
      const auditLog = second.auditLog;
      await waitFor(async () => shares(await readFile(auditLog, 'utf8')) >= 3, 'the third SHARE line');
      const audit = await readFile(auditLog, 'utf8');
      assert.match(audit, / PBLSH .*hash=[0-9a-f]{64}/);
      assert.equal(shares(audit), 3);
    } finally {
      client.disconnect();
      await second?.cleanup();
      await first.cleanup();
    }
  });

  test('items past their max-age are deleted at start', async () => {
    const first = await startDaemon(bus);
    let client = await connect(bus);
    let second;
    try {
      await publish(client, await writeScratch('short.txt', 'short-lived'), { filename: 'short.txt', 'max-age': 1 });
      await publish(client, await writeScratch('long.txt', 'long-lived'), { filename: 'long.txt', 'max-age': 3600 });
      client.disconnect();
      await first.stop();
      await new Promise((r) => setTimeout(r, 2100));
      second = await startDaemon(bus, { localStateDir: first.localStateDir, sysconfDir: first.sysconfDir, port: first.port });
      client = await connect(bus);
      assert.deepEqual(
        (await getItems(client)).map((i) => i.filename),
        ['long.txt'],
      );
    } finally {
      client.disconnect();
      await second?.cleanup();
      await first.cleanup();
    }
  });
});

/**
 * Runs test/lib/call-as.js as `uid` against `bus`; resolves with its JSON answer.
 * @param {number} uid
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<any>} { ok: true, result } or { ok: false, name, text }
 */
export function callAs(uid, args, env = {}) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(ROOT, 'test', 'lib', 'call-as.js'), ...args],
      { uid, gid: uid, env: { ...process.env, ...bus.env, ...env } },
      (err, stdout, stderr) => {
        if (!stdout) reject(err ?? new Error(`call-as.js printed nothing: ${stderr}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

describe('privileges without --insecure', () => {
  const NOBODY = 65534;
  /** @type {import('./lib/harness.js').Daemon} */
  let daemon;
  /** @type {import('dbus-next').MessageBus} */
  let client;
  before(async () => {
    daemon = await startDaemon(bus, { insecure: false });
    client = await connect(bus);
    const { chmod } = await import('node:fs/promises');
    await chmod(scratch, 0o755);
  });
  after(async () => {
    client?.disconnect();
    await daemon?.cleanup();
  });

  test('root may publish and unpublish', async () => {
    const path = await writeScratch('root.txt', 'by root');
    await publish(client, path, { filename: 'root.txt' });
    await call(client, 'Unpublish', 's', [sha256('by root')]);
    assert.deepEqual(await readdir(daemon.dataDir), []);
  });

  test('another user is refused with permission-denied and nothing changes, but may read', async () => {
    const path = await writeScratch('user.txt', 'by user');
    const { chmod } = await import('node:fs/promises');
    await chmod(path, 0o644);
    const denied = await callAs(NOBODY, ['publish', path, 'user.txt']);
    assert.equal(denied.ok, false);
    assert.equal(denied.name, PERMISSION_DENIED);
    assert.match(denied.text, /root/);
    assert.deepEqual(await readdir(daemon.dataDir), []);

    const kept = await writeScratch('kept.txt', 'kept');
    await publish(client, kept, { filename: 'kept.txt' });
    const refused = await callAs(NOBODY, ['unpublish', sha256('kept')]);
    assert.equal(refused.name, PERMISSION_DENIED);
    assert.deepEqual(await readdir(daemon.dataDir), [`${sha256('kept')}-kept.txt`]);

    assert.deepEqual(await callAs(NOBODY, ['getitems']), { ok: true, result: 1 });
    assert.deepEqual(await callAs(NOBODY, ['property', 'Status']), { ok: true, result: '3' });
  });
});

describe('lifecycle', () => {
  test('losing the system bus ends the daemon with an error instead of leaving it deaf', async () => {
    const ownBus = await startBus();
    const daemon = await startDaemon(ownBus);
    try {
      await ownBus.stop();
      const { code } = await daemon.exited;
      assert.equal(code, 1);
      assert.match(daemon.output(), /lost the system bus/);
    } finally {
      await daemon.cleanup();
    }
  });

  test('SIGTERM shuts down cleanly and --version prints the version', async () => {
    const daemon = await startDaemon(bus);
    await daemon.stop('SIGTERM');
    assert.deepEqual(await daemon.exited, { code: 0, signal: null });
    await daemon.cleanup();
    const { stdout } = await execFileAsync(process.execPath, [join(ROOT, 'bin', 'passimd'), '--version']);
    assert.equal(stdout.trim(), VERSION);
  });
});
