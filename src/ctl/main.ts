// SPDX-License-Identifier: LGPL-2.1-or-later
// passimctl: the command table, and failures turned into messages and exit statuses.
import { helpText, parseCommandLine, UsageError, type ProgramSpec } from '../shared/args.js';
import { PassimError } from '../shared/errors.js';
import { VERSION } from '../shared/version.js';
import { withClient } from '../client/client.js';
import { download } from './download.js';
import { publish, unpublish } from './publish.js';
import { status } from './status.js';

// The daemon records the publishing program by its name (as the original records its tool's).
process.title = 'passimctl';

const VERSION_OPTION = { name: 'version', description: 'Show the client and daemon versions' };

const PROGRAM: ProgramSpec = {
  program: 'passimctl',
  summary: 'Query and control the local Passim caching daemon.',
  options: [VERSION_OPTION],
  commands: [
    {
      names: ['status', 'dump'],
      description: 'Show the daemon status and the published items',
      args: [],
      options: [{ name: 'json', description: 'Print one JSON object' }],
    },
    {
      names: ['publish'],
      description: 'Publish a file (needs root or polkit authorization)',
      args: [
        { name: 'file', description: 'File to publish' },
        { name: 'max-age', optional: true, description: 'Seconds to keep the item (default 86400)' },
        { name: 'max-share', optional: true, description: 'Number of downloads before the item is removed (default 5)' },
      ],
      options: [{ name: 'next-reboot', description: 'Only share the file after the next reboot' }],
    },
    {
      names: ['unpublish'],
      description: 'Remove a published item (needs root or polkit authorization)',
      args: [{ name: 'hash', description: 'SHA-256 of the item' }],
      options: [],
    },
    {
      names: ['download'],
      description: 'Download a file by hash from a LAN peer into the current folder',
      args: [
        { name: 'basename', description: 'File name to save as' },
        { name: 'hash', description: 'SHA-256 of the content' },
      ],
      options: [],
    },
  ],
  epilogue: 'See passimctl(1).',
};

async function printVersions(): Promise<void> {
  process.stdout.write(`client version: ${VERSION}\n`);
  const props = await withClient((client) => client.getProperties());
  process.stdout.write(`daemon version: ${props.daemonVersion}\n`);
}

/** Prints a failure the way a person wants to read it and sets the exit status. */
function report(err: unknown): void {
  let message = err instanceof Error ? err.message : String(err);
  if (err instanceof UsageError) {
    message = `${err.usage}\n${message}`;
  } else if (err instanceof PassimError && err.kind === 'interactive-authorization-required') {
    message = `Permission denied: ${message}\nRun passimctl on a terminal so that polkit can ask for a password, or run it as root (for example with sudo).`;
  } else if (err instanceof PassimError && err.kind === 'access-denied') {
    message = `Permission denied: ${message}\nRun passimctl as root (for example with sudo), or ask an administrator to allow this with a polkit rule (see passimd(8)).`;
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
      return status(flags.json ?? false);
    case 'publish':
      return publish(arg('file'), args['max-age'], args['max-share'], flags['next-reboot'] ?? false);
    case 'unpublish':
      return unpublish(arg('hash'));
    case 'download':
      return download(arg('basename'), arg('hash'));
    default:
      throw new UsageError('No command given.', helpText(PROGRAM));
  }
}

await main(process.argv.slice(2)).catch(report);
