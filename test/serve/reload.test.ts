// Reloads while serving: SIGHUP triggers one, and a refused reload is reported without changing anything.
import { expect, test } from 'bun:test';
import { EventEmitter } from 'node:events';
import { watchRules } from '../../src/serve/reload.ts';
import type { ReloadOutcome, RulesReloader } from '../../src/rules/reload.ts';
import { createMetrics } from '../../src/observability/metrics.ts';

test('each SIGHUP reloads the rules and logs the outcome: refused (an error, the rules in force keep serving), or reloaded with its hash and the settings that wait for a restart', () => {
  const outcomes: ReloadOutcome[] = [
    { ok: false, problems: ['rules.yaml:3:1: version: must be 1'] },
    { ok: true, sha256: 'abc', changed: true, restartOnly: ['listen.port'], warnings: [] },
  ];
  const reloader = { reload: () => outcomes.shift()!, current: () => { throw new Error('not read'); }, sha256: () => 'old' } as RulesReloader;
  const lines: Array<[string, string, Record<string, unknown> | undefined]> = [];
  const signals = new EventEmitter();
  const stopWatching = watchRules('rules.yaml', false, reloader, signals, {
    log: { log: (level, msg, fields) => void lines.push([level, msg, fields]) },
    metrics: createMetrics({ version: 't', commit: 't', runtime: 't' }),
  });
  expect(stopWatching).toBeUndefined();
  expect(lines).toEqual([]);
  signals.emit('SIGHUP');
  signals.emit('SIGHUP');
  expect(lines).toEqual([
    ['error', 'rules reload refused; the rules in force keep serving', { trigger: 'SIGHUP', rules: 'rules.yaml', problems: ['rules.yaml:3:1: version: must be 1'] }],
    ['info', 'rules reloaded', { trigger: 'SIGHUP', rules: 'rules.yaml', rulesSha256: 'abc', changed: true }],
    ['warn', 'changed settings take effect at the next restart', { keys: ['listen.port'] }],
  ]);
});
