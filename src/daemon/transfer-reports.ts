// SPDX-License-Identifier: LGPL-2.1-or-later
// Which reports of finished downloads (ReportTransfer) are believed. Any local user may report, without
// polkit, so a report can only be plausible, never proven: it must name a hash a program here looked up
// on this daemon lately (a redirect to a neighbour for bytes from a neighbour; any lookup for bytes from
// the origin), each lookup backs one report, and a report counts at most MAX_REPORT_BYTES and each user
// at most MAX_CALLER_BYTES_PER_DAY a day. Nothing shows that the bytes were moved or that the user who
// reports is the one who looked up.
import { SHA256_HEX } from '../shared/api.js';
import { PassimError } from '../shared/errors.js';
import { N_ } from '../shared/i18n.js';

export type ReportSource = 'neighbour' | 'origin';

/** How a lookup of a hash this daemon does not hold was answered. */
export type LookupOutcome = 'redirect' | 'miss';

/** A report counts at most this many bytes (4 GiB): larger files are rare on a LAN cache. */
export const MAX_REPORT_BYTES = 4 * 1024 ** 3;
/** Bytes one user's reports may add in a day, both sources together (32 GiB). */
export const MAX_CALLER_BYTES_PER_DAY = 32 * 1024 ** 3;
/** Lookups remembered, and for how long: a download that started must end within the hour to be counted. */
const MAX_LOOKUPS = 4096;
const LOOKUP_TTL_MS = 60 * 60 * 1000;
/** Users whose daily total is kept; past that the oldest is forgotten (a new day starts them all anew anyway). */
const MAX_CALLERS = 1024;

interface Lookup {
  outcome: LookupOutcome;
  at: number;
}

export class TransferReports {
  /** Insertion order is age order: the oldest are dropped first. */
  private readonly lookups = new Map<string, Lookup>();
  private readonly callers = new Map<number, { day: string; bytes: number }>();

  /** A program here looked up `hash` and got `outcome`. */
  noteLookup(hash: string, outcome: LookupOutcome, now = Date.now()): void {
    const previous = this.lookups.get(hash);
    this.lookups.delete(hash);
    // A redirect is not downgraded by a later miss: either may back a report.
    this.lookups.set(hash, { outcome: previous?.outcome === 'redirect' ? 'redirect' : outcome, at: now });
    if (this.lookups.size > MAX_LOOKUPS) {
      const oldest = this.lookups.keys().next().value;
      if (oldest !== undefined) this.lookups.delete(oldest);
    }
  }

  /**
   * The bytes of a report to count, 0 when it is over the caller's daily allowance; throws for a report
   * that no lookup backs or that is malformed. `day` is the caller's day for the allowance (YYYY-MM-DD).
   */
  accept(report: { uid: number; hash: string; source: string; bytes: number; day: string }, now = Date.now()): number {
    const { uid, hash, source, bytes, day } = report;
    if (source !== 'neighbour' && source !== 'origin') {
      throw new PassimError('invalid-argument', N_('The source must be "neighbour" or "origin", not "{source}"', { source }));
    }
    if (!SHA256_HEX.test(hash)) throw new PassimError('invalid-argument', N_('"{hash}" is not a SHA-256 hash (64 hex digits)', { hash }));
    const lookup = this.lookups.get(hash);
    if (!lookup || now - lookup.at > LOOKUP_TTL_MS || (source === 'neighbour' && lookup.outcome !== 'redirect')) {
      throw new PassimError('invalid-argument', N_('No lookup of {hash} on this daemon backs this report', { hash }));
    }
    this.lookups.delete(hash);
    let caller = this.callers.get(uid);
    if (!caller || caller.day !== day) {
      this.callers.delete(uid);
      caller = { day, bytes: 0 };
      this.callers.set(uid, caller);
      if (this.callers.size > MAX_CALLERS) {
        const oldest = this.callers.keys().next().value;
        if (oldest !== undefined) this.callers.delete(oldest);
      }
    }
    const counted = Math.max(0, Math.min(Math.floor(bytes), MAX_REPORT_BYTES, MAX_CALLER_BYTES_PER_DAY - caller.bytes));
    caller.bytes += counted;
    return counted;
  }
}
