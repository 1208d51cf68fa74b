// SPDX-License-Identifier: LGPL-2.1-or-later
// MaxUploadRate: one budget of bytes per second shared by every transfer to another machine.
import { setTimeout as sleep } from 'node:timers/promises';

/** Credit a quiet link may build up, so that a new transfer starts at once rather than after its first slot. */
const BURST_MS = 100;

/**
 * Virtual-time scheduling: each chunk gets the next slot of `bytes / rate` seconds, so the bytes sent by all
 * transfers together never run ahead of rate × time (plus the burst), and waiting transfers take turns in
 * the order they asked.
 */
export class RateLimiter {
  private next = 0;

  constructor(readonly bytesPerSecond: number) {}

  get limited(): boolean {
    return this.bytesPerSecond > 0;
  }

  /** Resolves when `bytes` more may be sent. */
  async take(bytes: number): Promise<void> {
    if (!this.limited) return;
    const now = performance.now();
    this.next = Math.max(this.next, now - BURST_MS) + (bytes * 1000) / this.bytesPerSecond;
    const delay = this.next - now;
    if (delay > 0) await sleep(delay);
  }
}
