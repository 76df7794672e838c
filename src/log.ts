/**
 * The one place engine code logs through (not the CLI's own usage and summary output): one
 * line per event, to stderr by default. An embedding application hands its own logger to
 * setLogger (pino, winston … all have these three methods) and every line goes there.
 */
export interface Logger {
  info(line: string): void;
  warn(line: string): void;
  error(line: string): void;
}

const stderr = (line: string) => { process.stderr.write(line.endsWith('\n') ? line : `${line}\n`); };
let current: Logger = { info: stderr, warn: stderr, error: stderr };

/** the logger engine code writes to */
export function log(): Logger { return current; }

/** route every engine log line to `logger` (returns the previous one, for tests) */
export function setLogger(logger: Logger): Logger {
  const prev = current;
  current = logger;
  return prev;
}
