// SPDX-License-Identifier: LGPL-2.1-or-later
// The method's settings, read from apt's configuration as apt sends it in its 601 Configuration message.
import { isAbsolute, join } from 'node:path';
import { fieldOf, type Message } from './message.js';

/** apt's configuration: full names (lower case, as apt compares them) → values. */
export type AptConfig = ReadonlyMap<string, string>;

/** Reverses apt's QuoteString: %XX is the byte XX. Malformed escapes stay as they are, like apt's DeQuoteString. */
function dequote(text: string): string {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  const raw = Buffer.from(text, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i] ?? 0;
    const hex = raw.subarray(i + 1, i + 3).toString('latin1');
    if (byte === 0x25 && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else bytes.push(byte);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The Config-Item lines of a 601 Configuration message ("Name=Value", each part percent-quoted). */
export function configOf(message: Pick<Message, 'fields'>): AptConfig {
  const config = new Map<string, string>();
  for (const [key, value] of message.fields) {
    if (key.toLowerCase() !== 'config-item') continue;
    const equals = value.indexOf('=');
    if (equals <= 0) continue;
    config.set(dequote(value.slice(0, equals)).toLowerCase(), dequote(value.slice(equals + 1)));
  }
  return config;
}

/** apt's StringToBool; anything else is `fallback`. */
export function aptBoolean(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  const v = value.trim().toLowerCase();
  if (['yes', 'true', 'with', 'on', 'enable', '1'].includes(v)) return true;
  if (['no', 'false', 'without', 'off', 'disable', '0'].includes(v)) return false;
  return fallback;
}

function aptInteger(value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return fallback;
  const n = Number(value);
  return n >= min && n <= max ? n : fallback;
}

/** One day: package indexes are replaced about that often, and a package set changes little faster. */
export const DEFAULT_MAX_AGE = 86_400;
export const DEFAULT_SHARE_LIMIT = 5;

export interface Settings {
  /** false: every request goes to apt's own method, untouched. */
  enable: boolean;
  /** Index files (Packages, Sources, Translation, Contents…: `Index-File: true`) are looked up and published. */
  shareIndexes: boolean;
  /** Everything else (.deb files, sources): looked up and published only when asked for; see passim-apt(8). */
  sharePackages: boolean;
  maxAge: number;
  shareLimit: number;
  /** The user apt's methods drop to (`APT::Sandbox::User`); empty or root: no drop, as apt does. */
  sandboxUser: string;
  /** `Debug::NoDropPrivs`: apt's own switch to keep methods root. */
  noDropPrivs: boolean;
  /** apt's methods folder, where its own http and https methods are. */
  methodsDir: string;
  /** `Debug::Acquire::passim`: log what we decide through 101 Log. */
  debug: boolean;
}

/**
 * `Dir::Bin::Methods` resolved as apt's FindDir does: a relative value is taken below its parents'
 * (`Dir::Bin`, then `Dir`), the first absolute one ending the walk.
 */
function methodsDirOf(config: AptConfig): string {
  const chain = ['dir::bin::methods', 'dir::bin', 'dir'];
  let path = '';
  for (const key of chain) {
    const value = config.get(key);
    if (value === undefined || value === '') continue;
    path = path === '' ? value : join(value, path);
    if (isAbsolute(path)) return path;
  }
  return path === '' ? '/usr/lib/apt/methods' : join('/', path);
}

export function settingsOf(config: AptConfig): Settings {
  return {
    enable: aptBoolean(config.get('acquire::passim::enable'), true),
    shareIndexes: aptBoolean(config.get('acquire::passim::share-indexes'), true),
    sharePackages: aptBoolean(config.get('acquire::passim::share-packages'), false),
    maxAge: aptInteger(config.get('acquire::passim::max-age'), DEFAULT_MAX_AGE, 0, 2 ** 32 - 1),
    shareLimit: aptInteger(config.get('acquire::passim::share-limit'), DEFAULT_SHARE_LIMIT, 0, 2 ** 32 - 1),
    sandboxUser: config.get('apt::sandbox::user') ?? '_apt',
    noDropPrivs: aptBoolean(config.get('debug::nodropprivs'), false),
    methodsDir: methodsDirOf(config),
    debug: aptBoolean(config.get('debug::acquire::passim'), false),
  };
}

/** Settings before any 601 Configuration arrives (apt always sends one to a method asking for it). */
export const DEFAULT_SETTINGS: Settings = settingsOf(new Map());

/** Whether a 600 URI Acquire is for an index file. */
export function isIndexRequest(message: Pick<Message, 'fields'>): boolean {
  return aptBoolean(fieldOf(message, 'Index-File'), false);
}
