// Records the D-Bus errors sent on a test bus with dbus-monitor, so that a test can check the exact error name a
// client that hides it (the original `passim` prints only the message) received from the daemon.
// The bus must let root monitor it: startBus({ extraPolicy: MONITOR_POLICY }), as Debian's system.conf does.
import { spawn } from 'node:child_process';
import dbus from 'dbus-next';
import { connect } from './harness.js';
import { stopProcess, waitFor } from './process.js';

export const MONITOR_POLICY = `  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>`;

// dbus-monitor --monitor prints a header line per message and one indented line per argument:
//   error time=1.2 sender=:1.3 -> destination=:1.5 error_name=org.example.Error reply_serial=2
//      string "the message"
const HEADER = /^error time=\S+ sender=(\S+) -> destination=(\S+) error_name=(\S+) reply_serial=(\d+)/;
const STRING_ARG = /^ {3}string "(.*)"$/;

let markers = 0;

/**
 * Starts dbus-monitor on `bus` for error messages. Returns { errors(), sync(), stop() }:
 * errors() → [{ name, sender, destination, text }] seen so far; sync() waits until every error sent before it
 * was called has been read (it sends a marker error through the bus and waits for it).
 * @param {{ address: string }} bus
 */
export async function startErrorMonitor(bus) {
  const child = spawn('dbus-monitor', ['--address', bus.address, '--monitor', "type='error'"], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  /** @typedef {{ sender: string, destination: string, name: string, text: string | undefined }} SeenError */
  /** @type {SeenError[]} */
  const seen = [];
  let buffered = '';
  /** @type {SeenError | null} */
  let current = null;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const header = HEADER.exec(line);
      if (header) {
        current = { sender: header[1], destination: header[2], name: header[3], text: undefined };
        seen.push(current);
        continue;
      }
      const text = STRING_ARG.exec(line);
      if (text && current && current.text === undefined) current.text = text[1].replace(/\\"/g, '"');
      else if (!line.startsWith(' ')) current = null;
    }
  });
  const client = await connect(bus);

  const monitor = {
    errors: () => [...seen],
    async sync() {
      // An error only the bus sends: NameHasNoOwner for a name nobody owns, carrying the marker in its text.
      const marker = `org.passim.test.Marker${process.pid}x${++markers}`;
      const ask = async () => {
        await client
          .call(
            new dbus.Message({
              destination: 'org.freedesktop.DBus',
              path: '/org/freedesktop/DBus',
              interface: 'org.freedesktop.DBus',
              member: 'GetNameOwner',
              signature: 's',
              body: [marker],
            }),
          )
          .catch(() => {});
        return seen.some((e) => e.text?.includes(marker));
      };
      await waitFor(ask, `dbus-monitor to report the marker error (dbus-monitor said: ${stderr.trim()})`, 15000, 200);
    },
    async stop() {
      client.disconnect();
      await stopProcess(child);
    },
  };
  try {
    // The first marker seen also proves the monitor is attached: it fails here if the policy refuses monitoring.
    await monitor.sync();
    if (stderr.includes('Falling back to eavesdropping')) {
      throw new Error(`dbus-monitor could not become a monitor (start the bus with MONITOR_POLICY): ${stderr}`);
    }
  } catch (err) {
    await monitor.stop();
    throw err;
  }
  return monitor;
}
