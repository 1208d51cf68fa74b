// The command-line parser both programs use, driven by a small made-up program table: commands and their
// aliases, required and optional arguments, flags global and per command, --help anywhere, and the usage
// errors (each carrying the usage text to print next to it) for everything else.
import '../lib/english.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError, helpText, parseCommandLine } from '../../dist/shared/args.js';
import { PassimError } from '../../dist/shared/errors.js';

const status = { names: ['status'], description: 'Show the status', args: [], options: [] };
const publish = {
  names: ['publish', 'push'],
  description: 'Publish a file',
  args: [
    { name: 'FILE', description: 'The file to share' },
    { name: 'MAX-AGE', optional: true, description: 'Seconds to share it for' },
  ],
  options: [{ name: 'next-reboot', description: 'Share only after the next reboot' }],
};
const spec = {
  program: 'demo',
  summary: 'A made-up program.',
  options: [{ name: 'verbose', short: 'v', description: 'Show more' }],
  commands: [status, publish],
  epilogue: 'See demo(1).',
};

/**
 * parseCommandLine's result for a line that asks for no help: the parsed line.
 * @param {import('../../dist/shared/args.js').ProgramSpec} programSpec
 * @param {string[]} argv
 */
function parsedLine(programSpec, argv) {
  const parsed = parseCommandLine(programSpec, argv);
  assert.ok(!('help' in parsed), `${argv.join(' ')}: parsed, not a help request`);
  return parsed;
}

/**
 * Asserts that parsing `argv` throws a UsageError with `message` and the usage text `usage`.
 * @param {string[]} argv
 * @param {RegExp} message
 * @param {string} usage
 * @param {import('../../dist/shared/args.js').ProgramSpec} programSpec
 */
function usageError(argv, message, usage, programSpec = spec) {
  assert.throws(
    () => parseCommandLine(programSpec, argv),
    (err) => {
      assert.ok(err instanceof UsageError, `${argv.join(' ')}: a UsageError`);
      assert.ok(err instanceof PassimError && err.kind === 'invalid-argument');
      assert.match(err.message, message);
      assert.equal(err.usage, usage);
      return true;
    },
  );
}

test('no command: no arguments, every flag false', () => {
  assert.deepEqual(parseCommandLine(spec, []), { command: undefined, args: {}, flags: { verbose: false, help: false }, values: {} });
  assert.deepEqual(parsedLine(spec, ['-v']).flags, { verbose: true, help: false });
});

test('a command by its name or an alias, with required and optional arguments', () => {
  assert.equal(parsedLine(spec, ['status']).command, status);
  assert.deepEqual(parseCommandLine(spec, ['publish', 'a.txt']), {
    command: publish,
    args: { FILE: 'a.txt', 'MAX-AGE': undefined },
    flags: { verbose: false, 'next-reboot': false, help: false },
    values: {},
  });
  const parsed = parsedLine(spec, ['push', 'a.txt', '60']);
  assert.equal(parsed.command, publish);
  assert.deepEqual(parsed.args, { FILE: 'a.txt', 'MAX-AGE': '60' });
});

test("flags anywhere on the line, global ones and the command's own", () => {
  const parsed = parsedLine(spec, ['--verbose', 'publish', 'a.txt', '--next-reboot']);
  assert.deepEqual(parsed.flags, { verbose: true, 'next-reboot': true, help: false });
  assert.deepEqual(parsedLine(spec, ['publish', '-v', 'a.txt']).flags.verbose, true);
  assert.deepEqual(parsedLine(spec, ['publish', '--', '-file-']).args.FILE, '-file-', 'after --, a dash is an argument');
});

test('--help or -h anywhere gives the help of the program or of the command, whatever else is wrong', () => {
  assert.deepEqual(parseCommandLine(spec, ['--help']), { help: helpText(spec) });
  assert.deepEqual(parseCommandLine(spec, ['-v', '-h']), { help: helpText(spec) });
  assert.deepEqual(parseCommandLine(spec, ['publish', '--help']), { help: helpText(spec, publish) }, 'FILE not required');
  assert.deepEqual(parseCommandLine(spec, ['-h', 'push']), { help: helpText(spec, publish) });
  assert.deepEqual(parseCommandLine(spec, ['status', 'extra', '--help']), { help: helpText(spec, status) });
});

test('an unknown command or option is a usage error with the right usage text', () => {
  usageError(['frobnicate'], /^Unknown command: frobnicate$/, helpText(spec));
  usageError(['--bogus'], /--bogus/, helpText(spec));
  usageError(['publish', 'a.txt', '--bogus'], /--bogus/, helpText(spec, publish));
  usageError(['status', '--next-reboot'], /--next-reboot/, helpText(spec, status)); // another command's option
});

test("a missing or extra argument is a usage error with the command's usage", () => {
  usageError(['publish'], /^Missing argument: FILE$/, helpText(spec, publish));
  usageError(['status', 'now'], /^Unexpected argument: now$/, helpText(spec, status));
  usageError(['publish', 'a.txt', '60', 'more'], /^Unexpected argument: more$/, helpText(spec, publish));
});

test('a program without commands (like passimd) takes flags only', () => {
  const daemon = { program: 'daemond', summary: 'A made-up daemon.', options: [{ name: 'verbose', short: 'v', description: 'Show more' }] };
  assert.deepEqual(parseCommandLine(daemon, ['-v']), { command: undefined, args: {}, flags: { verbose: true, help: false }, values: {} });
  usageError(['status'], /status/, helpText(daemon), daemon);
  assert.equal(
    helpText(daemon),
    [
      'Usage: daemond [OPTION…]',
      '',
      'A made-up daemon.',
      '',
      'Options:',
      '  -v, --verbose  Show more',
      '  -h, --help     Show this help',
      '',
    ].join('\n'),
  );
});

test('helpText of the program: usage, commands with arguments and aliases, options, epilogue', () => {
  assert.equal(
    helpText(spec),
    [
      'Usage: demo <command> [options]',
      '',
      'A made-up program.',
      '',
      'Commands:',
      '  demo status                    Show the status',
      '  demo publish <FILE> [MAX-AGE]  Publish a file  [aliases: push]',
      '',
      'Options:',
      '  -v, --verbose  Show more',
      '  -h, --help     Show this help',
      '',
      'See demo(1).',
      '',
    ].join('\n'),
  );
});

test('helpText of a command: its usage, arguments and options (its own first), no epilogue', () => {
  assert.equal(
    helpText(spec, publish),
    [
      'Usage: demo publish <FILE> [MAX-AGE] [options]',
      '',
      'Publish a file',
      '',
      'Arguments:',
      '  FILE     The file to share',
      '  MAX-AGE  Seconds to share it for',
      '',
      'Options:',
      '      --next-reboot  Share only after the next reboot',
      '  -v, --verbose      Show more',
      '  -h, --help         Show this help',
      '',
    ].join('\n'),
  );
  assert.doesNotMatch(helpText(spec, status), /Arguments:/, 'a command without arguments lists none');
});
