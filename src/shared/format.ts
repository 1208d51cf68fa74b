// SPDX-License-Identifier: LGPL-2.1-or-later
// Human-readable sizes, durations and times, in a locale (a BCP 47 tag, a Translator's locale) or, with
// none, in the C locale's fixed formats.

const SIZE_UNITS = ['kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/** Intl's no-break spaces (before units, before AM and PM) as the plain spaces of the C locale's output. */
function plainSpaces(text: string): string {
  return text.replace(/[\u00a0\u202f]/g, ' ');
}

/** A number as Intl formats it for `locale`; the C locale is English without digit grouping, as printf writes. */
export function formatNumber(value: number, locale: string | undefined, options: Intl.NumberFormatOptions = {}): string {
  return plainSpaces(new Intl.NumberFormat(locale ?? 'en', { useGrouping: locale !== undefined, ...options }).format(value));
}

/**
 * Decimal (SI) units like GLib's g_format_size, which the original tool used: "1.5 MB", in German
 * "1,5 MB"; below 1 kB the bytes in words of the locale ("1 byte", "13 Byte").
 */
export function formatSize(bytes: number, locale?: string): string {
  if (bytes < 1000) return formatNumber(bytes, locale, { style: 'unit', unit: 'byte', unitDisplay: 'long' });
  let value = bytes;
  let unit = '';
  for (const candidate of SIZE_UNITS) {
    value /= 1000;
    unit = candidate;
    if (value < 1000) break;
  }
  return `${formatNumber(value, locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 })} ${unit}`;
}

/** A number with exactly `digits` decimals: "0.026", in German "0,026". */
export function formatDecimal(value: number, digits: number, locale?: string): string {
  return formatNumber(value, locale, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const DURATION_UNITS: Array<[number, 'day' | 'hour' | 'minute' | 'second']> = [
  [86400, 'day'],
  [3600, 'hour'],
  [60, 'minute'],
  [1, 'second'],
];

/**
 * Whole seconds as at most two units, largest first, in words of the locale: "1 day 6 hours",
 * "90 seconds" → "1 minute 30 seconds", in German "1 Minute 30 Sekunden".
 */
export function formatDuration(seconds: number, locale?: string): string {
  const unit = (name: string, count: number): string => formatNumber(count, locale, { style: 'unit', unit: name, unitDisplay: 'long' });
  if (seconds <= 0) return unit('second', 0);
  const parts: string[] = [];
  let rest = Math.floor(seconds);
  for (const [size, name] of DURATION_UNITS) {
    const count = Math.floor(rest / size);
    if (count === 0) continue;
    parts.push(unit(name, count));
    rest -= count * size;
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** Unix seconds as a local date and time: "2024-05-01 13:45:10" in the C locale, "01.05.2024, 13:45:10" in German. */
export function formatTime(unixSeconds: number, locale?: string): string {
  const d = new Date(unixSeconds * 1000);
  if (locale !== undefined) return plainSpaces(new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' }).format(d));
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
