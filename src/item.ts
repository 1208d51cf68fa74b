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

export const SHA256_HEX = /^[0-9a-f]{64}$/;

export function isDisabled(item: Item): boolean {
  return (item.flags & ItemFlags.DISABLED) !== 0;
}

/** A basename is acceptable if it is non-empty, has no '/', no control characters and is not '.' or '..'. */
export function validBasename(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return name.length > 0 && name !== '.' && name !== '..' && !/[/\x00-\x1f\x7f]/.test(name);
}
