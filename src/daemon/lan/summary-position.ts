// SPDX-License-Identifier: LGPL-2.1-or-later
// The `<epoch>.<generation>` that names a version of a summary, in TXT records and in the `since` of a
// summary request, and the TXT record data it travels in.

/** Where a daemon serves its summary: two path segments, so never the name of an item (`/NAME?sha256=HASH`). */
export const SUMMARY_PATH = '/passim/summary';

/** Where a summary stands: the epoch (random per start of its daemon) and the generation within it. */
export interface SummaryPosition {
  epoch: string;
  generation: number;
}

const POSITION = /^([0-9a-f]{16})\.(0|[1-9][0-9]{0,14})$/;

export function formatPosition(position: SummaryPosition): string {
  return `${position.epoch}.${position.generation}`;
}

/** `<16 hex digits>.<generation>`; undefined for anything else. */
export function parsePosition(text: string): SummaryPosition | undefined {
  const match = POSITION.exec(text);
  if (!match) return undefined;
  return { epoch: match[1] as string, generation: Number(match[2]) };
}

export function samePosition(a: SummaryPosition | null | undefined, b: SummaryPosition | null | undefined): boolean {
  return a?.epoch === b?.epoch && a?.generation === b?.generation;
}

/** A DNS TXT record's strings (RFC 1035 §3.3.14: each a length byte and that many bytes); undefined if malformed. */
export function parseTxtRecord(rdata: Uint8Array): string[] | undefined {
  const strings: string[] = [];
  let at = 0;
  while (at < rdata.length) {
    const length = rdata[at] as number;
    const end = at + 1 + length;
    if (end > rdata.length) return undefined;
    strings.push(Buffer.from(rdata.subarray(at + 1, end)).toString('latin1'));
    at = end;
  }
  return strings;
}

/** The value of `key` among TXT strings (`key=value`, RFC 6763 §6.4: the first one counts), or undefined. */
export function txtValue(strings: readonly string[], key: string): string | undefined {
  for (const entry of strings) {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    if (name.toLowerCase() === key) return eq < 0 ? '' : entry.slice(eq + 1);
  }
  return undefined;
}
