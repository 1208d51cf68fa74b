// SPDX-License-Identifier: LGPL-2.1-or-later
// The org.freedesktop.Passim API as both ends see it: names, status codes, attribute keys, limits.

export const BUS_NAME = 'org.freedesktop.Passim';
export const OBJECT_PATH = '/';
export const INTERFACE = 'org.freedesktop.Passim';

/** The daemon's Status property. */
export const Status = {
  UNKNOWN: 0,
  STARTING: 1,
  LOADING: 2,
  RUNNING: 3,
  DISABLED_METERED: 4,
  /** NeverShare=true: neighbours' copies are used, ours are never offered. Not in the original's enum. */
  NEVER_SHARE: 5,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

/** Each Status as passimctl and the docs name it. */
export const STATUS_NAMES: Record<number, string> = {
  [Status.UNKNOWN]: 'unknown',
  [Status.STARTING]: 'starting',
  [Status.LOADING]: 'loading',
  [Status.RUNNING]: 'running',
  [Status.DISABLED_METERED]: 'disabled-metered',
  [Status.NEVER_SHARE]: 'never-share',
};

/** Keys of the a{sv} dictionaries of Publish and GetItems, with their D-Bus types. */
export const Attribute = {
  hash: { key: 'hash', type: 's' },
  filename: { key: 'filename', type: 's' },
  cmdline: { key: 'cmdline', type: 's' },
  maxAge: { key: 'max-age', type: 'u' },
  shareLimit: { key: 'share-limit', type: 'u' },
  shareCount: { key: 'share-count', type: 'u' },
  size: { key: 'size', type: 't' },
  flags: { key: 'flags', type: 't' },
  ctime: { key: 'ctime', type: 'x' },
} as const;

/** Largest value of a D-Bus `u`: max-age, share-limit and share-count are u32 on the wire and in xattrs. */
export const U32_MAX = 0xffffffff;

/** An item's hash as the API and the store write it: 64 lower-case hex digits. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * GetItems answers every item up to this many, and the newest this many beyond: dbus-next took 0.6 s of the
 * daemon's only thread to build a reply of 10,000, so one call holds it about 0.1 s; stores of the sizes the
 * original is used with (fwupd's few firmware files) are listed whole.
 */
export const GET_ITEMS_MAX = 2000;

/** The largest `limit` GetItemsPage takes. */
export const ITEMS_PAGE_MAX = 1_000;
