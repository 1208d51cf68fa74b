// SPDX-License-Identifier: LGPL-2.1-or-later
// apt's acquire-method messages: a status line ("600 URI Acquire"), "Field: value" lines, a blank line.

/**
 * The largest message accepted. apt's biggest is its 601 Configuration, the whole configuration tree (tens
 * of KiB); a peer that sends more without a blank line is broken, and must not make us hold it all.
 */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export interface Message {
  /** The three-digit status, e.g. 600. */
  code: number;
  /** The words after the status, e.g. "URI Acquire". */
  text: string;
  /** Fields in order; names as sent (look them up with fieldOf, which ignores case as apt does). */
  fields: [string, string][];
  /** The message exactly as received, without its terminating blank line, for relaying unchanged. */
  raw: string;
}

export class MessageError extends Error {
  override readonly name = 'MessageError';
}

const STATUS_LINE = /^(\d{3}) ([^\r\n]*)$/;
const FIELD_LINE = /^([^\s:][^:]*):[ \t]*(.*)$/;

/** Parses one message (no blank line inside); throws MessageError for anything that is not one. */
export function parseMessage(raw: string): Message {
  const lines = raw.split('\n');
  const status = STATUS_LINE.exec(lines[0] ?? '');
  if (!status) throw new MessageError(`not a status line: ${JSON.stringify(truncate(lines[0] ?? ''))}`);
  const fields: [string, string][] = [];
  for (const line of lines.slice(1)) {
    if (line === '') throw new MessageError('blank line inside a message');
    const last = fields[fields.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      // A continuation line (RFC 822 folding), as apt's LookupTag reads them.
      last[1] += `\n${line.trimStart()}`;
      continue;
    }
    const field = FIELD_LINE.exec(line);
    if (!field) throw new MessageError(`not a field line: ${JSON.stringify(truncate(line))}`);
    fields.push([field[1] ?? '', (field[2] ?? '').trimEnd()]);
  }
  return { code: Number(status[1]), text: status[2] ?? '', fields, raw };
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** The first value of `name` (case-insensitive, as apt's LookupTag), or undefined. */
export function fieldOf(message: Pick<Message, 'fields'>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of message.fields) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

/**
 * Writes a message. Field values must not hold line breaks (apt's messages never do; a value that does
 * would end the message early or inject fields), so they are refused rather than written.
 */
export function formatMessage(
  code: number,
  text: string,
  fields: readonly (readonly [string, string | number | undefined])[] = [],
): string {
  if (!Number.isInteger(code) || code < 100 || code > 999) throw new MessageError(`bad status ${code}`);
  if (/[\r\n]/.test(text)) throw new MessageError('line break in the status text');
  let out = `${code} ${text}\n`;
  for (const [name, value] of fields) {
    if (value === undefined) continue;
    const v = String(value);
    if (!/^[^\s:][^:\r\n]*$/.test(name) || /[\r\n]/.test(v)) throw new MessageError(`bad field ${JSON.stringify(name)}`);
    out += `${name}: ${v}\n`;
  }
  return `${out}\n`;
}

/**
 * Splits a byte stream into messages. Text is UTF-8 (apt sends file names as they are); a message over
 * MAX_MESSAGE_BYTES, or one that does not parse, is reported through `onError` and ends the reader, since
 * nothing after it can be trusted to be framed right.
 */
export class MessageReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private failed = false;

  constructor(
    private readonly onMessage: (message: Message) => void,
    private readonly onError: (error: MessageError) => void,
    private readonly maxBytes = MAX_MESSAGE_BYTES,
  ) {}

  push(chunk: Buffer): void {
    if (this.failed) return;
    let data = chunk;
    while (data.length > 0) {
      // Blank lines between messages are skipped, as apt's reader does.
      if (this.pendingBytes === 0) {
        let start = 0;
        while (start < data.length && data[start] === 0x0a) start++;
        data = data.subarray(start);
        if (data.length === 0) return;
      }
      const end = this.findEnd(data);
      if (end < 0) {
        this.pending.push(data);
        this.pendingBytes += data.length;
        if (this.pendingBytes > this.maxBytes) this.fail(new MessageError(`message over ${this.maxBytes} bytes`));
        return;
      }
      // end: index in data of the second newline of "\n\n" (or of the only one, when the first ended the pending part).
      const body = Buffer.concat([...this.pending, data.subarray(0, end)]);
      this.pending = [];
      this.pendingBytes = 0;
      data = data.subarray(end + 1);
      if (body.length > this.maxBytes) {
        this.fail(new MessageError(`message over ${this.maxBytes} bytes`));
        return;
      }
      // The terminating "\n\n" leaves one trailing newline on the body.
      const text = body.toString('utf8').replace(/\n$/, '');
      let message: Message;
      try {
        message = parseMessage(text);
      } catch (err) {
        this.fail(err instanceof MessageError ? err : new MessageError(String(err)));
        return;
      }
      this.onMessage(message);
      if (this.failed) return;
    }
  }

  /** Index in `data` of the newline that ends the current message (a newline right after a newline). */
  private findEnd(data: Buffer): number {
    const last = this.pending[this.pending.length - 1];
    if (last && last[last.length - 1] === 0x0a && data[0] === 0x0a) return 0;
    const at = data.indexOf('\n\n');
    return at < 0 ? -1 : at + 1;
  }

  /** Whether a partial message is waiting for more bytes. */
  get partial(): boolean {
    return this.pendingBytes > 0;
  }

  private fail(error: MessageError): void {
    this.failed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.onError(error);
  }
}
