// SPDX-License-Identifier: LGPL-2.1-or-later
// SHA-256 of byte streams, the one content address passim knows.
import { createHash } from 'node:crypto';

/** The bytes of a chunk a stream yields; strings (never expected) are taken as UTF-8. */
export function asBytes(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TypeError('expected a byte stream');
}

export function sha256Hasher(): ReturnType<typeof createHash> {
  return createHash('sha256');
}

/** SHA-256 (lower-case hex) of a byte stream, read chunk by chunk. */
export async function sha256Of(stream: AsyncIterable<unknown>): Promise<string> {
  const hasher = sha256Hasher();
  for await (const chunk of stream) hasher.update(asBytes(chunk));
  return hasher.digest('hex');
}

/** SHA-256 (lower-case hex) of bytes in memory. */
export function sha256Hex(bytes: Uint8Array): string {
  return sha256Hasher().update(bytes).digest('hex');
}
