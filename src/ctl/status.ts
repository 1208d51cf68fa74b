// SPDX-License-Identifier: LGPL-2.1-or-later
// passimctl status: the daemon's properties and items, for people or as JSON.
import { STATUS_NAMES, Status } from '../shared/api.js';
import { formatDuration, formatSize, formatTime } from '../shared/format.js';
import { ItemFlags } from '../shared/item.js';
import { withClient, type DaemonProperties, type RemoteItem } from '../client/client.js';

function statusName(status: number): string {
  return STATUS_NAMES[status] ?? `unknown (${status})`;
}

/** Which mode is in force, in words: whether neighbours can download what is published here. */
function sharingMode(status: number): string {
  switch (status) {
    case Status.RUNNING:
      return 'with neighbours on the LAN, while files are published';
    case Status.DISABLED_METERED:
      return 'paused: the network connection is metered';
    case Status.NEVER_SHARE:
      return "never (NeverShare=true); neighbours' copies are still used";
    default:
      return 'not yet';
  }
}

function flagNames(flags: number): string {
  const names: string[] = [];
  if (flags & ItemFlags.DISABLED) names.push('disabled');
  if (flags & ItemFlags.NEXT_REBOOT) names.push('next-reboot');
  return names.length > 0 ? names.join(',') : 'none';
}

function printStatus(props: DaemonProperties, items: RemoteItem[]): void {
  const out: string[] = [
    `Name:            ${props.name}`,
    `Status:          ${statusName(props.status)}`,
    `Sharing:         ${sharingMode(props.status)}`,
    `Download saving: ${formatSize(props.downloadSaving)}`,
    `Carbon saving:   ${props.carbonSaving.toFixed(3)} kg CO₂e`,
    `URI:             ${props.uri}`,
    `Upload limit:    ${props.maxUploadRate > 0 ? `${formatSize(props.maxUploadRate)}/s to other machines` : 'none'}`,
    `Connections:     ${props.maxConnections > 0 ? `at most ${props.maxConnections} from other machines` : 'no limit known'}`,
    `Storage limit:   ${props.maxStorageSize > 0 ? formatSize(props.maxStorageSize) : 'none'}`,
  ];
  if (items.length === 0) out.push('', 'No items published.');
  for (const item of items) {
    out.push(
      '',
      `${item.hash}`,
      `  Filename:    ${item.filename}`,
      `  Command:     ${item.cmdline || '(unknown)'}`,
      `  Max age:     ${formatDuration(item.maxAge)}`,
      `  Shared:      ${item.shareCount} of ${item.shareLimit}`,
      `  Size:        ${formatSize(item.size)}`,
      `  Flags:       ${flagNames(item.flags)}`,
      `  Published:   ${item.ctime > 0 ? formatTime(item.ctime) : '(unknown)'}`,
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
