// data/install.sh into a temporary DESTDIR, the installed programs at work, and the desktop files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { access, chmod, mkdtemp, readFile, readdir, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startBus, startDaemon } from './lib/harness.js';
import { runProcess } from './lib/process.js';
import { CONFIG_KEYS } from '../dist/daemon/config.js';

const FETCH = join(ROOT, 'test', 'lib', 'fetch.js');
const PACKAGE = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));

/** Every file the installer must lay down, relative to DESTDIR, with its mode. */
const INSTALLED = {
  'usr/libexec/passimd': 0o755,
  'usr/bin/passimctl': 0o755,
  'usr/lib/passim/bin/passimd': 0o755,
  'usr/lib/passim/bin/passimctl': 0o755,
  'usr/lib/passim/bin/passim-apt-method': 0o755,
  'usr/lib/passim/dist/apt-method/main.js': 0o644,
  'usr/lib/apt/methods/passim': 0o755,
  'etc/apt/apt.conf.d/50passim': 0o644,
  'usr/share/polkit-1/rules.d/50-passim-apt.rules': 0o644,
  'usr/share/man/man8/passim-apt.8': 0o644,
  'usr/lib/passim/dist/daemon/main.js': 0o644,
  'usr/lib/passim/dist/ctl/main.js': 0o644,
  'usr/lib/passim/dbus/org.freedesktop.Passim.xml': 0o644,
  'usr/lib/passim/package.json': 0o644,
  'usr/share/dbus-1/system.d/org.freedesktop.Passim.conf': 0o644,
  'usr/share/dbus-1/system-services/org.freedesktop.Passim.service': 0o644,
  'usr/share/dbus-1/interfaces/org.freedesktop.Passim.xml': 0o644,
  'usr/share/polkit-1/actions/org.freedesktop.passim.policy': 0o644,
  'usr/lib/systemd/system/passim.service': 0o644,
  'usr/lib/sysusers.d/passim.conf': 0o644,
  'usr/share/man/man1/passimctl.1': 0o644,
  'usr/share/man/man5/passim.conf.5': 0o644,
  'usr/share/man/man8/passimd.8': 0o644,
  'usr/share/metainfo/org.freedesktop.Passim.metainfo.xml': 0o644,
  'usr/share/icons/hicolor/scalable/apps/org.freedesktop.Passim.svg': 0o644,
  'usr/share/bash-completion/completions/passimctl': 0o644,
  'usr/share/locale/de/LC_MESSAGES/passim.mo': 0o644,
  'usr/lib/firewalld/services/passim.xml': 0o644,
  'etc/ufw/applications.d/passim': 0o644,
  'etc/passim.conf': 0o644,
};

/** @param {string} path */
async function exists(path) {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

test('install.sh refuses arguments instead of ignoring them, and installs nothing', async (t) => {
  const destdir = await mkdtemp(join(tmpdir(), 'passim-destdir-'));
  t.after(() => rm(destdir, { recursive: true, force: true }));
  const install = await runProcess('sh', [join(ROOT, 'data', 'install.sh'), '--destdir', destdir], {
    cwd: tmpdir(),
    env: { ...process.env, DESTDIR: destdir },
  });
  assert.equal(install.code, 1);
  assert.match(install.stderr, /unexpected argument '--destdir': settings are environment variables/);
  assert.deepEqual(await readdir(destdir), []);
});

test('install.sh fails clearly when the target Node.js cannot load the native addon', async (t) => {
  const destdir = await mkdtemp(join(tmpdir(), 'passim-destdir-'));
  t.after(() => rm(destdir, { recursive: true, force: true }));
  // A Node.js of another ABI: it reports ABI 999 and fails to load any addon, as a real mismatch does.
  const otherNode = join(destdir, 'other-node');
  await writeFile(
    otherNode,
    '#!/bin/sh\ncase "$1" in -p) echo 999 ;; *) echo "was compiled against a different Node.js version" >&2; exit 1 ;; esac\n',
    { mode: 0o755 },
  );
  const install = await runProcess('sh', [join(ROOT, 'data', 'install.sh')], {
    cwd: tmpdir(),
    env: { ...process.env, DESTDIR: join(destdir, 'root'), PREFIX: '/usr', NODE: otherNode },
  });
  assert.equal(install.code, 1);
  assert.match(
    install.stderr,
    new RegExp(`other-node \\(ABI 999\\) cannot load the usocket addon built by this machine's node \\(ABI ${process.versions.modules}\\)`),
  );
});

test('install.sh lays out the tree, and the installed passimd and passimctl publish and serve a file', async (t) => {
  const destdir = await mkdtemp(join(tmpdir(), 'passim-destdir-'));
  t.after(() => rm(destdir, { recursive: true, force: true }));
  const install = await runProcess('sh', [join(ROOT, 'data', 'install.sh')], {
    cwd: tmpdir(), // the script finds the checkout from its own path
    env: { ...process.env, DESTDIR: destdir, PREFIX: '/usr', SYSCONFDIR: '/etc' },
  });
  assert.equal(install.code, 0, install.stderr);

  for (const [path, mode] of Object.entries(INSTALLED)) {
    const info = await stat(join(destdir, path));
    assert.ok(info.isFile(), path);
    assert.equal(info.mode & 0o777, mode, `${path} has mode ${(info.mode & 0o777).toString(8)}`);
  }
  // Every compiled module, none of the TypeScript or source maps.
  const sources = (await readdir(join(ROOT, 'src'), { recursive: true }))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.replace(/\.ts$/, '.js'));
  const installed = (await readdir(join(destdir, 'usr/lib/passim/dist'), { recursive: true })).filter((f) => f.endsWith('.js'));
  assert.deepEqual(installed.sort(), sources.sort());
  assert.deepEqual(
    (await readdir(join(destdir, 'usr/lib/passim/dist'), { recursive: true })).filter((f) => /\.(ts|map)$/.test(f)),
    [],
  );
  // Production dependencies only, with the native addon usocket already built.
  const modules = join(destdir, 'usr/lib/passim/node_modules');
  for (const dependency of Object.keys(PACKAGE.dependencies)) assert.ok(await exists(join(modules, dependency)), dependency);
  for (const dependency of Object.keys(PACKAGE.devDependencies)) assert.equal(await exists(join(modules, dependency)), false, dependency);
  assert.ok(await exists(join(modules, 'usocket/build/Release/uwrap.node')));
  // The code finds the installed catalogs through dist/locale, a relative link into PREFIX/share/locale.
  assert.equal(await readlink(join(destdir, 'usr/lib/passim/dist/locale')), '../../../share/locale');
  assert.equal(await realpath(join(destdir, 'usr/lib/passim/dist/locale')), await realpath(join(destdir, 'usr/share/locale')));
  // The polkit policy and the metainfo carry the translations, merged from po/.
  const policy = await readFile(join(destdir, 'usr/share/polkit-1/actions/org.freedesktop.passim.policy'), 'utf8');
  assert.equal(policy.match(/<(description|message) xml:lang="de">/g)?.length, 4, policy);
  const dtd = await runProcess('xmllint', [
    '--noout',
    '--dtdvalid',
    '/usr/share/polkit-1/policyconfig-1.dtd',
    join(destdir, 'usr/share/polkit-1/actions/org.freedesktop.passim.policy'),
  ]);
  assert.equal(dtd.code, 0, dtd.stderr);
  // The unit and the installed files match the checkout's.
  assert.match(await readFile(join(destdir, 'usr/lib/systemd/system/passim.service'), 'utf8'), /^ExecStart=\/usr\/libexec\/passimd$/m);
  assert.equal(await readFile(join(destdir, 'usr/share/man/man8/passimd.8'), 'utf8'), await readFile(join(ROOT, 'man/passimd.8'), 'utf8'));

  // apt's method, installed, starts and tells apt its capabilities; apt's configuration resolves to it. Its
  // launcher runs it as apt's sandbox user, who must be able to read the tree (mkdtemp made it 0700).
  await chmod(destdir, 0o755);
  const method = await runProcess(join(destdir, 'usr/lib/apt/methods/passim'), [], { timeoutMs: 10_000 });
  assert.equal(method.code, 0, method.stderr);
  assert.match(method.stdout, /^100 Capabilities\nVersion: 1\.2\n(.+\n)*Send-Config: true\n/);
  const resolved = await runProcess('apt-config', [
    '-c',
    join(destdir, 'etc/apt/apt.conf.d/50passim'),
    'shell',
    'HTTP',
    'Dir::Bin::Methods::http/f',
    'HTTPS',
    'Dir::Bin::Methods::https/f',
  ]);
  assert.equal(resolved.stdout, "HTTP='/usr/lib/apt/methods/passim'\nHTTPS='/usr/lib/apt/methods/passim'\n");

  // The default configuration names every key, all commented out.
  const defaults = await readFile(join(destdir, 'etc/passim.conf'), 'utf8');
  for (const key of CONFIG_KEYS) assert.match(defaults, new RegExp(`^#${key}=`, 'm'), key);
  assert.doesNotMatch(defaults, /^[A-Za-z]+=/m);

  // The installed programs, with the installed default configuration after the test's port.
  const passimctl = join(destdir, 'usr/bin/passimctl');
  const bus = await startBus();
  t.after(() => bus.stop());
  const daemon = await startDaemon(bus, { program: join(destdir, 'usr/libexec/passimd'), configText: defaults });
  t.after(() => daemon.cleanup());
  // It calls itself passimd, and runs the installed code: the native addon it mapped is the installed one.
  assert.equal((await readFile(`/proc/${daemon.pid}/comm`, 'utf8')).trim(), 'passimd');
  assert.match(
    await readFile(`/proc/${daemon.pid}/maps`, 'utf8'),
    new RegExp(`${destdir}/usr/lib/passim/node_modules/usocket/build/Release/uwrap\\.node`),
  );

  const env = { ...process.env, ...bus.env };
  const version = await runProcess(passimctl, ['--version'], { env });
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, new RegExp(`client version: ${PACKAGE.version.replace(/\./g, '\\.')}`));
  assert.match(version.stdout, new RegExp(`daemon version: ${PACKAGE.version.replace(/\./g, '\\.')}`));

  const work = await mkdtemp(join(tmpdir(), 'passim-installed-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const content = Buffer.from('installed passim\n'.repeat(50));
  const hash = createHash('sha256').update(content).digest('hex');
  await writeFile(join(work, 'metadata.xml'), content);
  const published = await runProcess(passimctl, ['publish', join(work, 'metadata.xml')], { env });
  assert.equal(published.code, 0, published.stderr);
  assert.match(published.stdout, /^Published: metadata\.xml/m);
  // In German, from the installed catalog.
  const german = { ...env, LANGUAGE: 'de' };
  const statusDe = await runProcess(passimctl, ['status'], { env: german });
  assert.equal(statusDe.code, 0, statusDe.stderr);
  assert.match(statusDe.stdout, /^ {2}Dateiname: +metadata\.xml$/m);
  const helpDe = await runProcess(passimctl, ['--help'], { env: german });
  assert.match(helpDe.stdout, /^Aufruf: passimctl <Befehl> \[Optionen\]$/m);

  const status = await runProcess(passimctl, ['status', '--json'], { env });
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(
    JSON.parse(status.stdout).items.map((/** @type {{ hash: string }} */ i) => i.hash),
    [hash],
  );

  const fetched = await runProcess(process.execPath, [FETCH, `${daemon.uri}metadata.xml?sha256=${hash}`]);
  const reply = JSON.parse(fetched.stdout);
  assert.equal(reply.status, 200, fetched.stdout);
  assert.equal(reply.sha256, hash);
});

test('appstreamcli accepts the metainfo file with its translations merged in', async () => {
  // What npm run build merged from data/org.freedesktop.Passim.metainfo.xml.in and po/, as install.sh does.
  const merged = join(ROOT, 'dist/data/org.freedesktop.Passim.metainfo.xml');
  const { code, stdout, stderr } = await runProcess('appstreamcli', ['validate', '--no-net', merged]);
  assert.equal(code, 0, stdout + stderr);
  const metainfo = await readFile(merged, 'utf8');
  assert.match(metainfo, new RegExp(`<release version="${PACKAGE.version}"`));
  assert.match(metainfo, /<binary>passimctl<\/binary>/);
  assert.match(metainfo, /<summary xml:lang="de">Heruntergeladene Dateien mit anderen Rechnern im lokalen Netzwerk teilen<\/summary>/);
  assert.equal(metainfo.match(/<p xml:lang="de">/g)?.length, metainfo.match(/<p>/g)?.length, 'every paragraph in German');
});

test('the icon is well-formed SVG', async () => {
  const path = join(ROOT, 'data/org.freedesktop.Passim.svg');
  const { code, stderr } = await runProcess('xmllint', ['--noout', path]);
  assert.equal(code, 0, stderr);
  assert.match(await readFile(path, 'utf8'), /<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* viewBox=/);
});

/**
 * Sources the completion in a fresh bash, completes `words` at the last word, prints COMPREPLY.
 * @param {string[]} words
 */
async function complete(words) {
  const script = [
    'source "$0"',
    'complete -p passimctl',
    'COMP_WORDS=("$@")',
    'COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))',
    '_passimctl',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const { code, stdout, stderr } = await runProcess(
    'bash',
    ['--norc', '--noprofile', '-c', script, join(ROOT, 'data/passimctl.bash-completion'), ...words],
    { env: { PATH: process.env.PATH } },
  );
  assert.equal(code, 0, stderr);
  const [registration, ...candidates] = stdout.split('\n').filter(Boolean);
  assert.equal(registration, 'complete -o filenames -F _passimctl passimctl');
  return candidates;
}

test('bash completion completes passimctl commands and options', async () => {
  assert.deepEqual(await complete(['passimctl', 'pu']), ['publish']);
  assert.deepEqual(await complete(['passimctl', 'u']), ['unpublish']);
  assert.deepEqual((await complete(['passimctl', ''])).sort(), [
    'completion',
    'download',
    'dump',
    'fetch',
    'publish',
    'status',
    'unpublish',
  ]);
  assert.deepEqual((await complete(['passimctl', '--'])).sort(), ['--help', '--version']);
  assert.deepEqual((await complete(['passimctl', 'status', '--'])).sort(), ['--all', '--help', '--json', '--version']);
  assert.deepEqual(await complete(['passimctl', 'fetch', 'https://example.org/a.cab', '--p']), ['--publish']);
  assert.deepEqual(await complete(['passimctl', 'publish', 'file.cab', '--n']), ['--next-reboot']);
});

test('an installed passimd whose native addon does not load refuses to start, saying why', async (t) => {
  const destdir = await mkdtemp(join(tmpdir(), 'passim-destdir-'));
  t.after(() => rm(destdir, { recursive: true, force: true }));
  const install = await runProcess('sh', [join(ROOT, 'data', 'install.sh')], {
    cwd: tmpdir(),
    env: { ...process.env, DESTDIR: destdir, PREFIX: '/usr', SYSCONFDIR: '/etc' },
  });
  assert.equal(install.code, 0, install.stderr);
  // What a Node.js of another ABI sees: the addon is there but cannot be loaded.
  await writeFile(join(destdir, 'usr/lib/passim/node_modules/usocket/build/Release/uwrap.node'), 'not an ELF file');
  const bus = await startBus();
  t.after(() => bus.stop());
  const started = await runProcess(join(destdir, 'usr/libexec/passimd'), [], {
    env: { ...process.env, ...bus.env, LOCALSTATEDIR: join(destdir, 'var'), SYSCONFDIR: join(destdir, 'etc') },
  });
  assert.equal(started.code, 1);
  assert.match(started.stderr, /passimd: error: the usocket module, which passes file descriptors over D-Bus, cannot be loaded/);
});

test('the firewall files open exactly the HTTPS port, and mDNS for firewalld', async () => {
  const run = (/** @type {string} */ command, /** @type {string[]} */ args) => runProcess(command, args);
  const firewalld = join(ROOT, 'data', 'firewall', 'passim.xml');
  const lint = await run('xmllint', ['--noout', firewalld]);
  assert.equal(lint.code, 0, lint.stderr);
  const xml = await readFile(firewalld, 'utf8');
  assert.deepEqual(
    [...xml.matchAll(/<port protocol="(\w+)" port="(\d+)"\/>/g)].map((m) => `${m[2]}/${m[1]}`),
    ['27500/tcp'],
  );
  assert.match(xml, /<include service="mdns"\/>/);
  const ufw = await readFile(join(ROOT, 'data', 'firewall', 'passim.ufw'), 'utf8');
  assert.match(ufw, /^\[Passim\]$/m);
  assert.deepEqual(
    [...ufw.matchAll(/^ports=(.*)$/gm)].map((m) => m[1]),
    ['27500/tcp'],
  );
  for (const key of ['title', 'description']) assert.match(ufw, new RegExp(`^${key}=.+$`, 'm'), key);
});
