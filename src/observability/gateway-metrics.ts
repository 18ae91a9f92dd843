// What the rest of the gateway knows of metrics, without prom-client: the interface main.ts and the
// serve builders report to, the audit sink that feeds it, and the stand-in used when no metrics
// listener is configured. prom-client (metrics.ts) is loaded only when metrics are on: it is
// ~20 ms of start-up from source and heap every garbage collection walks (test/lazy-loading.test.ts).
import type { AuditRecord, AuditSink } from './audit.ts';
import type { SpanCounts } from './tracing.ts';

export interface BuildInfo {
  version: string;
  commit: string;
  runtime: string;
}

export interface GatewayMetrics {
  /** A request entered the pipeline (it leaves when its audit record is written). */
  requestStarted(): void;
  /** Requests in the pipeline now (the drain logs it). */
  inFlight(): number;
  /** The request's one audit record: counts, latencies, bytes, failures. */
  observe(record: AuditRecord): void;
  credentialRefresh(ok: boolean): void;
  rulesReload(ok: boolean): void;
  draining(on: boolean): void;
  /** Reports the buffered request-body bytes held now (limits.maxBufferedBytes) on each scrape. */
  watchBufferedBytes(held: () => number): void;
  /** A shared rate-limit store (limits.store) is in use (true) or the buckets fell back to this host's (false). */
  rateLimitStoreShared(shared: boolean): void;
  /** Reports the tracing exporter's span counts (exported, dropped) on each scrape (rules `tracing`). */
  watchTraceSpans(counts: () => SpanCounts): void;
  /** The Prometheus text exposition and its content type. */
  render(): Promise<{ body: string; contentType: string }>;
}

/**
 * No metrics listener: nothing would ever read the metrics, so nothing is counted per request but
 * the requests in flight (the drain logs them); render() answers an empty exposition.
 */
export function uncountedMetrics(): GatewayMetrics {
  let inFlightNow = 0;
  return {
    requestStarted() {
      inFlightNow++;
    },
    inFlight: () => inFlightNow,
    observe() {
      inFlightNow--;
    },
    credentialRefresh() {},
    rulesReload() {},
    draining() {},
    watchBufferedBytes() {},
    rateLimitStoreShared() {},
    watchTraceSpans() {},
    render: async () => ({ body: '', contentType: 'text/plain; version=0.0.4; charset=utf-8' }),
  };
}

/** An audit sink that also feeds the metrics: one observer of the one record per request. */
export function meteredAudit(sink: AuditSink, metrics: GatewayMetrics): AuditSink {
  return {
    write(record) {
      metrics.observe(record);
      sink.write(record);
    },
    ...(sink.flush ? { flush: () => sink.flush!() } : {}),
  };
}
