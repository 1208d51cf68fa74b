// Real apt against a real Debian repository: synthetic packages built with dpkg-deb, indexes and a signed
// InRelease (by-hash) from apt-ftparchive and a throwaway gpg key, an HTTP origin that counts what it
// sends to each client, and private apt state (APT_CONFIG), never the machine's own.
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './harness.js';
import { runProcess, stopProcess } from './process.js';

const exec = promisify(execFile);

/** Our acquire method, as apt runs it (a program path). */
export const APT_METHOD = join(ROOT, 'bin', 'passim-apt-method');
export const APT_USER_UID = 42;

/**
 * A Debian repository of `count` packages passim-test-NNN, each with `payloadBytes` of random data (so
 * the packages, not the indexes, make up most of the bytes), under `dir`/repo; the public key in
 * `dir`/key.gpg. Everything is world-readable: apt's methods run as _apt.
 * @param {string} dir
 * @param {{ count: number, payloadBytes: number }} options
 */
export async function buildRepository(dir, { count, payloadBytes }) {
  const repo = join(dir, 'repo');
  const pool = join(repo, 'pool', 'main');
  const lists = join(repo, 'dists', 'stable', 'main', 'binary-amd64');
  await mkdir(pool, { recursive: true });
  await mkdir(lists, { recursive: true });
  const build = join(dir, 'build');
  /** @type {{ name: string, file: string }[]} */
  const packages = [];
  // dpkg-deb runs a few at a time: 2 cores are shared.
  const names = Array.from({ length: count }, (_, i) => `passim-test-${String(i).padStart(3, '0')}`);
  for (let i = 0; i < names.length; i += 4) {
    await Promise.all(
      names.slice(i, i + 4).map(async (name) => {
        const tree = join(build, name);
        await mkdir(join(tree, 'DEBIAN'), { recursive: true });
        await mkdir(join(tree, 'usr', 'share', 'passim-test'), { recursive: true });
        await writeFile(
          join(tree, 'DEBIAN', 'control'),
          `Package: ${name}\nVersion: 1.0\nArchitecture: all\nMaintainer: Passim tests <tests@example.org>\nDescription: synthetic package for the apt method test\n`,
        );
        await writeFile(join(tree, 'usr', 'share', 'passim-test', name), randomBytes(payloadBytes));
        const file = join(pool, `${name}_1.0_all.deb`);
        await exec('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z1', '--build', tree, file]);
        packages.push({ name, file });
      }),
    );
  }
  const { stdout: index } = await exec('apt-ftparchive', ['packages', 'pool'], { cwd: repo, maxBuffer: 64 * 1024 * 1024 });
  await writeFile(join(lists, 'Packages'), index);
  await exec('gzip', ['-9k', join(lists, 'Packages')]);
  await exec('xz', ['-k', join(lists, 'Packages')]);
  const dists = join(repo, 'dists', 'stable');
  const { stdout: release } = await exec(
    'apt-ftparchive',
    [
      '-o',
      'APT::FTPArchive::DoByHash=true',
      '-o',
      'APT::FTPArchive::Release::Origin=passim-test',
      '-o',
      'APT::FTPArchive::Release::Suite=stable',
      '-o',
      'APT::FTPArchive::Release::Codename=stable',
      '-o',
      'APT::FTPArchive::Release::Architectures=amd64',
      '-o',
      'APT::FTPArchive::Release::Components=main',
      'release',
      '.',
    ],
    { cwd: dists, maxBuffer: 16 * 1024 * 1024 },
  );
  await writeFile(join(dir, 'Release'), release);
  await rename(join(dir, 'Release'), join(dists, 'Release'));
  const gnupg = join(dir, 'gnupg');
  await mkdir(gnupg, { mode: 0o700 });
  const gpg = (/** @type {string[]} */ ...args) =>
    exec('gpg', ['--homedir', gnupg, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args]);
  await gpg('--quick-gen-key', 'Passim apt test <tests@example.org>', 'ed25519', 'sign', 'never');
  await gpg('--clearsign', '-o', join(dists, 'InRelease'), join(dists, 'Release'));
  const keyring = join(dir, 'key.gpg');
  await gpg('-o', keyring, '--export');
  await exec('chmod', ['-R', 'a+rX', dir]);
  await chmod(gnupg, 0o700);
  return { repo, keyring, packages };
}

// Runs inside the origin's namespace: serves ROOT over HTTP/1.1 (keep-alive, as apt pipelines) and prints
// one JSON line per response { client, path, status, bytes } once it is sent. LATENCY_MS > 0 holds each
// response back that long (a mirror's round trip; pipelined requests overlap as on a real link) and
// BYTES_PER_SECOND > 0 paces all bodies together at that rate (the link to the mirror): this machine's
// kernel has no netem to do either on the veth.
const ORIGIN = `
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { join, normalize } from 'node:path';
const [root, port, latencyMs, bytesPerSecond] = process.argv.slice(1).map((a, i) => (i === 0 ? a : Number(a)));
let linkFreeAt = 0;
const paced = (bytes) => {
  if (!(bytesPerSecond > 0)) return 0;
  const now = performance.now();
  linkFreeAt = Math.max(now, linkFreeAt) + (bytes * 1000) / bytesPerSecond;
  return linkFreeAt - now;
};
const server = createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
  const client = req.socket.remoteAddress;
  let bytes = 0;
  const log = (status) => process.stdout.write(JSON.stringify({ client, path, status, bytes }) + '\\n');
  let stat;
  try { stat = statSync(join(root, path)); } catch {}
  setTimeout(() => {
    if (!stat || !stat.isFile() || path.includes('..')) {
      res.writeHead(404, { 'content-length': 0 }).end();
      return log(404);
    }
    res.writeHead(200, { 'content-length': stat.size, 'last-modified': stat.mtime.toUTCString() });
    if (req.method === 'HEAD') { res.end(); return log(200); }
    const stream = createReadStream(join(root, path), { highWaterMark: 16384 });
    stream.on('data', (chunk) => {
      bytes += chunk.length;
      const wait = paced(chunk.length);
      const more = res.write(chunk);
      if (wait > 0 || !more) {
        stream.pause();
        let waited = wait <= 0;
        let drained = more;
        const go = () => { if (waited && drained) stream.resume(); };
        if (!waited) setTimeout(() => { waited = true; go(); }, wait);
        if (!drained) res.once('drain', () => { drained = true; go(); });
      }
    });
    stream.on('end', () => res.end());
    res.on('finish', () => log(200));
  }, latencyMs);
});
server.listen(port, '0.0.0.0', () => process.stdout.write(JSON.stringify({ listening: true }) + '\\n'));
`;

/**
 * The HTTP origin in namespace `ns` on `port`, serving `root`; `shape` slows it like a distant mirror
 * (see ORIGIN).
 * @param {string} ns
 * @param {string} root
 * @param {number} port
 * @param {{ latencyMs?: number, bytesPerSecond?: number }} [shape]
 */
export async function startOrigin(ns, root, port, { latencyMs = 0, bytesPerSecond = 0 } = {}) {
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      '--input-type=module',
      '-e',
      ORIGIN,
      root,
      String(port),
      String(latencyMs),
      String(bytesPerSecond),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  /** @type {{ client: string, path: string, status: number, bytes: number }[]} */
  const log = [];
  let buffered = '';
  /** @type {(value?: unknown) => void} */
  let listening = () => {};
  const ready = new Promise((resolve) => {
    listening = resolve;
  });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const entry = JSON.parse(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
      if (entry.listening) listening();
      else log.push(entry);
    }
  });
  const exited = new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`origin exited with ${code}`))));
  await Promise.race([ready, exited]);
  return {
    log,
    /** Body bytes sent to `address` so far. */
    bytesTo: (/** @type {string} */ address) =>
      log.filter((e) => e.client.replace(/^::ffff:/, '') === address).reduce((n, e) => n + e.bytes, 0),
    /** Paths sent to `address` (status 200) so far. */
    pathsTo: (/** @type {string} */ address) =>
      log.filter((e) => e.client.replace(/^::ffff:/, '') === address && e.status === 200).map((e) => e.path),
    stop: () => stopProcess(child),
  };
}

/**
 * Private apt state under `dir` (Dir, status, sources, keyring, and our method for http when `method`),
 * through an APT_CONFIG file so that neither the machine's /etc/apt nor its state is read or touched.
 * `extra` adds configuration lines. Returns { dir, downloads, run(ns, env, args) }.
 * @param {string} dir
 * @param {{ origin: string, keyring: string, method: boolean, extra?: string }} options
 */
export async function aptRoot(dir, { origin, keyring, method, extra = '' }) {
  for (const sub of [
    'etc/apt/apt.conf.d',
    'etc/apt/sources.list.d',
    'etc/apt/preferences.d',
    'etc/apt/trusted.gpg.d',
    'var/lib/apt/lists',
    'var/lib/dpkg',
    'var/cache/apt/archives',
    'var/log/apt',
    'downloads',
  ]) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  await writeFile(join(dir, 'var/lib/dpkg/status'), '');
  await writeFile(join(dir, 'etc/apt/sources.list'), `deb [signed-by=${keyring}] ${origin} stable main\n`);
  const config = join(dir, 'apt.conf');
  await writeFile(
    config,
    `Dir "${dir}/";
Dir::State::status "${dir}/var/lib/dpkg/status";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
Acquire::PDiffs "false";
${method ? `Dir::Bin::Methods::http "${APT_METHOD}";\n` : ''}${extra}
`,
  );
  // apt's methods run as _apt: it must reach the state and write the download folder.
  await exec('chmod', ['-R', 'a+rX', dir]);
  await chown(join(dir, 'downloads'), APT_USER_UID, 0);
  return {
    dir,
    downloads: join(dir, 'downloads'),
    /**
     * apt-get ARGS inside namespace `ns` with the host's bus in `env`.
     * @param {string} ns
     * @param {Record<string, string>} env
     * @param {string[]} args
     */
    run(ns, env, args) {
      return runProcess('ip', ['netns', 'exec', ns, 'apt-get', '-q', ...args], {
        cwd: join(dir, 'downloads'),
        env: { ...process.env, ...env, APT_CONFIG: config, LC_ALL: 'C.UTF-8', LANGUAGE: '' },
        timeoutMs: 300_000,
      });
    },
  };
}

/** SHA-256 of a file. @param {string} path */
export async function fileSha256(path) {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** @param {string} command @param {string[]} args */
export async function run(command, args) {
  const result = await runProcess(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result;
}
