#!/usr/bin/env node
// A broken or malicious local client, run by the tests as an unprivileged user. It writes D-Bus messages
// by hand so that it can attach descriptors to calls that take none, send handles that point nowhere,
// use signatures our methods do not have, and send bodies of several MB. Every call waits for its reply.
// Usage: hostile-client.js FILE_FOR_DESCRIPTORS FIFO
// Prints one JSON line: { sent, replies: { errorName: count }, unanswered }.
import { openSync } from 'node:fs';
import dbus from 'dbus-next';
import { rawMethodCall } from './raw-dbus.js';

const [descriptorFile, fifo] = process.argv.slice(2);
const bus = dbus.systemBus({ negotiateUnixFd: true });
bus.on('error', (err) => {
  process.stderr.write(`bus error: ${err.message}\n`);
  process.exit(2);
});
await new Promise((resolve) => bus.once('connect', resolve));
// (any: _connection, and its usocket stream that takes { data, fds }, are private to dbus-next and not in its types.)
const stream = /** @type {any} */ (bus)._connection.stream;

const DESTINATION = 'org.freedesktop.Passim';
/** @type {Map<number, () => void>} */
const pending = new Map();
/** @type {Record<string, number>} */
const replies = {};
bus.on('message', (msg) => {
  const replySerial = Number(msg.replySerial); // a number, whatever dbus-next's types say
  const resolve = pending.get(replySerial);
  if (!resolve || (msg.type !== 2 && msg.type !== 3)) return;
  pending.delete(replySerial);
  const name = msg.type === 3 ? msg.errorName : 'ok';
  replies[name] = (replies[name] ?? 0) + 1;
  resolve();
});

// Serials far above dbus-next's own, which it uses for Hello and AddMatch.
let serial = 1_000_000;
let sent = 0;

/**
 * @typedef {object} RawCall
 * @property {string} [iface]
 * @property {string} member
 * @property {string} [signature]
 * @property {unknown[]} [body]
 * @property {number[]} [fds]
 * @property {number} [announced]
 */

/**
 * Sends one method call with `fds` attached and UNIX_FDS set to `announced`; resolves on its reply.
 * @param {RawCall} call
 */
function rawCall({ iface = DESTINATION, member, signature = '', body = [], fds = [], announced = fds.length }) {
  serial += 1;
  const message = rawMethodCall({ serial, iface, member, destination: DESTINATION, signature, body, unixFds: announced });
  /** @type {Promise<void>} */
  const answered = new Promise((resolve) => pending.set(serial, resolve));
  stream.write({ data: message, fds });
  sent += 1;
  return answered;
}

const fd = openSync(descriptorFile, 'r');
// The marshaller takes a dictionary as an array of [key, value] pairs, and a variant as [signature, value].
const attrs = (/** @type {string} */ name) => [['filename', ['s', name]]];
const variantDict = (/** @type {number} */ entries) => Array.from({ length: entries }, (_, i) => [`k${i}`, ['u', i]]);

// 1. Descriptors on calls that take none, too many descriptors, and handles that point nowhere.
/** @type {RawCall[]} */
const shapes = [
  { member: 'GetItems', fds: [fd, fd] },
  { iface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect', fds: [fd] },
  { member: 'Unpublish', signature: 's', body: ['0'.repeat(64)], fds: [fd] },
  { member: 'Publish', signature: 'ha{sv}', body: [0, attrs('three.txt')], fds: [fd, fd, fd] },
  { member: 'Publish', signature: 'ha{sv}', body: [7, attrs('raw-handle.txt')], fds: [fd] },
  { member: 'Publish', signature: 'ha{sv}', body: [5, attrs('no-fd.txt')], fds: [] },
  { member: 'Publish', signature: 'hha{sv}', body: [0, 1, attrs('two-handles.txt')], fds: [fd, fd] },
  { iface: 'org.freedesktop.DBus.Properties', member: 'GetAll', signature: 's', body: [DESTINATION], fds: [fd] },
];
for (let round = 0; round < 400; round++) {
  await Promise.all(shapes.map((shape) => rawCall(shape)));
}

// 2. Bodies of several MB: parsing them would stall the daemon for seconds.
const big = variantDict(200_000);
await Promise.all(Array.from({ length: 4 }, () => rawCall({ member: 'GetItems', signature: 'a{sv}', body: [big] })));
await rawCall({ member: 'Publish', signature: 'ha{sv}', body: [0, big], fds: [fd] });

// 3. Signatures our methods do not have, with values to match.
/** @type {[string, unknown[]][]} */
const samples = [
  ['u', [7]],
  ['s', ['x']],
  ['ss', ['a', 'b']],
  ['a{sv}', [[['a', ['s', 'b']]]]],
  ['v', [['s', 'x']]],
  ['ay', [Buffer.from('bytes')]],
  ['(ii)', [[1, 2]]],
  ['as', [['a', 'b']]],
  ['x', [1n]],
  ['d', [1.5]],
  ['sa{sv}', ['a', []]],
];
const members = [
  [DESTINATION, 'Publish'],
  [DESTINATION, 'Unpublish'],
  [DESTINATION, 'GetItems'],
  [DESTINATION, 'Nope'],
  ['org.freedesktop.DBus.Properties', 'Get'],
  ['org.freedesktop.DBus.Properties', 'GetAll'],
  ['org.freedesktop.DBus.Properties', 'Set'],
  ['org.freedesktop.DBus.Introspectable', 'Introspect'],
];
for (const [iface, member] of members) {
  await Promise.all(samples.map(([signature, body]) => rawCall({ iface, member, signature, body })));
}

// 4. A publish whose writer never finishes (refused for this user before anything is read).
const fifoFd = openSync(fifo, 'r+');
await rawCall({ member: 'Publish', signature: 'ha{sv}', body: [0, attrs('fifo.txt')], fds: [fifoFd] });

process.stdout.write(`${JSON.stringify({ sent, replies, unanswered: pending.size })}\n`);
bus.disconnect();
process.exit(0);
