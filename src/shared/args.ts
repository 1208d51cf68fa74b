// SPDX-License-Identifier: LGPL-2.1-or-later
// Command lines of passimd and passimctl: node:util parseArgs driven by a table of commands and options,
// and the --help text made from the same table, in the user's language (the table's texts come translated).
import { parseArgs } from 'node:util';
import { PassimError } from './errors.js';
import { _ } from './i18n.js';

export interface OptionSpec {
  name: string;
  short?: string;
  /** The name of the option's value in --help (e.g. FILE); an option without one is a flag. */
  value?: string;
  description: string;
}

export interface ArgumentSpec {
  name: string;
  optional?: boolean;
  description: string;
}

export interface CommandSpec {
  /** The command and its aliases; the first is the one --help lists. */
  names: string[];
  description: string;
  args: ArgumentSpec[];
  options: OptionSpec[];
}

export interface ProgramSpec {
  program: string;
  summary: string;
  /** Options every command takes (and the program alone, without a command). */
  options: OptionSpec[];
  /** Absent for a program without commands (passimd). */
  commands?: CommandSpec[];
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
  /** The command's first name, or undefined when none was given. */
  command: CommandSpec | undefined;
  args: Record<string, string | undefined>;
  flags: Record<string, boolean>;
  /** The values of the options that take one and were given. */
  values: Record<string, string>;
}

const HELP: OptionSpec = { name: 'help', short: 'h', description: _('Show this help') };

function optionsConfig(options: OptionSpec[]): Record<string, { type: 'boolean' | 'string'; short?: string }> {
  return Object.fromEntries(
    options.map((o) => [o.name, { type: o.value === undefined ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}) }]),
  );
}

function usageLine(spec: ProgramSpec, command?: CommandSpec): string {
  const { program } = spec;
  // TRANSLATORS: the first line of --help of a program without commands (passimd); keep [OPTION…] as it is
  if (!spec.commands) return _('Usage: {program} [OPTION…]', { program });
  // TRANSLATORS: the first line of passimctl --help; <command> and [options] may be translated
  if (!command) return _('Usage: {program} <command> [options]', { program });
  const args = command.args.map((a) => (a.optional ? `[${a.name}]` : `<${a.name}>`));
  // TRANSLATORS: the first line of passimctl COMMAND --help, e.g. "passimctl unpublish <hash>"; [options] may be translated
  return _('Usage: {program} {command} [options]', { program, command: [command.names[0], ...args].join(' ') });
}

function optionLines(options: OptionSpec[]): string[] {
  const labels = options.map((o) => `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.value === undefined ? '' : ` ${o.value}`}`);
  const width = Math.max(...labels.map((l) => l.length));
  return options.map((o, i) => `  ${(labels[i] ?? '').padEnd(width)}  ${o.description}`);
}

/** The --help text of the program, or of one of its commands. */
export function helpText(spec: ProgramSpec, command?: CommandSpec): string {
  const lines = [usageLine(spec, command), ''];
  if (command) {
    lines.push(command.description, '');
    if (command.args.length > 0) {
      const width = Math.max(...command.args.map((a) => a.name.length));
      lines.push(_('Arguments:'), ...command.args.map((a) => `  ${a.name.padEnd(width)}  ${a.description}`), '');
    }
    lines.push(_('Options:'), ...optionLines([...command.options, ...spec.options, HELP]));
  } else {
    lines.push(spec.summary, '');
    if (spec.commands) {
      const usages = spec.commands.map((c) => {
        const args = c.args.map((a) => (a.optional ? `[${a.name}]` : `<${a.name}>`));
        // TRANSLATORS: after a command in --help: other names of the same command, e.g. "[aliases: dump]"
        const aliases = c.names.length > 1 ? `  ${_('[aliases: {aliases}]', { aliases: c.names.slice(1).join(', ') })}` : '';
        return { text: `${spec.program} ${[c.names[0], ...args].join(' ')}`, description: `${c.description}${aliases}` };
      });
      const width = Math.max(...usages.map((u) => u.text.length));
      lines.push(_('Commands:'), ...usages.map((u) => `  ${u.text.padEnd(width)}  ${u.description}`), '');
    }
    lines.push(_('Options:'), ...optionLines([...spec.options, HELP]));
  }
  if (spec.epilogue && !command) lines.push('', spec.epilogue);
  return `${lines.join('\n')}\n`;
}

/**
 * Parses `argv` (without node and the script). --help anywhere gives { help } with the text to print.
 * Unknown options, a missing or extra argument and an unknown command throw a UsageError.
 */
export function parseCommandLine(spec: ProgramSpec, argv: string[]): ParsedCommandLine | { help: string } {
  const commandName = spec.commands ? argv.find((a) => !a.startsWith('-')) : undefined;
  const command = commandName === undefined ? undefined : spec.commands?.find((c) => c.names.includes(commandName));
  if (commandName !== undefined && !command) {
    throw new UsageError(_('Unknown command: {command}', { command: commandName }), helpText(spec));
  }
  const options = [...spec.options, ...(command?.options ?? []), HELP];
  // Not strict: parseArgs's own errors are English sentences; its tokens let us say the same in the user's language.
  const parsed = parseArgs({ args: argv, options: optionsConfig(options), strict: false, allowPositionals: true, tokens: true });
  for (const token of parsed.tokens) {
    if (token.kind === 'option' && !options.some((o) => o.name === token.name)) {
      throw new UsageError(_('Unknown option: {option}', { option: token.rawName }), helpText(spec, command));
    }
    const takesValue = token.kind === 'option' && options.some((o) => o.name === token.name && o.value !== undefined);
    if (token.kind === 'option' && takesValue && token.value === undefined) {
      throw new UsageError(_('The option {option} needs a value', { option: token.rawName }), helpText(spec, command));
    }
    if (token.kind === 'option' && !takesValue && token.value !== undefined) {
      throw new UsageError(_('The option {option} takes no value', { option: token.rawName }), helpText(spec, command));
    }
    if (token.kind === 'positional' && !spec.commands) {
      throw new UsageError(_('Unexpected argument: {argument}', { argument: token.value }), helpText(spec));
    }
  }
  if (parsed.values.help === true) return { help: helpText(spec, command) };
  const flags = Object.fromEntries(options.filter((o) => o.value === undefined).map((o) => [o.name, parsed.values[o.name] === true]));
  const values: Record<string, string> = {};
  for (const o of options) {
    const value = parsed.values[o.name];
    if (o.value !== undefined && typeof value === 'string') values[o.name] = value;
  }
  const positionals = parsed.positionals.slice(1);
  const args: Record<string, string | undefined> = {};
  if (command) {
    const required = command.args.filter((a) => !a.optional).length;
    if (positionals.length < required) {
      const missing = command.args
        .slice(positionals.length)
        .filter((a) => !a.optional)
        .map((a) => a.name);
      throw new UsageError(_('Missing argument: {arguments}', { arguments: missing.join(', ') }), helpText(spec, command));
    }
    if (positionals.length > command.args.length) {
      throw new UsageError(
        _('Unexpected argument: {argument}', { argument: positionals[command.args.length] ?? '' }),
        helpText(spec, command),
      );
    }
    command.args.forEach((a, i) => {
      args[a.name] = positionals[i];
    });
  }
  return { command, args, flags, values };
}
