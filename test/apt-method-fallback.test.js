// The apt method driven the way apt drives it, in a network namespace of its own where no passimd runs:
// requests go to apt's method for the scheme (here a stand-in child that records what it hears), a missing
// child fails the request cleanly, and malformed input from apt ends the method with a General Failure.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './lib/harness.js';
import { MessageReader, fieldOf, formatMessage } from '../dist/apt-method/message.js';

// The program as apt runs it: the launcher that answers with the capabilities and starts Node.js.
const METHOD = join(ROOT, 'bin', 'passim-apt-method');

// A stand-in for apt's http method: capabilities, then for each 600 it writes "origin:<URI>" to Filename
// and answers 200 and 201 with that content's SHA-256; it appends every status line it hears to its log.
const CHILD = `#!${process.execPath}
import { appendFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
const log = process.env.CHILD_LOG;
process.stdout.write('100 Capabilities\\nVersion: 1.2\\nPipeline: true\\nSend-Config: true\\n\\n');
let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let end;
  while ((end = buffered.indexOf('\\n\\n')) >= 0) {
    const message = buffered.slice(0, end);
    buffered = buffered.slice(end + 2);
    appendFileSync(log, message.split('\\n')[0] + '\\n');
    if (!message.startsWith('600')) continue;
    const field = (name) => (message.match(new RegExp('^' + name + ': (.*)$', 'm')) ?? [])[1];
    const content = 'origin:' + field('URI');
    writeFileSync(field('Filename'), content);
    const sha = createHash('sha256').update(content).digest('hex');
    process.stdout.write('200 URI Start\\nURI: ' + field('URI') + '\\nSize: ' + content.length + '\\n\\n');
    process.stdout.write('201 URI Done\\nURI: ' + field('URI') + '\\nFilename: ' + field('Filename') + '\\nSHA256-Hash: ' + sha + '\\n\\n');
  }
});
`;

/** @type {string} */
let dir;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'passim-apt-method-'));
  await mkdir(join(dir, 'methods'));
  await writeFile(join(dir, 'methods', 'http'), CHILD);
  await chmod(join(dir, 'methods', 'http'), 0o755);
  // The launcher reads apt's sandbox user from apt's configuration files: root here, as in the 601.
  await writeFile(join(dir, 'apt.conf'), 'APT::Sandbox::User "root";\n');
});

after(() => rm(dir, { recursive: true, force: true }));

/**
 * The method in a new network namespace (loopback up, nothing listening), as root without dropping rights.
 * Returns send(text), next() (the next message from it), exited (its status), and the messages so far.
 */
function startMethod() {
  const child = spawn('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0"', METHOD], {
    env: { ...process.env, CHILD_LOG: join(dir, 'child.log'), APT_CONFIG: join(dir, 'apt.conf'), PASSIM_NODE: process.execPath },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  /** @type {import('../dist/apt-method/message.js').Message[]} */
  const messages = [];
  /** @type {(() => void)[]} */
  const waiting = [];
  const reader = new MessageReader(
    (m) => {
      messages.push(m);
      for (const wake of waiting.splice(0)) wake();
    },
    (e) => assert.fail(`malformed message from the method: ${e.message}`),
  );
  child.stdout.on('data', (chunk) => reader.push(chunk));
  child.stdin.on('error', () => {});
  /** @type {Promise<number | null>} */
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  let read = 0;
  return {
    messages,
    exited,
    /** @param {string} text */
    send: (text) => child.stdin.write(text),
    end: () => child.stdin.end(),
    /** The next message, waiting at most 10 s. */
    async next() {
      const deadline = Date.now() + 10_000;
      while (read >= messages.length) {
        if (Date.now() > deadline) throw new Error(`no message after ${messages.map((m) => m.code).join(' ')}`);
        await new Promise((resolve) => {
          waiting.push(() => resolve(undefined));
          setTimeout(resolve, 200);
        });
      }
      return messages[read++];
    },
  };
}

/** @param {Record<string, string>} items */
function configuration(items) {
  return formatMessage(
    601,
    'Configuration',
    Object.entries({ 'Dir::Bin::Methods': join(dir, 'methods'), 'APT::Sandbox::User': 'root', ...items }).map(([k, v]) => [
      'Config-Item',
      `${k}=${v}`,
    ]),
  );
}

test("no passimd: the request with an expected hash, and one without, are done by apt's method", async () => {
  await rm(join(dir, 'child.log'), { force: true });
  const method = startMethod();
  const capabilities = await method.next();
  assert.equal(capabilities?.code, 100);
  assert.equal(fieldOf(capabilities, 'Pipeline'), 'true');
  assert.equal(fieldOf(capabilities, 'Send-Config'), 'true');
  method.send(configuration({ 'Acquire::passim::Share-Packages': 'true' }));
  const target = join(dir, 'a_1.0_all.deb');
  const index = join(dir, 'InRelease');
  method.send(
    formatMessage(600, 'URI Acquire', [
      ['URI', 'http://deb.example/pool/a_1.0_all.deb'],
      ['Filename', target],
      ['Expected-SHA256', 'ab'.repeat(32)],
    ]),
  );
  method.send(
    formatMessage(600, 'URI Acquire', [
      ['URI', 'http://deb.example/dists/stable/InRelease'],
      ['Filename', index],
      ['Index-File', 'true'],
    ]),
  );
  /** @type {Map<string, number[]>} */
  const seen = new Map();
  while ([...seen.values()].filter((codes) => codes.includes(201)).length < 2) {
    const m = await method.next();
    const uri = fieldOf(m, 'URI');
    if (uri) seen.set(uri, [...(seen.get(uri) ?? []), m.code]);
  }
  assert.deepEqual(seen.get('http://deb.example/pool/a_1.0_all.deb'), [200, 201]);
  assert.deepEqual(seen.get('http://deb.example/dists/stable/InRelease'), [200, 201]);
  assert.equal(await readFile(target, 'utf8'), 'origin:http://deb.example/pool/a_1.0_all.deb');
  method.end();
  assert.equal(await method.exited, 0);
  // The child heard apt's configuration before any request.
  assert.deepEqual((await readFile(join(dir, 'child.log'), 'utf8')).trim().split('\n'), [
    '601 Configuration',
    '600 URI Acquire',
    '600 URI Acquire',
  ]);
});

test("apt's method missing: the request fails with a 400 URI Failure, the method keeps running", async () => {
  const method = startMethod();
  await method.next();
  method.send(configuration({ 'Dir::Bin::Methods': join(dir, 'nowhere') }));
  method.send(
    formatMessage(600, 'URI Acquire', [
      ['URI', 'http://deb.example/x'],
      ['Filename', join(dir, 'x')],
    ]),
  );
  const failure = await method.next();
  assert.equal(failure?.code, 400);
  assert.equal(fieldOf(failure, 'URI'), 'http://deb.example/x');
  assert.match(fieldOf(failure, 'Message') ?? '', /nowhere\/http/);
  method.end();
  assert.equal(await method.exited, 0);
});

test('malformed input from apt: 401 General Failure and exit, whatever it was', async () => {
  for (const bad of ['not a message\n\n', `600 URI Acquire\n${'x'.repeat(5 * 1024 * 1024)}`]) {
    const method = startMethod();
    await method.next();
    method.send(bad);
    const failure = await method.next();
    assert.equal(failure?.code, 401);
    assert.match(fieldOf(failure, 'Message') ?? '', /malformed message from apt/);
    assert.equal(await method.exited, 100);
  }
});
