// SPDX-License-Identifier: LGPL-2.1-or-later
// MaxConnections: how many connections other machines may hold at once, each address a share of them.
// Programs on this machine get a separate allowance of the same size, so neither side can starve the other.

/** One address may hold at most this part of the connections. */
const ADDRESS_SHARE = 4;

export class ConnectionLimits {
  private readonly byAddress = new Map<string, number>();
  private remote = 0;
  private local = 0;

  constructor(private readonly maxConnections: number) {}

  /** The most one remote address may hold. */
  get perAddress(): number {
    return Math.max(1, Math.floor(this.maxConnections / ADDRESS_SHARE));
  }

  /**
   * Counts a new connection from `address`; false when it is over a limit (it is counted all the same, and
   * must be released when it closes, whatever the answer).
   */
  open(address: string, loopback: boolean): boolean {
    if (loopback) return ++this.local <= this.maxConnections;
    this.remote += 1;
    const count = (this.byAddress.get(address) ?? 0) + 1;
    this.byAddress.set(address, count);
    return this.remote <= this.maxConnections && count <= this.perAddress;
  }

  close(address: string, loopback: boolean): void {
    if (loopback) {
      this.local -= 1;
      return;
    }
    this.remote -= 1;
    const count = (this.byAddress.get(address) ?? 1) - 1;
    if (count <= 0) this.byAddress.delete(address);
    else this.byAddress.set(address, count);
  }
}
