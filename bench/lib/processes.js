// What the benchmarks start besides their test LANs (test/lib/lan.js cleans up its own): children killed when
// the benchmark exits, however it exits, and the original passimd from the cached Debian root.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Returns track(child): the child is SIGKILLed if this process exits while it runs. SIGINT and SIGTERM end
 * this process (status 130), so that Ctrl-C cleans up too.
 */
export function childTracker() {
  /** @type {Set<import('node:child_process').ChildProcess>} */
  const children = new Set();
  process.once('exit', () => {
    for (const child of children) {
      try {
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
  /**
   * @template {import('node:child_process').ChildProcess} C
   * @param {C} child
   * @returns {C}
   */
  return (child) => {
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  };
}

/**
 * The command that runs the original /usr/libexec/passimd from the Debian root `root` in namespace `ns` on
 * `bus`, as shipped (passim.conf with only Port=`port`), with its state and log folders in a new folder under
 * `scratch`.
 * @param {string} root
 * @param {string} scratch
 * @param {{ ns: string, bus: import('../../test/lib/harness.js').Bus, port: number }} host
 * @returns {Promise<{ command: string, args: string[], dir: string }>}
 */
export async function originalDaemonCommand(root, scratch, { ns, bus, port }) {
  const dir = await mkdtemp(join(scratch, 'original-'));
  for (const sub of ['lib', 'log']) await mkdir(join(dir, sub));
  await writeFile(join(dir, 'passim.conf'), `[daemon]\nPort=${port}\n`);
  const { rootCommand } = await import('../../test/lib/debian-root.js');
  const [command, args] = rootCommand(root, '/usr/libexec/passimd', [], {
    bus,
    netns: ns,
    binds: [
      { source: join(dir, 'lib'), target: '/var/lib/passim' },
      { source: join(dir, 'log'), target: '/var/log/passim' },
      { source: join(dir, 'passim.conf'), target: '/etc/passim.conf' },
    ],
  });
  return { command, args, dir };
}
