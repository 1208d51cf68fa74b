// What a broken or hostile local client can do to the daemon through the bus: nothing lasting.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ROOT, connect, startBus, startDaemon } from './lib/harness.js';
import { residentBytes, runProcess, waitFor } from './lib/process.js';
import { INVALID_ARGS, LIMITS_EXCEEDED, PERMISSION_DENIED } from './lib/dbus-errors.js';
import { call, fetchItem, getItems, publish } from './lib/passim.js';

const NOBODY = 65534;
const sha256 = (/** @type {string} */ data) => createHash('sha256').update(data).digest('hex');

/** @param {number} pid */
async function descriptorCount(pid) {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

describe('a hostile unprivileged client', () => {
  /** @type {import('./lib/harness.js').Bus} */
  let bus;
  /** @type {import('./lib/harness.js').Daemon} */
  let daemon;
  /** @type {import('dbus-next').MessageBus} */
  let client;
  /** @type {string} */
  let scratch;

  before(async () => {
    bus = await startBus();
    // Not --insecure: the refusals must come from the real authorization path (root-only without polkitd).
    daemon = await startDaemon(bus, { insecure: false });
    client = await connect(bus);
    scratch = await mkdtemp(join(tmpdir(), 'passim-hostile-'));
    await chmod(scratch, 0o755);
  });
  after(async () => {
    client?.disconnect();
    await daemon?.cleanup();
    await bus?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  test('thousands of calls with stray descriptors, MB bodies, wrong signatures and a stalled FIFO leave nothing behind', async () => {
    const kept = join(scratch, 'kept.txt');
    await writeFile(kept, 'kept content');
    await publish(client, kept, { filename: 'kept.txt' });
    // Warm up what a first GetItems and a first download allocate, then take the baseline.
    await getItems(client);
    await fetchItem(daemon.port, 'kept.txt', sha256('kept content'));
    const fdsBefore = await descriptorCount(daemon.pid);
    const rssBefore = await residentBytes(daemon.pid);

    const descriptorFile = join(scratch, 'fd-source.txt');
    await writeFile(descriptorFile, 'attached to every call');
    await chmod(descriptorFile, 0o644);
    const fifo = join(scratch, 'never-ends.fifo');
    await promisify(execFile)('mkfifo', ['-m', '0666', fifo]);

    const { code, stdout, stderr } = await runProcess(
      process.execPath,
      [join(ROOT, 'test', 'lib', 'hostile-client.js'), descriptorFile, fifo],
      {
        uid: NOBODY,
        gid: NOBODY,
        env: { ...process.env, ...bus.env },
      },
    );
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout);
    // Every call got an answer: the daemon never crashed or stopped reading.
    assert.equal(report.unanswered, 0);
    assert.ok(report.sent > 3000, `sent ${report.sent}`);
    // Over-size bodies are refused unparsed, malformed calls get InvalidArgs, publishing is refused for this user.
    assert.ok(report.replies[LIMITS_EXCEEDED] >= 5, JSON.stringify(report.replies));
    assert.ok(report.replies[INVALID_ARGS] > 400, JSON.stringify(report.replies));
    assert.ok(report.replies[PERMISSION_DENIED] >= 400, JSON.stringify(report.replies));
    assert.equal(daemon.child.exitCode, null, 'the daemon is still running');

    // Still answering quickly, still serving, nothing published by the attacker.
    const timings = [];
    for (let i = 0; i < 5; i++) {
      const start = process.hrtime.bigint();
      const items = await getItems(client);
      timings.push(Number(process.hrtime.bigint() - start) / 1e6);
      assert.deepEqual(
        items.map((item) => item.filename),
        ['kept.txt'],
      );
    }
    timings.sort((a, b) => a - b);
    assert.ok(timings[2] < 100, `GetItems took ${timings.join(', ')} ms`);
    const { status, body } = await fetchItem(daemon.port, 'kept.txt', sha256('kept content'));
    assert.equal(status, 200);
    assert.equal(body.toString(), 'kept content');
    assert.deepEqual(await readdir(daemon.dataDir), [`${sha256('kept content')}-kept.txt`]);

    // Every descriptor that came with those calls was closed.
    await waitFor(async () => (await descriptorCount(daemon.pid)) <= fdsBefore, `descriptors back to ${fdsBefore}`, 10_000);
    const rssAfter = await residentBytes(daemon.pid);
    assert.ok(rssAfter < 2 * rssBefore, `RSS ${rssBefore} -> ${rssAfter} bytes`);
    assert.match(daemon.output(), /refused GetItems|refused .*GetItems/);
  });
});

describe('publishes that never finish', () => {
  /** @type {import('./lib/harness.js').Bus} */
  let bus;
  /** @type {import('./lib/harness.js').Daemon} */
  let daemon;
  /** @type {import('dbus-next').MessageBus} */
  let client;
  /** @type {string} */
  let scratch;

  before(async () => {
    bus = await startBus();
    daemon = await startDaemon(bus);
    client = await connect(bus);
    scratch = await mkdtemp(join(tmpdir(), 'passim-stalled-'));
  });
  after(async () => {
    client?.disconnect();
    await daemon?.cleanup();
    await bus?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  test('stalled FIFO writers tie up nothing, time out with a clear error, and leave no file', async () => {
    const fifos = [];
    for (let i = 0; i < 6; i++) {
      const fifo = join(scratch, `stalled-${i}.fifo`);
      await promisify(execFile)('mkfifo', [fifo]);
      fifos.push(fifo);
    }
    const { openSync, writeSync, closeSync } = await import('node:fs');
    // Each writer end stays open and sends a few bytes, then nothing: a stalled `<(curl …)`.
    const writers = fifos.map((fifo) => openSync(fifo, 'r+'));
    for (const writer of writers) writeSync(writer, 'partial ');
    const started = Date.now();
    const stalled = fifos.map((fifo, i) =>
      publish(client, fifo, { filename: `stalled-${i}.txt` }).then(
        () => /** @type {const} */ ({ ok: true }),
        (err) => /** @type {const} */ ({ ok: false, name: err.type, text: err.text }),
      ),
    );

    // Meanwhile the file thread pool is free: downloads and another publish go through.
    const file = join(scratch, 'meanwhile.txt');
    await writeFile(file, 'published meanwhile');
    await publish(client, file, { filename: 'meanwhile.txt' });
    const { status, body } = await fetchItem(daemon.port, 'meanwhile.txt', sha256('published meanwhile'));
    assert.equal(status, 200);
    assert.equal(body.toString(), 'published meanwhile');

    const results = await Promise.all(stalled);
    for (const writer of writers) closeSync(writer);
    assert.ok(Date.now() - started >= 29_000, 'the writers were given their inactivity timeout');
    for (const result of results) {
      assert.equal(result.ok, false);
      assert.equal(result.name, INVALID_ARGS);
      assert.match(result.text, /sent nothing for 30 s/);
    }
    assert.deepEqual(await readdir(daemon.dataDir), [`${sha256('published meanwhile')}-meanwhile.txt`]);
  });

  test('a descriptor that is not a file, pipe or socket is refused', async () => {
    const err = await publish(client, '/dev/zero', { filename: 'zero' }).then(
      () => null,
      (e) => e,
    );
    assert.equal(err?.type, INVALID_ARGS);
    assert.match(err.text, /character device/);
  });

  test('SIGTERM during a stalled publish exits within 5 s and leaves no temporary file', async () => {
    const fifo = join(scratch, 'sigterm.fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    const { openSync, writeSync, closeSync } = await import('node:fs');
    const writer = openSync(fifo, 'r+');
    writeSync(writer, 'x'.repeat(4096));
    const pending = publish(client, fifo, { filename: 'sigterm.txt' }).then(
      () => null,
      (e) => e,
    );
    await waitFor(async () => (await readdir(daemon.dataDir)).some((name) => name.startsWith('.passim-tmp-')), 'a temporary file');
    const started = Date.now();
    process.kill(daemon.pid, 'SIGTERM');
    const { code } = await daemon.exited;
    const took = Date.now() - started;
    closeSync(writer);
    assert.equal(code, 0);
    assert.ok(took < 5000, `exit took ${took} ms`);
    assert.ok(await pending, 'the stalled publish was answered with an error');
    assert.deepEqual(
      (await readdir(daemon.dataDir)).filter((name) => name.startsWith('.passim-tmp-')),
      [],
    );
  });
});

describe('bus loss', () => {
  test('killing the bus after a publish ends the daemon with status 1', async () => {
    const bus = await startBus();
    const daemon = await startDaemon(bus);
    const client = await connect(bus);
    const scratch = await mkdtemp(join(tmpdir(), 'passim-busloss-'));
    try {
      const file = join(scratch, 'a.txt');
      await writeFile(file, 'before the bus goes');
      await publish(client, file, { filename: 'a.txt' });
      await call(client, 'GetItems');
      process.kill(bus.pid, 'SIGKILL');
      const started = Date.now();
      const { code } = await daemon.exited;
      assert.equal(code, 1);
      assert.ok(Date.now() - started < 2000, 'the daemon noticed within 2 s');
      assert.match(daemon.output(), /lost the system bus/);
    } finally {
      client.disconnect();
      await daemon.cleanup();
      await bus.stop();
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
