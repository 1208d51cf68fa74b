// SPDX-License-Identifier: LGPL-2.1-or-later
// Content saved under its name only if its SHA-256 matches: streamed into a temporary file in the
// destination's folder while it is hashed, renamed into place once the hash matched.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errnoCode } from '../shared/errors.js';
import { asBytes, sha256Hasher } from '../shared/hash.js';

/** How saving ended, when the destination itself was not the problem. */
export type SaveOutcome =
  | { kind: 'saved'; size: number }
  /** Every byte arrived, but they are not the content asked for; nothing was saved. */
  | { kind: 'mismatch'; got: string; size: number }
  /** Reading the source failed (the connection broke, stalled or was aborted); nothing was saved. */
  | { kind: 'source-failed'; error: unknown };

/** The temporary file's name: ours, not derived from the destination's, so a long name cannot exceed NAME_MAX. */
function temporaryPath(destination: string, hash: string): string {
  return join(dirname(destination), `.passim-${hash.slice(0, 16)}-${randomBytes(4).toString('hex')}.part`);
}

async function writeAll(file: FileHandle, bytes: Buffer): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/**
 * Reads `source` to its end into a temporary file next to `destination`, hashing on the way, and renames it
 * to `destination` (replacing a file of that name) only if the SHA-256 is `hash` (lower-case hex). Memory
 * is one chunk of the source at a time. Resolves how it ended; rejects only for a failure of the file
 * itself (the folder cannot be written, the disk is full), which also stops reading `source`. The
 * temporary file never outlives the call.
 */
export async function saveVerified(
  source: AsyncIterable<unknown>,
  hash: string,
  destination: string,
  onChunk?: (received: number) => void,
): Promise<SaveOutcome> {
  const temp = temporaryPath(destination, hash);
  const file = await open(temp, 'wx', 0o644);
  const iterator = source[Symbol.asyncIterator]();
  let sourceDone = false;
  let renamed = false;
  try {
    const digest = sha256Hasher();
    let size = 0;
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await iterator.next();
      } catch (error) {
        sourceDone = true;
        return { kind: 'source-failed', error };
      }
      if (next.done) break;
      const bytes = asBytes(next.value);
      digest.update(bytes);
      size += bytes.length;
      await writeAll(file, bytes);
      onChunk?.(size);
    }
    sourceDone = true;
    const got = digest.digest('hex');
    if (got !== hash) return { kind: 'mismatch', got, size };
    // On disk before it has the name: a crash must not leave an empty or partial file under `destination`.
    await file.datasync();
    await file.close();
    await rename(temp, destination);
    renamed = true;
    return { kind: 'saved', size };
  } finally {
    // Stops a source we no longer read (for a response, that closes its connection).
    if (!sourceDone) await iterator.return?.().catch(() => undefined);
    await file.close().catch(() => undefined);
    if (!renamed)
      await unlink(temp).catch((err: unknown) => {
        if (errnoCode(err) !== 'ENOENT') throw err;
      });
  }
}
