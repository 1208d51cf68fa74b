// D-Bus method calls built byte by byte, for tests that send what no well-behaved library would: descriptors
// a method does not take, handles that point nowhere, bodies of any size.
import marshall from 'dbus-next/lib/marshall.js';

/**
 * @typedef {object} RawMethodCall
 * @property {number} serial
 * @property {string} [path]
 * @property {string} [iface]
 * @property {string} member
 * @property {string} [destination]
 * @property {string} [sender] what the bus would put in SENDER (tests that feed a reader directly)
 * @property {string} [signature]
 * @property {unknown[]} [body] in dbus-next's marshaller format: a{sv} as [[key, [signature, value]], …]
 * @property {number} [unixFds] the UNIX_FDS header field, whatever descriptors really come with the bytes
 * @property {number} [endian] 108 ('l'); the marshaller writes little-endian only
 */

/** @param {RawMethodCall} call */
export function rawMethodCall({
  serial,
  path = '/',
  iface,
  member,
  destination,
  sender,
  signature = '',
  body = [],
  unixFds = 0,
  endian = 108,
}) {
  const bodyBytes = signature ? marshall(signature, body, 0) : Buffer.alloc(0);
  /** @type {[number, [string, unknown]][]} */
  const fields = [[1, ['o', path]]];
  if (iface) fields.push([2, ['s', iface]]);
  fields.push([3, ['s', member]]);
  if (destination) fields.push([6, ['s', destination]]);
  if (sender) fields.push([7, ['s', sender]]);
  if (signature) fields.push([8, ['g', signature]]);
  if (unixFds) fields.push([9, ['u', unixFds]]);
  const fixed = marshall('yyyyuu', [endian, 1, 0, 1, bodyBytes.length, serial]);
  const fieldBytes = marshall('a(yv)', [fields], 12);
  const headerLength = Math.ceil((fixed.length + fieldBytes.length) / 8) * 8;
  const bytes = Buffer.alloc(headerLength + bodyBytes.length);
  fixed.copy(bytes);
  fieldBytes.copy(bytes, fixed.length);
  bodyBytes.copy(bytes, headerLength);
  return bytes;
}
