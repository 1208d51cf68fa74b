// Translations: the catalogs GNU gettext would pick for a process, the language an Accept-Language header
// picks, numbers, sizes and dates in the locale, and passimd's English errors recognised and translated by
// passimctl. Reads the German catalog built into dist/locale (npm run build).
import '../lib/english.js';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';

process.env.TZ = 'UTC'; // formatTime is local time; set before the first Date is made

const { ENGLISH, N_, loadCatalogReader, localeVariants, needsCatalogReader, translatorForAcceptLanguage, translatorForEnvironment } =
  await import('../../dist/shared/i18n.js');
const { formatDecimal, formatDuration, formatSize, formatTime } = await import('../../dist/shared/format.js');
const { PassimError, reasonOf } = await import('../../dist/shared/errors.js');

assert.ok(existsSync(new URL('../../dist/locale/de/LC_MESSAGES/passim.mo', import.meta.url)), 'the catalogs are built: npm run build');

// passimd reads no catalog until a client wants one (test/lib/english.js set an English environment).
const waitedFor = { de: needsCatalogReader('de'), en: needsCatalogReader('en-GB, en;q=0.5'), none: needsCatalogReader(undefined) };
const germanBeforeReader = translatorForAcceptLanguage('de').locale;
await loadCatalogReader();

test('the catalog reader is loaded only when a translated language is wanted', () => {
  assert.deepEqual(waitedFor, { de: true, en: false, none: false });
  assert.equal(germanBeforeReader, undefined, 'English until the reader is loaded');
  assert.equal(needsCatalogReader('de'), false, 'loaded once, for good');
});

const HASH = 'a'.repeat(64);
const NOT_FOUND = N_('No item with hash {hash}', { hash: HASH });
const GERMAN = `Kein Eintrag mit der Prüfsumme ${HASH}`;
const ENGLISH_TEXT = `No item with hash ${HASH}`;

/**
 * NOT_FOUND as a process with environment `env` shows it.
 * @param {NodeJS.ProcessEnv} env
 */
const shown = (env) => translatorForEnvironment(env).translate(NOT_FOUND);

test('the locale of messages is LC_ALL, else LC_MESSAGES, else LANG', () => {
  assert.equal(shown({ LANG: 'de_DE.UTF-8' }), GERMAN);
  assert.equal(shown({ LANG: 'C.UTF-8', LC_MESSAGES: 'de_DE.UTF-8' }), GERMAN);
  assert.equal(shown({ LANG: 'de_DE.UTF-8', LC_MESSAGES: 'C' }), ENGLISH_TEXT);
  assert.equal(shown({ LANG: 'de_DE.UTF-8', LC_ALL: 'C' }), ENGLISH_TEXT);
  assert.equal(shown({ LC_MESSAGES: 'C', LC_ALL: 'de_DE.UTF-8' }), GERMAN);
  assert.equal(shown({}), ENGLISH_TEXT);
});

test('LANGUAGE is a list that replaces the locale, unless the locale is C, POSIX or unset', () => {
  assert.equal(shown({ LANG: 'C.UTF-8', LANGUAGE: 'de' }), GERMAN);
  assert.equal(shown({ LANGUAGE: 'de' }), ENGLISH_TEXT, 'no locale is the C locale');
  assert.equal(shown({ LANG: 'C', LANGUAGE: 'de' }), ENGLISH_TEXT);
  assert.equal(shown({ LC_ALL: 'POSIX', LANG: 'de_DE.UTF-8', LANGUAGE: 'de' }), ENGLISH_TEXT);
  assert.equal(shown({ LANG: 'C.UTF-8', LANGUAGE: 'fr:de' }), GERMAN, 'a language without a catalog is skipped');
  assert.equal(shown({ LANG: 'C.UTF-8', LANGUAGE: 'C:de' }), ENGLISH_TEXT, 'C ends the list');
  assert.equal(shown({ LANG: 'de_DE.UTF-8', LANGUAGE: 'fr' }), ENGLISH_TEXT, 'the list replaces the locale');
  assert.equal(shown({ LANG: 'de_DE.UTF-8', LANGUAGE: '' }), GERMAN, 'an empty LANGUAGE is no list');
});

test('a locale name falls back from the most specific to the language; an unknown one is English', () => {
  assert.deepEqual(localeVariants('de_DE.UTF-8@euro'), [
    'de_DE.UTF-8@euro',
    'de_DE@euro',
    'de.UTF-8@euro',
    'de@euro',
    'de_DE.UTF-8',
    'de_DE',
    'de.UTF-8',
    'de',
  ]);
  assert.deepEqual(localeVariants('de'), ['de']);
  for (const lang of ['de_DE.UTF-8', 'de_AT', 'de_CH.utf8@euro', 'de.UTF-8']) assert.equal(shown({ LANG: lang }), GERMAN, lang);
  for (const lang of ['xx_YY.UTF-8', 'fr_FR.UTF-8', 'en_GB.UTF-8', 'nonsense']) assert.equal(shown({ LANG: lang }), ENGLISH_TEXT, lang);
});

test('numbers and dates follow the language the messages are shown in; English in C keeps the fixed formats', () => {
  assert.equal(translatorForEnvironment({ LANG: 'de_AT.UTF-8' }).locale, 'de-AT');
  assert.equal(translatorForEnvironment({ LANG: 'C.UTF-8', LANGUAGE: 'de_CH' }).locale, 'de-CH');
  assert.equal(translatorForEnvironment({ LANG: 'en_GB.UTF-8' }).locale, 'en-GB');
  assert.equal(translatorForEnvironment({ LANG: 'fr_FR.UTF-8' }).locale, undefined, 'English text, so no French digits');
  assert.equal(translatorForEnvironment({ LANG: 'C.UTF-8' }).locale, undefined);
});

test('placeholders: numbers in the locale, nested messages translated too, unknown ones left as they are', () => {
  const de = translatorForEnvironment({ LANG: 'de_DE.UTF-8' });
  const tooLarge = N_('File is larger than the maximum item size of {limit} bytes (MaxItemSize)', { limit: 104857600 });
  assert.equal(de.translate(tooLarge), 'Die Datei ist größer als die maximale Eintragsgröße von 104.857.600 Byte (MaxItemSize)');
  assert.equal(ENGLISH.translate(tooLarge), 'File is larger than the maximum item size of 104857600 bytes (MaxItemSize)');
  assert.equal(String(tooLarge), ENGLISH.translate(tooLarge), 'a message as a string is English');
  const nested = N_('Cannot read the file to publish: {reason}', {
    reason: N_('The writer sent nothing for {seconds} s; publish abandoned', { seconds: 30 }),
  });
  assert.equal(
    de.translate(nested),
    'Die zu veröffentlichende Datei kann nicht gelesen werden: Der Schreiber hat 30 s lang nichts gesendet; Veröffentlichen abgebrochen',
  );
  assert.equal(de.translate(N_('Not in any catalog, {x}', { x: 1 })), 'Not in any catalog, 1', 'untranslated: English');
  assert.equal(de.translate(N_('No item with hash {hash}')), 'Kein Eintrag mit der Prüfsumme {hash}');
});

test("passimd's English error text is recognised and translated; anything else is left alone", () => {
  const de = translatorForEnvironment({ LANG: 'C.UTF-8', LANGUAGE: 'de' });
  assert.equal(de.fromEnglish(ENGLISH_TEXT), GERMAN);
  assert.equal(de.fromEnglish('Internal error'), 'Interner Fehler');
  assert.equal(
    de.fromEnglish('Cannot read the file to publish: The writer sent nothing for 30 s; publish abandoned'),
    'Die zu veröffentlichende Datei kann nicht gelesen werden: Der Schreiber hat 30 s lang nichts gesendet; Veröffentlichen abgebrochen',
  );
  assert.equal(
    de.fromEnglish('Not authorized to publish files: an administrator must allow org.freedesktop.passim.publish'),
    'Keine Berechtigung zum Veröffentlichen von Dateien: Ein Administrator muss org.freedesktop.passim.publish erlauben',
  );
  // "{count} of {limit}" is in the catalog, but two words of its own would match any sentence with "of".
  assert.equal(
    de.fromEnglish('The name org.example was not provided by any of the .service files'),
    'The name org.example was not provided by any of the .service files',
  );
  assert.equal(ENGLISH.fromEnglish(ENGLISH_TEXT), ENGLISH_TEXT);

  assert.equal(new PassimError('not-found', ENGLISH_TEXT).localized(de), GERMAN, "another process's text");
  assert.equal(new PassimError('not-found', NOT_FOUND).localized(de), GERMAN, 'our own message');
  assert.equal(new PassimError('not-found', NOT_FOUND).message, ENGLISH_TEXT, 'the message itself stays English, for the log');
  assert.equal(reasonOf(new PassimError('not-found', NOT_FOUND)), NOT_FOUND);
  assert.equal(reasonOf(new Error('plain')), 'plain');
});

test('Accept-Language: the most preferred language that has a catalog, q-values honoured, else English', () => {
  /** @type {[string | undefined, string | undefined][]} */
  const cases = [
    ['de', 'de'],
    ['DE', 'de'],
    ['de-CH,de;q=0.9,en;q=0.8', 'de'],
    ['fr, de;q=0.5', 'de'],
    ['en, de;q=0.9', undefined],
    ['en-US,en;q=0.9,de;q=0.8', undefined],
    ['de;q=0, en', undefined],
    ['de;q=0.1, fr;q=0.9, en;q=0.5', undefined],
    ['fr', undefined],
    ['*', undefined],
    ['', undefined],
    [undefined, undefined],
    [';;;,=', undefined],
  ];
  for (const [header, locale] of cases) {
    const tr = translatorForAcceptLanguage(header);
    assert.equal(tr.locale, locale, String(header));
    assert.equal(tr.translate(NOT_FOUND), locale === 'de' ? GERMAN : ENGLISH_TEXT, String(header));
  }
});

test('sizes, durations, decimals and times in German and in the C locale', () => {
  assert.equal(formatSize(1500, 'de'), '1,5 kB');
  assert.equal(formatSize(999_999, 'de'), '1.000,0 kB');
  assert.equal(formatSize(999_999), '1000.0 kB', 'no grouping in C');
  assert.equal(formatSize(1, 'de'), '1 Byte');
  assert.equal(formatSize(13, 'de'), '13 Byte');
  assert.equal(formatDuration(90, 'de'), '1 Minute 30 Sekunden');
  assert.equal(formatDuration(86400 + 6 * 3600, 'de'), '1 Tag 6 Stunden');
  assert.equal(formatDuration(0, 'de'), '0 Sekunden');
  assert.equal(formatDecimal(0.0264, 3, 'de'), '0,026');
  assert.equal(formatDecimal(1234.5, 3), '1234.500');
  assert.equal(formatTime(1714571110, 'de'), '01.05.2024, 13:45:10');
  assert.equal(formatTime(1714571110, 'en-GB'), '1 May 2024, 13:45:10');
  assert.equal(formatTime(1714571110, 'en-US'), 'May 1, 2024, 1:45:10 PM', 'a plain space before PM');
});
