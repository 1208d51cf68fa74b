// SPDX-License-Identifier: LGPL-2.1-or-later
// The audit log of publishes, shares and deletions, in the original's format.
import { createReadStream } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { PassimError, errnoCode } from '../../shared/errors.js';

/**
 * Record types. The original writes the deletion type as `DELTE` (five letters like the others);
 * we write that too, and the parser also accepts `DELETE`, normalising it to `DELTE`.
 */
export type AuditType = 'PBLSH' | 'SHARE' | 'DELTE';

export interface AuditEntry {
  time: Date;
  type: AuditType;
  /** Unescaped values, in the order they appear on the line. */
  fields: Map<string, string>;
}

const KEY = /^[a-z_]+$/;
const LINE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z) (PBLSH|SHARE|DELTE|DELETE)(?: (.*))?$/s;

/** True for C0 controls, DEL and C1 controls: none of them may appear raw in the log. */
function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

/**
 * A value with nothing to escape (the usual case: hashes, sizes, addresses, plain file names): printable
 * ASCII but `,` (0x2c), `=` (0x3d) and `\` (0x5c), or anything from U+00A0 up.
 */
const PLAIN_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x5b\x5d-\x7e\u00a0-\uffff]*$/;

/** Escapes `\`, `,` and `=` with a backslash and control characters as `\xNN`, so one record stays one line. */
export function escapeAuditValue(value: string): string {
  if (PLAIN_VALUE.test(value)) return value;
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\' || ch === ',' || ch === '=') out += `\\${ch}`;
    else if (isControl(code)) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

/** The last second formatted, since a busy server writes many records within one. */
let lastSecond = Number.NaN;
let lastStamp = '';

/** `2026-11-25T14:00:00Z`: ISO-8601 UTC to the second, as the original writes it. */
function formatTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastStamp = new Date(second * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    lastSecond = second;
  }
  return lastStamp;
}

/** One log line (without the newline). */
export function formatAuditLine(type: AuditType, fields: Readonly<Record<string, string | number>>, time = new Date()): string {
  let line = `${formatTime(time.getTime())} ${type} `;
  let first = true;
  for (const key in fields) {
    if (!KEY.test(key)) throw new PassimError('internal', `invalid audit log key "${key}"`);
    const value = fields[key];
    line += `${first ? '' : ','}${key}=${typeof value === 'number' ? value : escapeAuditValue(value ?? '')}`;
    first = false;
  }
  return line;
}

/** Splits `key=value,key=value` at unescaped separators and unescapes values; undefined if malformed. */
function parseFields(text: string): Map<string, string> | undefined {
  const fields = new Map<string, string>();
  if (text === '') return fields;
  let key: string | undefined;
  let current = '';
  const finish = (): boolean => {
    if (key === undefined || !KEY.test(key) || fields.has(key)) return false;
    fields.set(key, current);
    key = undefined;
    current = '';
    return true;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') {
      const next = text[i + 1];
      if (next === '\\' || next === ',' || next === '=') {
        current += next;
        i += 1;
      } else if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
        current += String.fromCharCode(parseInt(text.slice(i + 2, i + 4), 16));
        i += 3;
      } else {
        return undefined;
      }
    } else if (ch === '=' && key === undefined) {
      key = current;
      current = '';
    } else if (ch === ',') {
      if (!finish()) return undefined;
    } else if (ch !== undefined && isControl(ch.charCodeAt(0))) {
      return undefined;
    } else {
      current += ch;
    }
  }
  return finish() ? fields : undefined;
}

/** Parses one line; undefined for anything malformed (callers skip such lines). */
export function parseAuditLine(line: string): AuditEntry | undefined {
  const match = LINE.exec(line);
  if (!match) return undefined;
  const [, stamp = '', rawType = '', rest = ''] = match;
  const time = new Date(stamp);
  if (Number.isNaN(time.getTime())) return undefined;
  const fields = parseFields(rest);
  if (!fields) return undefined;
  const type: AuditType = rawType === 'DELETE' ? 'DELTE' : (rawType as AuditType);
  return { time, type, fields };
}

/** Sum of `size` over SHARE records: bytes served to others in all previous runs. A missing log counts as 0. */
export async function sumShareBytes(path: string): Promise<number> {
  const input = createReadStream(path, { encoding: 'utf8' });
  const opened = new Promise<boolean>((resolve, reject) => {
    input.once('open', () => resolve(true));
    input.once('error', (err) => (errnoCode(err) === 'ENOENT' ? resolve(false) : reject(err)));
  });
  if (!(await opened)) return 0;
  let total = 0;
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    const entry = parseAuditLine(line);
    if (entry?.type !== 'SHARE') continue;
    const size = entry.fields.get('size');
    if (size !== undefined && /^\d+$/.test(size)) total += Number(size);
  }
  return total;
}

/**
 * A write starts at most this often. A busy small item is shared thousands of times a second, and each
 * write opens, appends to and closes the file through the thread pool; a record after a quiet spell is
 * written at once.
 */
const MIN_WRITE_INTERVAL_MS = 50;

/** Appends records to the audit log; the file is opened per write so log rotation needs no signal. */
export class AuditLog {
  readonly path: string;
  /** The write under way; the next batch starts after it. */
  private writing: Promise<void> = Promise.resolve();
  /** Lines waiting for the current write to finish: under load many lines go out in one write. */
  private next: { lines: string[]; done: Promise<void> } | null = null;
  /** performance.now() when the last write started. */
  private lastWrite = Number.NEGATIVE_INFINITY;

  constructor(path: string) {
    this.path = path;
  }

  /** Appends one line; resolves once it is written. The file is opened per write, so log rotation just works. */
  append(type: AuditType, fields: Readonly<Record<string, string | number>>): Promise<void> {
    const line = `${formatAuditLine(type, fields)}\n`;
    if (this.next) {
      this.next.lines.push(line);
      return this.next.done;
    }
    const lines = [line];
    const done = this.writing
      .catch(() => undefined)
      .then(async () => {
        const wait = this.lastWrite + MIN_WRITE_INTERVAL_MS - performance.now();
        if (wait > 0) await sleep(wait);
        this.next = null;
        this.lastWrite = performance.now();
        return this.write(lines.join(''));
      });
    this.next = { lines, done };
    this.writing = done;
    return done;
  }

  private async write(text: string): Promise<void> {
    try {
      await appendFile(this.path, text, { flag: 'a', mode: 0o640 });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      await mkdir(dirname(this.path), { recursive: true, mode: 0o755 });
      await appendFile(this.path, text, { flag: 'a', mode: 0o640 });
    }
  }
}
