// passimd started the way systemd starts it for passim.socket: systemd-socket-activate (from systemd) listens,
// and on the first connection execs passimd with that socket as descriptor 3 (LISTEN_FDS, LISTEN_PID). The full
// cycle — exit when idle, start again for the next request or call — runs under a real systemd in
// test/systemd.test.js; this checks the daemon's side of it on the private test bus.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PASSIMD, connect, nameHasOwner, startBus, startDaemon } from './lib/harness.js';
import { listeningAddresses } from './lib/listening.js';
import { call, fetchItem, publish } from './lib/passim.js';
import { freePort, stopProcess, waitFor } from './lib/process.js';

const IDLE_TIMEOUT_S = 2;
const sha256 = (/** @type {string} */ data) => createHash('sha256').update(data).digest('hex');
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * GET `path` on 127.0.0.1:`port`; resolves with the status (rejects if no answer came).
 * @param {number} port
 * @param {string} path
 * @returns {Promise<number | undefined>}
 */
function getStatus(port, path) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('socket activation and idle exit', () => {
  /** @type {import('./lib/harness.js').Bus} */
  let bus;
  /** @type {import('dbus-next').MessageBus} */
  let client;
  /** @type {string[]} */
  const dirs = [];
  /** @type {import('node:child_process').ChildProcess[]} */
  const children = [];

  before(async () => {
    bus = await startBus();
    client = await connect(bus);
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) await stopProcess(child);
    client?.disconnect();
    await bus?.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  /**
   * systemd-socket-activate listening on 127.0.0.1:port, to exec passimd (IdleTimeout=2) on the first connection.
   * @returns {Promise<{ child: import('node:child_process').ChildProcess, port: number, output(): string, exited: Promise<number | null> }>}
   */
  async function activatable() {
    const port = await freePort();
    const state = await mkdtemp(join(tmpdir(), 'passim-activated-state-'));
    const etc = await mkdtemp(join(tmpdir(), 'passim-activated-etc-'));
    dirs.push(state, etc);
    await writeFile(join(etc, 'passim.conf'), `[daemon]\nPort=${port}\nIdleTimeout=${IDLE_TIMEOUT_S}\n`);
    const env = { ...bus.env, LOCALSTATEDIR: state, SYSCONFDIR: etc };
    const child = spawn(
      'systemd-socket-activate',
      [
        '--listen',
        `127.0.0.1:${port}`,
        ...Object.entries(env).flatMap(([name, value]) => ['--setenv', `${name}=${value}`]),
        process.execPath,
        PASSIMD,
        '--verbose',
        '--insecure',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    let output = '';
    child.stdout?.on('data', (d) => {
      output += d;
    });
    child.stderr?.on('data', (d) => {
      output += d;
    });
    /** @type {Promise<number | null>} */
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(() => output.includes('Listening on'), 'systemd-socket-activate to listen');
    return { child, port, output: () => output, exited };
  }

  test('the first connection starts passimd on the passed socket and gets its answer; idle, it exits', async () => {
    const { port, output, exited } = await activatable();
    // This request is what starts the daemon: it waits in the socket's queue and is answered, not lost.
    assert.equal(await getStatus(port, '/'), 200, output());
    // HTTP is served before the bus name is taken (that is the last step of starting).
    await waitFor(() => nameHasOwner(client, 'org.freedesktop.Passim'), 'the daemon to take its bus name');
    // systemd-socket-activate execs passimd: same process, and it serves on the passed socket, binding nothing.
    assert.match(output(), new RegExp(`serving HTTPS on 1 sockets passed by systemd, port ${port}`));
    assert.deepEqual(await listeningAddresses(undefined, port), ['127.0.0.1'], 'no ::1 of its own: only what was passed');

    assert.equal(await exited, 0, `exit status after the quiet period:\n${output()}`);
    assert.match(output(), /nothing published and nothing asked for 2 s: exiting until the next request or call/);
    assert.equal(await nameHasOwner(client, 'org.freedesktop.Passim'), false, 'the name is free for D-Bus activation');
  });

  test('requests keep it up, so does a published item; the last unpublish lets it go', async () => {
    const { port, output, exited } = await activatable();
    let gone = false;
    void exited.then(() => {
      gone = true;
    });
    assert.equal(await getStatus(port, '/'), 200);
    await waitFor(() => nameHasOwner(client, 'org.freedesktop.Passim'), 'the daemon to take its bus name');
    // A request every half quiet period, for two and a half quiet periods.
    for (let i = 0; i < 5; i++) {
      await sleep((IDLE_TIMEOUT_S * 1000) / 2);
      assert.equal(await getStatus(port, '/'), 200, `request ${i + 1}:\n${output()}`);
    }
    assert.equal(gone, false);

    const dir = await mkdtemp(join(tmpdir(), 'passim-activated-files-'));
    dirs.push(dir);
    const path = join(dir, 'kept.bin');
    await writeFile(path, 'kept while published');
    await publish(client, path, { filename: 'kept.bin' });
    await sleep(IDLE_TIMEOUT_S * 1000 * 3);
    assert.equal(gone, false, `published, it must not idle out:\n${output()}`);
    const hash = sha256('kept while published');
    assert.equal((await fetchItem(port, 'kept.bin', hash)).status, 200);

    await call(client, 'Unpublish', 's', [hash]);
    assert.equal(await exited, 0, output());
  });

  test('started without passed sockets, IdleTimeout does not apply: nothing could start it again', async () => {
    const daemon = await startDaemon(bus, { configText: 'IdleTimeout=1\n' });
    try {
      await sleep(3000);
      assert.equal(daemon.child.exitCode, null, daemon.output());
      assert.equal(await getStatus(daemon.port, '/'), 200);
      assert.deepEqual(await listeningAddresses(undefined, daemon.port), ['127.0.0.1', '::1'], 'binds both loopbacks itself');
    } finally {
      await daemon.cleanup();
    }
  });
});
