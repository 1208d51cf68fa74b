// SPDX-License-Identifier: LGPL-2.1-or-later
// systemd socket activation (sd_listen_fds(3)): the listening sockets of passim.socket arrive as descriptors
// 3, 4, … with LISTEN_FDS and LISTEN_PID set; without them passimd binds its own sockets.

/** The first descriptor systemd passes (SD_LISTEN_FDS_START). */
const FIRST_FD = 3;

/**
 * The descriptors passed to this process, if any. The variables are removed, as sd_listen_fds does, so that
 * no child takes them for its own.
 */
export function takeListenDescriptors(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): number[] {
  const forPid = Number(env.LISTEN_PID);
  const count = Number(env.LISTEN_FDS);
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (forPid !== pid || !Number.isInteger(count) || count < 1) return [];
  return Array.from({ length: count }, (_, i) => FIRST_FD + i);
}
