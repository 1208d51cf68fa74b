// SPDX-License-Identifier: LGPL-2.1-or-later
// Sending part of an item's file to a client: reused buffers, one write in flight, chunks that grow only
// for clients that keep up (within an allowance shared by all transfers), the upload budget, and the content
// checked against its hash on the way.
import { read } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { sha256Hasher } from '../../shared/hash.js';
import type { BufferPool } from './buffer-pool.js';
import type { RateLimiter } from './rate-limit.js';

/** First chunk size of every transfer, and the size of one read for a small item. */
export const MIN_CHUNK = 64 * 1024;
/**
 * Each write costs the same fixed overhead in Node's TLS layer whatever its size: CPU per GB served halves
 * from 128 KiB writes to 1 MiB ones.
 */
const MAX_CHUNK = 1024 * 1024;
/** A write that the connection took this fast means the client keeps up... */
const FAST_WRITE_MS = 20;
/**
 * ...but chunks grow only past this many bytes delivered: the kernel takes up to about 10 MB (send buffer
 * plus the peer's receive buffer) from a client that never reads before writes stall, so such a client is
 * stuck while its chunks are still small and holds one small chunk, not a large one (test/serving.test.js
 * holds it under 512 KiB of RSS per connection).
 */
const GROWTH_AFTER_BYTES = 16 * 1024 * 1024;
/** A write pending this long: the read-ahead buffer goes back to the shared pool until the client reads again. */
const STALL_MS = 1000;

export interface TransferRequest {
  fd: number;
  /** First byte and byte count to send. */
  start: number;
  length: number;
  res: ServerResponse;
  pool: BufferPool;
  /** Check the bytes against this SHA-256 before the last of them goes out (only for a whole file). */
  verify?: string;
  /** The upload budget of transfers to other machines. */
  limiter?: RateLimiter;
}

export interface TransferOutcome {
  /** Bytes from `start` that the client's connection took. */
  delivered: number;
  /** Every byte went out. */
  complete: boolean;
  /** The content does not match `verify`: the connection was cut before its last byte. */
  corrupt: boolean;
  /** The file ended before `start + length`. */
  short: boolean;
}

function readAt(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buffer, 0, length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead)));
  });
}

/** A chunk read ahead of the write in flight. */
interface ReadAhead {
  buffer: Buffer;
  read: Promise<number>;
}

/** Sends bytes [start, start + length) of the file open at `fd` as the body of `res` (headers already written). */
export async function sendRange(request: TransferRequest): Promise<TransferOutcome> {
  const { fd, start, length, res, pool, verify, limiter } = request;
  const outcome: TransferOutcome = { delivered: 0, complete: false, corrupt: false, short: false };
  const end = start + length;
  const hasher = verify ? sha256Hasher() : undefined;
  // A limited budget is spent in slices of about a tenth of a second, so the rate stays smooth.
  const cap = limiter?.limited ? Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, Math.floor(limiter.bytesPerSecond / 10))) : MAX_CHUNK;
  let chunk = MIN_CHUNK;
  /** Of the pool's allowance for larger chunks: twice (read ahead, write in flight) what the chunk grew by. */
  let grown = 0;
  let position = start;

  // One listener and one timer per transfer, not per chunk: the loop runs thousands of times per GB.
  let failWrite: ((err: Error) => void) | undefined;
  const onClose = (): void => failWrite?.(new Error('the connection closed'));
  res.once('close', onClose);
  let writeStarted = 0;
  let writing = false;
  let ahead: ReadAhead | undefined;
  const stallCheck = setInterval(() => {
    if (!writing || !ahead || performance.now() - writeStarted < STALL_MS) return;
    // A client that stopped reading keeps only what it already has in flight.
    const dropped = ahead;
    ahead = undefined;
    void dropped.read.finally(() => pool.give(dropped.buffer)).catch(() => undefined);
  }, STALL_MS);
  stallCheck.unref();

  const write = (bytes: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      failWrite = reject;
      writing = true;
      writeStarted = performance.now();
      res.write(bytes, (err) => {
        writing = false;
        failWrite = undefined;
        if (err) reject(err);
        else resolve();
      });
    });
  const readAhead = (from: number): ReadAhead => {
    const buffer = pool.take(chunk);
    const pending = readAt(fd, buffer, Math.min(chunk, end - from), from);
    pending.catch(() => undefined);
    return { buffer, read: pending };
  };

  let current = readAhead(position);
  try {
    for (;;) {
      const filled = await current.read;
      if (filled === 0) {
        outcome.short = true;
        res.destroy();
        return outcome;
      }
      const bytes = current.buffer.subarray(0, filled);
      const last = position + filled >= end;
      hasher?.update(bytes);
      if (last && hasher && hasher.digest('hex') !== verify) {
        outcome.corrupt = true;
        res.destroy();
        return outcome;
      }
      await limiter?.take(filled);
      const written = write(bytes);
      ahead = last ? undefined : readAhead(position + filled);
      try {
        await written;
      } catch {
        return outcome;
      }
      outcome.delivered += filled;
      position += filled;
      if (outcome.delivered >= GROWTH_AFTER_BYTES && performance.now() - writeStarted < FAST_WRITE_MS && chunk < cap) {
        const next = Math.min(cap, chunk * 2);
        if (pool.reserveGrowth(2 * (next - chunk))) {
          grown += 2 * (next - chunk);
          chunk = next;
        }
      }
      if (last) {
        outcome.complete = true;
        return outcome;
      }
      pool.give(current.buffer);
      // The read-ahead was dropped if the client stalled: read again now that it reads.
      current = ahead ?? readAhead(position);
      ahead = undefined;
    }
  } finally {
    pool.releaseGrowth(grown);
    clearInterval(stallCheck);
    res.off('close', onClose);
    // A buffer is reused only once no read or write can touch it any more.
    const leftover = [current, ahead].filter((r): r is ReadAhead => r !== undefined);
    for (const { buffer, read: pending } of leftover) {
      if (!writing || buffer !== current.buffer) void pending.finally(() => pool.give(buffer)).catch(() => undefined);
    }
  }
}
