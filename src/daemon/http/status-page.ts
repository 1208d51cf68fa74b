// SPDX-License-Identifier: LGPL-2.1-or-later
// The top of the index page: what came from neighbours and from the internet this week, a chart of the last
// 30 days (SVG drawn here, no script), the neighbours, whether and why this machine shares, the limits.
import { formatDuration, formatNumber, formatSize, formatTime } from '../../shared/format.js';
import { N_, type Translatable, type Translator } from '../../shared/i18n.js';
import type { NeighbourView } from '../lan/neighbour-summaries.js';
import type { DayTraffic } from '../traffic-ledger.js';
import { escapeHtml } from './pages.js';

/** Days the chart shows. */
export const CHART_DAYS = 30;
/** Days the summary sentence adds up. */
const WEEK_DAYS = 7;

/** Why other machines cannot download from this one, when they cannot. */
export type LocalOnlyReason = 'never-share' | 'metered' | 'avahi-absent' | 'nothing-published' | 'starting';

export type SharingState = { lan: true; items: number } | { lan: false; reason: LocalOnlyReason };

export interface Overview {
  /** The last CHART_DAYS days, oldest first, today last. */
  days: DayTraffic[];
  neighbours: NeighbourView[];
  sharing: SharingState;
  limits: { maxUploadRate: number; maxConnections: number; maxStorageSize: number; maxItemSize: number; cooldown: number };
}

const LOCAL_ONLY: Record<LocalOnlyReason, Translatable> = {
  // TRANSLATORS: the sharing state on the index page; NeverShare=true is a setting in passim.conf, keep it as it is
  'never-share': N_('Local only: passim.conf says NeverShare=true. Neighbours’ copies are still used.'),
  metered: N_('Local only: the network connection is metered. Sharing resumes when it is not.'),
  // TRANSLATORS: Avahi is the program that announces services on the local network; keep the name
  'avahi-absent': N_('Local only: Avahi is not running, so neighbours cannot find this computer.'),
  'nothing-published': N_('Local only: nothing is published, so there is nothing to share.'),
  starting: N_('Local only for now: the files are being announced on the network.'),
};

function sum(days: readonly DayTraffic[], kind: keyof Omit<DayTraffic, 'day'>): number {
  return days.reduce((total, d) => total + d[kind], 0);
}

/** "This week: 1.2 GB from neighbours, 80 MB from the internet — saved 94 %", and what was sent. */
function weekSummary(days: readonly DayTraffic[], tr: Translator): string {
  const week = days.slice(-WEEK_DAYS);
  const { locale } = tr;
  const fromNeighbours = sum(week, 'fromNeighbours');
  const fromOrigin = sum(week, 'fromOrigin');
  const downloaded = fromNeighbours + fromOrigin;
  const received =
    downloaded === 0
      ? // TRANSLATORS: the summary at the top of the index page, when no program here downloaded through Passim this week
        tr.translate(N_('This week: nothing downloaded through Passim yet.'))
      : // TRANSLATORS: the summary at the top of the index page; {saved} is a percentage such as "94 %"
        tr.translate(
          N_('This week: {neighbours} from neighbours, {internet} from the internet — saved {saved}.', {
            neighbours: formatSize(fromNeighbours, locale),
            internet: formatSize(fromOrigin, locale),
            saved: formatNumber(fromNeighbours / downloaded, locale, { style: 'percent', maximumFractionDigits: 0 }),
          }),
        );
  const sent = tr.translate(
    N_('Sent {neighbours} to neighbours and {local} to programs on this computer.', {
      neighbours: formatSize(sum(week, 'servedToNeighbours'), locale),
      local: formatSize(sum(week, 'servedLocally'), locale),
    }),
  );
  return `<p class="summary">${escapeHtml(received)}</p>\n<p>${escapeHtml(sent)}</p>`;
}

/** A scale top for the chart: 1, 2 or 5 times a power of ten, at least `max`. */
function niceCeiling(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

/** The month and day of a YYYY-MM-DD date in the locale: "Mar 5", "5. März". */
function shortDay(day: string, locale: string | undefined): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Intl.DateTimeFormat(locale ?? 'en', { month: 'short', day: 'numeric', timeZone: 'UTC' }).format(
    new Date(Date.UTC(y, m - 1, d)),
  );
}

/** Stacked bars, from neighbours over from the internet, one a day; the table after it has the same figures. */
function chart(days: readonly DayTraffic[], tr: Translator): string {
  const { locale } = tr;
  const width = 720;
  const height = 220;
  const left = 70;
  const bottom = 30;
  const top = 10;
  const plotHeight = height - top - bottom;
  const slot = (width - left - 10) / days.length;
  const scale = niceCeiling(Math.max(...days.map((d) => d.fromNeighbours + d.fromOrigin)));
  const y = (bytes: number): number => top + plotHeight - (bytes / scale) * plotHeight;
  const parts: string[] = [];
  for (const fraction of [0, 0.5, 1]) {
    const at = y(scale * fraction).toFixed(1);
    parts.push(`<line class="grid" x1="${left}" x2="${width - 10}" y1="${at}" y2="${at}"/>`);
    parts.push(
      `<text class="axis" x="${left - 6}" y="${at}" text-anchor="end" dominant-baseline="middle">${escapeHtml(formatSize(scale * fraction, locale))}</text>`,
    );
  }
  days.forEach((d, i) => {
    const x = left + i * slot + slot * 0.15;
    const w = (slot * 0.7).toFixed(1);
    const neighbours = y(0) - y(d.fromNeighbours);
    const origin = y(0) - y(d.fromOrigin);
    if (neighbours > 0)
      parts.push(
        `<rect class="neighbours" x="${x.toFixed(1)}" y="${y(d.fromNeighbours).toFixed(1)}" width="${w}" height="${neighbours.toFixed(1)}"/>`,
      );
    if (origin > 0) {
      const at = y(d.fromNeighbours + d.fromOrigin);
      parts.push(`<rect class="internet" x="${x.toFixed(1)}" y="${at.toFixed(1)}" width="${w}" height="${origin.toFixed(1)}"/>`);
    }
    if (i % 7 === days.length % 7 || i === days.length - 1) {
      parts.push(
        `<text class="axis" x="${(x + slot * 0.35).toFixed(1)}" y="${height - 10}" text-anchor="middle">${escapeHtml(shortDay(d.day, locale))}</text>`,
      );
    }
  });
  // TRANSLATORS: the text alternative of the chart on the index page
  const description = tr.translate(
    N_('Bytes downloaded each day of the last {days} days: from neighbours {neighbours} in all, from the internet {internet} in all.', {
      days: days.length,
      neighbours: formatSize(sum(days, 'fromNeighbours'), locale),
      internet: formatSize(sum(days, 'fromOrigin'), locale),
    }),
  );
  const legend =
    `<p class="legend"><span class="key neighbours"></span> ${escapeHtml(tr.translate(N_('from neighbours')))} ` +
    `<span class="key internet"></span> ${escapeHtml(tr.translate(N_('from the internet')))}</p>`;
  return (
    `<figure>\n<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="chart-description">` +
    `<title id="chart-description">${escapeHtml(description)}</title>${parts.join('')}</svg>\n` +
    `<figcaption>${legend}</figcaption>\n</figure>\n${dayTable(days, tr)}`
  );
}

/** The chart's figures as a table, for screen readers and exact numbers. */
function dayTable(days: readonly DayTraffic[], tr: Translator): string {
  const { locale } = tr;
  const text = (m: Translatable): string => escapeHtml(tr.translate(m));
  const rows = [...days]
    .reverse()
    .filter((d) => d.fromNeighbours + d.fromOrigin + d.servedToNeighbours + d.servedLocally > 0)
    .map(
      (d) =>
        `<tr><th scope="row">${escapeHtml(shortDay(d.day, locale))}</th>` +
        [d.fromNeighbours, d.fromOrigin, d.servedToNeighbours, d.servedLocally]
          .map((b) => `<td class="num">${escapeHtml(formatSize(b, locale))}</td>`)
          .join('') +
        '</tr>',
    );
  if (rows.length === 0) return '';
  return (
    // TRANSLATORS: a disclosure under the chart on the index page that opens a table of its figures
    `<details><summary>${text(N_('The figures, day by day'))}</summary>\n<table class="days"><thead><tr>` +
    `<th scope="col">${text(N_('Day'))}</th><th scope="col">${text(N_('From neighbours'))}</th><th scope="col">${text(N_('From the internet'))}</th>` +
    `<th scope="col">${text(N_('Sent to neighbours'))}</th><th scope="col">${text(N_('Sent on this computer'))}</th></tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody></table></details>`
  );
}

function neighbourTable(neighbours: readonly NeighbourView[], now: number, tr: Translator): string {
  const text = (m: Translatable): string => escapeHtml(tr.translate(m));
  const heading = `<h2>${text(N_('Neighbours'))}</h2>\n`;
  if (neighbours.length === 0) return `${heading}<p>${text(N_('No other computer running Passim has been seen on the network.'))}</p>`;
  const { locale } = tr;
  const rows = neighbours.map((n) => {
    const kind = n.summary
      ? // TRANSLATORS: a neighbour that sends a list of what it shares (this implementation)
        N_('Passim with a summary')
      : // TRANSLATORS: a neighbour that runs the original Passim daemon, which sends no list of what it shares
        N_('original Passim');
    const items = n.items === undefined ? '—' : escapeHtml(tr.number(n.items));
    const ago = Math.max(0, Math.round(now / 1000 - n.lastSeen / 1000));
    return (
      `<tr><th scope="row"><code>${escapeHtml(n.address)}</code></th><td>${text(kind)}</td><td class="num">${items}</td>` +
      `<td><time datetime="${new Date(n.lastSeen).toISOString()}" title="${escapeHtml(formatTime(n.lastSeen / 1000, locale))}">` +
      `${escapeHtml(tr.translate(N_('{duration} ago', { duration: formatDuration(ago, locale) })))}</time></td></tr>`
    );
  });
  return (
    `${heading}<table><thead><tr><th scope="col">${text(N_('Address'))}</th><th scope="col">${text(N_('Kind'))}</th>` +
    // TRANSLATORS: a column of the neighbours table: how many files the neighbour shares
    `<th scope="col">${text(N_('Files'))}</th><th scope="col">${text(N_('Last seen'))}</th></tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody></table>`
  );
}

function sharingState(sharing: SharingState, tr: Translator): string {
  const sentence = sharing.lan
    ? tr.translate(
        N_('Sharing with the local network: neighbours can download the {count} files published here.', { count: sharing.items }),
      )
    : tr.translate(LOCAL_ONLY[sharing.reason]);
  return `<p class="${sharing.lan ? 'sharing' : 'local-only'}">${escapeHtml(sentence)}</p>`;
}

function limitList(limits: Overview['limits'], tr: Translator): string {
  const { locale } = tr;
  const text = (m: Translatable): string => escapeHtml(tr.translate(m));
  const none = tr.translate(N_('no limit'));
  const rows: Array<[Translatable, string]> = [
    [
      N_('Upload to neighbours'),
      limits.maxUploadRate > 0 ? tr.translate(N_('{rate}/s', { rate: formatSize(limits.maxUploadRate, locale) })) : none,
    ],
    [N_('Connections from neighbours'), limits.maxConnections > 0 ? tr.number(limits.maxConnections) : none],
    [N_('Storage for published files'), limits.maxStorageSize > 0 ? formatSize(limits.maxStorageSize, locale) : none],
    [N_('Largest file'), limits.maxItemSize > 0 ? formatSize(limits.maxItemSize, locale) : none],
    // TRANSLATORS: on the index page: how long a neighbour waits before it may download the same file again
    [N_('Wait before a neighbour gets the same file again'), formatDuration(limits.cooldown, locale)],
  ];
  return `<h2>${text(N_('Limits in force'))}</h2>\n<dl class="limits">${rows.map(([label, value]) => `<dt>${text(label)}</dt><dd>${escapeHtml(value)}</dd>`).join('')}</dl>`;
}

/** The sections above the list of items. `now` is in milliseconds. */
export function overviewSections(overview: Overview, now: number, tr: Translator): string {
  const text = (m: Translatable): string => escapeHtml(tr.translate(m));
  return [
    `<section aria-labelledby="traffic-heading"><h2 id="traffic-heading">${text(N_('Downloads'))}</h2>`,
    weekSummary(overview.days, tr),
    chart(overview.days, tr),
    '</section>',
    `<section aria-labelledby="sharing-heading"><h2 id="sharing-heading">${text(N_('Sharing'))}</h2>`,
    sharingState(overview.sharing, tr),
    '</section>',
    `<section>${neighbourTable(overview.neighbours, now, tr)}</section>`,
    `<section>${limitList(overview.limits, tr)}</section>`,
  ].join('\n');
}
