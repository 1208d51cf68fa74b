// SPDX-License-Identifier: LGPL-2.1-or-later
// passimctl status: the daemon's properties and items, for people or as JSON.
import { STATUS_NAMES, Status } from '../shared/api.js';
import { formatDecimal, formatDuration, formatSize, formatTime } from '../shared/format.js';
import { _, N_, localTranslator, type Translatable } from '../shared/i18n.js';
import { ItemFlags } from '../shared/item.js';
import { withClient, type DaemonProperties, type RemoteItem } from '../client/client.js';

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

/** Label and value lines, the values aligned after the longest label of the group. */
function aligned(rows: Array<[string, string]>, indent = ''): string[] {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${indent}${label.padEnd(width)} ${value}`);
}

function printStatus(props: DaemonProperties, items: RemoteItem[]): void {
  const tr = localTranslator();
  const { locale } = tr;
  const status = STATUS_TEXT[props.status];
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
  ]);
  if (items.length === 0) out.push('', _('No items published.'));
  for (const item of items) {
    out.push(
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
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

export async function status(json: boolean): Promise<void> {
  const [props, items] = await withClient(async (c) => [await c.getProperties(), await c.getItems()] as const);
  if (json) {
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
      items,
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    printStatus(props, items);
  }
}
