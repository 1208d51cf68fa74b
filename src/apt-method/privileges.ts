// SPDX-License-Identifier: LGPL-2.1-or-later
// Dropping root for apt's sandbox user before any network data is handled, as apt's own methods do.
import { readFileSync } from 'node:fs';

/** The uid and primary gid of `user` from /etc/passwd (getpwnam without a native addon). */
export function lookupUser(user: string, passwd = '/etc/passwd'): { uid: number; gid: number } | undefined {
  for (const line of readFileSync(passwd, 'utf8').split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === user && uid !== undefined && gid !== undefined && /^\d+$/.test(uid) && /^\d+$/.test(gid)) {
      return { uid: Number(uid), gid: Number(gid) };
    }
  }
  return undefined;
}

/**
 * Becomes `user` when running as root: supplementary groups reduced to its primary group, then gid, then
 * uid (the order of apt's DropPrivileges), and checks that it held. Empty or "root" keeps root, as apt does.
 * Throws when the user does not exist or the switch fails: the caller must not go on as root then.
 */
export function dropPrivileges(user: string): void {
  if (user === '' || user === 'root') return;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return;
  const account = lookupUser(user);
  if (!account) throw new Error(`No user ${user}, can not drop rights`);
  process.setgroups?.([account.gid]);
  process.setgid?.(account.gid);
  process.setuid?.(account.uid);
  if (process.getuid() !== account.uid || process.geteuid?.() !== account.uid || process.getgid?.() !== account.gid) {
    throw new Error(`Could not switch to user ${user}`);
  }
}
