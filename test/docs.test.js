// The man pages stay true to the code: every command, option and configuration key is documented.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CONFIG_KEYS } from '../dist/daemon/config.js';
import { PASSIMCTL, PASSIMD, ROOT } from './lib/harness.js';

const run = promisify(execFile);
const page = (/** @type {string} */ name) => readFile(join(ROOT, 'man', name), 'utf8');
/** The text of a roff page with font escapes and hyphen escapes removed. */
const plain = (/** @type {string} */ roff) =>
  roff
    .replace(/\\f[BIRP]/g, '')
    .replace(/\\-/g, '-')
    .replace(/\\&/g, '');

test('every man page renders and lexgrog reads its NAME section', async () => {
  for (const name of ['passimd.8', 'passimctl.1', 'passim.conf.5', 'passim-apt.8']) {
    const path = join(ROOT, 'man', name);
    const { stdout, stderr } = await run('man', ['--warnings', '-l', path], {
      env: { ...process.env, MANWIDTH: '80', MAN_KEEP_FORMATTING: '' },
    });
    assert.ok(stdout.length > 500, `${name} renders`);
    assert.equal(stderr.trim(), '', `${name} renders without warnings`);
    // lexgrog prints the whatis line it found and exits non-zero when it cannot parse NAME.
    const { stdout: whatis } = await run('lexgrog', [path]);
    assert.match(whatis, new RegExp(`: "${name.replace(/\.\d$/, '').replace('.', '\\.')} - .+"`), `lexgrog parses ${name}`);
  }
});

test('passimctl(1) documents every command and option of passimctl --help', async () => {
  const { stdout: help } = await run(process.execPath, [PASSIMCTL, '--help']);
  const commands = [...help.matchAll(/^ {2}passimctl (\w+)/gm)].map((m) => m[1]);
  const aliases = [...help.matchAll(/\[aliases: ([^\]]+)\]/g)].flatMap((m) => m[1].split(/,\s*/));
  assert.deepEqual(commands.sort(), ['completion', 'download', 'fetch', 'publish', 'status', 'unpublish']);
  const options = new Set([...help.matchAll(/--[a-z-]+/g)].map((m) => m[0]));
  for (const command of ['status', 'publish', 'fetch']) {
    const { stdout } = await run(process.execPath, [PASSIMCTL, command, '--help']);
    for (const m of stdout.matchAll(/--[a-z-]+/g)) options.add(m[0]);
  }
  const text = plain(await page('passimctl.1'));
  for (const word of [...commands, ...aliases]) assert.match(text, new RegExp(`\\b${word}\\b`), `passimctl(1) mentions ${word}`);
  for (const option of options) assert.ok(text.includes(option), `passimctl(1) mentions ${option}`);
});

test('passimd(8) documents every option of passimd --help', async () => {
  const { stdout: help } = await run(process.execPath, [PASSIMD, '--help']);
  const options = [...help.matchAll(/--[a-z-]+/g)].map((m) => m[0]);
  assert.ok(options.length >= 5);
  const text = plain(await page('passimd.8'));
  for (const option of options) assert.ok(text.includes(option), `passimd(8) mentions ${option}`);
});

test('passim.conf(5) documents every configuration key', async () => {
  const text = plain(await page('passim.conf.5'));
  for (const key of CONFIG_KEYS) assert.match(text, new RegExp(`\\b${key}\\b`), `passim.conf(5) documents ${key}`);
});
