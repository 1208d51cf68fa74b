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
}

export const DEFAULT_PORT = 27500;

/** The keys of the [daemon] group; anything else is warned about and ignored. */
export const CONFIG_KEYS = ['Port', 'IPv6', 'Path', 'MaxItemSize', 'Cooldown', 'CarbonCost'] as const;
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
  };
}

/** A parsed GLib key file: group → key → raw value. */
export type KeyFile = Map<string, Map<string, string>>;

/** Parses GLib key-file syntax: `[group]` headers, `key=value` lines, `#` comments, blank lines. */
export function parseKeyFile(text: string, source: string): KeyFile {
  const groups: KeyFile = new Map();
  let current: Map<string, string> | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    const where = `${source}:${index + 1}`;
    if (line === '' || line.startsWith('#')) return;
    const header = /^\[([^\][]+)\]$/.exec(line);
    if (header) {
      const name = header[1] ?? '';
      current = groups.get(name) ?? new Map<string, string>();
      groups.set(name, current);
      return;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new PassimError('invalid-argument', `${where}: expected "key=value" or "[group]", got "${line}"`);
    if (!current) throw new PassimError('invalid-argument', `${where}: key "${line.slice(0, eq).trim()}" outside any [group]`);
    current.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  });
  return groups;
}

function parseInteger(value: string, key: string, source: string): number {
  if (!/^[+-]?\d+$/.test(value)) throw new PassimError('invalid-argument', `${source}: ${key}=${value} is not an integer`);
  return Number(value);
}

function parseBoolean(value: string, key: string, source: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new PassimError('invalid-argument', `${source}: ${key}=${value} is not true or false`);
}

function parseDouble(value: string, key: string, source: string): number {
  const n = Number(value);
  if (value === '' || !Number.isFinite(n)) throw new PassimError('invalid-argument', `${source}: ${key}=${value} is not a number`);
  return n;
}

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
    switch (key) {
      case 'Port': {
        const port = parseInteger(value, key, source);
        if (port < 1 || port > 65535) log.warn(`${source}: Port=${value} is out of range 1-65535, using ${DEFAULT_PORT}`);
        else config.port = port;
        break;
      }
      case 'IPv6':
        config.ipv6 = parseBoolean(value, key, source);
        break;
      case 'Path':
        if (value !== '') config.dataDir = value;
        break;
      case 'MaxItemSize': {
        const size = parseInteger(value, key, source);
        if (size <= 0 || !Number.isSafeInteger(size)) log.warn(`${source}: MaxItemSize=${value} is out of range, using ${config.maxItemSize}`);
        else config.maxItemSize = size;
        break;
      }
      case 'Cooldown': {
        const cooldown = parseInteger(value, key, source);
        if (cooldown < 0) log.warn(`${source}: Cooldown=${value} is negative, using ${config.cooldown}`);
        else config.cooldown = cooldown;
        break;
      }
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
