// Our incoming-message reader, fed hand-built messages through a fake socket stream: framing, descriptors,
// size limits and malformed input, without a bus.
import assert from 'node:assert/strict';
import { fstatSync, openSync } from 'node:fs';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { rawMethodCall } from '../lib/raw-dbus.js';
import { claimDescriptors, installMessageReader, readIncomingMessages } from '../../dist/shared/dbus/dbus-next-patches.js';

installMessageReader();

/**
 * One method call as bytes; `unixFds` goes into the UNIX_FDS header field whatever `body` holds.
 * @param {{ serial?: number, member?: string, signature?: string, body?: unknown[], unixFds?: number, endian?: number }} call
 */
function message({ serial = 1, member = 'GetItems', ...rest }) {
  return rawMethodCall({ serial, member, iface: 'org.freedesktop.Passim', sender: ':1.9', ...rest });
}

/** A stream like usocket's: bytes through read(), received descriptors queued in _wrap.fds. */
function fakeSocket() {
  return Object.assign(new Readable({ read() {} }), { _wrap: { fds: /** @type {number[]} */ ([]) } });
}

/**
 * A message as the reader delivered it, with the descriptors the handler claimed (options.claim).
 * @typedef {import('../../dist/shared/dbus/dbus-next-patches.js').RawMessage & { claimed?: number[] }} Delivered
 */

/** @param {{ claim?: boolean, maxBodyBytes?: number }} options */
function run(options = {}) {
  const stream = fakeSocket();
  /** @type {Delivered[]} */
  const delivered = [];
  /** @type {import('../../dist/shared/dbus/dbus-next-patches.js').RefusedMessage[]} */
  const refused = [];
  /** @type {string[]} */
  const corrupt = [];
  readIncomingMessages(
    stream,
    (msg) => {
      /** @type {Delivered} */
      const received = msg;
      delivered.push(received);
      if (options.claim) received.claimed = claimDescriptors();
    },
    {
      maxBodyBytes: options.maxBodyBytes,
      onRefused: (r) => refused.push(r),
      onCorrupt: (detail) => corrupt.push(detail),
    },
  );
  return { stream, delivered, refused, corrupt };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));
const isOpen = (/** @type {number} */ fd) => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

test('a message split over many reads is delivered once, whole', async () => {
  const { stream, delivered } = run();
  const bytes = message({ member: 'Unpublish', signature: 's', body: ['a'.repeat(64)] });
  for (let i = 0; i < bytes.length; i += 7) {
    stream.push(bytes.subarray(i, i + 7));
    await settle();
  }
  assert.equal(delivered.length, 1);
  assert.equal(delivered[0].member, 'Unpublish');
  assert.deepEqual(delivered[0].body, ['a'.repeat(64)]);
});

test('each message takes only the descriptors it announces; unclaimed ones are closed at once', async () => {
  const { stream, delivered } = run();
  const fds = [openSync('/dev/null', 'r'), openSync('/dev/null', 'r'), openSync('/dev/null', 'r')];
  // Two messages arrive in one read: the first announces none, the second announces all three.
  stream._wrap.fds.push(...fds);
  stream.push(
    Buffer.concat([message({ serial: 1 }), message({ serial: 2, member: 'Publish', signature: 'ha{sv}', body: [0, []], unixFds: 3 })]),
  );
  await settle();
  assert.deepEqual(
    delivered.map((m) => m.serial),
    [1, 2],
  );
  assert.deepEqual(stream._wrap.fds, []);
  for (const fd of fds) assert.equal(isOpen(fd), false, `fd ${fd} was closed`);
});

test('a handler that claims the descriptors keeps them open; handles decode as raw values', async () => {
  const { stream, delivered } = run({ claim: true });
  const fd = openSync('/dev/null', 'r');
  stream._wrap.fds.push(fd);
  // libpassim sends the descriptor number itself as the handle, not an index.
  stream.push(message({ member: 'Publish', signature: 'ha{sv}', body: [7, [['filename', ['s', 'x']]]], unixFds: 1 }));
  await settle();
  assert.equal(delivered.length, 1);
  assert.equal(delivered[0].body?.[0], 7);
  assert.deepEqual(delivered[0].claimed, [fd]);
  assert.equal(isOpen(fd), true);
});

test('a body over the limit is skipped unparsed and refused; the next message still arrives', async () => {
  const { stream, delivered, refused } = run({ maxBodyBytes: 1024 });
  const fd = openSync('/dev/null', 'r');
  stream._wrap.fds.push(fd);
  const big = message({ serial: 5, signature: 'as', body: [Array.from({ length: 500 }, () => 'xxxxxxxx')], unixFds: 1 });
  stream.push(Buffer.concat([big, message({ serial: 6 })]));
  await settle();
  assert.equal(refused.length, 1);
  assert.equal(refused[0].reason, 'too-large');
  assert.equal(refused[0].header.serial, 5);
  assert.equal(refused[0].header.sender, ':1.9');
  assert.match(refused[0].detail, /body of \d+ bytes is over the limit of 1024/);
  assert.equal(isOpen(fd), false, "the refused message's descriptor was closed");
  assert.deepEqual(
    delivered.map((m) => m.serial),
    [6],
  );
});

test('a body that does not match its signature is refused as malformed, not thrown', async () => {
  const { stream, delivered, refused } = run();
  const bytes = message({ serial: 3, member: 'Unpublish', signature: 'u', body: [7] });
  // The SIGNATURE field (code 8, type g) says "u"; make it "t", which needs 8 bytes where the body has 4.
  const field = bytes.indexOf(Buffer.from([8, 1, 0x67, 0, 1, 0x75, 0]));
  assert.ok(field > 0);
  bytes[field + 5] = 0x74;
  stream.push(Buffer.concat([bytes, message({ serial: 4 })]));
  await settle();
  assert.equal(refused.length, 1);
  assert.equal(refused[0].reason, 'malformed');
  assert.deepEqual(
    delivered.map((m) => m.serial),
    [4],
  );
});

test('fewer descriptors than announced (the kernel dropped them at our limit) is refused', async () => {
  const { stream, delivered, refused } = run();
  stream.push(message({ serial: 8, member: 'Publish', signature: 'ha{sv}', body: [0, []], unixFds: 2 }));
  await settle();
  assert.deepEqual(delivered, []);
  assert.equal(refused[0].reason, 'descriptors-lost');
});

test('bytes that are not a message header end the connection as corrupt', async () => {
  const { stream, delivered, corrupt } = run();
  stream.push(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  await settle();
  assert.deepEqual(delivered, []);
  assert.equal(corrupt.length, 1);
  assert.match(corrupt[0], /not a D-Bus message header/);
});

test('big-endian messages are read too', async () => {
  const { stream, delivered } = run();
  const bytes = message({ serial: 9 });
  // dbus-next only writes little-endian: swap every integer of the fixed header and the header fields.
  const be = Buffer.from(bytes);
  be[0] = 0x42;
  be.writeUInt32BE(bytes.readUInt32LE(4), 4);
  be.writeUInt32BE(bytes.readUInt32LE(8), 8);
  be.writeUInt32BE(bytes.readUInt32LE(12), 12);
  let at = 16;
  const end = 16 + bytes.readUInt32LE(12);
  while (at < end) {
    at = Math.ceil(at / 8) * 8;
    const sigLength = bytes[at + 1];
    const sig = bytes.toString('latin1', at + 2, at + 2 + sigLength);
    at += 2 + sigLength + 1;
    if (sig === 'g') {
      at += 1 + bytes[at] + 1;
    } else {
      at = Math.ceil(at / 4) * 4;
      const length = bytes.readUInt32LE(at);
      be.writeUInt32BE(length, at);
      at += sig === 'u' ? 4 : 4 + length + 1;
    }
  }
  stream.push(be);
  await settle();
  assert.deepEqual(
    delivered.map((m) => m.serial),
    [9],
  );
  assert.equal(delivered[0].member, 'GetItems');
});
