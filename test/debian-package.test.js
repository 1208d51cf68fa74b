// The Debian packages, built from this checkout and installed the way an administrator would: in a Debian
// trixie system booted with systemd-nspawn that already runs Debian's own passim.
//
// `.ci/build-debs` builds passim and passim-apt with dpkg-buildpackage in the cached root with the build
// dependencies (trixie, Debian's Node.js 20) and runs lintian. trixie has no passim of its own, so the
// container (an overlay of the cached trixie-systemd root) gets Debian unstable's passim 0.1.10,
// libpassim1 and gir1.2-passim-1.0 before it boots: those install on trixie unchanged, and their daemon
// writes the store that ours must keep. Preparing needs the network (deb.debian.org); the container itself
// has none, so everything after the boot is offline: our packages come as files, apt's repository is local.
// All tests share the one container, in order.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT } from './lib/harness.js';
import { runProcess, waitFor } from './lib/process.js';
import { SYSTEMD_ROOT, bootContainer, requireSystemdRoot } from './lib/nspawn.js';

const sha256 = (/** @type {string} */ data) => createHash('sha256').update(data).digest('hex');
/** Where the tests keep their files inside the container. */
const FILES = '/srv/passim-test';
/** Where the packages are copied inside the container. */
const DEBS = '/srv/debs';
/** Cached .deb files of Debian unstable's passim and what it needs beyond the trixie root. */
const APT_ARCHIVES = '/var/cache/passim-ci/apt-archives';

/**
 * `what` with the command's exit status and output, for assertion messages.
 * @param {string} what
 * @param {import('./lib/process.js').RunResult} result
 */
function describeRun(what, { code, stdout, stderr }) {
  return `${what} exited with ${code}\n--- stdout:\n${stdout}--- stderr:\n${stderr}`;
}

// Run before the boot in the overlay (with the host's network): Debian unstable's passim with trixie's
// versions of everything it needs, no service started, then the root as clean as it was (no unstable in
// sources.list, no package lists).
const INSTALL_DEBIAN_PASSIM = `
r=$CONTAINER_ROOT
mount -t proc proc "$r/proc"
trap 'umount "$r/proc" "$r/var/cache/apt/archives" 2>/dev/null || true' EXIT
mkdir -p ${APT_ARCHIVES}/partial
mount --bind ${APT_ARCHIVES} "$r/var/cache/apt/archives"
cp /etc/resolv.conf "$r/etc/resolv.conf"
echo 'deb http://deb.debian.org/debian sid main' > "$r/etc/apt/sources.list.d/sid.list"
printf 'Package: *\\nPin: release n=sid\\nPin-Priority: 100\\n' > "$r/etc/apt/preferences.d/sid"
printf '#!/bin/sh\\nexit 101\\n' > "$r/usr/sbin/policy-rc.d"
chmod 755 "$r/usr/sbin/policy-rc.d"
in_root() { chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
in_root apt-get -o Acquire::Check-Valid-Until=false update -qq
in_root apt-get -o Dpkg::Use-Pty=0 install -y -qq --no-install-recommends passim/sid libpassim1/sid gir1.2-passim-1.0/sid >/dev/null
rm -f "$r/etc/apt/sources.list.d/sid.list" "$r/etc/apt/preferences.d/sid" "$r/usr/sbin/policy-rc.d"
rm -rf "$r/var/lib/apt/lists/"*
mkdir -p "$r${DEBS}"
cp "$PASSIM_DEBS"/*.deb "$r${DEBS}/"
`;

/**
 * Every path in the container outside what the system itself changes while it runs or installs (dpkg's and
 * apt's state and caches, logs other than passim's, systemd's runtime state other than deb-systemd-helper's,
 * the test's own files); `find` output, one path a line.
 */
const LIST_FILES = `find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/tmp \\
  -o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache/apt -o -path /var/cache/debconf -o -path /var/cache/ldconfig \\
  -o -path /var/log/journal -o -path /var/log/apt -o -path /var/log/dpkg.log -o -path /var/log/alternatives.log \\
  -o -path /var/lib/systemd/random-seed -o -path /var/lib/systemd/timers -o -path /var/lib/systemd/catalog \\
  -o -path /var/lib/polkit-1 -o -path /srv -o -path /root \\) -prune -o -print | LC_ALL=C sort`;

describe("the Debian packages replace Debian's passim and go away cleanly (trixie in systemd-nspawn)", () => {
  /** @type {import('./lib/nspawn.js').Container} */
  let container;
  /** @type {string} */
  let out;
  const started = Date.now();
  /** @type {string[]} */
  let debs = [];
  /** What the original daemon published before the upgrade. */
  const original = { content: `published by Debian's passimd ${Date.now()}\n`.repeat(32), hash: '' };
  original.hash = sha256(original.content);
  /** The administrator's passim.conf and the audit log before the upgrade. */
  let editedConf = '';
  /** @type {string[]} */
  let logFiles = [];
  /** The file list with Debian's passim installed, before ours. */
  let filesBefore = '';

  const run = (/** @type {string[]} */ argv) => container.exec(argv);
  const sh = (/** @type {string} */ script) => container.sh(script);
  /**
   * Runs argv and asserts it succeeded; returns its stdout.
   * @param {string[]} argv
   */
  async function ok(argv) {
    const result = await run(argv);
    assert.equal(result.code, 0, describeRun(argv.join(' '), result));
    return result.stdout;
  }
  /** @param {string} script */
  async function shOk(script) {
    const result = await sh(script);
    assert.equal(result.code, 0, describeRun(script, result));
    return result.stdout;
  }
  /**
   * Writes a file into the container readable by everyone.
   * @param {string} path
   * @param {string} content
   */
  async function putFile(path, content) {
    await mkdir(container.rootPath(join(path, '..')), { recursive: true, mode: 0o755 });
    await writeFile(container.rootPath(path), content, { mode: 0o644 });
  }
  const apt = (/** @type {string} */ args) =>
    sh(
      `DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold ${args} </dev/null`,
    );
  /** @param {string} what */
  async function waitForActive(what) {
    let state = '';
    await waitFor(
      async () => {
        state = (await run(['systemctl', 'is-active', 'passim.service'])).stdout.trim();
        return state === 'active';
      },
      what,
      60000,
      250,
    ).catch(async (err) => {
      const journal = await run(['journalctl', '--no-pager', '-n', '60', '-u', 'passim']);
      throw new Error(`${err.message} (last state: ${state})\n--- journal:\n${journal.stdout}`);
    });
  }

  before(async () => {
    requireSystemdRoot(SYSTEMD_ROOT);
    out = await mkdtemp(join(tmpdir(), 'passim-debs-'));
    const build = await runProcess('bash', [join(ROOT, '.ci/build-debs'), out], { env: { PATH: process.env.PATH } });
    // Without the -dbgsym package debhelper adds.
    const built = (await readdir(out)).filter((f) => f.endsWith('.deb') && !f.includes('-dbgsym_')).sort();
    console.log(`debian-package test: packages built in ${Date.now() - started} ms: ${built.join(', ')}`);
    console.log(`debian-package test: lintian:\n${await readFile(join(out, 'lintian.txt'), 'utf8').catch(() => '(none)')}`);
    assert.equal(build.code, 0, describeRun('.ci/build-debs (dpkg-buildpackage, then lintian --fail-on error,warning)', build));
    debs = built;

    await mkdir(APT_ARCHIVES, { recursive: true });
    container = await bootContainer({
      root: SYSTEMD_ROOT,
      cwd: ROOT,
      prepare: `PASSIM_DEBS=${out}\n${INSTALL_DEBIAN_PASSIM}`,
    });
    const state = await container.waitUntilRunning();
    if (state === 'degraded') {
      console.log(`debian-package test: booted degraded:\n${(await run(['systemctl', '--failed', '--no-pager'])).stdout}`);
    }
    console.log(`debian-package test: container running ${Date.now() - started} ms after the test began`);
  });

  after(async () => {
    if (container) await container.stop();
    if (out) await rm(out, { recursive: true, force: true });
    console.log(`debian-package test: whole run ${Date.now() - started} ms`);
  });

  test('the packages hold what they should', async () => {
    assert.deepEqual(debs.map((f) => f.replace(/_.*/, '')).sort(), ['passim', 'passim-apt']);
    const passimDeb = `${DEBS}/${debs.find((f) => f.startsWith('passim_'))}`;
    const fields = await ok(['dpkg-deb', '-f', passimDeb, 'Version', 'Depends', 'Recommends']);
    const abi = (await ok(['node', '-p', 'process.versions.modules'])).trim();
    assert.match(
      fields,
      new RegExp(`^Depends: .*\\blibnode${abi}\\b`, 'm'),
      'passim depends on the libnode of the ABI its addons were built for',
    );
    assert.match(fields, /^Depends: .*\bnodejs \(>= 20\)/m);
    assert.match(fields, /^Depends: .*\bdbus\b.*\bpolkitd\b/m);
    assert.match(fields, /^Recommends: avahi-daemon/m);
    const version = /^Version: (.*)$/m.exec(fields)?.[1] ?? '';
    const installed = (await ok(['dpkg-query', '-W', '-f', '${Version}', 'passim'])).trim();
    const newer = await run(['dpkg', '--compare-versions', version, 'gt', installed]);
    assert.equal(newer.code, 0, `our version ${version} is not newer than Debian's ${installed}`);
    const contents = await ok(['dpkg-deb', '-c', passimDeb]);
    for (const path of [
      './usr/libexec/passimd',
      './usr/bin/passimctl',
      './usr/bin/passim -> passimctl',
      './etc/passim.conf',
      './usr/lib/passim/node_modules/usocket/build/Release/uwrap.node',
      './usr/lib/sysusers.d/passim.conf',
    ]) {
      assert.ok(contents.includes(path), `passim's .deb has no ${path}`);
    }
    assert.ok(!contents.includes('apt-method'), "passim's .deb holds part of the apt method");
    // A fresh install creates the passim user before it starts the service.
    const postinst = await ok(['dpkg-deb', '-I', passimDeb, 'postinst']);
    assert.ok(
      postinst.indexOf('systemd-sysusers') >= 0 && postinst.indexOf('systemd-sysusers') < postinst.indexOf('deb-systemd-invoke'),
      postinst,
    );
  });

  test("Debian's passim runs and publishes as root before the upgrade", async () => {
    assert.match(await ok(['dpkg-query', '-W', '-f', '${Version}', 'passim']), /^0\.1\./);
    await putFile(`${FILES}/original.txt`, original.content);
    const published = await run(['passim', 'publish', `${FILES}/original.txt`]);
    assert.equal(published.code, 0, describeRun("Debian's passim publish", published));
    await waitForActive("Debian's passim.service to be started by D-Bus activation");
    assert.ok((await ok(['ls', '/var/lib/passim/data'])).includes(`${original.hash}-original.txt`));
    // The administrator's edit, which the upgrade must keep.
    editedConf = '[daemon]\n# edited by the administrator\nMaxItemSize=52428800\n';
    await putFile('/etc/passim.conf', editedConf);
    await ok(['systemctl', 'restart', 'passim']);
    logFiles = (await ok(['find', '/var/log/passim', '-type', 'f'])).trim().split('\n').filter(Boolean);
    filesBefore = await shOk(LIST_FILES);
  });

  test('apt install ./passim_*.deb upgrades it: the service restarts, keeps the store, the configuration and the log', async () => {
    const passimDeb = `${DEBS}/${debs.find((f) => f.startsWith('passim_'))}`;
    const install = await apt(`install -y ${passimDeb}`);
    assert.equal(install.code, 0, describeRun(`apt-get install ${passimDeb}`, install));
    await waitForActive('our passim.service to be active after the upgrade');
    const mainPid = (await ok(['systemctl', 'show', '-p', 'MainPID', '--value', 'passim'])).trim();
    assert.match((await ok(['readlink', `/proc/${mainPid}/exe`])).trim(), /\/node(js)?$/, 'the running daemon is ours (on Node.js)');
    assert.equal((await ok(['systemctl', 'is-enabled', 'passim.service'])).trim(), 'enabled');
    assert.equal((await ok(['systemctl', 'is-active', 'passim.socket'])).trim(), 'active');
    assert.equal(await readFile(container.rootPath('/etc/passim.conf'), 'utf8'), editedConf);
    for (const file of logFiles) assert.ok((await run(['test', '-f', file])).code === 0, `${file} is gone`);
    // Still served.
    const fetched = await run(['curl', '-k', '-sS', '--fail', `https://localhost:27500/original.txt?sha256=${original.hash}`]);
    assert.equal(fetched.code, 0, describeRun('curl of the item the original published', fetched));
    assert.equal(fetched.stdout, original.content);
    // Debian's library and its introspection data stay installed beside ours.
    for (const pkg of ['libpassim1', 'gir1.2-passim-1.0']) {
      assert.equal(await ok(['dpkg-query', '-W', '-f', '${Status}', pkg]), 'install ok installed');
    }
  });

  test('passimctl status and the original name passim status both work; root publishes', async () => {
    for (const command of ['passimctl', 'passim']) {
      const status = await ok([command, 'status']);
      assert.match(status, new RegExp(original.hash), `${command} status does not list the original's item:\n${status}`);
    }
    const content = `published by root after the upgrade ${Date.now()}\n`;
    await putFile(`${FILES}/ours.txt`, content);
    const published = await run(['passimctl', 'publish', `${FILES}/ours.txt`]);
    assert.equal(published.code, 0, describeRun('passimctl publish', published));
    assert.match(await ok(['passim', 'status']), new RegExp(sha256(content)));
  });

  test('passim-apt routes apt through the method while installed; removing it gives apt its own methods back', async () => {
    const aptDeb = `${DEBS}/${debs.find((f) => f.startsWith('passim-apt_'))}`;
    const install = await apt(`install -y ${aptDeb}`);
    assert.equal(install.code, 0, describeRun(`apt-get install ${aptDeb}`, install));
    // apt-config prints the key in the case of apt's own default (Dir::Bin::methods).
    assert.match(await ok(['apt-config', 'dump']), /^Dir::Bin::Methods::http "passim";$/im);

    // A local signed-by-nothing (trusted=yes) repository with one package, served by node on loopback.
    await shOk(`set -e
      mkdir -p /srv/repo/pkg/DEBIAN && cd /srv/repo
      printf 'Package: passim-test-pkg\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: t <t@example.org>\\nDescription: test\\n' > pkg/DEBIAN/control
      dpkg-deb -b pkg passim-test-pkg_1.0_all.deb >/dev/null
      size=$(stat -c %s passim-test-pkg_1.0_all.deb); sum=$(sha256sum passim-test-pkg_1.0_all.deb | cut -d' ' -f1)
      { dpkg-deb -f passim-test-pkg_1.0_all.deb; echo "Filename: ./passim-test-pkg_1.0_all.deb"; echo "Size: $size"; echo "SHA256: $sum"; echo; } > Packages
      { echo "Date: $(date -Ru)"; echo "SHA256:"; echo " $(sha256sum Packages | cut -d' ' -f1) $(stat -c %s Packages) Packages"; } > Release
      echo 'deb [trusted=yes] http://127.0.0.1:8080/ ./' > /etc/apt/sources.list
      rm -f /etc/apt/sources.list.d/*`);
    await shOk(`systemd-run --unit passim-test-repo --property=WorkingDirectory=/srv/repo node -e '
      const fs = require("fs"), path = require("path");
      require("http").createServer((q, s) => { const f = path.join("/srv/repo", decodeURIComponent(q.url.split("?")[0]));
        fs.readFile(f, (e, d) => { if (e) { s.writeHead(404); s.end(); } else { s.end(d); } }); }).listen(8080, "127.0.0.1");'`);
    await waitFor(async () => (await run(['curl', '-sf', 'http://127.0.0.1:8080/Release'])).code === 0, 'the local repository', 10000, 100);

    const update = await apt('-o Debug::pkgAcquire::Worker=true update');
    assert.equal(update.code, 0, describeRun('apt-get update through passim-apt', update));
    assert.match(update.stdout + update.stderr, /\/usr\/lib\/apt\/methods\/passim/, 'apt did not start the passim method');
    const download = await sh('cd /tmp && apt-get download passim-test-pkg');
    assert.equal(download.code, 0, describeRun('apt-get download through passim-apt', download));

    const remove = await apt('remove -y passim-apt');
    assert.equal(remove.code, 0, describeRun('apt-get remove passim-apt', remove));
    const dump = await ok(['apt-config', 'dump']);
    assert.doesNotMatch(dump, /^Dir::Bin::Methods::https? /im, 'apt still routes through passim after removal');
    const again = await apt('-o Debug::pkgAcquire::Worker=true update');
    assert.equal(again.code, 0, describeRun('apt-get update after removing passim-apt', again));
    assert.doesNotMatch(again.stdout + again.stderr, /methods\/passim/);
    assert.match(again.stdout + again.stderr, /\/usr\/lib\/apt\/methods\/http/);
    await ok(['systemctl', 'stop', 'passim-test-repo']);
  });

  test('apt remove stops the service and keeps the store and configuration; apt purge leaves nothing of ours', async () => {
    const remove = await apt('remove -y passim');
    assert.equal(remove.code, 0, describeRun('apt-get remove passim', remove));
    assert.notEqual((await run(['systemctl', 'is-active', 'passim.service'])).stdout.trim(), 'active');
    assert.notEqual((await run(['systemctl', 'is-active', 'passim.socket'])).stdout.trim(), 'active');
    assert.equal((await run(['test', '-e', '/usr/libexec/passimd'])).code, 1);
    assert.equal((await run(['test', '-f', `/var/lib/passim/data/${original.hash}-original.txt`])).code, 0, 'remove deleted the store');
    assert.equal(await readFile(container.rootPath('/etc/passim.conf'), 'utf8'), editedConf, 'remove deleted passim.conf');
    // The original's audit log, with our daemon's lines after its own.
    const audit = await ok(['cat', '/var/log/passim/audit.log']);
    assert.ok(audit.includes(original.hash), `the original's publish is not in the audit log after remove:\n${audit}`);
    assert.ok((audit.match(/ PBLSH /g) ?? []).length >= 2, `our publish is not in the audit log:\n${audit}`);

    const purge = await apt('purge -y passim passim-apt');
    assert.equal(purge.code, 0, describeRun('apt-get purge passim passim-apt', purge));
    const filesAfter = await shOk(LIST_FILES);
    const before = new Set(filesBefore.split('\n'));
    const left = filesAfter.split('\n').filter((path) => path && !before.has(path));
    assert.deepEqual(left, [], 'files the packages left behind after purge');
    for (const path of ['/var/lib/passim', '/var/log/passim', '/etc/passim.conf', '/etc/apt/apt.conf.d/50passim', '/usr/lib/passim']) {
      assert.equal((await run(['test', '-e', path])).code, 1, `${path} is still there after purge`);
    }
    const status = await run(['dpkg-query', '-W', '-f', '${db:Status-Abbrev}\n', 'passim', 'passim-apt']);
    assert.doesNotMatch(status.stdout, /^(ii|rc)/m, 'dpkg still knows the packages after purge');
  });
});
