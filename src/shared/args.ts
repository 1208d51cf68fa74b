// SPDX-License-Identifier: LGPL-2.1-or-later
// Command lines of passimd and passimctl: node:util parseArgs driven by a table of commands and options,
// and the --help text made from the same table.
import { parseArgs } from 'node:util';
import { PassimError } from './errors.js';

export interface OptionSpec {
  name: string;
  short?: string;
  /** Boolean options are flags; none of ours takes a value. */
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

/** Bad usage: the message is for the user, with the usage to show next to it. */
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
}

const HELP: OptionSpec = { name: 'help', short: 'h', description: 'Show this help' };

function optionsConfig(options: OptionSpec[]): Record<string, { type: 'boolean'; short?: string }> {
  return Object.fromEntries(options.map((o) => [o.name, o.short ? { type: 'boolean', short: o.short } : { type: 'boolean' }]));
}

function usageLine(spec: ProgramSpec, command?: CommandSpec): string {
  if (!spec.commands) return `Usage: ${spec.program} [OPTION…]`;
  if (!command) return `Usage: ${spec.program} <command> [options]`;
  const args = command.args.map((a) => (a.optional ? `[${a.name}]` : `<${a.name}>`));
  return `Usage: ${spec.program} ${[command.names[0], ...args].join(' ')} [options]`;
}

function optionLines(options: OptionSpec[]): string[] {
  const labels = options.map((o) => (o.short ? `-${o.short}, --${o.name}` : `    --${o.name}`));
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
      lines.push('Arguments:', ...command.args.map((a) => `  ${a.name.padEnd(width)}  ${a.description}`), '');
    }
    lines.push('Options:', ...optionLines([...command.options, ...spec.options, HELP]));
  } else {
    lines.push(spec.summary, '');
    if (spec.commands) {
      const usages = spec.commands.map((c) => {
        const args = c.args.map((a) => (a.optional ? `[${a.name}]` : `<${a.name}>`));
        const aliases = c.names.length > 1 ? `  [aliases: ${c.names.slice(1).join(', ')}]` : '';
        return { text: `${spec.program} ${[c.names[0], ...args].join(' ')}`, description: `${c.description}${aliases}` };
      });
      const width = Math.max(...usages.map((u) => u.text.length));
      lines.push('Commands:', ...usages.map((u) => `  ${u.text.padEnd(width)}  ${u.description}`), '');
    }
    lines.push('Options:', ...optionLines([...spec.options, HELP]));
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
    throw new UsageError(`Unknown command: ${commandName}`, helpText(spec));
  }
  const options = [...spec.options, ...(command?.options ?? []), HELP];
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: ReturnType<typeof optionsConfig>; strict: true; allowPositionals: boolean }>
  >;
  try {
    parsed = parseArgs({ args: argv, options: optionsConfig(options), strict: true, allowPositionals: spec.commands !== undefined });
  } catch (err) {
    throw new UsageError((err as Error).message, helpText(spec, command));
  }
  if (parsed.values.help) return { help: helpText(spec, command) };
  const flags = Object.fromEntries(options.map((o) => [o.name, parsed.values[o.name] === true]));
  const positionals = parsed.positionals.slice(1);
  const args: Record<string, string | undefined> = {};
  if (command) {
    const required = command.args.filter((a) => !a.optional).length;
    if (positionals.length < required) {
      const missing = command.args
        .slice(positionals.length)
        .filter((a) => !a.optional)
        .map((a) => a.name);
      throw new UsageError(`Missing argument: ${missing.join(', ')}`, helpText(spec, command));
    }
    if (positionals.length > command.args.length) {
      throw new UsageError(`Unexpected argument: ${positionals[command.args.length]}`, helpText(spec, command));
    }
    command.args.forEach((a, i) => {
      args[a.name] = positionals[i];
    });
  }
  return { command, args, flags };
}
