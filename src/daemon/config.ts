// SPDX-License-Identifier: LGPL-2.1-or-later
// passim.conf (GLib key-file syntax) and the folders the daemon uses.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassimError, errnoCode } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';

/** Folders the daemon uses, all derived from the environment like the original's build-time paths. */
export interface Paths {
  configFile: string;
  stateDir: string;
  defaultDataDir: string;
  secretKey: string;
  certificate: string;
  auditLog: string;
  /** Optional overrides of the web assets (style.css, favicon.ico). */
  webDir: string;
  /** `*.conf` files naming static folders to share, as the original's `$SYSCONFDIR/passim.d`. */
  staticConfDir: string;
}

export function pathsFromEnv(env: NodeJS.ProcessEnv = process.env): Paths {
  const localStateDir = env.LOCALSTATEDIR || '/var';
  const sysconfDir = env.SYSCONFDIR || '/etc';
  const dataDir = env.DATADIR || '/usr/share';
  const stateDir = join(localStateDir, 'lib', 'passim');
  return {
    configFile: join(sysconfDir, 'passim.conf'),
    stateDir,
    defaultDataDir: join(stateDir, 'data'),
    secretKey: join(stateDir, 'secret.key'),
    certificate: join(stateDir, 'cert.pem'),
    auditLog: join(localStateDir, 'log', 'passim', 'audit.log'),
    webDir: join(dataDir, 'passim'),
    staticConfDir: join(sysconfDir, 'passim.d'),
  };
}

export interface Config {
  port: number;
  ipv6: boolean;
  /** Folder holding the published files. */
  dataDir: string;
  /** Largest item Publish accepts, in bytes. */
  maxItemSize: number;
  /** Seconds a remote client must wait before asking for the same hash again. */
  cooldown: number;
  /** kg CO₂e per GB transferred. */
  carbonCost: number;
  /** Bytes per second sent to other machines, all together; 0 is no limit. Loopback clients are never limited. */
  maxUploadRate: number;
  /** Connections from other machines at once (and, separately, from this machine); each address gets a share. */
  maxConnections: number;
  /** Total bytes of published items; a publish that would go over is refused. 0 is no limit. */
  maxStorageSize: number;
  /** Use neighbours' copies but never advertise ours nor listen on the LAN. */
  neverShare: boolean;
  /** Seconds with nothing published and nothing going on before a socket-activated daemon exits; 0 never. */
  idleTimeout: number;
}

export const DEFAULT_PORT = 27500;

/** The keys of the [daemon] group; anything else is warned about and ignored. */
export const CONFIG_KEYS = [
  'Port',
  'IPv6',
  'Path',
  'MaxItemSize',
  'Cooldown',
  'CarbonCost',
  'MaxUploadRate',
  'MaxConnections',
  'MaxStorageSize',
  'NeverShare',
  'IdleTimeout',
] as const;
type ConfigKey = (typeof CONFIG_KEYS)[number];

function isConfigKey(key: string): key is ConfigKey {
  return (CONFIG_KEYS as readonly string[]).includes(key);
}

export function defaultConfig(paths: Paths): Config {
  return {
    port: DEFAULT_PORT,
    ipv6: false,
    dataDir: paths.defaultDataDir,
    maxItemSize: 100 * 1024 * 1024,
    cooldown: 3600,
    carbonCost: 0.026367,
    // About a tenth of a gigabit link: sharing never saturates an old laptop's network or disk.
    maxUploadRate: 10 * 1024 * 1024,
    maxConnections: 64,
    maxStorageSize: 0,
    neverShare: false,
    idleTimeout: 300,
  };
}

/** A parsed GLib key file: group → key → value, with the string escapes decoded (see parseKeyFile). */
export type KeyFile = Map<string, Map<string, string>>;

/** GLib's g_ascii_isspace: space, tab, newline, form feed, carriage return; not vertical tab. */
const LEADING_SPACE = /^[ \t\n\f\r]+/;
const TRAILING_SPACE = /[ \t\n\f\r]+$/;
/** g_key_file_is_key_name: no brackets, except one locale suffix as in `Name[de_DE.UTF-8@euro]`. */
const KEY_NAME = /^[^[\]]+(?:\[[\p{L}\p{N}_.@-]*\])?$/u;
/** g_key_file_is_group_name: not empty, no brackets, no control characters. */
function badGroupName(name: string): boolean {
  if (name === '') return true;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code === 0x5b || code === 0x5d || code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
const ESCAPES = new Map([
  ['s', ' '],
  ['n', '\n'],
  ['t', '\t'],
  ['r', '\r'],
  ['\\', '\\'],
]);

/** g_key_file_parse_value_as_string: `\s \n \t \r \\`; any other escape, or `\` at the end, is an error. */
function unescapeValue(value: string, key: string, where: string): string {
  return value.replace(/\\(.?)/gsu, (_, next: string) => {
    const plain = ESCAPES.get(next);
    if (plain !== undefined) return plain;
    const problem = next === '' ? 'ends with an escape character "\\"' : `has the invalid escape sequence "\\${next}"`;
    throw new PassimError('invalid-argument', `${where}: the value of ${key} ${problem}`);
  });
}

/**
 * Parses GLib key-file syntax as g_key_file_load_from_data does: `[group]` headers (spaces or tabs may
 * follow the `]`), `key=value` lines, `#` comments, blank lines; leading whitespace of a line, whitespace
 * around `=` and a `\r` before the `\n` are dropped; a later duplicate key wins, a repeated group adds to the
 * first; a non-UTF-8 `Encoding` in the first group is an error. Values come out as g_key_file_get_string gives
 * them, escapes decoded, since every value the original reads as text (Path, in passim.conf and passim.d) is
 * read that way, and a number or boolean holds no backslash. Two differences from GLib, both on the strict
 * or harmless side: an invalid escape is an error even in a key nobody reads (GLib complains only when the
 * key is read), and trailing whitespace is dropped (GLib keeps it; write `\s` for a significant space).
 */
export function parseKeyFile(text: string, source: string): KeyFile {
  const groups: KeyFile = new Map();
  let first: Map<string, string> | undefined;
  let current: Map<string, string> | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = (raw.endsWith('\r') ? raw.slice(0, -1) : raw).replace(LEADING_SPACE, '');
    const where = `${source}:${index + 1}`;
    if (line === '' || line.startsWith('#')) return;
    const header = /^\[([^\]]*)\][ \t]*$/.exec(line);
    if (header) {
      const name = header[1] ?? '';
      if (badGroupName(name)) throw new PassimError('invalid-argument', `${where}: invalid group name "[${name}]"`);
      current = groups.get(name) ?? new Map<string, string>();
      groups.set(name, current);
      first ??= current;
      return;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new PassimError('invalid-argument', `${where}: expected "key=value" or "[group]", got "${line}"`);
    const key = line.slice(0, eq).replace(TRAILING_SPACE, '');
    if (!current) throw new PassimError('invalid-argument', `${where}: key "${key}" outside any [group]`);
    if (!KEY_NAME.test(key)) throw new PassimError('invalid-argument', `${where}: invalid key name "${key}"`);
    const value = line
      .slice(eq + 1)
      .replace(LEADING_SPACE, '')
      .replace(TRAILING_SPACE, '');
    if (key === 'Encoding' && current === first && value.toUpperCase() !== 'UTF-8') {
      throw new PassimError('invalid-argument', `${where}: unsupported encoding "${value}", only UTF-8`);
    }
    current.set(key, unescapeValue(value, key, where));
  });
  return groups;
}

function parseInteger(value: string, key: string, source: string): number {
  if (!/^[+-]?\d+$/.test(value)) throw new PassimError('invalid-argument', `${source}: ${key}=${value} is not an integer`);
  return Number(value);
}

/** g_key_file_get_boolean: true/false, and 1/0 too. */
function parseBoolean(value: string, key: string, source: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new PassimError('invalid-argument', `${source}: ${key}=${value} is not true or false`);
}

function parseDouble(value: string, key: string, source: string): number {
  const n = Number(value);
  if (value === '' || !Number.isFinite(n)) throw new PassimError('invalid-argument', `${source}: ${key}=${value} is not a number`);
  return n;
}

type IntegerField = 'port' | 'maxItemSize' | 'cooldown' | 'maxUploadRate' | 'maxConnections' | 'maxStorageSize' | 'idleTimeout';

/** The integer keys: their field and the range they must be in; a value out of range warns and keeps the default. */
const INTEGER_KEYS: Partial<Record<ConfigKey, { field: IntegerField; min: number; max: number }>> = {
  Port: { field: 'port', min: 1, max: 65535 },
  MaxItemSize: { field: 'maxItemSize', min: 1, max: Number.MAX_SAFE_INTEGER },
  Cooldown: { field: 'cooldown', min: 0, max: Number.MAX_SAFE_INTEGER },
  MaxUploadRate: { field: 'maxUploadRate', min: 0, max: Number.MAX_SAFE_INTEGER },
  MaxConnections: { field: 'maxConnections', min: 1, max: 65536 },
  MaxStorageSize: { field: 'maxStorageSize', min: 0, max: Number.MAX_SAFE_INTEGER },
  // Seconds, kept below what a timer can wait (2^31 ms).
  IdleTimeout: { field: 'idleTimeout', min: 0, max: 2_000_000 },
};

/** Builds the configuration from key-file text; values out of range fall back to defaults with a warning. */
export function configFromKeyFile(text: string, source: string, paths: Paths, log: Logger): Config {
  const config = defaultConfig(paths);
  const daemon = parseKeyFile(text, source).get('daemon');
  if (!daemon) return config;
  for (const [key, value] of daemon) {
    if (!isConfigKey(key)) {
      log.warn(`${source}: unknown key ${key} in [daemon], ignored`);
      continue;
    }
    const integer = INTEGER_KEYS[key];
    if (integer) {
      const { field, min, max } = integer;
      const n = parseInteger(value, key, source);
      const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min}-${max}`;
      if (n < min || n > max) log.warn(`${source}: ${key}=${value} is out of range ${range}, using ${config[field]}`);
      else config[field] = n;
      continue;
    }
    switch (key) {
      case 'IPv6':
        config.ipv6 = parseBoolean(value, key, source);
        break;
      case 'NeverShare':
        config.neverShare = parseBoolean(value, key, source);
        break;
      case 'Path':
        if (value !== '') config.dataDir = value;
        break;
      case 'CarbonCost': {
        const cost = parseDouble(value, key, source);
        if (cost < 0) log.warn(`${source}: CarbonCost=${value} is negative, using ${config.carbonCost}`);
        else config.carbonCost = cost;
        break;
      }
    }
  }
  return config;
}

/** Loads $SYSCONFDIR/passim.conf; a missing file means defaults, an unreadable or malformed one is an error. */
export async function loadConfig(paths: Paths, log: Logger): Promise<Config> {
  let text: string;
  try {
    text = await readFile(paths.configFile, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return defaultConfig(paths);
    throw new PassimError('invalid-argument', `cannot read ${paths.configFile}: ${(err as Error).message}`, { cause: err });
  }
  return configFromKeyFile(text, paths.configFile, paths, log);
}
