// SPDX-License-Identifier: LGPL-2.1-or-later
// passimd's command line: flags only, parsed with node:util parseArgs from a small table, and the --help text
// made from the same table in the user's language (the table's texts come translated). A table rather than
// yargs, which passimctl uses, keeps the daemon's memory small.
import { parseArgs } from 'node:util';
import { PassimError } from './errors.js';
import { _ } from './i18n.js';

export interface OptionSpec {
  name: string;
  short?: string;
  /** Every option is a flag: none takes a value. */
  description: string;
}

export interface ProgramSpec {
  program: string;
  summary: string;
  options: OptionSpec[];
  epilogue?: string;
}

/** Bad usage: the message is for the user (already in their language), with the usage to show next to it. */
export class UsageError extends PassimError {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super('invalid-argument', message);
  }
}

export interface ParsedCommandLine {
  flags: Record<string, boolean>;
}

const HELP: OptionSpec = { name: 'help', short: 'h', description: _('Show this help') };

function optionsConfig(options: OptionSpec[]): Record<string, { type: 'boolean'; short?: string }> {
  return Object.fromEntries(options.map((o) => [o.name, o.short ? { type: 'boolean', short: o.short } : { type: 'boolean' }]));
}

function optionLines(options: OptionSpec[]): string[] {
  const labels = options.map((o) => (o.short ? `-${o.short}, --${o.name}` : `    --${o.name}`));
  const width = Math.max(...labels.map((l) => l.length));
  return options.map((o, i) => `  ${(labels[i] ?? '').padEnd(width)}  ${o.description}`);
}

/** The --help text of the program. */
export function helpText(spec: ProgramSpec): string {
  const { program } = spec;
  const lines = [
    // TRANSLATORS: the first line of passimd --help; keep [OPTION…] as it is
    _('Usage: {program} [OPTION…]', { program }),
    '',
    spec.summary,
    '',
    _('Options:'),
    ...optionLines([...spec.options, HELP]),
  ];
  if (spec.epilogue) lines.push('', spec.epilogue);
  return `${lines.join('\n')}\n`;
}

/**
 * Parses `argv` (without node and the script). --help anywhere gives { help } with the text to print.
 * An unknown option, an option with a value and any other argument throw a UsageError.
 */
export function parseCommandLine(spec: ProgramSpec, argv: string[]): ParsedCommandLine | { help: string } {
  const options = [...spec.options, HELP];
  // Not strict: parseArgs's own errors are English sentences; its tokens let us say the same in the user's language.
  const parsed = parseArgs({ args: argv, options: optionsConfig(options), strict: false, allowPositionals: true, tokens: true });
  for (const token of parsed.tokens) {
    if (token.kind === 'option' && !options.some((o) => o.name === token.name)) {
      throw new UsageError(_('Unknown option: {option}', { option: token.rawName }), helpText(spec));
    }
    if (token.kind === 'option' && token.value !== undefined) {
      throw new UsageError(_('The option {option} takes no value', { option: token.rawName }), helpText(spec));
    }
    if (token.kind === 'positional') {
      throw new UsageError(_('Unexpected argument: {argument}', { argument: token.value }), helpText(spec));
    }
  }
  if (parsed.values.help === true) return { help: helpText(spec) };
  return { flags: Object.fromEntries(options.map((o) => [o.name, parsed.values[o.name] === true])) };
}
