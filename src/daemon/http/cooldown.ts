// SPDX-License-Identifier: LGPL-2.1-or-later
// The per-client cooldown: a remote client may not fetch the same hash again within Cooldown seconds.

/** Cap on remembered (client, hash) pairs, so a flood of distinct clients cannot exhaust memory. */
const MAX_COOLDOWN_ENTRIES = 65_536;

export class Cooldown {
  /** `address hash` → performance.now() of the last start; insertion order is age order. */
  private readonly lastServed = new Map<string, number>();

  constructor(private readonly seconds: number) {}

  /** Whether `client` asked for `hash` too recently. */
  blocks(client: string, hash: string): boolean {
    const cooldownMs = this.seconds * 1000;
    if (cooldownMs <= 0) return false;
    const last = this.lastServed.get(`${client} ${hash}`);
    return last !== undefined && performance.now() - last < cooldownMs;
  }

  /** Starts the cooldown of `client` for `hash`. */
  start(client: string, hash: string): void {
    const cooldownMs = this.seconds * 1000;
    if (cooldownMs <= 0) return;
    const key = `${client} ${hash}`;
    const now = performance.now();
    this.lastServed.delete(key); // re-insert so the map stays in age order
    this.lastServed.set(key, now);
    for (const [oldKey, time] of this.lastServed) {
      if (now - time < cooldownMs && this.lastServed.size <= MAX_COOLDOWN_ENTRIES) break;
      this.lastServed.delete(oldKey);
    }
  }
}
