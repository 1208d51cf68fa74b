// Callers' credentials asked of the bus once per connection (src/daemon/callers.ts), and root allowed without
// a round trip to polkitd (src/daemon/authorization.ts), against a stand-in bus that records every call.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dbus from 'dbus-next';
import { PolkitAuthorizer, RootOnlyAuthorizer } from '../../dist/daemon/authorization.js';
import { Callers } from '../../dist/daemon/callers.js';
import { silentLogger } from '../../dist/shared/log.js';

const { Variant } = dbus;

/**
 * A bus that knows the connections in `uids` (unique name → UID; PID 1000 + UID) and a polkitd that
 * allows everything; `calls` lists "member argument" of every call, in order.
 * @param {Record<string, number>} uids
 */
function standInBus(uids) {
  /** @type {string[]} */
  const calls = [];
  const bus = {
    calls,
    /** @param {import('dbus-next').Message} msg */
    async call(msg) {
      if (msg.member === 'GetConnectionCredentials') {
        const sender = String(msg.body[0]);
        calls.push(`${msg.member} ${sender}`);
        const uid = uids[sender];
        if (uid === undefined) {
          throw Object.assign(new Error(`no connection ${sender}`), { type: 'org.freedesktop.DBus.Error.NameHasNoOwner', text: '' });
        }
        return { body: [{ UnixUserID: new Variant('u', uid), ProcessID: new Variant('u', 1000 + uid) }] };
      }
      if (msg.member === 'CheckAuthorization') {
        calls.push(`${msg.member} ${msg.body[1]}`);
        return { body: [[true, false, {}]] };
      }
      throw new Error(`unexpected call ${msg.member}`);
    },
  };
  return bus;
}

/** @param {ReturnType<typeof standInBus>} bus */
const asBus = (bus) => /** @type {import('dbus-next').MessageBus} */ (/** @type {unknown} */ (bus));

test('a connection is asked about once, concurrent calls included; each connection on its own', async () => {
  const bus = standInBus({ ':1.5': 0, ':1.6': 1000 });
  const callers = new Callers(asBus(bus));
  const [first, second] = await Promise.all([callers.credentials(':1.5'), callers.credentials(':1.5')]);
  assert.deepEqual(first, { uid: 0, pid: 1000 });
  assert.deepEqual(second, first);
  assert.equal(await callers.uid(':1.5'), 0);
  assert.equal(await callers.uid(':1.6'), 1000);
  assert.deepEqual(bus.calls, ['GetConnectionCredentials :1.5', 'GetConnectionCredentials :1.6']);
});

test('a failed question is not remembered: the next call asks again', async () => {
  /** @type {Record<string, number>} */
  const uids = {};
  const bus = standInBus(uids);
  const callers = new Callers(asBus(bus));
  await assert.rejects(callers.uid(':1.7'), /no connection :1\.7/);
  uids[':1.7'] = 5;
  assert.equal(await callers.uid(':1.7'), 5);
  assert.deepEqual(bus.calls, ['GetConnectionCredentials :1.7', 'GetConnectionCredentials :1.7']);
});

test('only the most recently used connections are remembered', async () => {
  /** @type {Record<string, number>} */
  const uids = {};
  for (let i = 0; i < 300; i++) uids[`:1.${i}`] = i;
  const bus = standInBus(uids);
  const callers = new Callers(asBus(bus));
  for (let i = 0; i < 300; i++) await callers.uid(`:1.${i}`);
  await callers.uid(':1.299');
  assert.equal(bus.calls.length, 300, 'the newest is remembered');
  await callers.uid(':1.0');
  assert.equal(bus.calls.length, 301, 'the oldest was forgotten');
});

test('root is allowed without asking polkitd; anyone else, and a caller gone already, is decided by polkitd', async () => {
  const bus = standInBus({ ':1.8': 0, ':1.9': 1000 });
  const callers = new Callers(asBus(bus));
  const polkit = new PolkitAuthorizer(asBus(bus), callers, silentLogger);
  await polkit.authorize('publish', { sender: ':1.8', interactive: false });
  await polkit.authorize('unpublish', { sender: ':1.8', interactive: false });
  await polkit.authorize('publish', { sender: ':1.9', interactive: false });
  // A caller the bus no longer knows is left to polkitd.
  await polkit.authorize('unpublish', { sender: ':1.99', interactive: false });
  assert.deepEqual(bus.calls, [
    'GetConnectionCredentials :1.8',
    'GetConnectionCredentials :1.9',
    'CheckAuthorization org.freedesktop.passim.publish',
    'GetConnectionCredentials :1.99',
    'CheckAuthorization org.freedesktop.passim.unpublish',
  ]);
});

test('the root-only rule refuses other users by UID', async () => {
  const callers = new Callers(asBus(standInBus({ ':1.10': 0, ':1.11': 1000 })));
  const rootOnly = new RootOnlyAuthorizer(callers);
  await rootOnly.authorize('publish', { sender: ':1.10', interactive: false });
  await assert.rejects(rootOnly.authorize('publish', { sender: ':1.11', interactive: false }), (err) => {
    assert.equal(/** @type {{ kind?: string }} */ (err).kind, 'access-denied');
    assert.match(String(/** @type {Error} */ (err).message), /UID 1000/);
    return true;
  });
});
