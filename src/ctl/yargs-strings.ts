// SPDX-License-Identifier: LGPL-2.1-or-later
// The texts yargs itself shows in passimctl's --help and usage errors, from our gettext catalogs, so that
// they are in the same language, and the same words, as the rest of passimctl.
import { _ } from '../shared/i18n.js';

/** A y18n entry: a text, or its singular and plural forms. */
type Entry = string | { one: string; other: string };

/**
 * yargs' English strings (its locales/en.json keys, %s its values in order) mapped to ours. Our messages
 * fill their {placeholders} with %s, so a translation must keep them in the English order.
 */
export function yargsStrings(): Record<string, string> {
  const s = '%s';
  const strings: Record<string, Entry> = {
    'Commands:': _('Commands:'),
    'Options:': _('Options:'),
    'Positionals:': _('Arguments:'),
    // TRANSLATORS: after a command in --help, before its other names, e.g. "[aliases: dump]"
    'aliases:': _('aliases:'),
    // TRANSLATORS: in brackets after an option in --help: the option takes no value
    boolean: _('flag'),
    // TRANSLATORS: in brackets after an option in --help: the option takes a text value
    string: _('text'),
    // TRANSLATORS: in brackets after an option in --help: the option takes one or more values
    array: _('list'),
    // TRANSLATORS: in brackets after an option in --help: the option must be given
    required: _('required'),
    'Show help': _('Show this help'),
    'Did you mean %s?': _('Did you mean {command}?', { command: s }),
    // TRANSLATORS: keep {got} before {need}
    'Not enough non-option arguments: got %s, need at least %s': {
      one: _('Not enough arguments: got {got}, need at least {need}', { got: s, need: s }),
      other: _('Not enough arguments: got {got}, need at least {need}', { got: s, need: s }),
    },
    // TRANSLATORS: keep {got} before {max}
    'Too many non-option arguments: got %s, maximum of %s': {
      one: _('Too many arguments: got {got}, at most {max}', { got: s, max: s }),
      other: _('Too many arguments: got {got}, at most {max}', { got: s, max: s }),
    },
    'Missing argument value: %s': {
      one: _('Missing value of the option {option}', { option: s }),
      other: _('Missing values of the options {options}', { options: s }),
    },
    'Not enough arguments following: %s': _('Missing value of the option {option}', { option: s }),
    'Missing required argument: %s': {
      one: _('Missing argument: {arguments}', { arguments: s }),
      other: _('Missing arguments: {arguments}', { arguments: s }),
    },
    'Unknown argument: %s': {
      one: _('Unknown argument: {argument}', { argument: s }),
      other: _('Unknown arguments: {arguments}', { arguments: s }),
    },
  };
  // y18n takes plurals as { one, other } objects; @types/yargs declares plain strings only.
  return strings as Record<string, string>;
}
