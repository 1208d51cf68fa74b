// The passim system user, made by the project's own sysusers file as on an installed system, and the
// folders systemd's StateDirectory= and LogsDirectory= would give it.
import { chmod, chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './harness.js';
import { runProcess } from './process.js';

export const SYSUSERS = join(ROOT, 'systemd', 'passim.sysusers.conf');

/**
 * Runs systemd-sysusers with `config` on its standard input.
 * @param {string[]} args
 * @param {string} config
 */
export function runSysusers(args, config) {
  // runProcess gives no standard input; "-" makes systemd-sysusers read the configuration from the pipe.
  return runProcess('sh', ['-c', 'printf %s "$0" | systemd-sysusers "$@" -', config, ...args]);
}

/**
 * The user's numeric IDs, or undefined if there is no such user.
 * @param {string} name
 */
export async function userIds(name) {
  const { code, stdout } = await runProcess('getent', ['passwd', name]);
  if (code !== 0) return undefined;
  const [, , uid, gid] = stdout.trim().split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * The passim user's IDs, creating the user with systemd-sysusers if it is missing; remove() deletes it
 * again only if it was created here. Start test buses after this: a bus reads its policy (which lets
 * passim own the name) when it starts.
 */
export async function passimUser() {
  let ids = await userIds('passim');
  let created = false;
  if (!ids) {
    const { code, stderr } = await runSysusers([], await readFile(SYSUSERS, 'utf8'));
    if (code !== 0) throw new Error(`systemd-sysusers failed: ${stderr}`);
    created = true;
    ids = await userIds('passim');
    if (!ids) throw new Error('systemd-sysusers made no passim user');
  }
  return {
    ...ids,
    async remove() {
      if (!created) return;
      await runProcess('userdel', ['passim']);
      if ((await runProcess('getent', ['group', 'passim'])).code === 0) await runProcess('groupdel', ['passim']);
    },
  };
}

/**
 * A scratch top folder with var/{lib/passim{,/data},log/passim} owned by `ids` and an etc/; remove() deletes it.
 * @param {{ uid: number, gid: number }} ids
 */
export async function unprivilegedFolders(ids) {
  const top = await mkdtemp(join(tmpdir(), 'passim-user-'));
  await chmod(top, 0o755);
  const localStateDir = join(top, 'var');
  const sysconfDir = join(top, 'etc');
  await mkdir(sysconfDir, { recursive: true });
  for (const dir of ['lib/passim', 'lib/passim/data', 'log/passim']) {
    await mkdir(join(localStateDir, dir), { recursive: true });
    await chown(join(localStateDir, dir), ids.uid, ids.gid);
  }
  return { top, localStateDir, sysconfDir, remove: () => rm(top, { recursive: true, force: true }) };
}
