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

/** Discovery that finds nothing: used until the daemon has a LAN discovery layer. */
export class NoDiscovery implements Discovery {
  async find(): Promise<Peer[]> {
    return [];
  }
}
