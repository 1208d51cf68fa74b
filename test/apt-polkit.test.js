// The polkit rule shipped for the apt method, with a real polkitd on a private bus: apt's sandbox user
// _apt may publish (what the method does after a verified download) but not unpublish, and an ordinary
// user still may do neither.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT, runCli, startBus, startDaemon } from './lib/harness.js';
import { createUser, installPolicy, installRule, startPolkitd, waitForAnswer } from './lib/polkit.js';

const PUBLISH = 'org.freedesktop.passim.publish';
const UNPUBLISH = 'org.freedesktop.passim.unpublish';
const APT = { name: '_apt', uid: 42, gid: 65534 };

/** @type {(() => unknown)[]} */
const undo = [];
/** @type {import('./lib/harness.js').Bus} */
let bus;
/** @type {Awaited<ReturnType<typeof createUser>>} */
let user;
/** @type {string} */
let scratch;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'passim-apt-polkit-'));
  undo.push(() => rm(scratch, { recursive: true, force: true }));
  await chmod(scratch, 0o755);
  user = await createUser(`passimapt${process.pid}`);
  undo.push(() => user.remove());
  bus = await startBus();
  undo.push(() => bus.stop());
  await chmod(dirname(bus.socketPath), 0o755);
  undo.push(await installPolicy());
  const rule = await readFile(join(ROOT, 'polkit', '50-passim-apt.rules'), 'utf8');
  undo.push(await installRule(`50-passim-apt-test-${process.pid}.rules`, rule));
  const polkitd = await startPolkitd(bus);
  undo.push(() => polkitd.stop());
  const daemon = await startDaemon(bus, { insecure: false });
  undo.push(() => daemon.cleanup());
});

after(async () => {
  for (const step of undo.reverse()) await step();
});

test('polkit answers the rule: _apt may publish, not unpublish; an ordinary user neither', async () => {
  await waitForAnswer(bus, APT, PUBLISH, 'yes');
  await waitForAnswer(bus, APT, UNPUBLISH, 'no');
  await waitForAnswer(bus, user, PUBLISH, 'no');
  await waitForAnswer(bus, user, UNPUBLISH, 'no');
});

test('passimd publishes for _apt and refuses an ordinary user', async () => {
  const path = join(scratch, 'a_1.0_all.deb');
  await writeFile(path, 'a package apt verified', { mode: 0o644 });
  const refused = await runCli(bus, ['publish', path], { uid: user.uid, gid: user.gid, cwd: scratch });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /not authorized|denied/i, refused.stderr);
  const published = await runCli(bus, ['publish', path], { uid: APT.uid, gid: APT.gid, cwd: scratch });
  assert.equal(published.code, 0, published.stderr);
  const hash = (await runCli(bus, ['status', '--json'])).stdout.match(/"hash":\s*"([0-9a-f]{64})"/)?.[1];
  assert.ok(hash, 'the item is listed');
  const unpublish = await runCli(bus, ['unpublish', hash], { uid: APT.uid, gid: APT.gid, cwd: scratch });
  assert.notEqual(unpublish.code, 0, '_apt may not unpublish');
});
