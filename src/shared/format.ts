// SPDX-License-Identifier: LGPL-2.1-or-later
// Human-readable sizes, durations and times.
/** Human-readable sizes and durations for passimctl output. */

const SIZE_UNITS = ['kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/** Decimal (SI) units like GLib's g_format_size, which the original tool used: "1.5 MB". */
export function formatSize(bytes: number): string {
  if (bytes < 1000) return bytes === 1 ? '1 byte' : `${bytes} bytes`;
  let value = bytes;
  let unit = '';
  for (const candidate of SIZE_UNITS) {
    value /= 1000;
    unit = candidate;
    if (value < 1000) break;
  }
  return `${value.toFixed(1)} ${unit}`;
}

const DURATION_UNITS: Array<[number, string]> = [
  [86400, 'day'],
  [3600, 'hour'],
  [60, 'minute'],
  [1, 'second'],
];

/** Whole seconds as at most two units, largest first: "1 day 6 hours", "90 seconds" → "1 minute 30 seconds". */
export function formatDuration(seconds: number): string {
  if (seconds <= 0) return '0 seconds';
  const parts: string[] = [];
  let rest = Math.floor(seconds);
  for (const [size, name] of DURATION_UNITS) {
    const count = Math.floor(rest / size);
    if (count === 0) continue;
    parts.push(`${count} ${name}${count === 1 ? '' : 's'}`);
    rest -= count * size;
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** Unix seconds as a local date and time, e.g. "2024-05-01 13:45:10". */
export function formatTime(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
