// MaxConnections' bookkeeping: shares per holder, and a local connection over its share waiting for a slot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionLimits } from '../../dist/daemon/http/connection-limits.js';

const root = { key: 'uid 0', loopback: true };
const nobody = { key: 'uid 65534', loopback: true };
const never = new Promise(() => {});

test('each holder gets a quarter; local and remote connections have separate allowances', () => {
  const limits = new ConnectionLimits(8);
  assert.equal(limits.perHolder, 2);
  assert.equal(limits.open(root), true);
  assert.equal(limits.open(root), true);
  assert.equal(limits.open(root), false, 'a third for the same user');
  assert.equal(limits.open(nobody), true, 'another user has a share of its own');
  assert.equal(limits.open({ key: '10.0.0.2', loopback: false }), true, 'remote addresses count apart');
  limits.close(root);
  assert.equal(limits.open(root), true, 'a closed slot can be taken again');
});

test('a waiting connection takes the slot its holder frees, oldest first; others keep waiting', async () => {
  const limits = new ConnectionLimits(8);
  limits.open(root);
  limits.open(root);
  /** @type {[string, boolean][]} */
  const order = [];
  const first = limits.waitForSlot(root, 10_000, never).then((ok) => order.push(['first', ok]));
  const second = limits.waitForSlot(root, 10_000, never).then((ok) => order.push(['second', ok]));
  limits.close(root); // one of root's two closes
  await first;
  assert.deepEqual(order, [['first', true]]);
  assert.equal(limits.open(root), false, 'the slot went to the waiting connection, not to a newcomer');
  limits.close(root);
  await second;
  assert.deepEqual(order, [
    ['first', true],
    ['second', true],
  ]);
});

test('a wait ends with false at its time-out or when its connection goes, and leaves no place behind', async () => {
  const limits = new ConnectionLimits(8);
  limits.open(root);
  limits.open(root);
  assert.equal(await limits.waitForSlot(root, 20, never), false);
  let hangUp = () => {};
  const gone = new Promise((resolve) => {
    hangUp = () => resolve(undefined);
  });
  const abandoned = limits.waitForSlot(root, 10_000, gone);
  hangUp();
  assert.equal(await abandoned, false);
  // Neither left a waiter: a freed slot is free for the next connection.
  limits.close(root);
  assert.equal(limits.open(root), true);
  assert.equal(limits.open(root), false);
});
