// SPDX-License-Identifier: LGPL-2.1-or-later
// MaxConnections: how many connections other machines may hold at once, each address a share of them.
// Programs on this machine get a separate allowance of the same size, each user a share of it, so that
// neither side can starve the other, nor one local user the others (fwupd's root among them). A local
// connection over its user's share may wait a moment for one of that user's others to close.

/** One address, or one local user, may hold at most this part of the connections. */
const SHARE = 4;

/** Who holds a connection: a remote address, or a user of this machine. */
export interface Holder {
  key: string;
  loopback: boolean;
}

const keyOf = ({ key, loopback }: Holder): string => `${loopback ? 'local' : 'remote'} ${key}`;

export class ConnectionLimits {
  /** Admitted connections by holder. */
  private readonly byHolder = new Map<string, number>();
  private remote = 0;
  private local = 0;
  /** Connections waiting for a slot, by holder, oldest first: each is told when it got one. */
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(private readonly maxConnections: number) {}

  /** The most one remote address, or one local user, may hold. */
  get perHolder(): number {
    return Math.max(1, Math.floor(this.maxConnections / SHARE));
  }

  /** Admits a new connection if it is within the limits; one that is not is not counted. */
  open(holder: Holder): boolean {
    if (!this.fits(holder)) return false;
    this.count(holder, 1);
    return true;
  }

  /** An admitted connection closed: its slot goes to the holder's oldest waiting connection, if any. */
  close(holder: Holder): void {
    this.count(holder, -1);
    const key = keyOf(holder);
    const queue = this.waiting.get(key);
    const next = queue?.shift();
    if (queue?.length === 0) this.waiting.delete(key);
    if (!next) return;
    this.count(holder, 1);
    next();
  }

  /**
   * Waits up to `ms` for a slot for a connection that `open` refused; true once it has one (counted: close it
   * like an admitted one), false when the time ran out or `abandoned` settled first.
   */
  waitForSlot(holder: Holder, ms: number, abandoned: Promise<unknown>): Promise<boolean> {
    if (this.open(holder)) return Promise.resolve(true);
    const key = keyOf(holder);
    return new Promise((resolve) => {
      let done = false;
      const admitted = (): void => {
        done = true;
        clearTimeout(timer);
        resolve(true);
      };
      const giveUp = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const queue = this.waiting.get(key) ?? [];
        const at = queue.indexOf(admitted);
        if (at >= 0) queue.splice(at, 1);
        if (queue.length === 0) this.waiting.delete(key);
        resolve(false);
      };
      const timer = setTimeout(giveUp, ms);
      void abandoned.then(giveUp, giveUp);
      const queue = this.waiting.get(key) ?? [];
      queue.push(admitted);
      this.waiting.set(key, queue);
    });
  }

  private fits(holder: Holder): boolean {
    const total = holder.loopback ? this.local : this.remote;
    return total < this.maxConnections && (this.byHolder.get(keyOf(holder)) ?? 0) < this.perHolder;
  }

  private count(holder: Holder, delta: number): void {
    if (holder.loopback) this.local += delta;
    else this.remote += delta;
    const key = keyOf(holder);
    const count = (this.byHolder.get(key) ?? 0) + delta;
    if (count <= 0) this.byHolder.delete(key);
    else this.byHolder.set(key, count);
  }
}
