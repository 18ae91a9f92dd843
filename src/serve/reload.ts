// Rules reloads while serving: on SIGHUP and, with --watch, when the rules file changes. A refused
// reload is logged and changes nothing; the rules in force keep serving.
//
// A reload reads, parses and compiles the file on the event loop (~7 ms for the shipped rules.yaml
// on this machine), and requests wait while it runs. A signal therefore only asks for a reload: it
// runs on a later turn of the loop, and every request for one that arrives before it runs is served
// by that same reload (it reads the file as it is then, so none is lost). A storm of SIGHUPs (a
// config tool in a loop: 1,800 in one probe, with client timeouts) costs a reload per loop turn at
// most, with the requests' I/O served in between, instead of one reload per signal back to back.
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
  let asked = 0;
  let firstTrigger = '';
  const ask = (trigger: string) => {
    if (asked++ === 0) {
      firstTrigger = trigger;
      setTimeout(() => {
        const signals = asked;
        asked = 0;
        reload(firstTrigger, signals);
      }, 0);
    }
  };
  const reload = (trigger: string, signals: number) => {
    const outcome = reloader.reload();
    const merged = signals > 1 ? { signals } : {};
    metrics.rulesReload(outcome.ok);
    if (!outcome.ok) {
      // One line: what refused it first; the file's warnings ride along, not as lines of their own before it.
      log.log('error', 'rules reload refused; the rules in force keep serving', { trigger, ...merged, rules: file, problems: outcome.problems, ...(outcome.warnings ? { warnings: outcome.warnings } : {}) });
      return;
    }
    for (const warning of outcome.warnings) log.log('warn', 'rules warning', { problem: warning });
    log.log('info', 'rules reloaded', { trigger, ...merged, rules: file, rulesSha256: outcome.sha256, changed: outcome.changed });
    if (outcome.restartOnly.length > 0) {
      log.log('warn', 'changed settings take effect at the next restart', { keys: outcome.restartOnly });
    }
  };
  signals.on('SIGHUP', () => ask('SIGHUP'));
  return watch ? watchRulesFile(file, () => ask('file change')) : undefined;
}
