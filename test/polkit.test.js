// Publish and Unpublish guarded by a real polkitd on a private system bus, with the project's policy
// installed and a throwaway user created for the test.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, connect, runCli, startBus, startDaemon } from './lib/harness.js';
import { stopProcess, waitFor } from './lib/process.js';
import { call, publish } from './lib/passim.js';
import { POLICY, createUser, installPolicy, installRule, startPolkitd, waitForAnswer } from './lib/polkit.js';
import { PERMISSION_DENIED } from './lib/dbus-errors.js';
import { passimUser, unprivilegedFolders } from './lib/system-user.js';
const PUBLISH = 'org.freedesktop.passim.publish';
const UNPUBLISH = 'org.freedesktop.passim.unpublish';
const INTERACTIVE_REQUIRED = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired';
const FALLBACK_WARNING = /warning: polkit is not available/g;

const run = promisify(execFile);
const sha256 = (/** @type {string} */ data) => createHash('sha256').update(data).digest('hex');

/** @type {import('./lib/harness.js').Bus} */
let bus;
/** @type {Awaited<ReturnType<typeof startPolkitd>>} */
let polkitd;
/** @type {import('./lib/harness.js').Daemon} */
let daemon;
/** @type {import('dbus-next').MessageBus} */
let client;
/** @type {Awaited<ReturnType<typeof createUser>>} */
let user;
/** @type {Awaited<ReturnType<typeof passimUser>>} */
let passim;
/** @type {string} */
let scratch;
/**
 * Puts back what the policy file replaced; replaced itself when a test reinstalls the policy.
 * @type {() => Promise<void>}
 */
let removePolicy;
/**
 * Undo steps for everything installed on the system, run in reverse even when a step failed.
 * @type {(() => unknown)[]}
 */
const undo = [];

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'passim-polkit-test-'));
  undo.push(() => rm(scratch, { recursive: true, force: true }));
  await chmod(scratch, 0o755);
  user = await createUser(`passimtest${process.pid}`);
  undo.push(() => user.remove());
  // Before the bus starts: the bus reads its policy, which lets passim own the name, when it starts.
  passim = await passimUser();
  undo.push(() => passim.remove());
  bus = await startBus();
  undo.push(() => bus.stop());
  await chmod(dirname(bus.socketPath), 0o755); // the test user must reach the socket
  removePolicy = await installPolicy();
  undo.push(() => removePolicy());
  polkitd = await startPolkitd(bus);
  undo.push(() => polkitd.stop());
  daemon = await startDaemon(bus, { insecure: false });
  undo.push(() => daemon.cleanup());
  client = await connect(bus);
  undo.push(() => client.disconnect());
});

after(async () => {
  /** @type {unknown[]} */
  const errors = [];
  for (const step of undo.reverse()) {
    try {
      await step();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
});

/**
 * Writes `content` to `name` in the scratch folder, readable by everyone; returns its path.
 * @param {string} name
 * @param {string} content
 */
async function writeScratch(name, content) {
  const path = join(scratch, name);
  await writeFile(path, content);
  await chmod(path, 0o644);
  return path;
}

/**
 * Runs test/lib/call-as.js as the test user; resolves with its JSON answer.
 * @param {string[]} args
 * @returns {Promise<any>} { ok: true, result } or { ok: false, name, text }
 */
function callAsUser(args, { interactive = false } = {}) {
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, ...bus.env };
  if (interactive) env.PASSIM_INTERACTIVE = '1';
  else delete env.PASSIM_INTERACTIVE;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(ROOT, 'test', 'lib', 'call-as.js'), ...args],
      { uid: user.uid, gid: user.gid, env, timeout: 20000 },
      (err, stdout, stderr) => {
        if (!stdout) reject(err ?? new Error(`call-as.js printed nothing: ${stderr}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

/**
 * A rules.d file granting (or asking authentication for) actions to the test user's group.
 * @param {Record<string, string>} results action ID → polkit.Result name
 */
function groupRule(results) {
  const lines = Object.entries(results).map(
    ([actionId, result]) => `  if (action.id == "${actionId}" && subject.isInGroup("${user.name}")) return polkit.Result.${result};`,
  );
  return `polkit.addRule(function(action, subject) {\n${lines.join('\n')}\n});\n`;
}

/**
 * Runs `body` with a groupRule(results) installed, once pkcheck gives `expectations`; waits for the rule to go.
 * @param {Record<string, string>} results
 * @param {Record<string, 'yes' | 'no' | 'challenge'>} expectations
 * @param {() => Promise<unknown>} body
 */
async function withRule(results, expectations, body) {
  const remove = await installRule(`49-passim-test-${process.pid}.rules`, groupRule(results));
  try {
    for (const [actionId, answer] of Object.entries(expectations)) await waitForAnswer(bus, user, actionId, answer);
    await body();
  } finally {
    await remove();
  }
  for (const actionId of Object.keys(expectations)) await waitForAnswer(bus, user, actionId, 'no');
}

const listData = () => readdir(daemon.dataDir);

/**
 * The message of the password prompt for `actionId` that polkitd gives an authentication agent of a
 * session in locale `lang`: pkcheck's own textual agent, as the test user, on the terminal script(1)
 * makes for it (the agent needs one). The agent is stopped once it asks for the password.
 * @param {string} actionId
 * @param {string} lang
 */
async function promptMessage(actionId, lang) {
  const command = `pkcheck --action-id ${actionId} --process $$ --allow-user-interaction --enable-internal-agent`;
  const agent = spawn('script', ['--quiet', '--command', command, '/dev/null'], {
    uid: user.uid,
    gid: user.gid,
    env: { PATH: process.env.PATH, ...bus.env, LANG: lang },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  agent.stdout.on('data', (d) => {
    output += d;
  });
  try {
    await waitFor(() => output.includes('Password:'), `the password prompt for ${actionId} in ${lang}`);
  } finally {
    await stopProcess(agent);
  }
  // "==== AUTHENTICATING FOR <action> ====", then the message, in colours that do not matter here.
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  return /==== AUTHENTICATING FOR \S+ ====\r?\n(.*)\r?\n/.exec(plain)?.[1];
}

describe('with polkitd running', () => {
  test('the policy is valid and polkitd loads both actions with their defaults', async () => {
    await run('xmllint', ['--noout', '--dtdvalid', '/usr/share/polkit-1/policyconfig-1.dtd', POLICY]);
    for (const actionId of [PUBLISH, UNPUBLISH]) {
      const { stdout } = await run('pkaction', ['--verbose', '--action-id', actionId], { env: { ...process.env, ...bus.env } });
      assert.match(stdout, /vendor: +Passim\n/);
      assert.match(stdout, /implicit any: +no\n/);
      assert.match(stdout, /implicit inactive: +no\n/);
      assert.match(stdout, /implicit active: +auth_admin_keep\n/);
    }
  });

  test('root may publish and unpublish (polkitd allows UID 0 anything, so it is not asked)', async () => {
    const path = await writeScratch('root.txt', 'by root');
    await publish(client, path, { filename: 'root.txt' });
    assert.deepEqual(await listData(), [`${sha256('by root')}-root.txt`]);
    await call(client, 'Unpublish', 's', [sha256('by root')]);
    assert.deepEqual(await listData(), []);
    assert.doesNotMatch(daemon.output(), FALLBACK_WARNING);
  });

  test('a user without a rule is refused both, with permission-denied, and nothing changes', async () => {
    const path = await writeScratch('user.txt', 'by user');
    const denied = await callAsUser(['publish', path, 'user.txt']);
    assert.equal(denied.ok, false);
    assert.equal(denied.name, PERMISSION_DENIED);
    assert.equal(denied.text, `Not authorized to publish files: an administrator must allow ${PUBLISH}`);
    assert.deepEqual(await listData(), []);

    // With the interactive flag and no authentication agent: still a plain refusal, and an answer.
    const interactive = await callAsUser(['publish', path, 'user.txt'], { interactive: true });
    assert.equal(interactive.name, PERMISSION_DENIED);
    assert.deepEqual(await listData(), []);

    const kept = await writeScratch('kept.txt', 'kept');
    await publish(client, kept, { filename: 'kept.txt' });
    const refused = await callAsUser(['unpublish', sha256('kept')]);
    assert.equal(refused.name, PERMISSION_DENIED);
    assert.equal(refused.text, `Not authorized to unpublish files: an administrator must allow ${UNPUBLISH}`);
    assert.deepEqual(await listData(), [`${sha256('kept')}-kept.txt`]);
    await call(client, 'Unpublish', 's', [sha256('kept')]);
  });

  test('passimctl run by the user says why and what to do', async () => {
    const path = await writeScratch('cli.txt', 'by cli');
    const r = await runCli(bus, ['publish', path], { uid: user.uid, gid: user.gid, cwd: scratch });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^Permission denied: Not authorized to publish files: an administrator must allow org\.freedesktop\.passim\.publish$/m,
    );
    assert.match(r.stderr, /as root .*polkit rule/);
    assert.deepEqual(await listData(), []);
  });

  test('anyone may call GetItems and read every property', async () => {
    const path = await writeScratch('visible.txt', 'visible');
    await publish(client, path, { filename: 'visible.txt' });
    try {
      assert.deepEqual(await callAsUser(['getitems']), { ok: true, result: 1 });
      for (const name of ['DaemonVersion', 'Uri', 'Name', 'Status', 'DownloadSaving', 'CarbonSaving']) {
        const answer = await callAsUser(['property', name]);
        assert.equal(answer.ok, true, `${name}: ${answer.text}`);
      }
      const status = await runCli(bus, ['status'], { uid: user.uid, gid: user.gid, cwd: scratch });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /visible\.txt/);
    } finally {
      await call(client, 'Unpublish', 's', [sha256('visible')]);
    }
  });

  test('a rule granting publish to a group lets its member publish, and only publish', async () => {
    const path = await writeScratch('granted.txt', 'granted');
    const hash = sha256('granted');
    await withRule({ [PUBLISH]: 'YES' }, { [PUBLISH]: 'yes' }, async () => {
      assert.deepEqual(await callAsUser(['publish', path, 'granted.txt']), { ok: true, result: null });
      assert.deepEqual(await listData(), [`${hash}-granted.txt`]);
      const refused = await callAsUser(['unpublish', hash]);
      assert.equal(refused.name, PERMISSION_DENIED);
      assert.deepEqual(await listData(), [`${hash}-granted.txt`]);
    });
    await call(client, 'Unpublish', 's', [hash]);
  });

  test('passimctl in German says the same in German, and the polkit prompt of a German session is German', async () => {
    const path = await writeScratch('cli-de.txt', 'by cli, in German');
    const r = await runCli(bus, ['publish', path], { uid: user.uid, gid: user.gid, cwd: scratch, env: { LANGUAGE: 'de' } });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^Zugriff verweigert: Keine Berechtigung zum Veröffentlichen von Dateien: Ein Administrator muss org\.freedesktop\.passim\.publish erlauben$/m,
    );
    assert.match(r.stderr, /^Führen Sie passimctl als root aus .*polkit-Regel/m);

    // pkaction shows the untranslated text whatever the locale: libpolkit asks polkitd with an empty locale.
    const { stdout } = await run('pkaction', ['--verbose', '--action-id', PUBLISH], {
      env: { ...process.env, ...bus.env, LANG: 'de_DE.UTF-8' },
    });
    assert.match(stdout, /description: +Publish a file on the local network\n/);
    // An authentication agent registers with its session's LANG, and polkitd gives it the message in that language.
    await withRule({ [PUBLISH]: 'AUTH_ADMIN' }, { [PUBLISH]: 'challenge' }, async () => {
      const english = 'Authentication is required to share a file with other machines on the local network';
      assert.equal(
        await promptMessage(PUBLISH, 'de_DE.UTF-8'),
        'Zum Freigeben einer Datei für andere Rechner im lokalen Netzwerk ist eine Authentifizierung erforderlich',
      );
      assert.equal(await promptMessage(PUBLISH, 'C.UTF-8'), english);
      assert.equal(await promptMessage(PUBLISH, 'xx_YY.UTF-8'), english, 'a language without a translation: English');
    });
  });

  test('a rule asking for authentication needs the interactive flag, and no agent means a refusal', async () => {
    const kept = await writeScratch('challenge.txt', 'challenge');
    const hash = sha256('challenge');
    await publish(client, kept, { filename: 'challenge.txt' });
    await withRule({ [UNPUBLISH]: 'AUTH_ADMIN' }, { [UNPUBLISH]: 'challenge' }, async () => {
      const plain = await callAsUser(['unpublish', hash]);
      assert.equal(plain.name, INTERACTIVE_REQUIRED);
      assert.match(plain.text, /Authentication is required to unpublish files \(org\.freedesktop\.passim\.unpublish\)/);

      const interactive = await callAsUser(['unpublish', hash], { interactive: true });
      assert.equal(interactive.name, PERMISSION_DENIED);
      assert.match(interactive.text, /needs authentication, which did not succeed \(no polkit authentication agent/);
      assert.deepEqual(await listData(), [`${hash}-challenge.txt`]);

      // passimctl off a terminal does not set the flag, and says how to get a password prompt.
      const r = await runCli(bus, ['unpublish', hash], { uid: user.uid, gid: user.gid, cwd: scratch });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Permission denied: Authentication is required/m);
      assert.match(r.stderr, /on a terminal/);
    });
    await call(client, 'Unpublish', 's', [hash]);
  });
});

describe('passimd running as the passim user, as the service does', () => {
  /** @type {import('./lib/harness.js').Daemon} */
  let unprivileged;
  /** @type {Awaited<ReturnType<typeof unprivilegedFolders>>} */
  let folders;
  /** @type {import('dbus-next').MessageBus} */
  let rootClient;
  before(async () => {
    folders = await unprivilegedFolders(passim);
    await daemon.cleanup(); // one daemon owns the bus name at a time
    unprivileged = await startDaemon(bus, {
      insecure: false,
      uid: passim.uid,
      gid: passim.gid,
      localStateDir: folders.localStateDir,
      sysconfDir: folders.sysconfDir,
    });
    rootClient = await connect(bus);
  });
  after(async () => {
    rootClient?.disconnect();
    await unprivileged?.cleanup();
    await folders?.remove();
    daemon = await startDaemon(bus, { insecure: false });
  });

  test("polkitd answers it about other users' calls: root publishes, a plain user is refused, a rule delegates", async () => {
    const path = await writeScratch('as-passim.txt', 'published through a daemon running as passim');
    const hash = sha256('published through a daemon running as passim');
    await publish(rootClient, path, { filename: 'as-passim.txt' });
    assert.deepEqual(await readdir(unprivileged.dataDir), [`${hash}-as-passim.txt`]);
    assert.doesNotMatch(unprivileged.output(), /polkit could not check|polkit failed/);

    const userFile = await writeScratch('as-passim-user.txt', 'a plain user tries');
    const denied = await callAsUser(['publish', userFile, 'as-passim-user.txt']);
    assert.equal(denied.name, PERMISSION_DENIED);
    assert.equal(denied.text, `Not authorized to publish files: an administrator must allow ${PUBLISH}`);

    await withRule({ [PUBLISH]: 'YES' }, { [PUBLISH]: 'yes' }, async () => {
      assert.deepEqual(await callAsUser(['publish', userFile, 'as-passim-user.txt']), { ok: true, result: null });
    });
    assert.equal((await readdir(unprivileged.dataDir)).length, 2);
    await call(rootClient, 'Unpublish', 's', [hash]);
  });
});

describe('with polkitd running but our policy not installed', () => {
  test('root may publish under the root-only rule, logged once, and the user may not', async () => {
    await removePolicy();
    try {
      await waitFor(
        async () => (await run('pkaction', [], { env: { ...process.env, ...bus.env } })).stdout.includes(PUBLISH) === false,
        'polkitd to forget the passim actions',
      );
      const path = await writeScratch('unknown-action.txt', 'no policy installed');
      await publish(client, path, { filename: 'unknown-action.txt' });
      const userFile = await writeScratch('unknown-action-user.txt', 'no policy, a user');
      const denied = await callAsUser(['publish', userFile, 'unknown-action-user.txt']);
      assert.equal(denied.name, PERMISSION_DENIED);
      assert.match(denied.text, /Only root may publish/);
      assert.equal(daemon.output().match(/polkit does not know org\.freedesktop\.passim\.publish/g)?.length, 1, daemon.output());
      await call(client, 'Unpublish', 's', [sha256('no policy installed')]);
    } finally {
      removePolicy = await installPolicy();
      await waitFor(
        async () => (await run('pkaction', [], { env: { ...process.env, ...bus.env } })).stdout.includes(PUBLISH),
        'polkitd to load the passim actions again',
      );
    }
  });
});

describe('with polkitd stopped', () => {
  test('root may publish, the user may not, the fallback is logged once, and polkit is used again when back', async () => {
    await polkitd.stop();
    const path = await writeScratch('fallback.txt', 'fallback');
    const hash = sha256('fallback');
    await publish(client, path, { filename: 'fallback.txt' });
    assert.deepEqual(await listData(), [`${hash}-fallback.txt`]);

    const userFile = await writeScratch('fallback-user.txt', 'fallback user');
    const denied = await callAsUser(['publish', userFile, 'fallback-user.txt']);
    assert.equal(denied.name, PERMISSION_DENIED);
    assert.match(denied.text, /root/);
    const refused = await callAsUser(['unpublish', hash]);
    assert.equal(refused.name, PERMISSION_DENIED);
    assert.deepEqual(await listData(), [`${hash}-fallback.txt`]);
    await call(client, 'Unpublish', 's', [hash]);
    assert.deepEqual(await listData(), []);
    assert.equal(daemon.output().match(FALLBACK_WARNING)?.length, 1, daemon.output());

    // polkitd comes back with a rule for the user's group: only polkit can grant that.
    const remove = await installRule(`49-passim-test-${process.pid}.rules`, groupRule({ [PUBLISH]: 'YES' }));
    try {
      polkitd = await startPolkitd(bus);
      await waitForAnswer(bus, user, PUBLISH, 'yes');
      assert.deepEqual(await callAsUser(['publish', userFile, 'fallback-user.txt']), { ok: true, result: null });
      assert.deepEqual(await listData(), [`${sha256('fallback user')}-fallback-user.txt`]);
      assert.match(daemon.output(), /polkit is available again/);
    } finally {
      await remove();
    }
    await call(client, 'Unpublish', 's', [sha256('fallback user')]);
  });
});
