// The systemd unit, sysusers and D-Bus activation files, and the daemon running as the passim user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PASSIMD, ROOT, connect, startBus, startDaemon } from './lib/harness.js';
import { runProcess } from './lib/process.js';
import { getItems, publish } from './lib/passim.js';
import { SYSUSERS, passimUser, runSysusers, unprivilegedFolders } from './lib/system-user.js';

const UNIT = join(ROOT, 'systemd', 'passim.service');
const ACTIVATION = join(ROOT, 'dbus', 'org.freedesktop.Passim.service');
const FETCH = join(ROOT, 'test', 'lib', 'fetch.js');

// The sandboxing directives of the original C daemon's unit (hughsie/passim data/passim.service.in, the
// version that runs it as the passim user), to compare exposure with.
const ORIGINAL_UNIT = `[Unit]
Description=Local Caching Server (original directives)
After=avahi-daemon.service
Before=display-manager.service
Wants=avahi-daemon.service

[Service]
Type=dbus
TimeoutSec=180
BusName=org.freedesktop.Passim
ExecStart=/bin/true
User=passim
DevicePolicy=closed
LockPersonality=yes
MemoryDenyWriteExecute=yes
NoNewPrivileges=yes
PrivateDevices=yes
PrivateMounts=yes
PrivateTmp=yes
ProtectControlGroups=yes
ProtectHome=yes
ProtectKernelModules=yes
ProtectKernelTunables=yes
ProtectSystem=full
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
SystemCallFilter=@system-service
SystemCallArchitectures=native
`;

/**
 * key → list of values of one section of a systemd/D-Bus ini file ("#" comments skipped).
 * @param {string} text
 * @param {string} name
 */
function section(text, name) {
  /** @type {Map<string, string[]>} */
  const values = new Map();
  let current;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1];
      continue;
    }
    if (current !== name) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    values.set(key, [...(values.get(key) ?? []), line.slice(eq + 1)]);
  }
  return values;
}

/**
 * A copy of our unit in a temporary folder whose ExecStart is the checkout's launcher, which exists.
 * @param {string} dir
 */
async function unitCopy(dir) {
  const text = await readFile(UNIT, 'utf8');
  const path = join(dir, 'passim.service');
  await writeFile(path, text.replace(/^ExecStart=.*$/m, `ExecStart=${PASSIMD}`));
  return path;
}

/** @param {string} unitPath */
async function exposure(unitPath) {
  const { code, stdout, stderr } = await runProcess('systemd-analyze', ['security', '--offline=true', '--no-pager', unitPath]);
  assert.equal(code, 0, stderr);
  const match = /Overall exposure level for \S+: (\d+\.\d+)/.exec(stdout);
  assert.ok(match, `no exposure figure in:\n${stdout}`);
  return Number(match[1]);
}

test('passim.service has the hardening directives and no MemoryDenyWriteExecute', async () => {
  const text = await readFile(UNIT, 'utf8');
  const service = section(text, 'Service');
  const unit = section(text, 'Unit');
  const one = (/** @type {string} */ key) => service.get(key)?.join(' ');
  assert.equal(one('Type'), 'dbus');
  assert.equal(one('BusName'), 'org.freedesktop.Passim');
  assert.equal(one('ExecStart'), '/usr/libexec/passimd');
  assert.equal(one('User'), 'passim');
  assert.equal(one('Group'), 'passim');
  assert.equal(one('StateDirectory'), 'passim passim/data');
  assert.equal(one('LogsDirectory'), 'passim');
  assert.equal(one('Restart'), 'on-failure');
  assert.equal(one('RestrictAddressFamilies'), 'AF_UNIX AF_INET AF_INET6 AF_NETLINK');
  assert.equal(one('CapabilityBoundingSet'), '');
  assert.ok(service.get('SystemCallFilter')?.includes('@system-service'));
  for (const key of [
    'NoNewPrivileges',
    'PrivateTmp',
    'PrivateDevices',
    'ProtectHome',
    'ProtectKernelTunables',
    'ProtectKernelModules',
    'ProtectKernelLogs',
    'ProtectControlGroups',
    'ProtectClock',
    'ProtectHostname',
    'RestrictNamespaces',
    'RestrictRealtime',
    'RestrictSUIDSGID',
    'LockPersonality',
  ]) {
    assert.equal(one(key), 'yes', key);
  }
  assert.equal(one('ProtectSystem'), 'strict');
  assert.ok(unit.get('After')?.join(' ').includes('avahi-daemon.service'));
  assert.ok(unit.get('Wants')?.join(' ').includes('avahi-daemon.service'));
  assert.equal(service.has('MemoryDenyWriteExecute'), false);
  assert.match(text, /#.*MemoryDenyWriteExecute[^\n]*\n#[^\n]*V8|#[^\n]*MemoryDenyWriteExecute[^\n]*V8/);
});

test("systemd-analyze verifies the unit, and its exposure is not worse than the original unit's", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'passim-unit-'));
  try {
    const ours = await unitCopy(dir);
    // --man=no: the man pages named in Documentation= are not installed from a checkout.
    const verify = await runProcess('systemd-analyze', ['verify', '--man=no', ours]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.doesNotMatch(verify.stderr, /passim\.service/, verify.stderr);

    const originalDir = join(dir, 'original');
    await mkdir(originalDir);
    const original = join(originalDir, 'passim.service');
    await writeFile(original, ORIGINAL_UNIT);
    const oursFigure = await exposure(ours);
    const originalFigure = await exposure(original);
    console.log(`systemd-analyze security exposure: ours ${oursFigure}, original ${originalFigure}`);
    assert.ok(oursFigure <= originalFigure, `ours ${oursFigure} > original ${originalFigure}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('systemd-sysusers makes the passim system user from the sysusers file', async () => {
  const root = await mkdtemp(join(tmpdir(), 'passim-sysusers-'));
  try {
    await mkdir(join(root, 'etc'));
    const text = await readFile(SYSUSERS, 'utf8');
    const { code, stderr } = await runSysusers(['--root', root], text);
    assert.equal(code, 0, stderr);
    const passwd = await readFile(join(root, 'etc', 'passwd'), 'utf8');
    const entry = passwd.split('\n').find((l) => l.startsWith('passim:'));
    assert.ok(entry, passwd);
    const [, , uid, gid, gecos, home, shell] = entry.split(':');
    assert.ok(Number(uid) > 0 && Number(uid) < 1000, `a system UID, got ${uid}`);
    assert.equal(gid, uid);
    assert.equal(gecos, 'Local Caching Server');
    assert.equal(home, '/var/lib/passim');
    assert.match(shell, /nologin$/);
    assert.match(await readFile(join(root, 'etc', 'group'), 'utf8'), /^passim:x:\d+:/m);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the D-Bus activation file hands activation to systemd as the passim user', async () => {
  const service = section(await readFile(ACTIVATION, 'utf8'), 'D-BUS Service');
  assert.deepEqual(service.get('Name'), ['org.freedesktop.Passim']);
  assert.deepEqual(service.get('SystemdService'), ['passim.service']);
  assert.deepEqual(service.get('User'), ['passim']);
  assert.equal(service.get('Exec')?.length, 1);
});

test('passimd runs as the passim user: root publishes, the store and key belong to passim, HTTPS serves', async (t) => {
  // Undone last-in first-out: the daemon must be gone before its user is deleted.
  /** @type {(() => Promise<unknown>)[]} */
  const cleanups = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const ids = await passimUser();
  cleanups.push(() => ids.remove());
  const folders = await unprivilegedFolders(ids);
  cleanups.push(() => folders.remove());
  const { top, localStateDir, sysconfDir } = folders;
  // A file passim itself may not open: the daemon must read it through the fd root passes.
  const privateDir = join(top, 'root-only');
  await mkdir(privateDir, { mode: 0o700 });
  const source = join(privateDir, 'firmware.cab');
  const content = Buffer.from('passim runs unprivileged\n'.repeat(100));
  await writeFile(source, content, { mode: 0o600 });
  const hash = createHash('sha256').update(content).digest('hex');

  // The bus reads its policy (which lets passim own the name) after the user exists.
  const bus = await startBus();
  cleanups.push(() => bus.stop());
  const daemon = await startDaemon(bus, {
    insecure: false,
    uid: ids.uid,
    gid: ids.gid,
    localStateDir,
    sysconfDir,
  });
  cleanups.push(() => daemon.cleanup());

  const status = await readFile(`/proc/${daemon.pid}/status`, 'utf8');
  assert.match(status, new RegExp(`^Uid:\\s+${ids.uid}\\s+${ids.uid}\\s+${ids.uid}\\s+${ids.uid}$`, 'm'));

  const client = await connect(bus);
  try {
    await publish(client, source, { filename: 'firmware.cab' });
    const items = await getItems(client);
    assert.deepEqual(
      items.map((i) => i.hash),
      [hash],
    );
  } finally {
    client.disconnect();
  }

  const stored = join(daemon.dataDir, `${hash}-firmware.cab`);
  assert.deepEqual(await readdir(daemon.dataDir), [`${hash}-firmware.cab`]);
  const storedStat = await stat(stored);
  assert.equal(storedStat.uid, ids.uid);
  assert.equal(storedStat.gid, ids.gid);

  const key = await stat(join(localStateDir, 'lib', 'passim', 'secret.key'));
  assert.equal(key.uid, ids.uid);
  assert.equal(key.mode & 0o777, 0o600);

  const fetched = await runProcess(process.execPath, [FETCH, `${daemon.uri}firmware.cab?sha256=${hash}`]);
  const reply = JSON.parse(fetched.stdout);
  assert.equal(reply.status, 200, fetched.stdout);
  assert.equal(reply.sha256, hash);
  assert.equal(reply.size, content.length);
});
