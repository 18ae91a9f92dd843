// Operational log lines (startup, reloads, credential refreshes, drain) with a level filter that
// follows the rules in force, so a reload can turn debug lines on. Same JSON-lines format as the
// per-request audit lines, which journald stores as they are.
import { logEvent, type LineWriter, type LogLevel } from './audit.ts';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(write: LineWriter, minimum: () => LogLevel): Logger {
  return {
    log(level, msg, fields) {
      if (ORDER[level] >= ORDER[minimum()]) logEvent(write, level, msg, fields);
    },
  };
}
