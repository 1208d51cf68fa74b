// passimctl, passimd --help and the index page in the user's language, against the real passimd on a private
// bus: German from LANGUAGE, LANG or Accept-Language, English for a language without a catalog, and
// passimd's D-Bus errors and log in English whatever the daemon's own locale.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PASSIMD, connect, runCli, startBus, startDaemon } from './lib/harness.js';
import { call, expectDBusError } from './lib/passim.js';
import { runProcess } from './lib/process.js';

const sha256 = (/** @type {string} */ data) => createHash('sha256').update(data).digest('hex');
/** GNU gettext reads LANGUAGE only when the locale is not C: the tests run in C.UTF-8 (lib/english.js). */
const GERMAN = { LANGUAGE: 'de' };

/**
 * A GET of `path` from the daemon on loopback with an Accept-Language header (none if undefined).
 * @param {number} port
 * @param {string} path
 * @param {string | undefined} language
 * @returns {Promise<{ status: number | undefined, headers: import('node:http').IncomingHttpHeaders, body: string }>}
 */
function get(port, path, language) {
  return new Promise((resolve, reject) => {
    const headers = language === undefined ? {} : { 'Accept-Language': language };
    const req = request({ host: '127.0.0.1', port, path, headers, rejectUnauthorized: false, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('in the language of the user, with passimd in German', () => {
  /** @type {import('./lib/harness.js').Bus} */
  let bus;
  /** @type {import('./lib/harness.js').Daemon} */
  let daemon;
  /** @type {string} */
  let work;
  const content = 'x'.repeat(1500);
  const hash = sha256(content);

  before(async () => {
    bus = await startBus();
    // The daemon's own locale is German: it must change neither its log nor what it sends on the bus.
    daemon = await startDaemon(bus, { env: { LANG: 'de_DE.UTF-8', LANGUAGE: 'de' } });
    work = await mkdtemp(join(tmpdir(), 'passim-i18n-'));
    await writeFile(join(work, 'firmware.cab'), content);
    const published = await runCli(bus, ['publish', join(work, 'firmware.cab'), '5400', '3'], { env: GERMAN });
    assert.equal(published.code, 0, published.stderr);
    assert.equal(published.stdout, `Veröffentlicht: firmware.cab ${hash}\n`);
  });

  after(async () => {
    await daemon?.cleanup();
    await bus?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('LANGUAGE=de passimctl status speaks German', async () => {
    const r = await runCli(bus, ['status'], { env: GERMAN });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Status: +läuft$/m);
    // Sizes follow the language of the text, not LANG's C locale.
    assert.match(r.stdout, /^ {2}Größe: +1,5 kB$/m);
    assert.match(r.stdout, /^ {2}Dateiname: +firmware\.cab$/m);
  });

  test('LANG=de_DE.UTF-8 passimctl status: German words, numbers, sizes and dates', async () => {
    const r = await runCli(bus, ['status'], { env: { LANG: 'de_DE.UTF-8', TZ: 'UTC' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Status: +läuft$/m);
    assert.match(r.stdout, /^Download-Einsparung: +0 Byte$/m);
    assert.match(r.stdout, /^CO₂-Einsparung: +0,000 kg CO₂e$/m);
    assert.match(r.stdout, /^Upload-Begrenzung: +10,5 MB\/s an andere Rechner$/m);
    assert.match(r.stdout, /^ {2}Dateiname: +firmware\.cab$/m);
    assert.match(r.stdout, /^ {2}Höchstalter: +1 Stunde 30 Minuten$/m);
    assert.match(r.stdout, /^ {2}Weitergegeben: +0 von 3$/m);
    assert.match(r.stdout, /^ {2}Größe: +1,5 kB$/m);
    assert.match(r.stdout, /^ {2}Markierungen: +keine$/m);
    assert.match(r.stdout, /^ {2}Veröffentlicht: +\d\d\.\d\d\.\d{4}, \d\d:\d\d:\d\d$/m);
  });

  test('a language without a catalog, or no usable locale, is English', async () => {
    for (const env of [
      { LANG: 'xx_YY.UTF-8' },
      { LANGUAGE: 'fr' },
      { LANG: 'C', LANGUAGE: 'de' },
      { LC_ALL: 'POSIX', LANG: 'de_DE.UTF-8' },
    ]) {
      const r = await runCli(bus, ['status'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Status: +running$/m, JSON.stringify(env));
      assert.match(r.stdout, /^ {2}Size: +1\.5 kB$/m, JSON.stringify(env));
    }
  });

  test('--help of passimctl and passimd, and a usage error, in German', async () => {
    const help = await runCli(bus, ['--help'], { env: GERMAN });
    assert.match(help.stdout, /^Aufruf: passimctl <Befehl> \[Optionen\]$/m);
    assert.match(
      help.stdout,
      /^ {2}passimctl status +Den Status des Dienstes und die veröffentlichten Einträge anzeigen {2}\[auch: dump\]$/m,
    );
    assert.match(help.stdout, /^ {2}-h, --help +Diese Hilfe anzeigen {2}\[Schalter\]$/m);
    assert.match(help.stdout, /^Befehle:$/m);
    const publishHelp = await runCli(bus, ['publish', '--help'], { env: GERMAN });
    assert.match(publishHelp.stdout, /^ {6}--next-reboot +Die Datei erst nach dem nächsten Neustart freigeben {2}\[Schalter\]$/m);
    assert.match(publishHelp.stdout, /^ {2}file +Zu veröffentlichende Datei {2}\[Text\] \[erforderlich\]$/m);
    const daemonHelp = await runProcess(process.execPath, [PASSIMD, '--help'], { env: { ...process.env, ...GERMAN } });
    assert.match(daemonHelp.stdout, /^Aufruf: passimd \[OPTION…\]$/m);
    assert.match(daemonHelp.stdout, /^Siehe passimd\(8\)\.$/m);
    const wrong = await runCli(bus, ['status', '--bogus'], { env: GERMAN });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^Unbekanntes Argument: bogus$/m);
    const typo = await runCli(bus, ['stauts'], { env: GERMAN });
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /^Meinten Sie status\?$/m);
    const missing = await runCli(bus, ['fetch', 'https://example.org/a.cab'], { env: GERMAN });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^Fehlendes Argument: sha256$/m);
  });

  test("passimd answers in English on the bus and logs in English; passimctl shows the error in the user's language", async () => {
    const unknown = sha256('never published');
    const client = await connect(bus);
    try {
      const err = await expectDBusError(call(client, 'Unpublish', 's', [unknown]));
      assert.equal(err.text, `No item with hash ${unknown}`);
    } finally {
      client.disconnect();
    }
    const r = await runCli(bus, ['unpublish', unknown], { env: GERMAN });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `Kein Eintrag mit der Prüfsumme ${unknown}\n`);
    const again = await runCli(bus, ['publish', join(work, 'firmware.cab')], { env: GERMAN });
    assert.equal(again.stderr, `Ein Eintrag mit der Prüfsumme ${hash} ist bereits veröffentlicht\n`);
    assert.match(daemon.output(), /serving \d+ items from /);
    assert.match(daemon.output(), new RegExp(`refused: No item with hash ${unknown}`));
  });

  test('the index page and error pages follow Accept-Language, q-values honoured, and say which language they are in', async () => {
    const german = await get(daemon.port, '/', 'de-DE,de;q=0.9,en;q=0.5');
    assert.equal(german.status, 200);
    assert.equal(german.headers['content-language'], 'de');
    assert.equal(german.headers.vary, 'Accept-Language');
    assert.match(german.body, /<html lang="de" dir="ltr">/);
    assert.match(german.body, /<h2>Freigegebene Dateien<\/h2>/);
    assert.match(german.body, /<td class="num">1,5 kB<\/td><td class="num">0 \/ 3<\/td>/);

    const preferred = await get(daemon.port, '/', 'fr;q=0.9, de;q=0.8, en;q=0.1');
    assert.equal(preferred.headers['content-language'], 'de', 'no French: the next language that has a catalog');
    for (const language of ['fr', 'en, de;q=0.5', 'de;q=0', undefined]) {
      const english = await get(daemon.port, '/', language);
      assert.equal(english.headers['content-language'], 'en', String(language));
      assert.match(english.body, /<h2>Shared files<\/h2>/, String(language));
    }

    const missing = await get(daemon.port, `/gone.bin?sha256=${sha256('nowhere')}`, 'de');
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['content-language'], 'de');
    assert.match(missing.body, /<h1>404 Nicht gefunden<\/h1>\n<p>Diese Datei ist weder hier noch im lokalen Netzwerk verfügbar\.<\/p>/);
    const bad = await get(daemon.port, '/x.bin?sha256=xyz', 'de');
    assert.equal(bad.status, 406);
    assert.match(bad.body, /Die sha256-Prüfsumme muss aus genau 64 Hexadezimalziffern bestehen\./);
  });
});
