// SPDX-License-Identifier: LGPL-2.1-or-later
// The HTML the server sends: the index of shared items, redirects and error pages, in the language the
// request asked for (a Translator from its Accept-Language).
import { STATUS_CODES } from 'node:http';
import { formatDuration, formatSize } from '../../shared/format.js';
import { ENGLISH, N_, type Translatable, type Translator } from '../../shared/i18n.js';
import { isDisabled, ItemFlags } from '../../shared/item.js';
import type { IndexListing } from './index-page.js';
import { overviewSections, type Overview } from './status-page.js';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Languages written right to left, by their primary subtag. */
const RIGHT_TO_LEFT = new Set(['ar', 'dv', 'fa', 'he', 'ps', 'ur', 'yi']);

function htmlPage(title: string, body: string, tr: Translator): string {
  const lang = tr.locale ?? 'en';
  const dir = RIGHT_TO_LEFT.has(lang.split('-')[0] ?? '') ? 'rtl' : 'ltr';
  return (
    `<!DOCTYPE html>\n<html lang="${escapeHtml(lang)}" dir="${dir}"><head><meta charset="utf-8">` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${escapeHtml(title)}</title><link href="/style.css" rel="stylesheet"></head>\n` +
    `<body>\n${body}\n</body></html>\n`
  );
}

/** The body of a 302 to `location`, for clients that show it. */
export function redirectPage(location: string, tr: Translator = ENGLISH): string {
  // TRANSLATORS: the text of a link to the machine that has the file
  return htmlPage('302 Found', `<p><a href="${escapeHtml(location)}">${escapeHtml(tr.translate(N_('Redirecting')))}</a>…</p>`, tr);
}

/** The reason phrases of the statuses the server sends, for error pages; the status line keeps HTTP's. */
const REASONS: Record<number, Translatable> = {
  400: N_('Bad Request'),
  403: N_('Forbidden'),
  404: N_('Not Found'),
  405: N_('Method Not Allowed'),
  406: N_('Not Acceptable'),
  409: N_('Conflict'),
  413: N_('Payload Too Large'),
  416: N_('Range Not Satisfiable'),
  423: N_('Locked'),
  500: N_('Internal Server Error'),
  503: N_('Service Unavailable'),
  507: N_('Insufficient Storage'),
};

/** The reason phrase of `status` for an error page, in the translator's language. */
export function reasonPhrase(status: number, tr: Translator = ENGLISH): string {
  const reason = REASONS[status];
  return reason ? tr.translate(reason) : (STATUS_CODES[status] ?? 'Error');
}

/** A short error page: the status and a reason meant for the client, never internal detail. */
export function errorPage(status: number, reason: string, message: string, tr: Translator = ENGLISH): string {
  return htmlPage(`${status} ${reason}`, `<h1>${status} ${escapeHtml(reason)}</h1>\n<p>${escapeHtml(message)}</p>`, tr);
}

/** The address of index page `page`; the first is plain `/`. */
function pageLink(page: number): string {
  return page === 1 ? '/' : `/?page=${page}`;
}

/** Where the page lies in the whole. */
function pagePosition(listing: IndexListing, tr: Translator): string {
  const { page, pageCount, total, offset, items } = listing;
  // TRANSLATORS: above the table of the index page; {first} and {last} are positions in the list
  const position = tr.translate(
    N_('Files {first}–{last} of {total}, newest first.', { first: offset + 1, last: offset + items.length, total }),
  );
  if (pageCount === 1) return `<p>${escapeHtml(position)}</p>`;
  const where = tr.translate(N_('Page {page} of {count}.', { page, count: pageCount }));
  return `<p>${escapeHtml(position)} ${escapeHtml(where)}</p>`;
}

/** Links to the pages around this one; empty when there is only one. */
function pageLinks(listing: IndexListing, tr: Translator): string {
  const { page, pageCount } = listing;
  if (pageCount === 1) return '';
  const link = (target: number, rel: string, label: Translatable): string =>
    `<a href="${pageLink(target)}" rel="${rel}">${escapeHtml(tr.translate(label))}</a>`;
  const links = [
    // TRANSLATORS: a link on the index page to its first page, which lists the newest files
    ...(page > 1 ? [link(1, 'first', N_('« Newest')), link(page - 1, 'prev', N_('‹ Newer'))] : []),
    // TRANSLATORS: a link on the index page to the page after this one, which lists older files
    ...(page < pageCount ? [link(page + 1, 'next', N_('Older ›')), link(pageCount, 'last', N_('Oldest »'))] : []),
  ];
  return `\n<nav>${links.join(' ')}</nav>`;
}

/**
 * One page of the index: what Passim did lately (`overview`, when the daemon gives one), then its items,
 * newest first, with their state. `now` is Unix seconds.
 */
export function indexPage(name: string, listing: IndexListing, now: number, tr: Translator = ENGLISH, overview?: Overview): string {
  const { locale } = tr;
  const text = (message: Translatable): string => escapeHtml(tr.translate(message));
  const rows = listing.items.map((item) => {
    const link = `/${encodeURIComponent(item.basename)}?sha256=${item.hash}`;
    const states: Translatable[] = [];
    // TRANSLATORS: an item's state on the index page: not shared now
    if (isDisabled(item)) states.push(N_('disabled'));
    // TRANSLATORS: an item's state on the index page: published to be shared after the next reboot
    if (item.flags & ItemFlags.NEXT_REBOOT) states.push(N_('next reboot'));
    const age = Math.max(0, now - item.ctime);
    return (
      `<tr${isDisabled(item) ? ' class="disabled"' : ''}>` +
      `<td><a href="${escapeHtml(link)}">${escapeHtml(item.basename)}</a></td>` +
      `<td><code>${escapeHtml(item.hash)}</code></td>` +
      `<td class="num">${escapeHtml(formatSize(item.size, locale))}</td>` +
      `<td class="num">${escapeHtml(tr.number(item.shareCount))} / ${escapeHtml(tr.number(item.shareLimit))}</td>` +
      `<td class="num">${escapeHtml(formatDuration(age, locale))}</td>` +
      `<td class="num">${escapeHtml(formatDuration(item.maxAge - age, locale))}</td>` +
      // TRANSLATORS: an item's state on the index page: offered to other machines
      `<td>${states.length > 0 ? states.map(text).join(', ') : text(N_('shared'))}</td>` +
      `<td>${escapeHtml(item.cmdline)}</td></tr>`
    );
  });
  const headings = [
    N_('File'),
    N_('SHA-256'),
    N_('Size'),
    // TRANSLATORS: a column of the index page: how often the file was downloaded, of how often it may be
    N_('Shares'),
    N_('Age'),
    N_('Expires in'),
    N_('Status'),
    // TRANSLATORS: a column of the index page: the program that published the file
    N_('Published by'),
  ];
  const table =
    rows.length === 0
      ? `<h2>${text(N_('Shared files'))}</h2>\n<p><em>${text(N_('There are no shared files on this computer.'))}</em></p>`
      : `<h2>${text(N_('Shared files'))}</h2>\n${pagePosition(listing, tr)}${pageLinks(listing, tr)}\n<table><thead><tr>${headings.map((h) => `<th scope="col">${text(h)}</th>`).join('')}</tr></thead>\n<tbody>\n` +
        rows.join('\n') +
        `\n</tbody></table>${pageLinks(listing, tr)}`;
  // TRANSLATORS: under the computer's name on the index page; keep the <a href="{url}"> and </a> around the words that link to the project
  const about = tr.translate(N_('A <a href="{url}">local caching server</a>.', { url: 'https://github.com/hughsie/passim' }));
  // TRANSLATORS: the first sentence of the index page, saying what Passim is for
  const purpose = tr.translate(
    N_(
      'Passim shares the files this computer downloaded with other computers on the local network, so that each file comes from the internet once.',
    ),
  );
  const top = overview ? `<p>${escapeHtml(purpose)}</p>\n${overviewSections(overview, now * 1000, tr)}\n` : '';
  return htmlPage(
    name,
    `<header><h1>${escapeHtml(name)}</h1>\n<p>${about}</p></header>\n<main>\n${top}<section>${table}</section>\n</main>`,
    tr,
  );
}
