// Prometheus metrics, kept as an observer of the per-request audit record: every request already
// ends in exactly one AuditRecord (pipeline/audit-line.ts), so counting there sees every outcome
// once, with no metric calls spread through the pipeline stages. The few facts that are not
// requests (credential refreshes, rule reloads, in-flight starts, draining) are reported by main.ts.
//
// prom-client (15.1.3) is used because it runs unchanged on Bun and, bundled, on Deno. Its default
// process metrics are on, under their standard names (process_resident_memory_bytes,
// process_cpu_seconds_total, process_open_fds, nodejs_eventloop_lag_seconds, ...), which dashboards
// and alerts for any Node-style service already use: they are read at scrape time, nothing per
// request. Both runtimes provide them (checked on Bun 1.4 and Deno 2.9, without --allow-read: what a
// runtime cannot read, prom-client leaves out rather than fail the scrape).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AuditRecord } from './audit.ts';
import { uncountedMetrics, type BuildInfo, type GatewayMetrics } from './gateway-metrics.ts';
import type { SpanCounts } from './tracing.ts';

// What callers of this module used to find here; gateway-metrics.ts has them without prom-client.
export { meteredAudit, uncountedMetrics, type BuildInfo, type GatewayMetrics } from './gateway-metrics.ts';

const PREFIX = 'sagemaker_mlflow_proxy_';

// Seconds. MLflow calls are mostly small JSON (ms), uploads and searches can take seconds, and the
// backend timeout is 120 s.
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * The `client` label: a configured client id, `anonymous`, or `none` before authentication. A token
 * holder that no configured client lists acts under its token subject (auth/identity.ts): one series
 * per user would grow without bound, so those are labelled by sign-in method (`unlisted-jwt`).
 */
export function clientLabel(record: Pick<AuditRecord, 'clientId' | 'authMethod'>, isConfigured: (id: string) => boolean): string {
  if (!record.clientId) return 'none';
  if (record.authMethod === 'anonymous' || isConfigured(record.clientId)) return record.clientId;
  return `unlisted-${record.authMethod ?? 'unknown'}`;
}

/**
 * Counts kept in plain numbers on the hot path and handed to a prom-client Counter when it is
 * scraped (its `collect` hook): `Counter.inc(labels)` hashes the label object on every call, which
 * cost more than the rest of a request's metric work together (bench/hot-path.ts).
 */
class Tally<L extends string> {
  private readonly series = new Map<string, { labels: Record<L, string>; value: number }>();
  constructor(private readonly names: ReadonlyArray<L>) {}
  add(value: number, ...labelValues: string[]): void {
    const key = labelValues.join('\u0000');
    const entry = this.series.get(key);
    if (entry) entry.value += value;
    else {
      const labels = {} as Record<L, string>;
      this.names.forEach((name, i) => (labels[name] = labelValues[i]!));
      this.series.set(key, { labels, value });
    }
  }
  /** Writes the totals into the counter (called from its collect hook, at scrape time). */
  flushInto(counter: Counter<L>): void {
    counter.reset();
    for (const { labels, value } of this.series.values()) counter.inc(labels, value);
  }
}

/** A counter without labels: a number, handed over at scrape time. */
function plainCounter(config: { name: string; help: string; registers: Registry[] }): { add(n: number): void } {
  let total = 0;
  new Counter({
    ...config,
    collect() {
      this.reset();
      this.inc(total);
    },
  });
  return { add: (n) => void (total += n) };
}

/** Labelled counts, tallied in plain numbers and handed over at scrape time. */
function tallyCounter<L extends string>(config: { name: string; help: string; labelNames: ReadonlyArray<L>; registers: Registry[] }): Tally<L> {
  const tally = new Tally<L>(config.labelNames);
  new Counter<L>({
    ...config,
    collect() {
      tally.flushInto(this);
    },
  });
  return tally;
}

export interface MetricsOptions {
  /** False: uncountedMetrics() (no metrics listener; main.ts then does not even load this module). */
  enabled?: boolean;
}

export function createMetrics(build: BuildInfo, isConfiguredClient: (id: string) => boolean = () => true, options: MetricsOptions = {}): GatewayMetrics {
  if (options.enabled === false) return uncountedMetrics();
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  // Labels stay bounded: operation is from the fixed MLflow table (or "none"), client see
  // clientLabel, decision and status class are enums.
  const requests = tallyCounter({
    name: `${PREFIX}requests_total`,
    help: 'Requests by MLflow operation, status class, client and decision.',
    labelNames: ['operation', 'status_class', 'client', 'decision'] as const,
    registers,
  });
  const duration = new Histogram({
    name: `${PREFIX}request_duration_seconds`,
    help: 'Time from receiving a request to its response (its body, when streamed) being sent.',
    labelNames: ['status_class'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const upstream = new Histogram({
    name: `${PREFIX}upstream_duration_seconds`,
    help: 'Time until the backend\'s response headers arrived.',
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const bytesIn = plainCounter({ name: `${PREFIX}request_bytes_total`, help: 'Request body bytes received from clients.', registers });
  const bytesOut = plainCounter({ name: `${PREFIX}response_bytes_total`, help: 'Response body bytes sent to clients.', registers });
  let inFlightNow = 0;
  new Gauge({
    name: `${PREFIX}requests_in_flight`,
    help: 'Requests being handled now.',
    registers,
    collect() {
      this.set(inFlightNow);
    },
  });
  const authFailures = plainCounter({
    name: `${PREFIX}auth_failures_total`,
    help: 'Requests whose credentials were missing, wrong, or could not be checked (identity provider unreachable).',
    registers,
  });
  const denials = tallyCounter({
    name: `${PREFIX}denied_requests_total`,
    help: 'Requests refused by the client\'s policies (403), by client and operation.',
    labelNames: ['client', 'operation'] as const,
    registers,
  });
  const rateLimited = tallyCounter({
    name: `${PREFIX}rate_limited_requests_total`,
    help: 'Requests refused with 429 because the client is over its rate limit.',
    labelNames: ['client'] as const,
    registers,
  });
  const signingFailures = plainCounter({
    name: `${PREFIX}signing_failures_total`,
    help: 'Requests that could not be signed (no usable credentials; answered 503).',
    registers,
  });
  const bufferRefusals = plainCounter({
    name: `${PREFIX}buffer_budget_refusals_total`,
    help: 'Requests refused with 503 because buffered request bodies were at limits.maxBufferedBytes.',
    registers,
  });
  let heldBytes: () => number = () => 0;
  new Gauge({
    name: `${PREFIX}buffered_body_bytes`,
    help: 'Request-body bytes held in memory now (read whole for signing, conditions or GraphQL).',
    registers,
    collect() {
      this.set(heldBytes());
    },
  });
  const refreshes = new Counter({
    name: `${PREFIX}credential_refreshes_total`,
    help: 'Signing-credential refreshes by result.',
    labelNames: ['result'] as const,
    registers,
  });
  const reloads = new Counter({
    name: `${PREFIX}rule_reloads_total`,
    help: 'Rules-file reloads by result (a failed reload keeps the rules in force).',
    labelNames: ['result'] as const,
    registers,
  });
  const drainingGauge = new Gauge({ name: `${PREFIX}draining`, help: '1 while shutting down (readiness fails).', registers });
  const buildInfo = new Gauge({
    name: `${PREFIX}build_info`,
    help: 'Always 1; the labels name the build.',
    labelNames: ['version', 'commit', 'runtime'] as const,
    registers,
  });
  buildInfo.set({ version: build.version, commit: build.commit, runtime: build.runtime }, 1);
  // Zero-valued series from the start, so a rate() over a fresh process has something to read.
  for (const result of ['ok', 'failed']) {
    refreshes.inc({ result }, 0);
    reloads.inc({ result }, 0);
  }
  drainingGauge.set(0);
  // Registered on first use (limits.store is valkey): an unlabelled gauge would otherwise read 0,
  // "fell back", on hosts whose buckets were never meant to be shared.
  let store: { shared: Gauge; fallbacks: Counter } | undefined;
  const storeMetrics = () =>
    (store ??= {
      shared: new Gauge({
        name: `${PREFIX}rate_limit_store_shared`,
        help: '1 while rate limits and failed sign-ins are counted in the shared store (limits.store); 0 while this host counts them alone (the store is unreachable and limits fail open).',
        registers,
      }),
      fallbacks: new Counter({
        name: `${PREFIX}rate_limit_store_fallbacks_total`,
        help: 'Times the shared rate-limit store stopped answering and this host fell back to its own buckets.',
        registers,
      }),
    });

  // Registered when tracing is on (rules `tracing`); read from the exporter's counts at scrape time.
  const watchTraceSpans = (counts: () => SpanCounts) => {
    new Counter({
      name: `${PREFIX}trace_spans_exported_total`,
      help: 'Spans the OpenTelemetry collector accepted (rules tracing).',
      registers,
      collect() {
        this.reset();
        this.inc(counts().exported);
      },
    });
    new Counter({
      name: `${PREFIX}trace_spans_dropped_total`,
      help: 'Spans not delivered: queue_full (tracing.maxQueueSize reached while the collector was slow or down) or export_failed (the collector refused the batch or did not answer in time). Requests never wait for the collector.',
      labelNames: ['reason'] as const,
      registers,
      collect() {
        const now = counts();
        this.reset();
        this.inc({ reason: 'queue_full' }, now.droppedQueueFull);
        this.inc({ reason: 'export_failed' }, now.droppedExportFailed);
      },
    });
  };

  // The histogram's child per status class, made once: no label object is built per request.
  const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];
  const durationOf = STATUS_CLASSES.map((status_class) => duration.labels({ status_class }));
  return {
    requestStarted() {
      inFlightNow++;
    },
    inFlight: () => inFlightNow,
    observe(record) {
      inFlightNow--;
      const classIndex = Math.floor(record.status / 100) - 1;
      const statusClass = STATUS_CLASSES[classIndex] ?? `${Math.floor(record.status / 100)}xx`;
      const client = clientLabel(record, isConfiguredClient);
      // A GraphQL request's audit operation lists what it asked (`GraphQL:GetRun,SearchRuns`); one
      // label for all of them keeps the series count bounded.
      const operation = record.operation?.startsWith('GraphQL') ? 'GraphQL' : record.operation ?? 'none';
      requests.add(1, operation, statusClass, client, record.decision);
      (durationOf[classIndex] ?? duration.labels({ status_class: statusClass })).observe(record.totalMs / 1000);
      if (record.upstreamMs !== undefined) upstream.observe(record.upstreamMs / 1000);
      if (record.bytesIn > 0) bytesIn.add(record.bytesIn);
      if (record.bytesOut > 0) bytesOut.add(record.bytesOut);
      if (record.decision === 'unauthenticated') authFailures.add(1);
      else if (record.decision === 'denied') denials.add(1, client, operation);
      else if (record.decision === 'rate-limited') rateLimited.add(1, client);
      // The buffer budget's 503 is told apart by its error code, wherever in the pipeline it happened.
      else if (record.status === 503 && record.errorCode === 'RESOURCE_EXHAUSTED') bufferRefusals.add(1);
      // Past authentication (whose 503s count as auth failures), SigningFailed is the gateway's other 503.
      else if (record.decision === 'gateway' && record.status === 503) signingFailures.add(1);
    },
    credentialRefresh: (ok) => refreshes.inc({ result: ok ? 'ok' : 'failed' }),
    rulesReload: (ok) => reloads.inc({ result: ok ? 'ok' : 'failed' }),
    draining: (on) => drainingGauge.set(on ? 1 : 0),
    watchBufferedBytes: (held) => void (heldBytes = held),
    rateLimitStoreShared(shared) {
      const { shared: gauge, fallbacks } = storeMetrics();
      gauge.set(shared ? 1 : 0);
      // Every report of false is a fall-back, the one at start-up (store not answering) included.
      if (!shared) fallbacks.inc();
    },
    watchTraceSpans,
    render: async () => ({ body: await registry.metrics(), contentType: registry.contentType }),
  };
}
