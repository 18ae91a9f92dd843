// serve's stop sequence around the drain: what a first and a second signal do, and what is logged,
// stopped and flushed on the way out.
import { describe, expect, test } from 'bun:test';
import { EventEmitter } from 'node:events';
import { drainThenStop } from '../../src/serve/shutdown.ts';
import { sleep } from '../../src/shutdown.ts';
import type { Listener } from '../../src/listen.ts';
import { createMetrics } from '../../src/observability/metrics.ts';

function fixture() {
  const calls: string[] = [];
  const messages: string[] = [];
  const listener = (name: string): Listener => ({ port: 1, stop: async (force) => void calls.push(`${name} ${force ? 'cut' : 'stop'}`) });
  const plan = {
    listeners: { gateway: listener('gateway'), metrics: listener('metrics') },
    stopWatching: () => void calls.push('stop watching'),
    audit: { write: () => {}, flush: () => void calls.push('flush audit') },
    drainSeconds: 60,
    finishSeconds: 5,
  };
  const report = { log: { log: (_level: string, msg: string) => void messages.push(msg) }, metrics: createMetrics({ version: 't', commit: 't', runtime: 't' }) };
  return { calls, messages, plan, report, signals: new EventEmitter() };
}

describe('drainThenStop', () => {
  test('after SIGINT (Ctrl-C, no load balancer to wait for) the listener closes at once, then the metrics listener stops and the audit lines are flushed', async () => {
    const { calls, messages, plan, report, signals } = fixture();
    const started = performance.now();
    expect(await drainThenStop('SIGINT', signals, plan, report)).toBe(0);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(calls).toEqual(['stop watching', 'gateway stop', 'metrics cut', 'flush audit']);
    expect(messages).toEqual(['draining: readiness fails, requests are still served', 'closing the listener; waiting for requests in flight', 'stopped']);
  });

  test('after SIGTERM the listener keeps serving through the drain period; a second signal cuts the period short', async () => {
    const { calls, plan, report, signals } = fixture();
    const stopped = drainThenStop('SIGTERM', signals, plan, report);
    await sleep(100);
    expect(calls).toEqual(['stop watching']);
    signals.emit('SIGTERM');
    expect(await stopped).toBe(0);
    expect(calls).toEqual(['stop watching', 'gateway stop', 'metrics cut', 'flush audit']);
  });
});
