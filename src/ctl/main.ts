// SPDX-License-Identifier: LGPL-2.1-or-later
// passimctl: the command table, and failures turned into messages and exit statuses.
import { helpText, parseCommandLine, UsageError, type CommandSpec, type ProgramSpec } from '../shared/args.js';
import { PassimError } from '../shared/errors.js';
import { _, localTranslator } from '../shared/i18n.js';
import { VERSION } from '../shared/version.js';
import { withClient } from '../client/client.js';
import { HashMismatchError, OriginError } from '../client/origin-fetch.js';
import { download } from './download.js';
import { Interrupted, PublishAfterFetchError, fetch } from './fetch.js';
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
    {
      names: ['fetch'],
      // TRANSLATORS: the LAN is the local network; the URL is where the file is published on the internet
      description: _('Fetch a file from the LAN if a machine there has it, else from its URL; the hash is checked'),
      args: [
        { name: 'url', description: _('Where the file is published') },
        { name: 'max-age', optional: true, description: _('With --publish: seconds to keep the item (default 86400)') },
        { name: 'share-limit', optional: true, description: _('With --publish: downloads before the item is removed (default 5)') },
      ],
      options: [
        { name: 'sha256', value: 'HASH', description: _('SHA-256 of the content (required)') },
        {
          name: 'output',
          short: 'o',
          value: 'FILE',
          description: _('Save as FILE, or write to standard output with -; default: the name in the URL, in the current folder'),
        },
        { name: 'publish', description: _('Publish the file once saved (needs root or polkit authorization)') },
      ],
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
  if (err instanceof PublishAfterFetchError) {
    reportFailure(err.failure);
    process.exitCode = FetchExit.PUBLISH_FAILED;
    return;
  }
  reportFailure(err);
  if (err instanceof HashMismatchError) process.exitCode = FetchExit.HASH_MISMATCH;
  else if (err instanceof OriginError) process.exitCode = FetchExit.ORIGIN_FAILED;
  else if (err instanceof Interrupted) process.exitCode = FetchExit.INTERRUPTED;
}

/** Exit statuses of passimctl fetch other than 0 and 1, as passimctl(1) lists them. */
const FetchExit = { HASH_MISMATCH: 2, ORIGIN_FAILED: 3, PUBLISH_FAILED: 4, INTERRUPTED: 130 } as const;

function reportFailure(err: unknown): void {
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

function fetchCommand(
  command: CommandSpec,
  args: Record<string, string | undefined>,
  flags: Record<string, boolean>,
  values: Record<string, string>,
): Promise<void> {
  const hash = values.sha256;
  if (hash === undefined) throw new UsageError(_('Missing option: {option}', { option: '--sha256' }), helpText(PROGRAM, command));
  const publishing = flags.publish ?? false;
  if (!publishing && args['max-age'] !== undefined) {
    throw new UsageError(_('Unexpected argument: {argument}', { argument: args['max-age'] }), helpText(PROGRAM, command));
  }
  return fetch({
    url: args.url ?? '',
    hash,
    output: values.output,
    publish: publishing ? { maxAge: args['max-age'], shareLimit: args['share-limit'] } : undefined,
  });
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
    case 'fetch':
      return fetchCommand(command, args, flags, parsed.values);
    default:
      throw new UsageError(_('No command given.'), helpText(PROGRAM));
  }
}

await main(process.argv.slice(2)).catch(report);
