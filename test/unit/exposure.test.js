// The parts of least exposure that need no network: systemd's descriptors, the LAN listener's follower and
// the idle timer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdleTimer } from '../../dist/daemon/idle-timer.js';
import { LanExposure } from '../../dist/daemon/lan-exposure.js';
import { takeListenDescriptors } from '../../dist/daemon/socket-activation.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('LISTEN_FDS counts from descriptor 3, only for our own PID, and the variables are removed', () => {
  const env = { LISTEN_FDS: '2', LISTEN_PID: '42', LISTEN_FDNAMES: 'a:b', OTHER: 'kept' };
  assert.deepEqual(takeListenDescriptors(env, 42), [3, 4]);
  assert.deepEqual(env, { OTHER: 'kept' });
  assert.deepEqual(takeListenDescriptors({ LISTEN_FDS: '2', LISTEN_PID: '41' }, 42), [], "another process's sockets");
  assert.deepEqual(takeListenDescriptors({ LISTEN_FDS: 'x', LISTEN_PID: '42' }, 42), []);
  assert.deepEqual(takeListenDescriptors({ LISTEN_FDS: '0', LISTEN_PID: '42' }, 42), []);
  assert.deepEqual(takeListenDescriptors({}, 42), []);
});

test('the LAN side opens on the current addresses while sharing and closes when sharing ends', async () => {
  /** @type {string[][]} */
  const calls = [];
  let addresses = ['192.168.1.5'];
  const exposure = new LanExposure({
    listen: async (list) => {
      calls.push([...list]);
      return [];
    },
    ipv6: false,
    log: silent,
    addresses: () => addresses,
  });
  await exposure.setSharing(false);
  assert.deepEqual(calls, [], 'nothing to close at first');
  await exposure.setSharing(true);
  await exposure.setSharing(true);
  assert.deepEqual(calls, [['192.168.1.5']], 'opened once');
  addresses = ['192.168.1.5', '10.0.0.7'];
  await sleep(2200); // one address poll
  assert.deepEqual(calls.at(-1), ['192.168.1.5', '10.0.0.7'], 'a new address is followed');
  await exposure.setSharing(false);
  assert.deepEqual(calls.at(-1), [], 'closed');
  exposure.stop();
});

test('the idle timer fires only once idle, and every poke starts the quiet period again', async () => {
  let idle = false;
  let fired = 0;
  const timer = new IdleTimer({ timeoutMs: 100, isIdle: () => idle, onIdle: () => fired++ });
  await sleep(250);
  assert.equal(fired, 0, 'not idle: it waits another period');
  idle = true;
  timer.poke();
  for (let i = 0; i < 4; i++) {
    await sleep(50);
    timer.poke();
  }
  assert.equal(fired, 0, 'pokes closer together than the period keep it up');
  await sleep(250);
  assert.equal(fired, 1);
  await sleep(250);
  assert.equal(fired, 1, 'once');
  timer.stop();
});
