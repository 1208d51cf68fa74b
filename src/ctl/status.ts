// SPDX-License-Identifier: LGPL-2.1-or-later
// passimctl status: the daemon's properties and items, for people or as JSON. Items come a page at a time
// and are written as they come, so that listing every item of a large store takes no more memory than a page.
import { ITEMS_PAGE_MAX, STATUS_NAMES, Status } from '../shared/api.js';
import { formatDecimal, formatDuration, formatSize, formatTime } from '../shared/format.js';
import { _, N_, localTranslator, type Translatable } from '../shared/i18n.js';
import { ItemFlags } from '../shared/item.js';
import { withClient, type DaemonProperties, type PassimClient, type RemoteItem } from '../client/client.js';

/** Items listed without --all: what was published lately, short enough to read. */
export const NEWEST_SHOWN = 50;

/** The daemon's status as people read it; --json keeps the names of api.ts. */
const STATUS_TEXT: Record<number, Translatable> = {
  // TRANSLATORS: the daemon's status
  [Status.UNKNOWN]: N_('unknown'),
  // TRANSLATORS: the daemon's status
  [Status.STARTING]: N_('starting'),
  // TRANSLATORS: the daemon's status
  [Status.LOADING]: N_('loading'),
  // TRANSLATORS: the daemon's status
  [Status.RUNNING]: N_('running'),
  // TRANSLATORS: the daemon's status: it shares nothing while the network connection is metered
  [Status.DISABLED_METERED]: N_('disabled (metered connection)'),
  // TRANSLATORS: the daemon's status: NeverShare=true in passim.conf, it uses neighbours but never shares
  [Status.NEVER_SHARE]: N_('never-share'),
};

/** Which mode is in force, in words: whether neighbours can download what is published here. */
function sharingMode(status: number): string {
  switch (status) {
    case Status.RUNNING:
      // TRANSLATORS: passimctl status, Sharing: other machines may download what is published here
      return _('with neighbours on the LAN, while files are published');
    case Status.DISABLED_METERED:
      return _('paused: the network connection is metered');
    case Status.NEVER_SHARE:
      // TRANSLATORS: NeverShare=true is a setting in passim.conf: do not translate it
      return _("never (NeverShare=true); neighbours' copies are still used");
    default:
      // TRANSLATORS: passimctl status, Sharing: the daemon is still starting
      return _('not yet');
  }
}

function statusName(status: number): string {
  return STATUS_NAMES[status] ?? `unknown (${status})`;
}

function flagNames(flags: number): string {
  const names: string[] = [];
  // TRANSLATORS: an item's flag: not shared until the next reboot
  if (flags & ItemFlags.DISABLED) names.push(_('disabled'));
  // TRANSLATORS: an item's flag: published to be shared after the next reboot
  if (flags & ItemFlags.NEXT_REBOOT) names.push(_('next-reboot'));
  // TRANSLATORS: an item has no flags
  return names.length > 0 ? names.join(',') : _('none');
}

/** The newest `days` days of the Traffic property added up. */
function lastDays(props: DaemonProperties, days: number): { fromNeighbours: number; fromOrigin: number; servedToNeighbours: number } {
  const week = props.traffic.slice(-days);
  const total = (pick: (d: DaemonProperties['traffic'][number]) => number): number => week.reduce((sum, d) => sum + pick(d), 0);
  return {
    fromNeighbours: total((d) => d.fromNeighbours),
    fromOrigin: total((d) => d.fromOrigin),
    servedToNeighbours: total((d) => d.servedToNeighbours),
  };
}

/** Label and value lines, the values aligned after the longest label of the group. */
function aligned(rows: Array<[string, string]>, indent = ''): string[] {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${indent}${label.padEnd(width)} ${value}`);
}

/** The items to list and how many the daemon holds; `pages` yields them newest first. */
interface Listing {
  total: number;
  pages: AsyncIterable<RemoteItem[]> | Iterable<RemoteItem[]>;
}

function newestFirst(a: RemoteItem, b: RemoteItem): number {
  return b.ctime - a.ctime || (a.hash < b.hash ? -1 : 1);
}

async function listing(client: PassimClient, props: DaemonProperties, all: boolean): Promise<Listing> {
  if (props.itemCount === undefined) {
    // The original daemon: no ItemCount nor GetItemsPage, and GetItems lists every item, in no order.
    const items = (await client.getItems()).sort(newestFirst);
    return { total: items.length, pages: [all ? items : items.slice(0, NEWEST_SHOWN)] };
  }
  if (!all) return { total: props.itemCount, pages: [await client.getItemsPage(0, NEWEST_SHOWN)] };
  return { total: props.itemCount, pages: everyPage(client) };
}

async function* everyPage(client: PassimClient): AsyncGenerator<RemoteItem[]> {
  let previous = new Set<string>();
  for (let offset = 0; ; offset += ITEMS_PAGE_MAX) {
    const page = await client.getItemsPage(offset, ITEMS_PAGE_MAX);
    // Items published meanwhile push the others down: this page may start with the end of the last one.
    yield page.filter((item) => !previous.has(item.hash));
    if (page.length < ITEMS_PAGE_MAX) return;
    previous = new Set(page.map((item) => item.hash));
  }
}

function itemLines(item: RemoteItem, locale: string | undefined): string[] {
  return [
    '',
    `${item.hash}`,
    ...aligned(
      [
        [_('Filename:'), item.filename],
        // TRANSLATORS: the program that published the item
        [_('Command:'), item.cmdline || _('(unknown)')],
        [_('Max age:'), formatDuration(item.maxAge, locale)],
        // TRANSLATORS: how often other machines downloaded the item, and the share-limit
        [_('Shared:'), _('{count} of {limit}', { count: item.shareCount, limit: item.shareLimit })],
        [_('Size:'), formatSize(item.size, locale)],
        [_('Flags:'), flagNames(item.flags)],
        [_('Published:'), item.ctime > 0 ? formatTime(item.ctime, locale) : _('(unknown)')],
      ],
      '  ',
    ),
  ];
}

async function printStatus(props: DaemonProperties, { total, pages }: Listing, all: boolean): Promise<void> {
  const tr = localTranslator();
  const { locale } = tr;
  const status = STATUS_TEXT[props.status];
  const week = lastDays(props, 7);
  const items =
    all || total <= NEWEST_SHOWN
      ? tr.number(total)
      : // TRANSLATORS: passimctl status, Items: how many items there are; --all is an option, keep it as it is
        _('{count}, the newest {shown} below (--all lists every one)', { count: total, shown: NEWEST_SHOWN });
  const out: string[] = aligned([
    // TRANSLATORS: the labels of passimctl status are aligned in a column, end each with a colon
    [_('Name:'), props.name],
    [_('Status:'), status ? tr.translate(status) : _('unknown ({status})', { status: props.status })],
    // TRANSLATORS: whether other machines may download what is published here
    [_('Sharing:'), sharingMode(props.status)],
    // TRANSLATORS: bytes other machines downloaded from this one instead of from the internet
    [_('Download saving:'), formatSize(props.downloadSaving, locale)],
    // TRANSLATORS: CO₂e is carbon dioxide equivalent
    [_('Carbon saving:'), _('{amount} kg CO₂e', { amount: formatDecimal(props.carbonSaving, 3, locale) })],
    [_('URI:'), props.uri],
    [
      _('Upload limit:'),
      props.maxUploadRate > 0 ? _('{rate}/s to other machines', { rate: formatSize(props.maxUploadRate, locale) }) : _('none'),
    ],
    [
      _('Connections:'),
      props.maxConnections > 0 ? _('at most {count} from other machines', { count: props.maxConnections }) : _('no limit known'),
    ],
    [_('Storage limit:'), props.maxStorageSize > 0 ? formatSize(props.maxStorageSize, locale) : _('none')],
    // TRANSLATORS: bytes programs on this machine got from neighbours in the last 7 days
    [_('This week from neighbours:'), formatSize(week.fromNeighbours, locale)],
    // TRANSLATORS: bytes programs on this machine had to download from the internet in the last 7 days
    [_('This week from the internet:'), formatSize(week.fromOrigin, locale)],
    [_('This week sent to neighbours:'), formatSize(week.servedToNeighbours, locale)],
    // TRANSLATORS: how many other machines running Passim are on the LAN
    [_('Neighbours:'), tr.number(props.neighbours.length)],
    // TRANSLATORS: how many items the daemon holds
    [_('Items:'), items],
  ]);
  for (const n of props.neighbours) {
    const kind = n.summary ? _('Passim with a summary') : _('original Passim');
    const files = n.items === undefined ? '' : `, ${_('{count} files', { count: n.items })}`;
    out.push(`  ${n.address} (${kind}${files})`);
  }
  if (total === 0) out.push('', _('No items published.'));
  process.stdout.write(`${out.join('\n')}\n`);
  for await (const page of pages) {
    if (page.length > 0) process.stdout.write(`${page.flatMap((item) => itemLines(item, locale)).join('\n')}\n`);
  }
}

/** The JSON document, its items written a page at a time in the layout JSON.stringify(doc, null, 2) gives. */
async function printJson(props: DaemonProperties, { total, pages }: Listing): Promise<void> {
  const doc = {
    name: props.name,
    status: statusName(props.status),
    uri: props.uri,
    downloadSaving: props.downloadSaving,
    carbonSaving: props.carbonSaving,
    version: props.daemonVersion,
    maxUploadRate: props.maxUploadRate,
    maxConnections: props.maxConnections,
    maxStorageSize: props.maxStorageSize,
    itemCount: total,
    traffic: props.traffic,
    neighbours: props.neighbours,
    items: [],
  };
  const text = JSON.stringify(doc, null, 2);
  const itemsAt = text.lastIndexOf('[]');
  process.stdout.write(text.slice(0, itemsAt + 1));
  let none = true;
  for await (const page of pages) {
    if (page.length === 0) continue;
    const entries = page.map((item) => `\n    ${JSON.stringify(item, null, 2).replaceAll('\n', '\n    ')}`);
    process.stdout.write(`${none ? '' : ','}${entries.join(',')}`);
    none = false;
  }
  process.stdout.write(`${none ? '' : '\n  '}${text.slice(itemsAt + 1)}\n`);
}

export async function status(json: boolean, all: boolean): Promise<void> {
  await withClient(async (client) => {
    const props = await client.getProperties();
    const items = await listing(client, props, all);
    if (json) await printJson(props, items);
    else await printStatus(props, items, all);
  });
}
