// serve's stop sequence after SIGTERM or SIGINT: the drain itself (readiness fails, keep serving,
// close, cut) is ../shutdown.ts; this is what serve does around it and what it logs.
import type { EventEmitter } from 'node:events';
import { drainAndStop } from '../shutdown.ts';
import type { AuditSink } from '../observability/audit.ts';
import type { Logger } from '../observability/log.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { Listeners } from './listeners.ts';

type Signals = Pick<EventEmitter, 'once'>;

/** Resolves with the name of the next SIGTERM or SIGINT. */
export function nextStopSignal(signals: Signals): Promise<string> {
  return new Promise<string>((resolve) => {
    signals.once('SIGTERM', () => resolve('SIGTERM'));
    signals.once('SIGINT', () => resolve('SIGINT'));
  });
}

export interface StopPlan {
  listeners: Listeners;
  stopWatching: (() => void) | undefined;
  audit: AuditSink;
  drainSeconds: number;
  finishSeconds: number;
}

/** Called once the caller's readiness reports draining: drains, stops both listeners, flushes the audit lines. Returns the exit code. */
export async function drainThenStop(signal: string, signals: Signals, plan: StopPlan, report: { log: Logger; metrics: GatewayMetrics }): Promise<number> {
  const { log, metrics } = report;
  const { drainSeconds, finishSeconds } = plan;
  metrics.draining(true);
  plan.stopWatching?.();
  log.log('info', 'draining: readiness fails, requests are still served', { signal, drainSeconds, finishSeconds, inFlight: metrics.inFlight() });
  // Ctrl-C in a terminal has no load balancer to wait for.
  const skipDrain = signal === 'SIGINT' ? Promise.resolve() : nextStopSignal(signals);
  const result = await drainAndStop(plan.listeners.gateway, { drainMs: drainSeconds * 1000, finishMs: finishSeconds * 1000 }, skipDrain, (phase) =>
    phase === 'closing'
      ? log.log('info', 'closing the listener; waiting for requests in flight', { inFlight: metrics.inFlight() })
      : log.log('warn', 'requests still in flight were cut', { inFlight: metrics.inFlight() }),
  );
  await plan.listeners.metrics?.stop(true);
  plan.audit.flush?.();
  log.log('info', 'stopped', { signal, finished: result.finished });
  return 0;
}
