// SPDX-License-Identifier: LGPL-2.1-or-later
// MaxConnections: how many connections other machines may hold at once, each address a share of them.
// Programs on this machine get a separate allowance of the same size, each user a share of it, so that
// neither side can starve the other, nor one local user the others (fwupd's root among them).

/** One address, or one local user, may hold at most this part of the connections. */
const SHARE = 4;

/** Who holds a connection: a remote address, or a user of this machine. */
export interface Holder {
  key: string;
  loopback: boolean;
}

export class ConnectionLimits {
  private readonly byHolder = new Map<string, number>();
  private remote = 0;
  private local = 0;

  constructor(private readonly maxConnections: number) {}

  /** The most one remote address, or one local user, may hold. */
  get perHolder(): number {
    return Math.max(1, Math.floor(this.maxConnections / SHARE));
  }

  /**
   * Counts a new connection; false when it is over a limit (it is counted all the same, and must be
   * released when it closes, whatever the answer).
   */
  open({ key, loopback }: Holder): boolean {
    const total = loopback ? ++this.local : ++this.remote;
    const mapKey = `${loopback ? 'local' : 'remote'} ${key}`;
    const count = (this.byHolder.get(mapKey) ?? 0) + 1;
    this.byHolder.set(mapKey, count);
    return total <= this.maxConnections && count <= this.perHolder;
  }

  close({ key, loopback }: Holder): void {
    if (loopback) this.local -= 1;
    else this.remote -= 1;
    const mapKey = `${loopback ? 'local' : 'remote'} ${key}`;
    const count = (this.byHolder.get(mapKey) ?? 1) - 1;
    if (count <= 0) this.byHolder.delete(mapKey);
    else this.byHolder.set(mapKey, count);
  }
}
