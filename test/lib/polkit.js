// A real polkitd on a test bus, the project's policy installed where polkitd reads it, rules.d files and a
// throwaway user. Everything installed is removed again by the functions returned.
import { execFile, spawn } from 'node:child_process';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, connect, nameHasOwner } from './harness.js';
import { isExecFailure, pidOf, stopProcess, waitFor } from './process.js';

const run = promisify(execFile);

export const POLKITD = '/usr/lib/polkit-1/polkitd';
/** The policy with its translations, as npm run build merges polkit/org.freedesktop.passim.policy.in and po/. */
export const POLICY = join(ROOT, 'dist', 'data', 'org.freedesktop.passim.policy');
const ACTIONS_DIR = '/usr/share/polkit-1/actions';
const RULES_DIR = '/etc/polkit-1/rules.d';

/**
 * Starts polkitd on `bus`. It must start as root: it switches to the polkitd user itself (started as
 * that user, it fails to drop supplementary groups), and the bus lets only that user own the name.
 * @param {import('./harness.js').BusAddress} bus
 */
export async function startPolkitd(bus) {
  const child = spawn(POLKITD, [], { env: { ...process.env, ...bus.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const client = await connect(bus);
  try {
    await Promise.race([
      waitFor(() => nameHasOwner(client, 'org.freedesktop.PolicyKit1'), 'polkitd to own org.freedesktop.PolicyKit1'),
      exited.then((code) => {
        throw new Error(`polkitd exited with ${code}:\n${output}`);
      }),
    ]);
  } catch (err) {
    await stopProcess(child);
    throw err;
  } finally {
    client.disconnect();
  }
  return {
    pid: pidOf(child),
    output: () => output,
    stop: () => stopProcess(child),
  };
}

/** Installs the built policy (POLICY); the returned function puts back what was there before. */
export async function installPolicy() {
  const target = join(ACTIONS_DIR, 'org.freedesktop.passim.policy');
  const previous = await readFile(target).catch(() => undefined);
  await copyFile(POLICY, target);
  return async () => {
    if (previous === undefined) await rm(target, { force: true });
    else await writeFile(target, previous);
  };
}

/**
 * Writes a rules.d file (readable by the polkitd user); the returned function removes it.
 * @param {string} name
 * @param {string} javascript
 */
export async function installRule(name, javascript) {
  const path = join(RULES_DIR, name);
  await writeFile(path, javascript, { mode: 0o644, flag: 'wx' });
  return () => rm(path, { force: true });
}

/**
 * A user made by createUser().
 * @typedef {{ name: string, uid: number, gid: number }} User
 */

/**
 * Creates a system user with a group of the same name; the returned object's remove() deletes both.
 * @param {string} name
 */
export async function createUser(name) {
  await run('useradd', [
    '--system',
    '--user-group',
    '--no-create-home',
    '--home-dir',
    '/nonexistent',
    '--shell',
    '/usr/sbin/nologin',
    name,
  ]);
  const uid = Number((await run('id', ['-u', name])).stdout.trim());
  const gid = Number((await run('id', ['-g', name])).stdout.trim());
  return { name, uid, gid, remove: () => run('userdel', [name]) };
}

/**
 * What polkitd now answers for `actionId` asked by a process of `user`, through pkcheck: 'yes', 'no' or
 * 'challenge'. Used to wait until polkitd has reloaded changed rules.
 * @param {import('./harness.js').BusAddress} bus
 * @param {User} user
 * @param {string} actionId
 */
export async function pkcheck(bus, user, actionId) {
  try {
    // $$: pkcheck checks itself, a process of the user (others' processes need a privileged caller).
    await run('sh', ['-c', `exec pkcheck --action-id ${actionId} --process $$`], {
      uid: user.uid,
      gid: user.gid,
      env: { ...process.env, ...bus.env },
      timeout: 10000,
    });
    return 'yes';
  } catch (err) {
    if (!isExecFailure(err)) throw err;
    if (err.code === 1) return 'no';
    if (err.code === 2) return 'challenge';
    throw new Error(`pkcheck failed (${err.code ?? err.signal}): ${err.stderr}`);
  }
}

/**
 * Waits (bounded) until polkitd answers `expected` for `actionId` and `user`: rules reload asynchronously.
 * @param {import('./harness.js').BusAddress} bus
 * @param {User} user
 * @param {string} actionId
 * @param {'yes' | 'no' | 'challenge'} expected
 */
export function waitForAnswer(bus, user, actionId, expected) {
  return waitFor(
    async () => (await pkcheck(bus, user, actionId)) === expected,
    `polkitd to answer ${expected} for ${actionId} by ${user.name}`,
    15000,
    100,
  );
}
