// Generic process helpers for the tests and benchmarks: polling, stopping a child by PID, running a program to its
// end, a free TCP port. Nothing here knows about passim or D-Bus (that is harness.js).
import { readFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

/**
 * Waits until `check` returns a truthy value, polling; throws with `what` after `timeoutMs`, also when a
 * check never settles (a helper program that hangs).
 * @template T
 * @param {() => T | Promise<T>} check
 * @param {string} what
 * @returns {Promise<NonNullable<T>>}
 */
export async function waitFor(check, what, timeoutMs = 15000, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  /** @type {unknown} */
  let lastError;
  while (Date.now() < deadline) {
    try {
      /** @type {NodeJS.Timeout | undefined} */
      let timer;
      const stuck = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('the check did not finish before the deadline')), Math.max(0, deadline - Date.now()));
      });
      const value = await Promise.race([check(), stuck]).finally(() => clearTimeout(timer));
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${errorMessage(lastError)}` : ''}`);
}

/**
 * The message of a thrown value (an Error's message, anything else as a string).
 * @param {unknown} err
 */
export function errorMessage(err) {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Whether `err` is how a promisified execFile rejects: the exit code (or a system error code), the signal, and
 * what the program printed.
 * @param {unknown} err
 * @returns {err is import('node:child_process').ExecFileException & { stdout: string, stderr: string }}
 */
export function isExecFailure(err) {
  return err instanceof Error && 'stdout' in err && 'stderr' in err;
}

/**
 * The PID of a started child; throws if it never started (spawn failed).
 * @param {import('node:child_process').ChildProcess} child
 */
export function pidOf(child) {
  if (child.pid === undefined) throw new Error(`${child.spawnfile} has no PID: it did not start`);
  return child.pid;
}

/**
 * Resolves when the child exits; kills it by PID after `graceMs`.
 * @param {import('node:child_process').ChildProcess} child
 * @param {NodeJS.Signals} signal
 */
export async function stopProcess(child, signal = 'SIGTERM', graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const pid = pidOf(child);
  process.kill(pid, signal);
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now.
 * @returns {Promise<number>}
 */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/**
 * @typedef {object} RunOptions
 * @property {string} [cwd]
 * @property {NodeJS.ProcessEnv} [env] the whole environment (default: this process's)
 * @property {number} [uid]
 * @property {number} [gid]
 * @property {(child: import('node:child_process').ChildProcessByStdio<null, import('node:stream').Readable, import('node:stream').Readable>) => void} [onSpawn]
 * @property {number} [timeoutMs] SIGKILL the program after this long (its code is then null)
 */

/**
 * What a program run to its end printed, and its exit code (null if a signal ended it).
 * @typedef {{ code: number | null, stdout: string, stderr: string }} RunResult
 */

/**
 * Runs a program to its end; resolves with { code, stdout, stderr }. options: cwd, env, uid, gid, onSpawn(child).
 * @param {string} command
 * @param {readonly string[]} args
 * @param {RunOptions} options
 * @returns {Promise<RunResult>}
 */
export function runProcess(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      uid: options.uid,
      gid: options.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    options.onSpawn?.(child);
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The resident set size of a process, in bytes: all of it (VmRSS), or only its anonymous memory (RssAnon,
 * what it allocated, without the pages of its executable and libraries that it shares with the page cache).
 * @param {number} pid
 * @param {'VmRSS' | 'RssAnon'} field
 */
export async function residentBytes(pid, field = 'VmRSS') {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const value = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!value) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(value[1]) * 1024;
}
