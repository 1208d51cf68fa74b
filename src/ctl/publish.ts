// SPDX-License-Identifier: LGPL-2.1-or-later
// passimctl publish and unpublish.
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename as pathBasename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ITEMS_PAGE_MAX, U32_MAX } from '../shared/api.js';
import { PassimError } from '../shared/errors.js';
import { _, N_ } from '../shared/i18n.js';
import { sha256Hasher } from '../shared/hash.js';
import { isUnknownMethod, withClient, type RemoteItem } from '../client/client.js';

/** A command-line number that must fit a D-Bus 'u'. */
function parseU32(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > U32_MAX) {
    // TRANSLATORS: {what} is MAX-AGE or MAX-SHARE, an argument of passimctl publish
    throw new PassimError(
      'invalid-argument',
      N_('{what} must be a whole number from 0 to {max}, not "{value}"', { what, max: U32_MAX, value }),
    );
  }
  return Number(value);
}

/** SHA-256 of a file, read as a stream. */
async function hashFile(path: string, signal: AbortSignal): Promise<string> {
  const hash = sha256Hasher();
  await pipeline(createReadStream(path), hash, { signal });
  return hash.digest('hex');
}

export async function publish(
  file: string,
  maxAgeArg: string | undefined,
  maxShareArg: string | undefined,
  nextReboot: boolean,
  say: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<void> {
  const maxAge = parseU32(maxAgeArg, 'MAX-AGE');
  const shareLimit = parseU32(maxShareArg, 'MAX-SHARE');
  const filename = pathBasename(file);
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    // TRANSLATORS: {reason} is the system's error message
    throw new PassimError('invalid-argument', N_('Cannot open {file}: {reason}', { file, reason: (err as Error).message }));
  }
  try {
    if (!(await handle.stat()).isFile()) throw new PassimError('invalid-argument', N_('{file} is not a regular file', { file }));
    const interactive = process.stdin.isTTY === true;
    // The daemon does not return the hash; compute it from a second, independent open of the same file
    // while the daemon reads its fd, then only print it if the daemon really stored that hash.
    const hashing = new AbortController();
    const hashed = hashFile(file, hashing.signal).catch(() => undefined);
    let items: RemoteItem[];
    try {
      items = await withClient(async (client) => {
        await client.publish(handle.fd, { filename, maxAge, shareLimit, nextReboot }, { interactive });
        // The new item is among the newest, whatever the store holds; the original lists all in GetItems.
        return client.getItemsPage(0, ITEMS_PAGE_MAX).catch((err: unknown) => {
          if (isUnknownMethod(err)) return client.getItems();
          throw err;
        });
      });
    } catch (err) {
      // Do not keep reading a large file just to print nothing.
      hashing.abort();
      throw err;
    }
    const hash = await hashed;
    const stored = hash !== undefined && items.some((i) => i.hash === hash);
    say(stored ? _('Published: {filename} {hash}', { filename, hash }) : _('Published: {filename}', { filename }));
  } finally {
    await handle.close();
  }
}

export async function unpublish(hash: string): Promise<void> {
  const interactive = process.stdin.isTTY === true;
  await withClient((client) => client.unpublish(hash, { interactive }));
  process.stdout.write(`${_('Unpublished: {hash}', { hash })}\n`);
}
