// apt's method messages: parsed and written as apt does (status line, fields, blank line), split from a
// byte stream in any chunking, and anything malformed or oversized refused cleanly, never a crash.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MessageError, MessageReader, fieldOf, formatMessage, parseMessage } from '../../dist/apt-method/message.js';
import { aptBoolean, configOf, settingsOf } from '../../dist/apt-method/settings.js';
import { nameOf } from '../../dist/apt-method/method.js';

/**
 * Feeds `chunks` to a reader; returns the messages and the error, if any.
 * @param {Buffer[]} chunks
 * @param {number} [maxBytes]
 */
function read(chunks, maxBytes) {
  /** @type {import('../../dist/apt-method/message.js').Message[]} */
  const messages = [];
  /** @type {Error[]} */
  const errors = [];
  const reader = new MessageReader(
    (m) => messages.push(m),
    (e) => errors.push(e),
    maxBytes,
  );
  for (const chunk of chunks) reader.push(chunk);
  return { messages, errors };
}

const ACQUIRE =
  '600 URI Acquire\nURI: http://deb.example/pool/a_1.0_all.deb\nFilename: /var/cache/apt/archives/partial/a_1.0_all.deb\nExpected-SHA256: ab';

test('a message: status, text, fields looked up without regard to case, the raw text kept', () => {
  const m = parseMessage(ACQUIRE);
  assert.equal(m.code, 600);
  assert.equal(m.text, 'URI Acquire');
  assert.equal(fieldOf(m, 'uri'), 'http://deb.example/pool/a_1.0_all.deb');
  assert.equal(fieldOf(m, 'EXPECTED-SHA256'), 'ab');
  assert.equal(fieldOf(m, 'Missing'), undefined);
  assert.equal(m.raw, ACQUIRE);
});

test('the reader splits messages however the bytes arrive, skipping blank lines between them', () => {
  const stream = Buffer.from(`\n\n${ACQUIRE}\n\n601 Configuration\nConfig-Item: A::B=1\n\n\n`);
  for (let size = 1; size <= stream.length; size++) {
    const chunks = [];
    for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
    const { messages, errors } = read(chunks);
    assert.deepEqual(errors, [], `chunks of ${size}`);
    assert.deepEqual(
      messages.map((m) => m.code),
      [600, 601],
      `chunks of ${size}`,
    );
    assert.equal(messages[0]?.raw, ACQUIRE);
  }
});

test('malformed messages are refused with a MessageError', () => {
  for (const bad of ['hello', '60 Short', '6000 Long', '600', '600 URI Acquire\nno colon here', '600 URI Acquire\n: empty name']) {
    assert.throws(() => parseMessage(bad), MessageError, JSON.stringify(bad));
  }
  const { messages, errors } = read([Buffer.from('garbage\n\n600 URI Acquire\nURI: x\n\n')]);
  assert.equal(messages.length, 0);
  assert.equal(errors.length, 1, 'the reader stops at the first bad message');
});

test('a message over the limit is refused without holding it', () => {
  const { messages, errors } = read([Buffer.from('600 URI Acquire\n'), Buffer.alloc(2000, 'a'), Buffer.from('\n\n')], 1024);
  assert.equal(messages.length, 0);
  assert.match(errors[0]?.message ?? '', /over 1024 bytes/);
});

test('formatMessage writes what parseMessage reads, and refuses line breaks in values', () => {
  const text = formatMessage(201, 'URI Done', [
    ['URI', 'http://x/a'],
    ['Size', 12],
    ['Skipped', undefined],
  ]);
  assert.equal(text, '201 URI Done\nURI: http://x/a\nSize: 12\n\n');
  assert.throws(() => formatMessage(201, 'URI Done', [['URI', 'x\n\n600 URI Acquire']]), MessageError);
  assert.throws(() => formatMessage(201, 'URI\nDone'), MessageError);
  assert.throws(() => formatMessage(42, 'x'), MessageError);
});

test('property: written messages read back the same, in any chunking', () => {
  const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/);
  const value = fc.stringMatching(/^[!-~]([ -~]{0,40}[!-~])?$/);
  fc.assert(
    fc.property(
      fc.integer({ min: 100, max: 999 }),
      fc.stringMatching(/^[A-Za-z][A-Za-z ]{0,20}$/),
      fc.array(fc.tuple(name, value), { maxLength: 10 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
      (code, text, fields, sizes) => {
        const bytes = Buffer.from(formatMessage(code, text, fields).repeat(2));
        const chunks = [];
        for (let i = 0, k = 0; i < bytes.length; k++) {
          const size = sizes[k % sizes.length] ?? 1;
          chunks.push(bytes.subarray(i, i + size));
          i += size;
        }
        const { messages, errors } = read(chunks);
        assert.deepEqual(errors, []);
        assert.equal(messages.length, 2);
        for (const m of messages) {
          assert.equal(m.code, code);
          assert.equal(m.text, text);
          assert.deepEqual(m.fields, fields);
        }
      },
    ),
  );
});

test('property: random bytes give messages or one clean error, never a throw, within the bound', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 10 }), (arrays) => {
      const { messages, errors } = read(
        arrays.map((a) => Buffer.from(a)),
        256,
      );
      assert.ok(errors.length <= 1);
      for (const m of messages) {
        assert.ok(m.code >= 100 && m.code <= 999);
        assert.ok(m.raw.length <= 256, 'no more text than bytes read');
      }
      for (const e of errors) assert.ok(e instanceof MessageError);
    }),
    { numRuns: 500 },
  );
});

test('property: random text lines never make parseMessage throw anything but MessageError', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 30 }), { maxLength: 8 }), (lines) => {
      try {
        parseMessage(lines.join('\n'));
      } catch (err) {
        assert.ok(err instanceof MessageError, String(err));
      }
    }),
    { numRuns: 1000 },
  );
});

test('settings from a 601 Configuration: percent-quoting undone, defaults, apt booleans', () => {
  const config = configOf(
    parseMessage(
      '601 Configuration\nConfig-Item: Acquire::passim::Share-Packages=yes\nConfig-Item: Acquire::passim::Max-Age=3600\nConfig-Item: Dir::Bin::Methods=/opt/apt%20methods\nConfig-Item: APT::Sandbox::User=_apt',
    ),
  );
  const settings = settingsOf(config);
  assert.equal(settings.enable, true);
  assert.equal(settings.shareIndexes, true);
  assert.equal(settings.sharePackages, true);
  assert.equal(settings.maxAge, 3600);
  assert.equal(settings.shareLimit, 5);
  assert.equal(settings.methodsDir, '/opt/apt methods');
  assert.equal(settings.sandboxUser, '_apt');
  assert.equal(settingsOf(new Map()).sharePackages, false, 'packages are not shared unless asked');
  assert.equal(settingsOf(new Map([['acquire::passim::max-age', 'soon']])).maxAge, 86400, 'a bad number is the default');
  assert.equal(
    settingsOf(
      new Map([
        ['dir', '/r/'],
        ['dir::bin', 'usr/lib/apt'],
        ['dir::bin::methods', 'methods'],
      ]),
    ).methodsDir,
    '/r/usr/lib/apt/methods',
  );
  assert.equal(aptBoolean('off', true), false);
  assert.equal(aptBoolean('maybe', true), true);
});

test('nameOf: the last part of the URI path, decoded; something safe otherwise', () => {
  assert.equal(nameOf('http://deb.example/pool/main/a/a_1%3a1.0_all.deb'), 'a_1:1.0_all.deb');
  assert.equal(nameOf('http://deb.example/dists/x/main/by-hash/SHA256/abc'), 'abc');
  assert.equal(nameOf('http://deb.example/'), 'file');
  assert.equal(nameOf('http://deb.example/a%2Fb'), 'file');
  assert.equal(nameOf('http://deb.example/%E0%A4%A'), '%E0%A4%A');
});
