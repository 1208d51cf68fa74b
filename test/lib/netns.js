// A private LAN of network namespaces joined by a bridge that lives in its own namespace,
// so nothing is added to the machine's main network namespace.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { isExecFailure } from './process.js';

const exec = promisify(execFile);

/** @param {string[]} args */
async function ip(...args) {
  await exec('ip', args);
}

let lanCounter = 0;

/**
 * One host of a namespace LAN: its namespace, address and interface.
 * @typedef {{ ns: string, address: string, iface: string }} NamespaceHost
 */

/** @typedef {Awaited<ReturnType<typeof createLan>>} NamespaceLan */

/**
 * Creates `count` hosts h1..hN on 10.X.Y.0/24 (X.Y from this process, so parallel runs do not clash).
 * Returns { hosts: [{ ns, address }], switchNs, destroy() }. destroy() deletes every namespace it made.
 * @param {number} count
 */
export async function createLan(count) {
  const tag = `${process.pid % 10000}${String.fromCharCode(97 + (lanCounter++ % 26))}`;
  const subnet = `10.${200 + (process.pid % 50)}.${lanCounter % 250}`;
  const switchNs = `pt${tag}-sw`;
  /** @type {string[]} */
  const made = [];
  /** @type {NamespaceHost[]} */
  const hosts = [];
  const lan = {
    hosts,
    switchNs,
    /**
     * A host on another subnet, behind a router namespace that joins the LAN as .254: its traffic reaches
     * the LAN hosts routed, as from the internet or another building. The LAN hosts get a route back.
     * @returns {Promise<NamespaceHost>}
     */
    async addRoutedHost() {
      const router = `pt${tag}-rt`;
      const ns = `pt${tag}-far`;
      const far = `172.${16 + (process.pid % 16)}.${lanCounter % 250}`;
      await ip('netns', 'add', router);
      made.push(router);
      await ip('netns', 'add', ns);
      made.push(ns);
      await ip('-n', router, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'swrt');
      await ip('-n', router, 'link', 'set', 'swrt', 'netns', switchNs);
      await ip('-n', switchNs, 'link', 'set', 'swrt', 'master', 'br0');
      await ip('-n', switchNs, 'link', 'set', 'swrt', 'up');
      await ip('-n', router, 'addr', 'add', `${subnet}.254/24`, 'dev', 'eth0');
      await ip('-n', router, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip('-n', router, 'addr', 'add', `${far}.1/24`, 'dev', 'eth1');
      for (const link of ['eth0', 'eth1', 'lo']) await ip('-n', router, 'link', 'set', link, 'up');
      await exec('ip', ['netns', 'exec', router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      await ip('-n', ns, 'addr', 'add', `${far}.2/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      await ip('-n', ns, 'route', 'add', 'default', 'via', `${far}.1`);
      for (const host of hosts) await ip('-n', host.ns, 'route', 'add', `${far}.0/24`, 'via', `${subnet}.254`);
      return { ns, address: `${far}.2`, iface: 'eth0' };
    },
    async destroy() {
      for (const ns of made.reverse()) {
        await exec('ip', ['netns', 'del', ns]).catch(() => {});
      }
      made.length = 0;
    },
  };
  try {
    await ip('netns', 'add', switchNs);
    made.push(switchNs);
    await ip('-n', switchNs, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', switchNs, 'link', 'set', 'br0', 'up');
    for (let i = 1; i <= count; i++) {
      const ns = `pt${tag}-h${i}`;
      const address = `${subnet}.${i}`;
      await ip('netns', 'add', ns);
      made.push(ns);
      // Create the veth pair inside the host namespace, then move the switch end: nothing touches the main namespace.
      await ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `sw${i}`);
      await ip('-n', ns, 'link', 'set', `sw${i}`, 'netns', switchNs);
      await ip('-n', switchNs, 'link', 'set', `sw${i}`, 'master', 'br0');
      await ip('-n', switchNs, 'link', 'set', `sw${i}`, 'up');
      await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      lan.hosts.push({ ns, address, iface: 'eth0' });
    }
  } catch (err) {
    await lan.destroy();
    throw err;
  }
  return lan;
}

/**
 * Runs a command inside a namespace; resolves with { code, stdout, stderr } (never rejects on exit code).
 * @param {string} ns
 * @param {string} command
 * @param {readonly string[]} args
 * @param {import('node:child_process').ExecFileOptions} options
 * @returns {Promise<{ code: number, stdout: string, stderr: string }>}
 */
export async function nsExec(ns, command, args, options = {}) {
  try {
    const { stdout, stderr } = await exec('ip', ['netns', 'exec', ns, command, ...args], {
      maxBuffer: 64 * 1024 * 1024,
      ...options,
      encoding: 'utf8',
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    if (isExecFailure(err) && typeof err.code === 'number') return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    throw err;
  }
}
