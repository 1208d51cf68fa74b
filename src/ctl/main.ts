// SPDX-License-Identifier: LGPL-2.1-or-later
// passimctl: the command line (yargs), and failures turned into messages and exit statuses.
import yargs, { type Argv } from 'yargs';
import { PassimError } from '../shared/errors.js';
import { _, localTranslator } from '../shared/i18n.js';
import { VERSION } from '../shared/version.js';
import { withClient } from '../client/client.js';
import { HashMismatchError, OriginError } from '../client/origin-fetch.js';
import { download } from './download.js';
import { Interrupted, PublishAfterFetchError, fetch } from './fetch.js';
import { publish, unpublish } from './publish.js';
import { NEWEST_SHOWN, status } from './status.js';
import { yargsStrings } from './yargs-strings.js';

// The daemon records the publishing program by its name (as the original records its tool's).
process.title = 'passimctl';

/** Bad usage: the message is for the user (already in their language), with the usage to show above it. */
class UsageError extends PassimError {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super('invalid-argument', message);
  }
}

/** Exit statuses other than 0 and 1, as passimctl(1) lists them. */
const Exit = { HASH_MISMATCH: 2, ORIGIN_FAILED: 3, PUBLISH_FAILED: 4, INTERRUPTED: 130 } as const;

/** Every positional is text: a hash of digits or "0755" must not become a number. */
const text = { type: 'string' } as const;

async function printVersions(): Promise<void> {
  process.stdout.write(`${_('client version: {version}', { version: VERSION })}\n`);
  const props = await withClient((client) => client.getProperties());
  process.stdout.write(`${_('daemon version: {version}', { version: props.daemonVersion })}\n`);
}

/** What a command runs; --version wins over any command, like the original tool. */
function unlessVersion(version: boolean | undefined, action: () => Promise<void>): Promise<void> {
  return version ? printVersions() : action();
}

/** The command line: the commands, their arguments and options, strict, in the user's language. */
function commandLine(argv: string[]): Argv {
  const parser: Argv = yargs(argv);
  return (
    parser
      .scriptName('passimctl')
      // Not yargs' own catalogs: its strings come from ours (src/ctl/yargs-strings.ts), as every other text.
      .locale('en')
      .updateStrings(yargsStrings())
      .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false, 'boolean-negation': false })
      .version(false)
      .option('version', { type: 'boolean', global: true, description: _('Show the client and daemon versions') })
      // TRANSLATORS: the first line of passimctl --help; <command> and [options] may be translated
      .usage(
        `${_('Usage: {program} <command> [options]', { program: '$0' })}\n\n${_('Query and control the local Passim caching daemon.')}`,
      )
      .command(
        ['status', 'dump'],
        _('Show the daemon status and the published items'),
        (y) =>
          y
            .option('json', { type: 'boolean', description: _('Print one JSON object') })
            .option('all', { type: 'boolean', description: _('List every item, not only the newest {count}', { count: NEWEST_SHOWN }) }),
        (args) => unlessVersion(args.version, () => status(args.json ?? false, args.all ?? false)),
      )
      .command(
        'publish <file> [max-age] [max-share]',
        _('Publish a file (needs root or polkit authorization)'),
        (y) =>
          y
            .positional('file', { ...text, description: _('File to publish') })
            .positional('max-age', { ...text, description: _('Seconds to keep the item (default 86400)') })
            // TRANSLATORS: the share-limit of an item: after this many downloads by other machines it is deleted
            .positional('max-share', { ...text, description: _('Number of downloads before the item is removed (default 5)') })
            .option('next-reboot', { type: 'boolean', description: _('Only share the file after the next reboot') }),
        (args) =>
          unlessVersion(args.version, () => publish(args.file ?? '', args['max-age'], args['max-share'], args['next-reboot'] ?? false)),
      )
      .command(
        'unpublish <hash>',
        _('Remove a published item (needs root or polkit authorization)'),
        (y) => y.positional('hash', { ...text, description: _('SHA-256 of the item') }),
        (args) => unlessVersion(args.version, () => unpublish(args.hash ?? '')),
      )
      .command(
        'download <basename> <hash>',
        // TRANSLATORS: a peer is another machine on the local network that runs Passim
        _('Download a file by hash from a LAN peer into the current folder'),
        (y) =>
          y
            .positional('basename', { ...text, description: _('File name to save as') })
            .positional('hash', { ...text, description: _('SHA-256 of the content') }),
        (args) => unlessVersion(args.version, () => download(args.basename ?? '', args.hash ?? '')),
      )
      .command(
        'fetch <url>',
        // TRANSLATORS: the LAN is the local network; the URL is where the file is published on the internet
        _('Fetch a file from the LAN if a machine there has it, else from its URL; the hash is checked'),
        (y) =>
          y
            .positional('url', { ...text, description: _('Where the file is published') })
            .option('sha256', { type: 'string', demandOption: true, requiresArg: true, description: _('SHA-256 of the content') })
            .option('output', {
              alias: 'o',
              type: 'string',
              requiresArg: true,
              description: _('Save as FILE, or write to standard output with -; default: the name in the URL, in the current folder'),
            })
            .option('publish', {
              type: 'array',
              string: true,
              description: _(
                'Publish the file once saved, for MAX-AGE seconds (default 86400) and SHARE-LIMIT downloads (default 5); needs root or polkit authorization',
              ),
            })
            // TRANSLATORS: --publish, MAX-AGE and SHARE-LIMIT are passimctl fetch's option and its values, keep them
            .check((args) => ((args.publish?.length ?? 0) > 2 ? _('--publish takes at most MAX-AGE and SHARE-LIMIT') : true)),
        (args) =>
          unlessVersion(args.version, () => {
            const values = args.publish?.map(String);
            return fetch({
              url: args.url ?? '',
              hash: args.sha256,
              output: args.output,
              publish: values ? { maxAge: values[0], shareLimit: values[1] } : undefined,
            });
          }),
      )
      // yargs' own completion command goes on to strict checking once it printed the script when the
      // process does not exit (exitProcess(false)): ours only prints it; yargs still answers the script's
      // --get-yargs-completions.
      .command(
        'completion',
        _('Print a bash completion script (yours if sourced from ~/.bashrc)'),
        (y) => y,
        (args) =>
          unlessVersion(args.version, async () => {
            parser.showCompletionScript();
          }),
      )
      .completion('get-completion-script', false)
      .help('help')
      .alias('help', 'h')
      .describe('help', _('Show this help'))
      .strict()
      .recommendCommands()
      // No wrapping: yargs' ESM build breaks lines inside words; a terminal wraps long lines itself.
      .wrap(null)
      // TRANSLATORS: the last line of passimctl --help; passimctl(1) is the manual page, keep it as it is
      .epilogue(_('See passimctl(1).'))
      .exitProcess(false)
      .fail((message, err, usage) => {
        // A failure of a command is reported as itself; yargs' messages and a failed check are usage errors.
        if (err instanceof Error) throw err;
        throw new UsageError(message ?? String(err), helpOf(usage));
      })
  );
}

/**
 * The --help text of the command a usage error concerns. yargs 17 passes its usage object to the failure
 * handler, whose help() makes that text; @types/yargs declares the parser there instead.
 */
function helpOf(usage: unknown): string {
  const help = (usage as { help?: unknown }).help;
  return typeof help === 'function' ? String(help.call(usage)) : '';
}

/**
 * Prints a failure the way a person wants to read it, in their language, and sets the exit status.
 * passimd's D-Bus errors arrive in English (see PassimError.localized): known ones are translated here.
 */
function report(err: unknown): void {
  if (err instanceof PublishAfterFetchError) {
    reportFailure(err.failure);
    process.exitCode = Exit.PUBLISH_FAILED;
    return;
  }
  reportFailure(err);
  if (err instanceof HashMismatchError) process.exitCode = Exit.HASH_MISMATCH;
  else if (err instanceof OriginError) process.exitCode = Exit.ORIGIN_FAILED;
  else if (err instanceof Interrupted) process.exitCode = Exit.INTERRUPTED;
}

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

async function main(argv: string[]): Promise<void> {
  const parser = commandLine(argv);
  const args = await parser.parseAsync();
  // --help and completion are done; a command ran its handler; what is left is no command at all.
  if (args.help || args._.length > 0 || argv.includes('--get-yargs-completions')) return;
  if (args.version) return printVersions();
  throw new UsageError(_('No command given.'), await parser.getHelp());
}

await main(process.argv.slice(2)).catch(report);
