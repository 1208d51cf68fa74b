// SPDX-License-Identifier: LGPL-2.1-or-later
// Turns a descriptor a client passed to Publish into a stream that can never tie up shared threads.
import { fstatSync, createReadStream } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { closeDescriptors } from '../../shared/dbus/dbus-next-patches.js';
import { PassimError } from '../../shared/errors.js';
import { N_, type Translatable } from '../../shared/i18n.js';

/** A writer that sends nothing for this long is given up on: a stalled `<(curl …)` must not hold a publish forever. */
export const PUBLISH_INACTIVITY_MS = 30_000;

/**
 * A readable stream over `fd`, which it owns from now on (also when it throws).
 * Regular files are read through libuv's thread pool, where a read always completes. Pipes, FIFOs and
 * sockets are polled on the event loop instead: a read from them can block forever, and four such reads
 * would take every pool thread, stalling all file serving. Anything else (devices, directories) is refused.
 */
export function openPublishSource(fd: number, inactivityMs = PUBLISH_INACTIVITY_MS): Readable {
  let kind: Translatable;
  try {
    const stat = fstatSync(fd);
    if (stat.isFile()) return createReadStream('', { fd, autoClose: true, highWaterMark: 1024 * 1024 });
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

function pollingStream(fd: number, inactivityMs: number): Readable {
  let socket: Socket;
  try {
    // libuv puts the descriptor in non-blocking mode and watches it with epoll.
    socket = new Socket({ fd, readable: true, writable: false, allowHalfOpen: true });
  } catch (err) {
    closeDescriptors([fd]);
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
