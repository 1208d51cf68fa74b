// SPDX-License-Identifier: LGPL-2.1-or-later
// An item: one shared file, as the store, the D-Bus API and the HTTP server see it.

/** One published file, as the store, the D-Bus API and the HTTP server see it. */
export interface Item {
  /** Lower-case hex SHA-256 of the content. */
  hash: string;
  /** File name without any folder; never contains '/' or control characters. */
  basename: string;
  /** Absolute path of the stored file: `<data>/<hash>-<basename>`. */
  path: string;
  /** Basename of the publishing program, if known. */
  cmdline: string;
  /** Seconds after ctime when the item expires. */
  maxAge: number;
  /** Completed transfers after which the item is deleted. */
  shareLimit: number;
  /** Completed transfers so far. */
  shareCount: number;
  /** Size in bytes. */
  size: number;
  /** Bitwise OR of ItemFlags. */
  flags: number;
  /** Unix seconds when the item was published. */
  ctime: number;
}

export const ItemFlags = {
  DISABLED: 1 << 0,
  NEXT_REBOOT: 1 << 1,
} as const;

export const DEFAULT_MAX_AGE = 24 * 60 * 60;
export const DEFAULT_SHARE_LIMIT = 5;

export function isDisabled(item: Item): boolean {
  return (item.flags & ItemFlags.DISABLED) !== 0;
}

/** A basename is acceptable if it is non-empty, has no '/', no control characters and is not '.' or '..'. */
export function validBasename(name: string): boolean {
  if (name.length === 0 || name === '.' || name === '..') return false;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code === 0x2f || code < 0x20 || code === 0x7f) return false;
  }
  return true;
}
