// Rules reloads while serving: on SIGHUP and, with --watch, when the rules file changes. A refused
// reload is logged and changes nothing; the rules in force keep serving.
import type { EventEmitter } from 'node:events';
import { watchRulesFile } from '../rules/watch.ts';
import type { RulesReloader } from '../rules/reload.ts';
import type { Logger } from '../observability/log.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';

/** Returns the function that stops the file watch (undefined without --watch). */
export function watchRules(
  file: string,
  watch: boolean,
  reloader: RulesReloader,
  signals: Pick<EventEmitter, 'on'>,
  report: { log: Logger; metrics: GatewayMetrics },
): (() => void) | undefined {
  const { log, metrics } = report;
  const reload = (trigger: string) => {
    const outcome = reloader.reload();
    metrics.rulesReload(outcome.ok);
    if (!outcome.ok) {
      log.log('error', 'rules reload refused; the rules in force keep serving', { trigger, rules: file, problems: outcome.problems });
      return;
    }
    for (const warning of outcome.warnings) log.log('warn', 'rules warning', { problem: warning });
    log.log('info', 'rules reloaded', { trigger, rules: file, rulesSha256: outcome.sha256, changed: outcome.changed });
    if (outcome.restartOnly.length > 0) {
      log.log('warn', 'changed settings take effect at the next restart', { keys: outcome.restartOnly });
    }
  };
  signals.on('SIGHUP', () => reload('SIGHUP'));
  return watch ? watchRulesFile(file, () => reload('file change')) : undefined;
}
