// SPDX-License-Identifier: LGPL-2.1-or-later
// Translations: the gettext catalogs of po/ (compiled to .mo), chosen the way GNU gettext chooses them for
// a process, or from an HTTP Accept-Language header; and the locale that numbers, sizes and dates follow.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GetTextTranslations } from 'gettext-parser';
import Negotiator from 'negotiator';
import { formatNumber } from './format.js';

const TEXT_DOMAIN = 'passim';

/**
 * The compiled catalogs, LL/LC_MESSAGES/passim.mo: dist/locale in a checkout (written by po/catalogs.sh),
 * and, installed, a link from $PREFIX/lib/passim/dist/locale to $PREFIX/share/locale (data/install.sh).
 */
const LOCALE_DIR = fileURLToPath(new URL('../locale/', import.meta.url));

function catalogPath(name: string): string {
  return join(LOCALE_DIR, name, 'LC_MESSAGES', `${TEXT_DOMAIN}.mo`);
}

export type Value = string | number | Translatable;
export type Values = Readonly<Record<string, Value>>;

/**
 * A message and the values of its {placeholders}, translated only where it is shown: the daemon's errors
 * are read by clients in other languages than its own, and its log stays English.
 */
export class Translatable {
  constructor(
    readonly msgid: string,
    readonly values: Values = {},
  ) {}

  /** The English text, for logs and for the D-Bus wire. */
  toString(): string {
    return ENGLISH.translate(this);
  }
}

/** Marks a message for translation later (GNU's N_), with the values of its {placeholders}. */
export function N_(msgid: string, values?: Values): Translatable {
  return new Translatable(msgid, values);
}

/** msgid → translation of one catalog (no contexts, no plurals: our messages use neither). */
type Catalog = ReadonlyMap<string, string>;

let installed: ReadonlySet<string> | undefined;
const loaded = new Map<string, Catalog>();
/**
 * gettext-parser's .mo reader, loaded only once a catalog is wanted: it adds about 2 MiB to an idle passimd
 * (63.4–64.6 MiB with LANG=C.UTF-8, 65.1–66.7 MiB with de_DE.UTF-8).
 */
let parseMo: ((buffer: Buffer) => GetTextTranslations) | undefined;

/** Set when the reader cannot be loaded: everything stays English rather than waiting for it again. */
let readerMissing = false;

/** Loads the .mo reader; until then every catalog reads as missing (English). */
export async function loadCatalogReader(): Promise<void> {
  try {
    parseMo ??= (await import('gettext-parser')).mo.parse;
  } catch (err) {
    readerMissing = true;
    throw err;
  }
}

/**
 * The catalogs there are, listed once: a lookup never touches the disk for a name a client made up, and
 * an Accept-Language header is matched against this list.
 */
function installedCatalogs(): ReadonlySet<string> {
  if (!installed) {
    let names: string[] = [];
    try {
      names = readdirSync(LOCALE_DIR);
    } catch {
      // No catalogs built or installed: everything is English.
    }
    installed = new Set(names.filter((name) => existsSync(catalogPath(name))));
  }
  return installed;
}

function catalog(name: string): Catalog | undefined {
  if (!parseMo || !installedCatalogs().has(name)) return undefined;
  let found = loaded.get(name);
  if (!found) {
    const entries = new Map<string, string>();
    try {
      const parsed = parseMo(readFileSync(catalogPath(name)));
      for (const [msgid, entry] of Object.entries(parsed.translations[''] ?? {})) {
        const text = entry.msgstr[0];
        // The header has the empty msgid; an empty msgstr is an untranslated message.
        if (msgid !== '' && text) entries.set(msgid, text);
      }
    } catch {
      // An unreadable or broken catalog is no catalog, as for GNU gettext.
    }
    found = entries;
    loaded.set(name, found);
  }
  return found;
}

/**
 * The names GNU gettext tries for a locale name, most specific first: de_DE.UTF-8@euro gives
 * de_DE.UTF-8@euro, de_DE@euro, de.UTF-8@euro, de@euro, de_DE.UTF-8, de_DE, de.UTF-8, de.
 */
export function localeVariants(name: string): string[] {
  const match = /^([^_.@]+)(_[^.@]+)?(\.[^@]+)?(@.+)?$/.exec(name);
  if (!match) return [];
  const [, language = '', territory = '', codeset = '', modifier = ''] = match;
  const variants: string[] = [];
  for (const m of modifier ? [modifier, ''] : ['']) {
    for (const t of territory ? [territory, ''] : ['']) {
      for (const c of codeset ? [codeset, ''] : ['']) variants.push(`${language}${t}${c}${m}`);
    }
  }
  return variants;
}

/** A POSIX locale name as a BCP 47 tag for Intl (de_AT.UTF-8 → de-AT), or undefined if Intl has none. */
function bcp47(name: string): string | undefined {
  const match = /^([A-Za-z]{2,3})(?:_([A-Za-z]{2}|\d{3}))?/.exec(name);
  if (!match?.[1]) return undefined;
  const tag = match[2] ? `${match[1]}-${match[2]}` : match[1];
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
}

const PLACEHOLDER = /\{(\w+)\}/g;

/** A msgid with placeholders, as a pattern that takes its values back out of the English text. */
interface Template {
  msgid: string;
  names: string[];
  pattern: RegExp;
  /** Characters that are not placeholders: the more, the more specific the template. */
  literal: number;
}

/** Words a template must have of its own to be recognised: "{count} of {limit}" would match any sentence with "of". */
const MIN_TEMPLATE_WORDS = 3;

function template(msgid: string): Template | undefined {
  const names = [...msgid.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
  if (names.length === 0) return undefined;
  const parts = msgid.split(PLACEHOLDER).filter((_, i) => i % 2 === 0);
  if ((parts.join(' ').match(/\p{L}{2,}/gu) ?? []).length < MIN_TEMPLATE_WORDS) return undefined;
  const source = parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('(.+?)');
  return { msgid, names, pattern: new RegExp(`^${source}$`, 's'), literal: parts.join('').length };
}

/** Messages in one language, with English for whatever its catalogs lack; numbers and dates in `locale`. */
export class Translator {
  private templates: Template[] | undefined;

  /**
   * @param catalogs most preferred first; a message missing from all of them stays English
   * @param locale BCP 47 tag for numbers, sizes and dates; undefined for the C locale's fixed formats
   */
  constructor(
    private readonly catalogs: readonly Catalog[],
    readonly locale: string | undefined,
  ) {}

  private lookup(msgid: string): string | undefined {
    for (const c of this.catalogs) {
      const text = c.get(msgid);
      if (text !== undefined) return text;
    }
    return undefined;
  }

  /** `message` in this language, its {placeholders} filled in (numbers in the locale's digits). */
  translate(message: Translatable | string): string {
    if (typeof message === 'string') return this.lookup(message) ?? message;
    return this.fill(this.lookup(message.msgid) ?? message.msgid, message.values);
  }

  /** A number in the locale's digits; plain digits in the C locale. */
  number(n: number): string {
    return formatNumber(n, this.locale);
  }

  private fill(text: string, values: Values): string {
    return text.replace(PLACEHOLDER, (whole, name: string) => {
      const value = values[name];
      if (value === undefined) return whole;
      if (typeof value === 'number') return this.number(value);
      return typeof value === 'string' ? value : this.translate(value);
    });
  }

  /**
   * English text that another process made from one of our messages (passimd's D-Bus errors), in this
   * language: the message is recognised by its template, its values taken out and put into the
   * translation. Text that is not one of our messages comes back as it is.
   */
  fromEnglish(text: string): string {
    const exact = this.lookup(text);
    if (exact !== undefined) return exact;
    for (const t of this.translatedTemplates()) {
      const match = t.pattern.exec(text);
      if (!match) continue;
      const values: Record<string, string> = {};
      t.names.forEach((name, i) => {
        const value = match[i + 1] ?? '';
        // A value may itself be a message (a reason after a colon); a file name or a hash has no space.
        values[name] = value.includes(' ') ? this.fromEnglish(value) : value;
      });
      return this.fill(this.lookup(t.msgid) ?? t.msgid, values);
    }
    return text;
  }

  private translatedTemplates(): Template[] {
    if (!this.templates) {
      const msgids = new Set(this.catalogs.flatMap((c) => [...c.keys()]));
      this.templates = [...msgids]
        .map(template)
        .filter((t): t is Template => t !== undefined)
        .sort((a, b) => b.literal - a.literal);
    }
    return this.templates;
  }
}

/** The messages as written, with the C locale's formats. */
export const ENGLISH = new Translator([], undefined);

function isCLocale(name: string): boolean {
  return name === '' || name === 'C' || name === 'POSIX';
}

/**
 * The translator for a process with environment `env`, as GNU gettext picks catalogs: the locale of
 * messages is LC_ALL, else LC_MESSAGES, else LANG; unless that is C or POSIX (or unset), LANGUAGE, a
 * colon-separated list, takes precedence, a "C" in it ending the list. Each name falls back from the
 * most specific to the bare language (de_DE.UTF-8 … de). Unlike a C program, no locale needs to be
 * generated on the system. Numbers and dates follow the language the messages are shown in, so that one
 * line never mixes two languages; English messages in the C locale keep the fixed formats.
 */
export function translatorForEnvironment(env: NodeJS.ProcessEnv): Translator {
  const locale = messagesLocale(env);
  if (isCLocale(locale)) return ENGLISH;
  const names = environmentLanguages(env);
  const catalogs: Catalog[] = [];
  let shownIn: string | undefined;
  for (const name of names) {
    for (const variant of localeVariants(name)) {
      const found = catalog(variant);
      if (!found || catalogs.includes(found)) continue;
      catalogs.push(found);
      shownIn ??= name;
    }
  }
  // English messages in an English locale (en_GB) still get its date and number formats.
  shownIn ??= locale.startsWith('en') ? locale : undefined;
  return new Translator(catalogs, shownIn === undefined ? undefined : bcp47(shownIn));
}

/** The locale of messages: LC_ALL, else LC_MESSAGES, else LANG. */
function messagesLocale(env: NodeJS.ProcessEnv): string {
  return env.LC_ALL || env.LC_MESSAGES || env.LANG || '';
}

/** The languages `env` asks for, most preferred first; none in the C locale. */
function environmentLanguages(env: NodeJS.ProcessEnv): string[] {
  const locale = messagesLocale(env);
  if (isCLocale(locale)) return [];
  const names: string[] = [];
  for (const name of env.LANGUAGE ? env.LANGUAGE.split(':') : [locale]) {
    if (name === '') continue;
    if (isCLocale(name)) break;
    names.push(name);
  }
  return names;
}

// A process whose environment asks for a translated language reads its catalogs before its first message
// (--help texts are translated as modules load); passimd under systemd usually has none to read.
if (environmentLanguages(process.env).some((name) => localeVariants(name).some((variant) => installedCatalogs().has(variant)))) {
  await loadCatalogReader();
}

let processTranslator: Translator | undefined;

/** The translator for this process's own output (passimctl, --help), from its environment. */
export function localTranslator(): Translator {
  processTranslator ??= translatorForEnvironment(process.env);
  return processTranslator;
}

/** `msgid` translated now for this process's user (GNU's _), its {placeholders} filled from `values`. */
export function _(msgid: string, values?: Values): string {
  return localTranslator().translate(new Translatable(msgid, values));
}

/**
 * The translator for an HTTP client: the language its Accept-Language header prefers most (q-values
 * honoured, de-CH served by a de catalog) among English and the installed catalogs; English when the
 * header names none of them. English pages keep the C locale's formats.
 */
export function translatorForAcceptLanguage(header: string | undefined): Translator {
  const best = preferredLanguage(header);
  if (best === undefined) return ENGLISH;
  const found = catalog(best.replace('-', '_'));
  return found ? new Translator([found], bcp47(best.replace('-', '_'))) : ENGLISH;
}

/** The installed catalog's language (as a BCP 47 tag) an Accept-Language header prefers; undefined for English. */
function preferredLanguage(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [best] = new Negotiator({ headers: { 'accept-language': header } }).languages(webLanguages());
  return best === 'en' ? undefined : best;
}

let webLanguageTags: string[] | undefined;

/** English and the installed catalogs as BCP 47 tags, listed once (a page request asks each time). */
function webLanguages(): string[] {
  // Catalogs named language or language_TERRITORY; Accept-Language has no way to ask for sr@latin.
  webLanguageTags ??= [
    'en',
    ...[...installedCatalogs()]
      .filter((name) => /^[a-z]{2,3}(_[A-Z]{2})?$/.test(name))
      .sort()
      .map((name) => name.replace('_', '-')),
  ];
  return webLanguageTags;
}

/** Whether answering a client with this Accept-Language needs loadCatalogReader() first. */
export function needsCatalogReader(header: string | undefined): boolean {
  return parseMo === undefined && !readerMissing && preferredLanguage(header) !== undefined;
}
