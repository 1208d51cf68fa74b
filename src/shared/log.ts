// SPDX-License-Identifier: LGPL-2.1-or-later
// Levelled log lines on stderr, with journald priorities when stderr is the journal.
import { fstatSync } from 'node:fs';

/** Minimal leveled logger writing to stderr. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

type Level = 'debug' | 'info' | 'warn' | 'error';

/** sd-daemon(3) priorities, so journald keeps the level of each line. */
const PRIORITY: Record<Level, number> = { error: 3, warn: 4, info: 6, debug: 7 };
const WORD: Record<Level, string> = { error: 'error: ', warn: 'warning: ', info: '', debug: 'debug: ' };

/**
 * Whether stderr is the journal stream systemd connected: JOURNAL_STREAM holds its "device:inode"
 * (systemd.exec(5)); a stderr redirected elsewhere by the administrator does not match and gets plain lines.
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const match = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!match) return false;
  try {
    const stat = fstatSync(2, { bigint: true });
    return stat.dev === BigInt(match[1] ?? '') && stat.ino === BigInt(match[2] ?? '');
  } catch {
    return false;
  }
}

export function createLogger(options: { verbose: boolean; prefix?: string; journal?: boolean }): Logger {
  const journal = options.journal ?? stderrIsJournal();
  // journald adds the program name and time itself.
  const prefix = options.prefix && !journal ? `${options.prefix}: ` : '';
  const write = (level: Level, message: string): void => {
    if (level === 'debug' && !options.verbose) return;
    // One record per line: a message with newlines would otherwise lose its level after the first.
    const lines = message.split('\n');
    const text = lines.map((line) => (journal ? `<${PRIORITY[level]}>${line}` : `${prefix}${WORD[level]}${line}`)).join('\n');
    process.stderr.write(`${text}\n`);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
  };
}

/** A logger that drops everything; for library use and tests. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
