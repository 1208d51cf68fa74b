/** Minimal leveled logger writing to stderr (journald adds timestamps under systemd). */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLogger(options: { verbose: boolean; prefix?: string }): Logger {
  const prefix = options.prefix ? `${options.prefix}: ` : '';
  const write = (level: string, message: string): void => {
    process.stderr.write(`${prefix}${level}${message}\n`);
  };
  return {
    debug: (m) => {
      if (options.verbose) write('debug: ', m);
    },
    info: (m) => write('', m),
    warn: (m) => write('warning: ', m),
    error: (m) => write('error: ', m),
  };
}

/** A logger that drops everything; for library use and tests. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
