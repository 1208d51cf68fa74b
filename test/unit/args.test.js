// passimd's command-line parser, driven by a small made-up program table: flags long and short, --help
// anywhere, and the usage errors (each carrying the usage text to print next to it) for everything else.
import '../lib/english.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError, helpText, parseCommandLine } from '../../dist/shared/args.js';
import { PassimError } from '../../dist/shared/errors.js';

const spec = {
  program: 'daemond',
  summary: 'A made-up daemon.',
  options: [
    { name: 'verbose', short: 'v', description: 'Show more' },
    { name: 'insecure', description: 'Check nothing' },
  ],
  epilogue: 'See daemond(8).',
};

/**
 * Asserts that parsing `argv` throws a UsageError with `message` and the program's usage text.
 * @param {string[]} argv
 * @param {RegExp} message
 */
function usageError(argv, message) {
  assert.throws(
    () => parseCommandLine(spec, argv),
    (err) => {
      assert.ok(err instanceof UsageError, `${argv.join(' ')}: a UsageError`);
      assert.ok(err instanceof PassimError && err.kind === 'invalid-argument');
      assert.match(err.message, message);
      assert.equal(err.usage, helpText(spec));
      return true;
    },
  );
}

test('flags long and short; every flag not given is false', () => {
  assert.deepEqual(parseCommandLine(spec, []), { flags: { verbose: false, insecure: false, help: false } });
  assert.deepEqual(parseCommandLine(spec, ['-v', '--insecure']), { flags: { verbose: true, insecure: true, help: false } });
});

test('--help or -h anywhere gives the help, whatever else is wrong', () => {
  assert.deepEqual(parseCommandLine(spec, ['--help']), { help: helpText(spec) });
  assert.deepEqual(parseCommandLine(spec, ['-v', '-h']), { help: helpText(spec) });
});

test('an unknown option, a value or an argument is a usage error', () => {
  usageError(['--bogus'], /^Unknown option: --bogus$/);
  usageError(['--verbose=yes'], /^The option --verbose takes no value$/);
  usageError(['status'], /^Unexpected argument: status$/);
});

test('helpText: usage, summary, options with --help, epilogue', () => {
  assert.equal(
    helpText(spec),
    [
      'Usage: daemond [OPTION…]',
      '',
      'A made-up daemon.',
      '',
      'Options:',
      '  -v, --verbose   Show more',
      '      --insecure  Check nothing',
      '  -h, --help      Show this help',
      '',
      'See daemond(8).',
      '',
    ].join('\n'),
  );
});
