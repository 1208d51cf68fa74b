// passimd's log lines: plain on a terminal or pipe, with sd-daemon priority prefixes on the journal stream.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PASSIMD, startBus } from './lib/harness.js';
import { freePort, stopProcess, waitFor } from './lib/process.js';

/** @type {import('./lib/harness.js').Bus} */
let bus;
/** @type {string} */
let dir;

before(async () => {
  bus = await startBus();
  dir = await mkdtemp(join(tmpdir(), 'passim-logging-test-'));
});

after(async () => {
  await bus?.stop();
  await rm(dir, { recursive: true, force: true });
});

/**
 * Runs passimd with stderr going to a file until it serves; returns what it logged.
 * @param {string} name
 * @param {string} journalStream JOURNAL_STREAM, or 'match' for the log file's own device and inode
 */
async function logOf(name, journalStream) {
  const logPath = join(dir, `${name}.log`);
  const fd = openSync(logPath, 'w');
  const stat = fstatSync(fd);
  const etc = join(dir, `${name}-etc`);
  await mkdir(etc);
  await writeFile(join(etc, 'passim.conf'), `[daemon]\nPort=${await freePort()}\n`);
  const env = {
    ...process.env,
    ...bus.env,
    LOCALSTATEDIR: join(dir, `${name}-var`),
    SYSCONFDIR: etc,
    JOURNAL_STREAM: journalStream === 'match' ? `${stat.dev}:${stat.ino}` : journalStream,
  };
  const child = spawn(process.execPath, [PASSIMD, '--verbose', '--insecure'], { env, stdio: ['ignore', 'ignore', fd] });
  closeSync(fd);
  try {
    await waitFor(async () => (await readFile(logPath, 'utf8')).includes('serving 0 items'), `${name}: passimd to start`);
  } finally {
    await stopProcess(child);
  }
  return (await readFile(logPath, 'utf8')).split('\n').filter(Boolean);
}

test('on the journal stream every line carries its priority', async () => {
  const lines = await logOf('journal', 'match');
  assert.ok(
    lines.every((line) => /^<[3-7]>/.test(line)),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((line) => /^<4>RUNNING WITH --insecure/.test(line)),
    'the --insecure warning is priority 4',
  );
  assert.ok(
    lines.some((line) => /^<6>serving 0 items/.test(line)),
    'information is priority 6',
  );
  assert.ok(
    lines.some((line) => /^<7>/.test(line)),
    '--verbose debug lines are priority 7',
  );
});

test('elsewhere lines are plain, even with a JOURNAL_STREAM that is not stderr', async () => {
  const lines = await logOf('plain', '1:1');
  assert.ok(
    lines.every((line) => line.startsWith('passimd: ')),
    lines.join('\n'),
  );
  assert.ok(lines.some((line) => line.startsWith('passimd: warning: RUNNING WITH --insecure')));
  assert.ok(lines.some((line) => line.startsWith('passimd: debug: ')));
});

test('on the journal stream a fatal configuration error and a lost bus are priority 3', async () => {
  const logPath = join(dir, 'fatal.log');
  const fd = openSync(logPath, 'w');
  const stat = fstatSync(fd);
  const etc = join(dir, 'fatal-etc');
  await mkdir(etc);
  await writeFile(join(etc, 'passim.conf'), '[daemon]\nPort=notaport\n');
  const env = {
    ...process.env,
    ...bus.env,
    LOCALSTATEDIR: join(dir, 'fatal-var'),
    SYSCONFDIR: etc,
    JOURNAL_STREAM: `${stat.dev}:${stat.ino}`,
  };
  const child = spawn(process.execPath, [PASSIMD], { env, stdio: ['ignore', 'ignore', fd] });
  closeSync(fd);
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(code, 1);
  const lines = (await readFile(logPath, 'utf8')).split('\n').filter(Boolean);
  assert.ok(
    lines.some((line) => /^<3>.*passim\.conf.*Port/.test(line)),
    lines.join('\n'),
  );

  // A bus that goes away: "lost the system bus" is an error too.
  const ownBus = await startBus();
  const busLog = join(dir, 'busloss.log');
  const busFd = openSync(busLog, 'w');
  const busStat = fstatSync(busFd);
  await writeFile(join(etc, 'passim.conf'), `[daemon]\nPort=${await freePort()}\n`);
  const daemon = spawn(process.execPath, [PASSIMD, '--insecure'], {
    env: { ...env, ...ownBus.env, JOURNAL_STREAM: `${busStat.dev}:${busStat.ino}` },
    stdio: ['ignore', 'ignore', busFd],
  });
  closeSync(busFd);
  const exited = new Promise((resolve) => daemon.once('exit', resolve));
  try {
    await waitFor(async () => (await readFile(busLog, 'utf8')).includes('serving 0 items'), 'passimd to start');
    await ownBus.stop();
    assert.equal(await exited, 1);
  } finally {
    await stopProcess(daemon);
  }
  const busLines = (await readFile(busLog, 'utf8')).split('\n').filter(Boolean);
  assert.ok(
    busLines.some((line) => /^<3>shutting down: lost the system bus/.test(line)),
    busLines.join('\n'),
  );
});
