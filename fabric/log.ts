/**
 * Readable, levelled logs for the fabric: `12:00:01 INFO  router  hello from dev accepted`.
 * The level comes from ZT_LOG (debug|info|warn|error|silent); tests pass a silent logger.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(component: string): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function createLogger(
  level: LogLevel = (process.env.ZT_LOG as LogLevel | undefined) ?? 'info',
  component = 'fabric',
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Logger {
  const min = ORDER[level] ?? ORDER.info;
  const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string) => {
    if (ORDER[lvl] < min) return;
    const t = new Date().toISOString().slice(11, 19);
    write(`${t} ${lvl.toUpperCase().padEnd(5)} ${component.padEnd(10)} ${msg}`);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
    child: (c) => createLogger(level, c, write),
  };
}

export const silentLogger: Logger = createLogger('silent');
