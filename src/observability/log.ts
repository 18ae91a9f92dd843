// Operational log lines (startup, reloads, credential refreshes, drain) with a level filter that
// follows the rules in force, so a reload can turn debug lines on. Same JSON-lines format as the
// per-request audit lines, which journald stores as they are; under systemd each line also
// carries its priority, so `journalctl -p err` finds the errors.
import { logEvent, type LineWriter, type LogLevel } from './audit.ts';
import { priorityPrefix } from './journal.ts';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  /** Whether a line of this level would be written now (so its fields need not be gathered otherwise); absent: always. */
  enabled?(level: LogLevel): boolean;
}

/** `journal`: stdout is the systemd journal, so each line carries its syslog priority (journal.ts). */
export function createLogger(write: LineWriter, minimum: () => LogLevel, options: { journal?: boolean } = {}): Logger {
  const journal = options.journal === true;
  const enabled = (level: LogLevel) => ORDER[level] >= ORDER[minimum()];
  return {
    enabled,
    log(level, msg, fields) {
      if (enabled(level)) logEvent(write, level, msg, fields, priorityPrefix(journal, level));
    },
  };
}
