// SPDX-License-Identifier: LGPL-2.1-or-later
// passimctl: the command table, and failures turned into messages and exit statuses.
import { helpText, parseCommandLine, UsageError, type ProgramSpec } from '../shared/args.js';
import { PassimError } from '../shared/errors.js';
import { _, localTranslator } from '../shared/i18n.js';
import { VERSION } from '../shared/version.js';
import { withClient } from '../client/client.js';
import { download } from './download.js';
import { publish, unpublish } from './publish.js';
import { NEWEST_SHOWN, status } from './status.js';

// The daemon records the publishing program by its name (as the original records its tool's).
process.title = 'passimctl';

const VERSION_OPTION = { name: 'version', description: _('Show the client and daemon versions') };

const PROGRAM: ProgramSpec = {
  program: 'passimctl',
  summary: _('Query and control the local Passim caching daemon.'),
  options: [VERSION_OPTION],
  commands: [
    {
      names: ['status', 'dump'],
      description: _('Show the daemon status and the published items'),
      args: [],
      options: [
        { name: 'json', description: _('Print one JSON object') },
        { name: 'all', description: _('List every item, not only the newest {count}', { count: NEWEST_SHOWN }) },
      ],
    },
    {
      names: ['publish'],
      description: _('Publish a file (needs root or polkit authorization)'),
      args: [
        { name: 'file', description: _('File to publish') },
        { name: 'max-age', optional: true, description: _('Seconds to keep the item (default 86400)') },
        // TRANSLATORS: the share-limit of an item: after this many downloads by other machines it is deleted
        { name: 'max-share', optional: true, description: _('Number of downloads before the item is removed (default 5)') },
      ],
      options: [{ name: 'next-reboot', description: _('Only share the file after the next reboot') }],
    },
    {
      names: ['unpublish'],
      description: _('Remove a published item (needs root or polkit authorization)'),
      args: [{ name: 'hash', description: _('SHA-256 of the item') }],
      options: [],
    },
    {
      names: ['download'],
      // TRANSLATORS: a peer is another machine on the local network that runs Passim
      description: _('Download a file by hash from a LAN peer into the current folder'),
      args: [
        { name: 'basename', description: _('File name to save as') },
        { name: 'hash', description: _('SHA-256 of the content') },
      ],
      options: [],
    },
  ],
  // TRANSLATORS: the last line of passimctl --help; passimctl(1) is the manual page, keep it as it is
  epilogue: _('See passimctl(1).'),
};

async function printVersions(): Promise<void> {
  process.stdout.write(`${_('client version: {version}', { version: VERSION })}\n`);
  const props = await withClient((client) => client.getProperties());
  process.stdout.write(`${_('daemon version: {version}', { version: props.daemonVersion })}\n`);
}

/**
 * Prints a failure the way a person wants to read it, in their language, and sets the exit status.
 * passimd's D-Bus errors arrive in English (see PassimError.localized): known ones are translated here.
 */
function report(err: unknown): void {
  const translator = localTranslator();
  let message = err instanceof PassimError ? err.localized(translator) : err instanceof Error ? err.message : String(err);
  if (err instanceof UsageError) {
    message = `${err.usage}\n${message}`;
  } else if (err instanceof PassimError && err.kind === 'interactive-authorization-required') {
    message = [
      _('Permission denied: {reason}', { reason: message }),
      _('Run passimctl on a terminal so that polkit can ask for a password, or run it as root (for example with sudo).'),
    ].join('\n');
  } else if (err instanceof PassimError && err.kind === 'access-denied') {
    message = [
      _('Permission denied: {reason}', { reason: message }),
      // TRANSLATORS: passimd(8) is the manual page, keep it as it is
      _('Run passimctl as root (for example with sudo), or ask an administrator to allow this with a polkit rule (see passimd(8)).'),
    ].join('\n');
  }
  process.stderr.write(`${message}\n`);
  process.exitCode = 1;
}

async function main(argv: string[]): Promise<void> {
  const parsed = parseCommandLine(PROGRAM, argv);
  if ('help' in parsed) {
    process.stdout.write(parsed.help);
    return;
  }
  const { command, args, flags } = parsed;
  // --version wins over any command, like the original tool.
  if (flags.version) return printVersions();
  const arg = (name: string): string => args[name] ?? '';
  switch (command?.names[0]) {
    case 'status':
      return status(flags.json ?? false, flags.all ?? false);
    case 'publish':
      return publish(arg('file'), args['max-age'], args['max-share'], flags['next-reboot'] ?? false);
    case 'unpublish':
      return unpublish(arg('hash'));
    case 'download':
      return download(arg('basename'), arg('hash'));
    default:
      throw new UsageError(_('No command given.'), helpText(PROGRAM));
  }
}

await main(process.argv.slice(2)).catch(report);
