// The gateway's listener and, when metrics are enabled, the metrics listener on its own port, both
// from the rules at start-up (a changed listen or metrics section needs a restart).
import { listen, type FetchHandler, type Listener } from '../listen.ts';
import { metricsHandler } from '../observability/metrics-endpoint.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { CompiledRules } from '../rules/compile.ts';

export interface Listeners {
  gateway: Listener;
  metrics?: Listener;
}

/**
 * The gateway listener's idle timeout: above the backend timeout, so a silent backend is answered
 * by forward's own timer (504 in MLflow's shape) rather than cut by the socket. infra/ sets the
 * ALB's idle timeout between the two (infra/lib/load-balancer.ts).
 */
export function gatewayIdleTimeoutSeconds(upstreamTimeoutMs: number): number {
  return upstreamTimeoutMs / 1000 + 10;
}

export function startListeners(handle: FetchHandler, rules: CompiledRules, metrics: GatewayMetrics): Listeners {
  const startup = rules.source;
  const gateway = listen(handle, {
    hostname: startup.listen.host,
    port: startup.listen.port,
    idleTimeoutSeconds: gatewayIdleTimeoutSeconds(rules.upstreamTimeoutMs),
  });
  const metricsListener = startup.metrics.enabled
    ? listen(metricsHandler(startup.metrics.path, metrics), { hostname: startup.metrics.host, port: startup.metrics.port, idleTimeoutSeconds: 30 })
    : undefined;
  return { gateway, ...(metricsListener ? { metrics: metricsListener } : {}) };
}
