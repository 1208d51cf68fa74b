// SPDX-License-Identifier: LGPL-2.1-or-later
// What the HTTP server needs of LAN discovery: peers that hold a hash.
/** A neighbour that holds a file, as found on the LAN. */
export interface Peer {
  /** Numeric IPv4 or IPv6 address. */
  address: string;
  port: number;
}

/** Finds neighbours holding a hash; the HTTP server redirects loopback clients to one of them. */
export interface Discovery {
  /** Peers that advertise `hash`, best first; empty when nobody has it. */
  find(hash: string): Promise<Peer[]>;
}
