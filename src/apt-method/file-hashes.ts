// SPDX-License-Identifier: LGPL-2.1-or-later
// The hashes apt compares, computed over the bytes of a file as they are on disk.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { asBytes } from '../shared/hash.js';
import { fieldOf, type Message } from './message.js';

/** apt's hash names and Node's algorithms; apt compares every type both sides have. */
const ALGORITHMS = { MD5Sum: 'md5', SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' } as const;
export type AptHashName = keyof typeof ALGORITHMS;

export interface FileHashes {
  size: number;
  /** Lower-case hex by apt name; always SHA256. */
  hashes: Partial<Record<AptHashName, string>>;
}

/** The hash types a 600 URI Acquire expects (its `Expected-<type>` fields), SHA256 always among them. */
export function expectedHashNames(request: Pick<Message, 'fields'>): AptHashName[] {
  const names: AptHashName[] = ['SHA256'];
  for (const name of Object.keys(ALGORITHMS) as AptHashName[]) {
    if (name !== 'SHA256' && fieldOf(request, `Expected-${name}`) !== undefined) names.push(name);
  }
  return names;
}

/** Reads `path` once and hashes it with every algorithm of `names`. */
export async function hashFile(path: string, names: readonly AptHashName[]): Promise<FileHashes> {
  const hashers = names.map((name) => [name, createHash(ALGORITHMS[name])] as [AptHashName, Hash]);
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    const bytes = asBytes(chunk);
    size += bytes.length;
    for (const [, hasher] of hashers) hasher.update(bytes);
  }
  const hashes: FileHashes['hashes'] = {};
  for (const [name, hasher] of hashers) hashes[name] = hasher.digest('hex');
  return { size, hashes };
}

/**
 * Whether `got` matches every expectation of `request`: each `Expected-<type>` that we computed, and the
 * size (`Expected-Checksum-FileSize`). The caller has put SHA256 in `got`, so at least that one is compared.
 */
export function matchesExpected(request: Pick<Message, 'fields'>, got: FileHashes): boolean {
  const size = fieldOf(request, 'Expected-Checksum-FileSize');
  if (size !== undefined && size !== String(got.size)) return false;
  for (const [name, value] of Object.entries(got.hashes)) {
    const expected = fieldOf(request, `Expected-${name}`);
    if (expected === undefined || expected.toLowerCase() !== value) return false;
  }
  return true;
}

/** The `<type>-Hash` fields of a 201 URI Done, as apt's methods write them. */
export function hashFields(got: FileHashes): [string, string][] {
  return [
    ...Object.entries(got.hashes).map(([name, value]) => [`${name}-Hash`, value] as [string, string]),
    ['Checksum-FileSize-Hash', String(got.size)],
  ];
}
