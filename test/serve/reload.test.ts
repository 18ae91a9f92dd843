// Reloads while serving: SIGHUP triggers one, a refused reload is reported without changing anything,
// and a storm of signals never turns into reloads back to back on the event loop.
import { expect, test } from 'bun:test';
import { EventEmitter } from 'node:events';
import { watchRules } from '../../src/serve/reload.ts';
import type { ReloadOutcome, RulesReloader } from '../../src/rules/reload.ts';
import { createMetrics } from '../../src/observability/metrics.ts';

const nextTurn = () => new Promise<void>((done) => setTimeout(done, 0));

function watching(outcomes: ReloadOutcome[]) {
  let reloads = 0;
  const reloader = { reload: () => (reloads++, outcomes.shift()!), current: () => { throw new Error('not read'); }, sha256: () => 'old' } as RulesReloader;
  const lines: Array<[string, string, Record<string, unknown> | undefined]> = [];
  const signals = new EventEmitter();
  const stopWatching = watchRules('rules.yaml', false, reloader, signals, {
    log: { log: (level, msg, fields) => void lines.push([level, msg, fields]) },
    metrics: createMetrics({ version: 't', commit: 't', runtime: 't' }),
  });
  return { lines, signals, stopWatching, reloads: () => reloads };
}

test('each SIGHUP reloads the rules and logs the outcome: refused (an error, the rules in force keep serving), or reloaded with its hash and the settings that wait for a restart', async () => {
  const { lines, signals, stopWatching } = watching([
    { ok: false, problems: ['rules.yaml:3:1: version: must be 1'], warnings: ['rules.yaml:9:3: policies.p: warning: policy "p" is not used'] },
    { ok: true, sha256: 'abc', changed: true, restartOnly: ['listen.port'], warnings: [] },
  ]);
  expect(stopWatching).toBeUndefined();
  expect(lines).toEqual([]);
  signals.emit('SIGHUP');
  await nextTurn();
  signals.emit('SIGHUP');
  await nextTurn();
  expect(lines).toEqual([
    // The error that refused it is the one line; the file's warnings ride along in it.
    ['error', 'rules reload refused; the rules in force keep serving', { trigger: 'SIGHUP', rules: 'rules.yaml', problems: ['rules.yaml:3:1: version: must be 1'], warnings: ['rules.yaml:9:3: policies.p: warning: policy "p" is not used'] }],
    ['info', 'rules reloaded', { trigger: 'SIGHUP', rules: 'rules.yaml', rulesSha256: 'abc', changed: true }],
    ['warn', 'changed settings take effect at the next restart', { keys: ['listen.port'] }],
  ]);
});

test('a storm of SIGHUPs never reloads inside the signal handler: 100 signals before the loop turns are one reload, logged with the count', async () => {
  const { lines, signals, reloads } = watching([{ ok: true, sha256: 'abc', changed: true, restartOnly: [], warnings: [] }]);
  for (let i = 0; i < 100; i++) signals.emit('SIGHUP');
  expect(reloads()).toBe(0); // requests already waiting on the loop go first
  await nextTurn();
  expect(reloads()).toBe(1);
  expect(lines).toEqual([['info', 'rules reloaded', { trigger: 'SIGHUP', signals: 100, rules: 'rules.yaml', rulesSha256: 'abc', changed: true }]]);
});
