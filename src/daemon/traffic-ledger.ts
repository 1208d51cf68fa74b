// SPDX-License-Identifier: LGPL-2.1-or-later
// Bytes moved per day, by kind, kept across restarts in a small JSON file: what the status page, the
// Traffic property and passimctl status show. The file is written whole to a temporary name and renamed,
// so a crash leaves the old or the new one; anything in it that does not make sense is ignored.
import { EventEmitter } from 'node:events';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoCode } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';

/** What a byte counted for. */
export const TRAFFIC_KINDS = [
  /** Sent by this machine's HTTPS server to other machines. */
  'servedToNeighbours',
  /** Sent by it to programs on this machine. */
  'servedLocally',
  /** Obtained by programs here from neighbours this daemon redirected them to (as they reported). */
  'fromNeighbours',
  /** Downloaded by programs here from the origin after the LAN could not give it (as they reported). */
  'fromOrigin',
] as const;
export type TrafficKind = (typeof TRAFFIC_KINDS)[number];

/** One day's counters; `day` is the local date, YYYY-MM-DD. */
export type DayTraffic = { day: string } & Record<TrafficKind, number>;

/** Days kept: a year and a bit, about 40 kB of JSON. */
export const MAX_DAYS = 400;
/** A state file larger than this is not ours (400 days are about 40 kB): it is ignored. */
const MAX_FILE_BYTES = 256 * 1024;
/** Changes are written at most this often (and at close). */
const WRITE_DELAY_MS = 10_000;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The local date of `ms` as YYYY-MM-DD. */
export function dayOf(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${String(d.getFullYear()).padStart(4, '0')}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function validDay(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  const match = DAY.exec(text);
  if (!match) return false;
  const [, y, m, d] = match.map(Number) as [number, number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

export function emptyDay(day: string): DayTraffic {
  return { day, servedToNeighbours: 0, servedLocally: 0, fromNeighbours: 0, fromOrigin: 0 };
}

/**
 * The days a state file holds, oldest first: entries with a valid date, counters that are not non-negative
 * safe integers read as 0, a date given twice keeps its first entry, only the newest MAX_DAYS. Never throws.
 */
export function parseTrafficState(text: string): DayTraffic[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return [];
  }
  const list = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as { days?: unknown }).days : undefined;
  if (!Array.isArray(list)) return [];
  const byDay = new Map<string, DayTraffic>();
  for (const entry of list) {
    if (typeof entry !== 'object' || entry === null) continue;
    const record = entry as Record<string, unknown>;
    if (!validDay(record.day) || byDay.has(record.day)) continue;
    const day = emptyDay(record.day);
    for (const kind of TRAFFIC_KINDS) day[kind] = count(record[kind]);
    byDay.set(record.day, day);
  }
  return [...byDay.values()].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0)).slice(-MAX_DAYS);
}

export function formatTrafficState(days: readonly DayTraffic[]): string {
  return `${JSON.stringify({ version: 1, days })}\n`;
}

/** Per-day byte counters, written to `path` a while after they change. Emits 'changed'. */
export class TrafficLedger extends EventEmitter<{ changed: [] }> {
  private readonly byDay: DayTraffic[];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly log: Logger,
    days: DayTraffic[],
  ) {
    super();
    this.byDay = days;
  }

  /** Reads the state file at `path`; a missing, unreadable or damaged one starts empty. */
  static async open(path: string, log: Logger): Promise<TrafficLedger> {
    return new TrafficLedger(path, log, await readState(path, log));
  }

  /** Adds `bytes` of `kind` to the day of `now`. */
  add(kind: TrafficKind, bytes: number, now = Date.now()): void {
    if (!(bytes > 0) || !Number.isFinite(bytes)) return;
    const day = dayOf(now);
    let last = this.byDay.at(-1);
    // A clock that went back adds to the newest day rather than rewriting history.
    if (!last || last.day < day) {
      last = emptyDay(day);
      this.byDay.push(last);
      if (this.byDay.length > MAX_DAYS) this.byDay.splice(0, this.byDay.length - MAX_DAYS);
    }
    last[kind] = Math.min(Number.MAX_SAFE_INTEGER, last[kind] + Math.floor(bytes));
    this.timer ??= setTimeout(() => void this.flush(), WRITE_DELAY_MS).unref();
    this.emit('changed');
  }

  /** The newest `count` days ending with the day of `now`, oldest first, days without traffic as zeros. */
  lastDays(count: number, now = Date.now()): DayTraffic[] {
    const held = new Map(this.byDay.map((d) => [d.day, d]));
    const out: DayTraffic[] = [];
    const noon = new Date(now);
    noon.setHours(12, 0, 0, 0);
    for (let i = count - 1; i >= 0; i--) {
      const date = new Date(noon);
      date.setDate(noon.getDate() - i);
      const day = dayOf(date.getTime());
      out.push({ ...(held.get(day) ?? emptyDay(day)) });
    }
    return out;
  }

  /** Every day held, oldest first. */
  get days(): readonly DayTraffic[] {
    return this.byDay;
  }

  /** Writes the counters now, if anything changed since the last write. */
  flush(): Promise<void> {
    if (this.timer === undefined) return this.writing;
    clearTimeout(this.timer);
    this.timer = undefined;
    const text = formatTrafficState(this.byDay);
    this.writing = this.writing.then(() =>
      writeAtomically(this.path, text).catch((err: unknown) => this.log.warn(`cannot write ${this.path}: ${(err as Error).message}`)),
    );
    return this.writing;
  }
}

async function readState(path: string, log: Logger): Promise<DayTraffic[]> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') log.warn(`cannot read ${path}, counting from zero: ${(err as Error).message}`);
    return [];
  }
  try {
    const buffer = Buffer.alloc(MAX_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_FILE_BYTES) {
      log.warn(`${path} is larger than ${MAX_FILE_BYTES} bytes; counting from zero`);
      return [];
    }
    return parseTrafficState(buffer.subarray(0, bytesRead).toString('utf8'));
  } catch (err) {
    log.warn(`cannot read ${path}, counting from zero: ${(err as Error).message}`);
    return [];
  } finally {
    await handle.close();
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.tmp`;
  try {
    await writeFile(temporary, text, { mode: 0o644 });
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}
