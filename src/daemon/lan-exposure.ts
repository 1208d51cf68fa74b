// SPDX-License-Identifier: LGPL-2.1-or-later
// Least exposure: the HTTPS server is reachable from the LAN only while something is shared, and then only on
// this machine's LAN addresses (never the wildcard), following them as interfaces come and go.
import type { Logger } from '../shared/log.js';
import { lanAddresses } from './lan/subnets.js';

/** How often the interface addresses are read while sharing: an address change is followed within this. */
const ADDRESS_POLL_MS = 2000;

export interface LanExposureOptions {
  /** Opens exactly these LAN listeners (none closes them). */
  listen: (addresses: readonly string[]) => Promise<string[]>;
  ipv6: boolean;
  log: Logger;
  /** This machine's LAN addresses; default: read from its interfaces. */
  addresses?: (ipv6: boolean) => string[];
}

export class LanExposure {
  private sharing = false;
  private poll: NodeJS.Timeout | undefined;
  /** Listener changes run one after the other, the last word winning. */
  private queue: Promise<void> = Promise.resolve();
  private current = '';
  /** Problems already warned about, so that a poll every two seconds does not repeat them. */
  private warned = new Set<string>();
  private readonly addresses: (ipv6: boolean) => string[];

  constructor(private readonly options: LanExposureOptions) {
    this.addresses = options.addresses ?? lanAddresses;
  }

  /** Opens the LAN side (and follows address changes) while true; closes it when false. */
  setSharing(sharing: boolean): Promise<void> {
    if (sharing === this.sharing) return this.queue;
    this.sharing = sharing;
    clearInterval(this.poll);
    this.poll = sharing ? setInterval(() => void this.apply(), ADDRESS_POLL_MS) : undefined;
    return this.apply();
  }

  /** Stops following the addresses; the listeners themselves close with the server. */
  stop(): void {
    this.sharing = false;
    clearInterval(this.poll);
  }

  private apply(): Promise<void> {
    const wanted = this.sharing ? this.addresses(this.options.ipv6) : [];
    const key = wanted.join(' ');
    if (key === this.current) return this.queue;
    this.current = key;
    this.queue = this.queue
      .then(() => this.options.listen(wanted))
      .then((problems) => {
        // An address that just appeared may not be bindable yet: the next poll tries again.
        if (problems.length > 0) this.current = '';
        for (const problem of problems) if (!this.warned.has(problem)) this.options.log.warn(problem);
        this.warned = new Set(problems);
      });
    return this.queue;
  }
}
