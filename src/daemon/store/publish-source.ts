// SPDX-License-Identifier: LGPL-2.1-or-later
// Turns a descriptor a client passed to Publish into its content (a small file) or a stream that can never tie
// up shared threads.
import { fstatSync, createReadStream, readSync } from 'node:fs';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { closeDescriptors } from '../../shared/dbus/dbus-next-patches.js';
import { PassimError, reasonOf } from '../../shared/errors.js';
import { N_, type Translatable } from '../../shared/i18n.js';
import type { PublishContent } from './publish.js';

/** A writer that sends nothing for this long is given up on: a stalled `<(curl …)` must not hold a publish forever. */
export const PUBLISH_INACTIVITY_MS = 30_000;

/**
 * A regular file up to this size is read at once, on the event loop: a few system calls instead of a stream's
 * trips through the thread pool and its 1 MiB read buffers, and at most one disk read of blocking.
 */
export const SMALL_FILE_BYTES = 64 * 1024;

/**
 * The content of `fd`, which it owns from now on (also when it throws): a small regular file's bytes, or a
 * readable stream. Larger regular files are read through libuv's thread pool, where a read always completes.
 * Pipes, FIFOs and sockets are polled on the event loop instead: a read from them can block forever, and four
 * such reads would take every pool thread, stalling all file serving. Anything else (devices, directories) is
 * refused.
 */
export function openPublishSource(fd: number, inactivityMs = PUBLISH_INACTIVITY_MS): PublishContent {
  let kind: Translatable;
  try {
    const stat = fstatSync(fd);
    if (stat.isFile()) return stat.size <= SMALL_FILE_BYTES ? readSmallFile(fd, stat.size) : fileStream(fd);
    if (stat.isFIFO() || stat.isSocket()) return pollingStream(fd, inactivityMs);
    kind = stat.isDirectory()
      ? N_('a directory')
      : stat.isCharacterDevice()
        ? N_('a character device')
        : stat.isBlockDevice()
          ? N_('a block device')
          : N_('not a file');
  } catch (err) {
    closeDescriptors([fd]);
    if (err instanceof PassimError) throw err;
    throw new PassimError(
      'invalid-argument',
      N_('Cannot use the file descriptor passed to Publish: {reason}', { reason: (err as Error).message }),
    );
  }
  closeDescriptors([fd]);
  // TRANSLATORS: {kind} is one of "a directory", "a character device", "a block device", "not a file"
  throw new PassimError(
    'invalid-argument',
    N_('Publish reads a regular file, a pipe or a socket; the descriptor passed is {kind}', { kind }),
  );
}

function fileStream(fd: number): Readable {
  return createReadStream('', { fd, autoClose: true, highWaterMark: 1024 * 1024 });
}

/**
 * Reads a regular file of `size` bytes from the descriptor's offset, as the stream would. One byte more is
 * asked for: a file that has grown since its size was read goes on as a stream after what was read.
 */
function readSmallFile(fd: number, size: number): PublishContent {
  const buffer = Buffer.allocUnsafe(size + 1);
  let length = 0;
  try {
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
  } catch (err) {
    // openPublishSource closes the descriptor.
    throw new PassimError('invalid-argument', N_('Cannot read the file to publish: {reason}', { reason: reasonOf(err) }), { cause: err });
  }
  if (length <= size) {
    closeDescriptors([fd]);
    return buffer.subarray(0, length);
  }
  const rest = fileStream(fd);
  const stream = Readable.from(
    (async function* () {
      yield buffer;
      yield* rest;
    })(),
  );
  // Also when destroyed before its first read, which a generator not yet started would not notice.
  stream.once('close', () => rest.destroy());
  return stream;
}

function pollingStream(fd: number, inactivityMs: number): Readable {
  let socket: Socket;
  try {
    // libuv puts the descriptor in non-blocking mode and watches it with epoll.
    socket = new Socket({ fd, readable: true, writable: false, allowHalfOpen: true });
  } catch (err) {
    // openPublishSource closes the descriptor.
    throw new PassimError(
      'invalid-argument',
      N_('Cannot read the descriptor passed to Publish: {reason}', { reason: (err as Error).message }),
    );
  }
  socket.setTimeout(inactivityMs, () => {
    socket.destroy(
      new PassimError(
        'invalid-argument',
        N_('The writer sent nothing for {seconds} s; publish abandoned', { seconds: inactivityMs / 1000 }),
      ),
    );
  });
  return socket;
}
