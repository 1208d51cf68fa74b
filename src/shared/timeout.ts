// SPDX-License-Identifier: LGPL-2.1-or-later
// Bounding how long we wait for something that may never answer.

/** What withTimeout() rejects with unless told otherwise. */
export class TimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * Settles like `work`, or rejects with `onTimeout()` after `ms` milliseconds, whichever comes first; the
 * timer never keeps the process alive. `work` is not cancelled: its later failure is swallowed.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error = () => new TimeoutError(ms)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Waits for `work` for at most `ms` milliseconds and never fails: for best-effort steps such as shutdown. */
export async function settleWithin(work: Promise<unknown>, ms: number): Promise<void> {
  await withTimeout(work, ms).catch(() => undefined);
}

/** Resolves once `done()` holds (checked every 50 ms) or `ms` have passed, whichever comes first. */
export async function settleWhen(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}
