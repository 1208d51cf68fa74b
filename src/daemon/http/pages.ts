// SPDX-License-Identifier: LGPL-2.1-or-later
// The HTML the server sends: the index of shared items, redirects and error pages.
import { formatDuration, formatSize } from '../../shared/format.js';
import { isDisabled, ItemFlags, type Item } from '../../shared/item.js';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function htmlPage(title: string, body: string): string {
  return (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${escapeHtml(title)}</title><link href="/style.css" rel="stylesheet"></head>\n` +
    `<body>\n${body}\n</body></html>\n`
  );
}

/** The body of a 302 to `location`, for clients that show it. */
export function redirectPage(location: string): string {
  return htmlPage('302 Found', `<p><a href="${escapeHtml(location)}">Redirecting</a>…</p>`);
}

/** A short error page: the status and a reason meant for the client, never internal detail. */
export function errorPage(status: number, reason: string, message: string): string {
  return htmlPage(`${status} ${reason}`, `<h1>${status} ${escapeHtml(reason)}</h1>\n<p>${escapeHtml(message)}</p>`);
}

/** The index page: every item, sorted by name, with its state. `now` is Unix seconds. */
export function indexPage(name: string, items: readonly Item[], now: number): string {
  const sorted = [...items].sort((a, b) => a.basename.localeCompare(b.basename));
  const rows = sorted.map((item) => {
    const link = `/${encodeURIComponent(item.basename)}?sha256=${item.hash}`;
    const states: string[] = [];
    if (isDisabled(item)) states.push('disabled');
    if (item.flags & ItemFlags.NEXT_REBOOT) states.push('next reboot');
    const age = Math.max(0, now - item.ctime);
    return (
      `<tr${isDisabled(item) ? ' class="disabled"' : ''}>` +
      `<td><a href="${escapeHtml(link)}">${escapeHtml(item.basename)}</a></td>` +
      `<td><code>${escapeHtml(item.hash)}</code></td>` +
      `<td class="num">${escapeHtml(formatSize(item.size))}</td>` +
      `<td class="num">${item.shareCount} / ${item.shareLimit}</td>` +
      `<td class="num">${escapeHtml(formatDuration(age))}</td>` +
      `<td class="num">${escapeHtml(formatDuration(item.maxAge - age))}</td>` +
      `<td>${escapeHtml(states.join(', ') || 'shared')}</td>` +
      `<td>${escapeHtml(item.cmdline)}</td></tr>`
    );
  });
  const table =
    rows.length === 0
      ? '<p><em>There are no shared files on this computer.</em></p>'
      : '<h2>Shared files</h2>\n<table><thead><tr><th>File</th><th>SHA-256</th><th>Size</th><th>Shares</th>' +
        '<th>Age</th><th>Expires in</th><th>Status</th><th>Published by</th></tr></thead>\n<tbody>\n' +
        rows.join('\n') +
        '\n</tbody></table>';
  return htmlPage(
    name,
    `<h1>${escapeHtml(name)}</h1>\n<p>A <a href="https://github.com/hughsie/passim">local caching server</a>.</p>\n${table}`,
  );
}
