#!/usr/bin/env node
// Calls the daemon from a separate process (so the test can run it as another user).
// Usage: call-as.js publish FILE NAME | unpublish HASH | getitems | property NAME | report HASH SOURCE BYTES
// Prints one JSON line: { ok: true, result } or { ok: false, name, text }.
import { closeSync, openSync } from 'node:fs';
import dbus from 'dbus-next';

const { Message, Variant } = dbus;
const [action, ...args] = process.argv.slice(2);
const bus = dbus.systemBus({ negotiateUnixFd: true });
// A connection failure is an answer too: print it instead of dying with an unhandled 'error'.
let answered = false;
/** @param {string} text */
const connectionLost = (text) => {
  if (answered) return;
  answered = true;
  process.stdout.write(`${JSON.stringify({ ok: false, name: 'connection', text })}\n`);
  process.exit(0);
};
bus.on('error', (err) => connectionLost(err.message));
// dbus-next does not report the bus closing the connection; without this the process would just end.
// (any: _connection, the socket stream, is private to dbus-next and not in its types.)
/** @type {any} */ (bus)._connection.once('end', () => connectionLost('the bus closed the connection'));
const base = { destination: 'org.freedesktop.Passim', path: '/', interface: 'org.freedesktop.Passim' };
const flags = process.env.PASSIM_INTERACTIVE ? 0x4 : 0;

async function run() {
  switch (action) {
    case 'publish': {
      const fd = openSync(args[0], 'r');
      try {
        await bus.call(
          new Message({ ...base, member: 'Publish', signature: 'ha{sv}', body: [fd, { filename: new Variant('s', args[1]) }], flags }),
        );
      } finally {
        closeSync(fd);
      }
      return null;
    }
    case 'unpublish':
      await bus.call(new Message({ ...base, member: 'Unpublish', signature: 's', body: [args[0]], flags }));
      return null;
    case 'getitems': {
      const reply = await bus.call(new Message({ ...base, member: 'GetItems' }));
      if (!reply) throw new Error('GetItems: no reply');
      return reply.body[0].length;
    }
    case 'report': {
      const reply = await bus.call(
        new Message({ ...base, member: 'ReportTransfer', signature: 'sst', body: [args[0], args[1], BigInt(args[2] ?? '0')] }),
      );
      if (!reply) throw new Error('ReportTransfer: no reply');
      return String(reply.body[0]);
    }
    case 'property': {
      const reply = await bus.call(
        new Message({
          ...base,
          interface: 'org.freedesktop.DBus.Properties',
          member: 'Get',
          signature: 'ss',
          body: ['org.freedesktop.Passim', args[0]],
        }),
      );
      if (!reply) throw new Error('Get: no reply');
      return String(reply.body[0].value);
    }
    default:
      throw new Error(`unknown action ${action}`);
  }
}

/** @param {object} json */
const answer = (json) => {
  if (answered) return;
  answered = true;
  process.stdout.write(`${JSON.stringify(json)}\n`);
};
run()
  .then((result) => answer({ ok: true, result }))
  .catch((err) => answer({ ok: false, name: err.type ?? err.name, text: err.text ?? err.message }))
  .finally(() => bus.disconnect());
