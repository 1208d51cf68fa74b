// passim.conf and passim.d/*.conf are read by the original with GLib's GKeyFile, so a file the original
// accepts must mean the same here and a file it rejects must be rejected. The expectations below are
// GLib 2.74's behaviour, checked by loading the same texts with g_key_file_load_from_data and reading
// them back with g_key_file_get_string (how the original reads Path); the two places we differ on purpose
// are marked. Then the values: configFromKeyFile and loadConfig with a temporary file.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DEFAULT_PORT, configFromKeyFile, defaultConfig, loadConfig, parseKeyFile, pathsFromEnv } from '../../dist/daemon/config.js';
import { PassimError } from '../../dist/shared/errors.js';
import { silentLogger } from '../../dist/shared/log.js';

/**
 * The parsed file as plain objects, for deepEqual.
 * @param {string} text
 */
function parse(text) {
  return Object.fromEntries([...parseKeyFile(text, 'test.conf')].map(([group, keys]) => [group, Object.fromEntries(keys)]));
}

/**
 * Asserts that parsing `text` fails with an invalid-argument error whose message matches `pattern`.
 * @param {string} text
 * @param {RegExp} pattern
 */
function rejects(text, pattern) {
  assert.throws(
    () => parseKeyFile(text, 'test.conf'),
    (err) => err instanceof PassimError && err.kind === 'invalid-argument' && pattern.test(err.message),
    `${JSON.stringify(text)} should fail with ${pattern}`,
  );
}

/** A logger that keeps the warnings. */
function recordingLogger() {
  /** @type {string[]} */
  const warnings = [];
  return { warnings, log: { ...silentLogger, warn: (/** @type {string} */ message) => warnings.push(message) } };
}

const paths = pathsFromEnv({ SYSCONFDIR: '/nonexistent/etc', LOCALSTATEDIR: '/nonexistent/var', DATADIR: '/nonexistent/share' });

test('groups, # comments, blank lines, indentation, whitespace around = and CRLF', () => {
  const text = [
    '# passim.conf',
    '',
    '   # an indented comment',
    '[daemon]',
    '  Port = 27500',
    'IPv6\t=\ttrue',
    '\t ',
    '[other]   ',
    'Key=a = b # not a comment',
    '[daemon]\t',
    'Cooldown=60\r',
    'Two words=ok',
    '',
  ].join('\n');
  assert.deepEqual(parse(text), {
    daemon: { Port: '27500', IPv6: 'true', Cooldown: '60', 'Two words': 'ok' },
    other: { Key: 'a = b # not a comment' },
  });
  assert.deepEqual(parse('[a=b]\r\nx=1\r\n'), { 'a=b': { x: '1' } }, 'a group name may hold "="');
  assert.deepEqual(parse(''), {}, 'an empty file has no groups');
});

test('a later duplicate key replaces the earlier one, also across a repeated group', () => {
  assert.deepEqual(parse('[daemon]\nPort=1\nPort=2\n[other]\nx=1\n[daemon]\nPort=3\n'), {
    daemon: { Port: '3' },
    other: { x: '1' },
  });
});

test('values are decoded like g_key_file_get_string: \\s \\n \\t \\r \\\\', () => {
  assert.equal(
    parse(String.raw`[daemon]
Path=\s/srv/a b\t\n\r\\x`).daemon.Path,
    ' /srv/a b\t\n\r\\x',
  );
  assert.equal(
    parse(String.raw`[g]
k=\\s`).g.k,
    '\\s',
    'an escaped backslash does not start another escape',
  );
  assert.equal(
    parse(String.raw`[g]
k=\\\s\\`).g.k,
    '\\ \\',
  );
  assert.equal(
    parse(String.raw`[g]
k= \s x`).g.k,
    '  x',
    'whitespace after = is dropped, \\s is kept',
  );
  assert.equal(
    parse(`[g]
k=plain C:/no/escapes`).g.k,
    'plain C:/no/escapes',
  );
});

test('an invalid escape or a backslash at the end of the value is an error naming the line', () => {
  rejects('[daemon]\nPort=1\nPath=/srv/a\\qb\n', /^test\.conf:3: .*Path.*invalid escape sequence "\\q"/);
  rejects('[daemon]\nPath=x\\;y\n', /^test\.conf:2: .*"\\;"/); // \; is only valid in lists
  rejects('[daemon]\nPath=/srv/\\\n', /^test\.conf:2: .*ends with an escape character/);
});

test('leading whitespace is what GLib strips: space, tab, form feed, not vertical tab', () => {
  assert.deepEqual(parse('\f[g]\n\f k \f=\f v'), { g: { k: 'v' } });
  assert.equal(parse('[g]\nk=\v1').g.k, '\v1');
  rejects('\v[g]\n', /^test\.conf:1: expected "key=value" or "\[group\]"/);
  rejects('\uFEFF[g]\n', /^test\.conf:1: expected/); // GLib does not skip a byte-order mark either
  // Unicode spaces are part of the value, as in GLib.
  assert.equal(parse('[g]\nk=\u00a0x\u00a0').g.k, '\u00a0x\u00a0');
});

test('trailing whitespace is dropped (GLib keeps it: a deliberate difference), \\s keeps a trailing space', () => {
  assert.equal(parse('[daemon]\nPath=/srv/data \t\n').daemon.Path, '/srv/data');
  assert.equal(parse('[daemon]\nPath=/srv/data\\s\n').daemon.Path, '/srv/data ');
});

test('a key before any group is an error naming the line and the key', () => {
  rejects('# comment first is fine\nPort=27500\n[daemon]\n', /^test\.conf:2: key "Port" outside any \[group\]/);
});

test('a line that is neither a group, a key=value nor a comment is an error naming the line', () => {
  rejects('[daemon]\nPort=1\nPort\n', /^test\.conf:3: expected "key=value" or "\[group\]", got "Port"/);
  rejects('[daemon]\n=27500\n', /^test\.conf:2: /);
  rejects('[daemon]\n   = x\n', /^test\.conf:2: /);
  rejects('; ini comment\n', /^test\.conf:1: /); // only # starts a comment
  rejects('[daemon] # comment\n', /^test\.conf:1: /); // only spaces and tabs may follow ]
  rejects('[daemon]\f\n', /^test\.conf:1: /);
  rejects('[dae]mon]\n', /^test\.conf:1: /);
});

test('invalid group and key names are errors, as GLib', () => {
  rejects('[]\n', /^test\.conf:1: invalid group name/);
  rejects('[a[b]\n', /^test\.conf:1: invalid group name/);
  rejects('[da\tmon]\n', /^test\.conf:1: invalid group name/);
  rejects('[g]\nA]b=1\n', /^test\.conf:2: invalid key name "A]b"/);
  rejects('[g]\nA[b=1\n', /^test\.conf:2: invalid key name "A\[b"/);
  rejects('[g]\n[x]=1\n', /^test\.conf:2: invalid key name/);
  // A locale suffix is a different key: it never replaces the plain one.
  assert.deepEqual(parse('[passim]\nPath=/srv/a\nPath[de_DE.UTF-8@euro]=/srv/b\nB[]=2\n'), {
    passim: { Path: '/srv/a', 'Path[de_DE.UTF-8@euro]': '/srv/b', 'B[]': '2' },
  });
});

test('Encoding in the first group must be UTF-8; elsewhere it is an ordinary key', () => {
  rejects('[daemon]\nEncoding=latin1\n', /^test\.conf:2: unsupported encoding "latin1"/);
  assert.deepEqual(parse('[daemon]\nEncoding=utf-8\n[x]\nEncoding=latin1\n'), {
    daemon: { Encoding: 'utf-8' },
    x: { Encoding: 'latin1' },
  });
});

test('configFromKeyFile: values in range are taken, Path decoded, others warned about and defaulted', () => {
  const defaults = defaultConfig(paths);
  const { warnings, log } = recordingLogger();
  const config = configFromKeyFile(
    '[daemon]\nPort=8080\nIPv6=1\nPath=/srv/my\\sdata\nMaxItemSize=6000000000\nCooldown=0\nCarbonCost=0.5\nColour=blue\n' +
      'MaxUploadRate=0\nMaxConnections=8\nMaxStorageSize=1000000\n[other]\nPort=1\n',
    'passim.conf',
    paths,
    log,
  );
  assert.deepEqual(config, {
    ...defaults,
    port: 8080,
    ipv6: true,
    dataDir: '/srv/my data',
    maxItemSize: 6_000_000_000,
    cooldown: 0,
    carbonCost: 0.5,
    maxUploadRate: 0,
    maxConnections: 8,
    maxStorageSize: 1_000_000,
  });
  assert.deepEqual(warnings, ['passim.conf: unknown key Colour in [daemon], ignored']);

  const out = recordingLogger();
  const fallback = configFromKeyFile(
    '[daemon]\nPort=70000\nMaxItemSize=0\nCooldown=-1\nCarbonCost=-0.1\nPath=\nMaxUploadRate=-1\nMaxConnections=0\nMaxStorageSize=-5\n',
    'passim.conf',
    paths,
    out.log,
  );
  assert.deepEqual(fallback, defaults);
  assert.equal(out.warnings.length, 7);
  assert.match(out.warnings[0], /Port=70000 is out of range 1-65535, using 27500/);
  assert.equal(defaults.port, DEFAULT_PORT);
  assert.equal(defaults.dataDir, '/nonexistent/var/lib/passim/data');
});

test('configFromKeyFile: a value of the wrong type is an error naming the file and key', () => {
  /** @type {[string, RegExp][]} */
  const bad = [
    ['Port=abc', /passim\.conf: Port=abc is not an integer/],
    ['Port=1.5', /Port=1\.5 is not an integer/],
    ['IPv6=yes', /IPv6=yes is not true or false/],
    ['CarbonCost=lots', /CarbonCost=lots is not a number/],
    ['CarbonCost=', /CarbonCost= is not a number/],
  ];
  for (const [line, pattern] of bad) {
    assert.throws(() => configFromKeyFile(`[daemon]\n${line}\n`, 'passim.conf', paths, silentLogger), pattern, line);
  }
});

const tmp = await mkdtemp(join(tmpdir(), 'passim-key-file-'));
after(() => rm(tmp, { recursive: true, force: true }));

test('loadConfig: a missing file means defaults, a present one is read', async () => {
  const dir = await mkdtemp(join(tmp, 'etc-'));
  const filePaths = pathsFromEnv({ SYSCONFDIR: dir, LOCALSTATEDIR: join(dir, 'var') });
  assert.deepEqual(await loadConfig(filePaths, silentLogger), defaultConfig(filePaths));
  await writeFile(filePaths.configFile, '# test\n[daemon]\nPort = 12345\nPath=/srv/\\sx\n');
  const config = await loadConfig(filePaths, silentLogger);
  assert.equal(config.port, 12345);
  assert.equal(config.dataDir, '/srv/ x');
});

test('loadConfig: a malformed or unreadable file is an error naming the file (and line)', async () => {
  const dir = await mkdtemp(join(tmp, 'etc-'));
  const filePaths = pathsFromEnv({ SYSCONFDIR: dir });
  await writeFile(filePaths.configFile, '[daemon]\nPort=1\nPath=\\x\n');
  await assert.rejects(
    loadConfig(filePaths, silentLogger),
    (err) => err instanceof PassimError && err.kind === 'invalid-argument' && err.message.startsWith(`${filePaths.configFile}:3: `),
  );
  await rm(filePaths.configFile);
  await mkdir(filePaths.configFile); // EISDIR
  await assert.rejects(
    loadConfig(filePaths, silentLogger),
    (err) =>
      err instanceof PassimError && err.kind === 'invalid-argument' && err.message.startsWith(`cannot read ${filePaths.configFile}: `),
  );
});
