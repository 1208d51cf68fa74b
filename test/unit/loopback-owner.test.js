// The user at the other end of a loopback connection, from /proc/net/tcp{,6}: the address format, the
// lookup in a table, and a real connection of this process.
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import { test } from 'node:test';
import { loopbackOwner, ownersInTable, procNetAddress } from '../../dist/daemon/http/loopback-owner.js';

test('addresses as /proc/net/tcp writes them: words in the kernel byte order, then the port', () => {
  assert.equal(procNetAddress('127.0.0.1', 27500, false), '0100007F:6B6C');
  assert.equal(procNetAddress('10.1.2.3', 80, false), '0302010A:0050');
  assert.equal(procNetAddress('::1', 27500, true), '00000000000000000000000001000000:6B6C');
  assert.equal(procNetAddress('fe80::1', 1, true), '000080FE000000000000000001000000:0001');
  assert.equal(procNetAddress('not an address', 1, false), undefined);
});

test('the owner is the UID on the line whose local end is the client and remote end the server', () => {
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:6B6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 1 1',
    '   1: 0100007F:C350 0100007F:6B6C 01 00000000:00000000 00:00000000 00000000 65534        0 2 1',
    '   2: 0100007F:6B6C 0100007F:C350 01 00000000:00000000 00:00000000 00000000   998        0 3 1',
  ].join('\n');
  assert.equal(ownersInTable(table).get('0100007F:C350 0100007F:6B6C'), 65534, "the client's end, not the server's");
  assert.equal(ownersInTable(table).get('0100007F:C351 0100007F:6B6C'), undefined);
});

test("a real loopback connection is found with this process's UID", async () => {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  /** @type {Promise<import('node:net').Socket>} */
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const client = connect(address.port, '127.0.0.1');
  try {
    assert.equal(await loopbackOwner(await accepted), process.getuid?.());
  } finally {
    client.destroy();
    server.close();
  }
});
