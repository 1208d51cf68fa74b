// SPDX-License-Identifier: LGPL-2.1-or-later
// DNS-SD names of Passim on the LAN: the service type, one subtype per item, names in DNS wire format.

export const SERVICE_TYPE = '_cache._tcp';

/** The DNS-SD subtype for a hash: a DNS label holds 63 bytes, so the first 60 hex digits. */
export function subtypeOf(hash: string): string {
  return `_${hash.slice(0, 60)}._sub.${SERVICE_TYPE}`;
}

/** A domain name in DNS wire format (RFC 1035 §3.1), as PTR record data. */
export function dnsName(labels: string[]): Buffer {
  const parts = labels
    .filter((label) => label !== '')
    .map((label) => {
      const bytes = Buffer.from(label, 'utf8');
      if (bytes.length > 63) throw new Error(`DNS label longer than 63 bytes: ${label}`);
      return Buffer.concat([Buffer.from([bytes.length]), bytes]);
    });
  return Buffer.concat([...parts, Buffer.from([0])]);
}
