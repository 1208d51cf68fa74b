// passimctl against the real passimd on a private system bus, and `download` against a deliberately
// wrong (and a right) fake daemon on a separate private bus.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import dbus from 'dbus-next';
import { connect, runCli, startBus, startDaemon } from './lib/harness.js';
import { getItems } from './lib/passim.js';
import { loadOrCreateCredentials } from '../dist/daemon/tls.js';
import { silentLogger } from '../dist/shared/log.js';
import { VERSION } from '../dist/shared/version.js';

const { Message, Variant } = dbus;

const sha256 = (/** @type {string | Buffer} */ data) => createHash('sha256').update(data).digest('hex');

describe('passimctl with passimd', () => {
  /** @type {import('./lib/harness.js').Bus} */
  let bus;
  /** @type {import('./lib/harness.js').Daemon} */
  let daemon;
  /** @type {import('dbus-next').MessageBus} */
  let client;
  /** @type {string} */
  let work;

  before(async () => {
    bus = await startBus();
    daemon = await startDaemon(bus);
    client = await connect(bus);
    work = await mkdtemp(join(tmpdir(), 'passimctl-'));
  });

  after(async () => {
    client?.disconnect();
    await daemon?.cleanup();
    await bus?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /**
   * A fresh empty folder inside `work`, to see exactly which files a command leaves.
   * @param {string} name
   */
  async function emptyDir(name) {
    const dir = join(work, name);
    await mkdir(dir);
    return dir;
  }

  test('status prints name, status, savings, URI and says there are no items', async () => {
    const r = await runCli(bus, ['status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Name: +Passim-[0-9A-F]{4}$/m);
    assert.match(r.stdout, /^Status: +running$/m);
    assert.match(r.stdout, /^Download saving: +0 bytes$/m);
    assert.match(r.stdout, /^Carbon saving: +0\.000 kg CO₂e$/m);
    assert.match(r.stdout, new RegExp(`^URI: +${daemon.uri.replace(/[.]/g, '\\.')}$`, 'm'));
    assert.match(r.stdout, /No items published\./);
  });

  test('status --json prints one object with the documented keys', async () => {
    const r = await runCli(bus, ['status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(doc).sort(), [
      'carbonSaving',
      'downloadSaving',
      'itemCount',
      'items',
      'maxConnections',
      'maxStorageSize',
      'maxUploadRate',
      'name',
      'neighbours',
      'status',
      'traffic',
      'uri',
      'version',
    ]);
    assert.deepEqual(doc.neighbours, []);
    assert.ok(Array.isArray(doc.traffic));
    assert.equal(doc.maxUploadRate, 10 * 1024 * 1024, 'the default MaxUploadRate');
    assert.equal(doc.maxConnections, 64);
    assert.equal(doc.status, 'running');
    assert.equal(doc.uri, daemon.uri);
    assert.equal(doc.version, VERSION);
    assert.equal(doc.downloadSaving, 0);
    assert.equal(doc.carbonSaving, 0);
    assert.match(doc.name, /^Passim-[0-9A-F]{4}$/);
    assert.deepEqual(doc.items, []);
    assert.equal(doc.itemCount, 0);
  });

  test('dump is an alias of status', async () => {
    const [a, b] = [await runCli(bus, ['status']), await runCli(bus, ['dump'])];
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, a.stdout);
  });

  test('publish passes the file, sets max-age and share-limit, prints the hash; status and unpublish see it', async () => {
    const path = join(work, 'firmware.cab');
    const content = 'firmware payload\n'.repeat(1000);
    await writeFile(path, content);
    const hash = sha256(content);

    const r = await runCli(bus, ['publish', path, '600', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Published: firmware.cab ${hash}\n`);

    const item = (await getItems(client)).find((i) => i.hash === hash);
    assert.ok(item, 'GetItems lists the published hash');
    assert.equal(item.filename, 'firmware.cab');
    assert.equal(item.cmdline, 'passimctl', 'the daemon records the publishing program by name');
    assert.equal(item['max-age'], 600);
    assert.equal(item['share-limit'], 3);
    assert.equal(item['share-count'], undefined, 'MAX-SHARE must not set share-count');
    assert.equal(Number(item.size), content.length);
    assert.equal(item.flags, undefined);
    assert.equal(await readFile(join(daemon.dataDir, `${hash}-firmware.cab`), 'utf8'), content);

    const human = await runCli(bus, ['status']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`^${hash}$`, 'm'));
    assert.match(human.stdout, /^ {2}Filename: +firmware\.cab$/m);
    assert.match(human.stdout, /^ {2}Max age: +10 minutes$/m);
    assert.match(human.stdout, /^ {2}Shared: +0 of 3$/m);
    assert.match(human.stdout, /^ {2}Size: +17\.0 kB$/m);
    assert.match(human.stdout, /^ {2}Flags: +none$/m);
    assert.match(human.stdout, /^ {2}Published: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/m);

    const json = JSON.parse((await runCli(bus, ['status', '--json'])).stdout);
    const listed = json.items.find((/** @type {{ hash: string }} */ i) => i.hash === hash);
    assert.equal(listed.filename, 'firmware.cab');
    assert.equal(listed.shareLimit, 3);
    assert.equal(listed.maxAge, 600);
    assert.equal(listed.size, content.length);
    assert.ok(listed.ctime > 0);

    const u = await runCli(bus, ['unpublish', hash]);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(u.stdout, `Unpublished: ${hash}\n`);
    assert.equal(
      (await getItems(client)).some((i) => i.hash === hash),
      false,
    );
    assert.equal(existsSync(join(daemon.dataDir, `${hash}-firmware.cab`)), false);
  });

  test('publish --next-reboot marks the item next-reboot', async () => {
    const path = join(work, 'later.bin');
    await writeFile(path, 'after the reboot');
    const hash = sha256('after the reboot');
    const r = await runCli(bus, ['publish', path, '--next-reboot']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Published: later.bin ${hash}\n`);
    const item = (await getItems(client)).find((i) => i.hash === hash);
    assert.ok(item);
    assert.equal(Number(item.flags) & 2, 2);
    const human = await runCli(bus, ['status']);
    assert.match(human.stdout, /^ {2}Flags: +(disabled,)?next-reboot$/m);
    assert.equal((await runCli(bus, ['unpublish', hash])).code, 0);
  });

  test("publish refusals: the daemon's message, bad numbers, missing file, folder; exit 1", async () => {
    const path = join(work, 'twice.txt');
    await writeFile(path, 'twice');
    assert.equal((await runCli(bus, ['publish', path])).code, 0);
    const again = await runCli(bus, ['publish', path]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already/i);
    assert.equal((await runCli(bus, ['unpublish', sha256('twice')])).code, 0);

    const badAge = await runCli(bus, ['publish', path, 'soon']);
    assert.equal(badAge.code, 1);
    assert.match(badAge.stderr, /MAX-AGE must be a whole number/);
    const badShare = await runCli(bus, ['publish', path, '60', '-1']);
    assert.equal(badShare.code, 1);
    const missing = await runCli(bus, ['publish', join(work, 'nope')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Cannot open .*nope/);
    const folder = await runCli(bus, ['publish', work]);
    assert.equal(folder.code, 1);
    assert.match(folder.stderr, /not a regular file/);
    assert.deepEqual(await getItems(client), []);
  });

  test('unpublish of an unknown hash fails with the hash in the message', async () => {
    const hash = 'b'.repeat(64);
    const r = await runCli(bus, ['unpublish', hash]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(hash));
  });

  test('--version prints the client and daemon versions', async () => {
    const r = await runCli(bus, ['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `client version: ${VERSION}\ndaemon version: ${VERSION}\n`);
  });

  test('--help lists every command with its arguments', async () => {
    const r = await runCli(bus, ['--help']);
    assert.equal(r.code, 0);
    for (const usage of [
      'status',
      'dump',
      'publish <file> [max-age] [max-share]',
      'unpublish <hash>',
      'download <basename> <hash>',
      '--version',
    ]) {
      assert.ok(r.stdout.includes(usage), `help mentions ${usage}`);
    }
    const sub = await runCli(bus, ['publish', '--help']);
    assert.match(sub.stdout, /--next-reboot/);
  });

  test('an unknown command, a missing argument or no command prints the usage and exits 1', async () => {
    for (const args of [['frobnicate'], [], ['unpublish']]) {
      const r = await runCli(bus, args);
      assert.equal(r.code, 1, `passimctl ${args.join(' ')}`);
      assert.match(r.stderr, /passimctl (<command>|unpublish <hash>)/);
      assert.equal(r.stdout, '');
    }
  });

  test('a mistyped command gets a suggestion; an unknown option or extra argument the usage; exit 1', async () => {
    const typo = await runCli(bus, ['stauts']);
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /^Did you mean status\?$/m);
    const option = await runCli(bus, ['status', '--bogus']);
    assert.equal(option.code, 1);
    assert.match(option.stderr, /^passimctl status$/m, 'the usage of status');
    assert.match(option.stderr, /^Unknown argument: bogus$/m);
    const extra = await runCli(bus, ['unpublish', 'a'.repeat(64), 'more']);
    assert.equal(extra.code, 1);
    assert.match(extra.stderr, /^Unknown argument: more$/m);
    const value = await runCli(bus, ['fetch', 'https://example.org/a.cab', '--sha256']);
    assert.equal(value.code, 1);
    assert.match(value.stderr, /^Missing value of the option sha256$/m);
    const publishValues = await runCli(bus, ['fetch', 'https://example.org/a.cab', '--sha256', 'a'.repeat(64), '--publish', '1', '2', '3']);
    assert.equal(publishValues.code, 1);
    assert.match(publishValues.stderr, /^--publish takes at most MAX-AGE and SHARE-LIMIT$/m);
  });

  test('arguments stay text: a hash of digits is not read as a number', async () => {
    const digits = '1'.repeat(64);
    const r = await runCli(bus, ['unpublish', digits]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(digits), r.stderr);
  });

  test('completion: the script, and the candidates it asks passimctl for', async () => {
    const script = await runCli(bus, ['completion']);
    assert.equal(script.code, 0, script.stderr);
    assert.match(script.stdout, /--get-yargs-completions/);
    assert.match(script.stdout, /complete -o bashdefault -o default -F _passimctl_yargs_completions passimctl|complete .*passimctl/);
    const commands = await runCli(bus, ['--get-yargs-completions', 'passimctl', '']);
    assert.equal(commands.code, 0, commands.stderr);
    for (const command of ['status', 'publish', 'unpublish', 'download', 'fetch']) {
      assert.match(commands.stdout, new RegExp(`^${command}$`, 'm'), `completes ${command}`);
    }
    const options = await runCli(bus, ['--get-yargs-completions', 'passimctl', 'fetch', '--']);
    assert.match(options.stdout, /^--sha256$/m);
    assert.match(options.stdout, /^--publish$/m);
  });

  test('download of a hash no peer has says so and leaves no file', async () => {
    const dir = await emptyDir('download-404');
    const r = await runCli(bus, ['download', 'missing.bin', 'c'.repeat(64)], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`No peer has ${'c'.repeat(64)}`));
    assert.deepEqual(await readdir(dir), []);
  });

  test('download refuses a name with a slash and a malformed hash before asking anyone', async () => {
    const dir = await emptyDir('download-args');
    const slash = await runCli(bus, ['download', '../escape', 'd'.repeat(64)], { cwd: dir });
    assert.equal(slash.code, 1);
    assert.match(slash.stderr, /not a plain file name/);
    const short = await runCli(bus, ['download', 'x.bin', 'abc'], { cwd: dir });
    assert.equal(short.code, 1);
    assert.match(short.stderr, /not a SHA-256 hash/);
    assert.deepEqual(await readdir(dir), []);
  });
});

describe('passimctl as an unprivileged user with a secure passimd', () => {
  /** @type {import('./lib/harness.js').Bus} */
  let bus;
  /** @type {import('./lib/harness.js').Daemon} */
  let daemon;
  /** @type {string} */
  let work;

  before(async () => {
    bus = await startBus();
    daemon = await startDaemon(bus, { insecure: false });
    // mkdtemp made the bus folder 0700; the unprivileged client must reach the socket in it.
    await chmod(dirname(bus.socketPath), 0o755);
    work = await mkdtemp(join(tmpdir(), 'passimctl-user-'));
    await chmod(work, 0o755);
  });

  after(async () => {
    await daemon?.cleanup();
    await bus?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the refusal in German (LANGUAGE=de): says why and what to do', async () => {
    const path = join(work, 'mine.txt');
    await writeFile(path, 'mine');
    await chmod(path, 0o644);
    const r = await runCli(bus, ['publish', path], { uid: 65534, gid: 65534, cwd: work, env: { LANGUAGE: 'de' } });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      'Zugriff verweigert: Nur root darf Dateien veröffentlichen (der Aufrufer läuft mit UID 65534)\n' +
        'Führen Sie passimctl als root aus (zum Beispiel mit sudo) oder bitten Sie einen Administrator, ' +
        'dies mit einer polkit-Regel zu erlauben (siehe passimd(8)).\n',
    );
  });

  test('a refused publish or unpublish says permission is needed and suggests root', async () => {
    const path = join(work, 'mine.txt');
    await writeFile(path, 'mine');
    await chmod(path, 0o644);
    for (const args of [
      ['publish', path],
      ['unpublish', sha256('mine')],
    ]) {
      const r = await runCli(bus, args, { uid: 65534, gid: 65534, cwd: work });
      assert.equal(r.code, 1, `passimctl ${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /Permission denied/);
      assert.match(r.stderr, /root/);
    }
    // Reading stays open to everyone.
    const status = await runCli(bus, ['status'], { uid: 65534, gid: 65534, cwd: work });
    assert.equal(status.code, 0, status.stderr);
  });
});

describe('passimctl without a daemon', () => {
  /** @type {import('./lib/harness.js').Bus} */
  let bus;

  before(async () => {
    bus = await startBus();
  });

  after(async () => {
    await bus?.stop();
  });

  test('the bus is up but nobody owns org.freedesktop.Passim', async () => {
    for (const args of [['status'], ['unpublish', 'e'.repeat(64)], ['--version']]) {
      const r = await runCli(bus, args);
      assert.equal(r.code, 1, `passimctl ${args.join(' ')}`);
      assert.match(r.stderr, /^Failed to connect to daemon: /m);
    }
  });

  test('there is no bus at all', async () => {
    const r = await runCli(null, ['status'], { env: { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(tmpdir(), 'passim-no-such-bus')}` } });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Failed to connect to daemon: no system bus socket (No such file or directory)\n');
  });
});

describe('passimctl download against a fake daemon and peer', () => {
  const good = Buffer.alloc(3 * 1024 * 1024 + 7, 'good bytes ');
  const goodHash = sha256(good);
  const claimedHash = sha256('what the client asked for');
  /** @type {import('./lib/harness.js').Bus} */
  let bus;
  /** @type {import('dbus-next').MessageBus} */
  let service;
  /** @type {import('node:https').Server} */
  let server;
  /** @type {string} */
  let certDir;
  /** @type {string} */
  let work;
  /** @type {string[]} */
  const requests = [];

  before(async () => {
    certDir = await mkdtemp(join(tmpdir(), 'passimctl-cert-'));
    work = await mkdtemp(join(tmpdir(), 'passimctl-dl-'));
    const { key, cert } = await loadOrCreateCredentials(join(certDir, 'key.pem'), join(certDir, 'cert.pem'), silentLogger);
    server = createServer({ key, cert }, (req, res) => {
      const path = req.url ?? ''; // always set on a server's request
      requests.push(path);
      const url = new URL(path, 'https://127.0.0.1');
      if (url.pathname === '/good.bin') {
        // Plays the local daemon: sends the client on to a "peer" (ourselves, under another path).
        res.writeHead(302, { Location: `/peer/good.bin${url.search}` });
        res.end();
      } else if (url.pathname === '/peer/good.bin') {
        res.writeHead(200, { 'Content-Type': 'application/x-test', 'Content-Length': good.length });
        res.end(good);
      } else if (url.pathname === '/bad.bin') {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        res.end('these are not the bytes you are looking for');
      } else if (url.pathname === '/loop.bin') {
        res.writeHead(302, { Location: path });
        res.end();
      } else {
        res.writeHead(500);
        res.end();
      }
    });
    await /** @type {Promise<void>} */ (new Promise((resolve) => server.listen(0, '127.0.0.1', resolve)));
    const uri = `https://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}/`;

    bus = await startBus();
    service = await connect(bus);
    /** @type {Record<string, InstanceType<typeof Variant>>} */
    const props = {
      DaemonVersion: new Variant('s', 'fake'),
      Uri: new Variant('s', uri),
      Name: new Variant('s', 'Passim-FAKE'),
      Status: new Variant('u', 3),
      DownloadSaving: new Variant('t', 0n),
      CarbonSaving: new Variant('d', 0),
    };
    service.addMethodHandler((/** @type {import('dbus-next').Message} */ msg) => {
      if (msg.interface !== 'org.freedesktop.DBus.Properties' || msg.path !== '/') return false;
      if (msg.member === 'GetAll') service.send(Message.newMethodReturn(msg, 'a{sv}', [props]));
      else if (msg.member === 'Get') service.send(Message.newMethodReturn(msg, 'v', [props[msg.body[1]]]));
      else return false;
      return true;
    });
    await service.requestName('org.freedesktop.Passim', 0);
  });

  after(async () => {
    service?.disconnect();
    await bus?.stop();
    if (server) await new Promise((resolve) => server.close(resolve));
    for (const dir of [certDir, work]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('bytes that do not match the hash are not kept and the error says so', async () => {
    const dir = join(work, 'bad');
    await mkdir(dir);
    const r = await runCli(bus, ['download', 'bad.bin', claimedHash], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /does not match the hash/);
    assert.ok(r.stderr.includes(`expected ${claimedHash}`));
    assert.ok(r.stderr.includes(`got ${sha256('these are not the bytes you are looking for')}`));
    assert.equal(r.stdout, '');
    assert.deepEqual(await readdir(dir), []);
    assert.ok(requests.includes(`/bad.bin?sha256=${claimedHash}&localhost=false`));
  });

  test('matching bytes are saved under BASENAME after following the redirect', async () => {
    const dir = join(work, 'good');
    await mkdir(dir);
    const r = await runCli(bus, ['download', 'good.bin', goodHash.toUpperCase()], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Saved good.bin (3.1 MB of application/x-test)\n');
    assert.deepEqual(await readdir(dir), ['good.bin']);
    const saved = join(dir, 'good.bin');
    assert.equal(sha256(await readFile(saved)), goodHash);
    assert.equal((await stat(saved)).mode & 0o777, 0o644 & ~process.umask());
    const query = `?sha256=${goodHash}&localhost=false`;
    assert.ok(requests.includes(`/good.bin${query}`));
    assert.ok(requests.includes(`/peer/good.bin${query}`));
  });

  test('a redirect loop ends with an error and no file', async () => {
    const dir = join(work, 'loop');
    await mkdir(dir);
    const r = await runCli(bus, ['download', 'loop.bin', goodHash], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Too many redirects/);
    assert.deepEqual(await readdir(dir), []);
  });

  test('a folder the user cannot write to fails clearly instead of hanging', async () => {
    const dir = join(work, 'readonly');
    await mkdir(dir, { mode: 0o755 });
    await chmod(work, 0o755);
    await chmod(dirname(bus.socketPath), 0o755);
    const r = await runCli(bus, ['download', 'good.bin', goodHash], { cwd: dir, uid: 65534, gid: 65534 });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Download of good\.bin failed: .*EACCES/);
    assert.deepEqual(await readdir(dir), []);
  });

  test('an HTTP error from the server is reported with its status and leaves no file', async () => {
    const dir = join(work, 'error');
    await mkdir(dir);
    const r = await runCli(bus, ['download', 'other.bin', goodHash], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /HTTP 500/);
    assert.deepEqual(await readdir(dir), []);
  });
});
