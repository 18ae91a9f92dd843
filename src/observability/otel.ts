// Tracing with the OpenTelemetry JS SDK (the interface is tracing.ts; docs/tracing.md). Loaded only
// when the rules have a `tracing` section (main.ts imports it then).
//
// The SDK's own parts, not code of ours, do the protocol work: @opentelemetry/sdk-trace (spans,
// the samplers, the BatchSpanProcessor and its bounded queue), @opentelemetry/core (the W3C
// trace-context propagator), @opentelemetry/context-async-hooks (the request's span follows its
// async work through AsyncLocalStorage, so the I/O wrappers find their parent without a parameter
// through every call) and @opentelemetry/exporter-trace-otlp-http (OTLP over HTTP, JSON encoded).
// All run on Bun 1.4 and, bundled (scripts/build.sh --target=node), on Deno 2.9: the exporter's
// node:http transport and AsyncLocalStorage are in both runtimes' Node compatibility
// (test/e2e/tracing.test.ts runs both against a real collector).
//
// Nothing here registers itself globally (no trace.setGlobalTracerProvider, no global context
// manager): the tracer, the context and the propagator are this object's, so a process (a test
// file) can run a traced and an untraced gateway side by side, and no other library's
// instrumentation starts spans of its own in the gateway.
//
// A request never waits for the collector: a finished span is pushed onto the processor's queue
// (tracing.maxQueueSize); a timer sends batches; when the collector is slow or down the queue
// fills and further spans are dropped. The drops are counted through the processor's own
// self-observability counter, otel.sdk.processor.span.processed with error.type (queue_full, or the
// failed export's error), which the SDK documents as experimental: the versions are pinned and
// test/observability/otel.test.ts fails if the counter stops arriving.
import { createNoopMeter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Counter, type Meter, type MeterProvider, type Span, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import type { TracingSpec } from '../rules/schema.ts';
import type { AuditRecord, AuditSink } from './audit.ts';
import type { ChildSpan, RequestTrace, SpanAttributes, SpanCounts, Tracing } from './tracing.ts';

export interface TracingOptions {
  /** The gateway's version, for service.version and the tracer's name. */
  version: string;
  /** Told when exports start failing (spans are being dropped) and when they succeed again. */
  onExportHealth?: (ok: boolean, detail: string) => void;
}

interface OpenRequestTrace extends RequestTrace {
  readonly context: Context;
}

// The processor's counter (semantic conventions, otel.sdk.processor.span.processed).
const SPANS_PROCESSED = 'otel.sdk.processor.span.processed';
// Open request spans waiting for their audit record. Every request writes one, so the map empties
// itself; the bound only keeps a bug from growing it without end.
const MAX_OPEN_REQUESTS = 100_000;
// The SDK's largest batch (BatchSpanProcessor's default maxExportBatchSize).
const MAX_BATCH = 512;

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};
const pairSetter: TextMapSetter<Array<[string, string]>> = {
  set: (pairs, key, value) => void pairs.push([key, value]),
};

export function createTracing(settings: TracingSpec, options: TracingOptions): Tracing {
  const counts: SpanCounts = { exported: 0, droppedQueueFull: 0, droppedExportFailed: 0 };
  let failing = false;
  const processor = new BatchSpanProcessor({
    exporter: new OTLPTraceExporter({ url: settings.endpoint, headers: settings.headers, timeoutMillis: settings.exportTimeoutMs }),
    maxQueueSize: settings.maxQueueSize,
    maxExportBatchSize: Math.min(MAX_BATCH, settings.maxQueueSize),
    scheduledDelayMillis: settings.exportIntervalMs,
    exportTimeoutMillis: settings.exportTimeoutMs,
    selfObsMeterProvider: spanCountingMeterProvider((count, errorType) => {
      if (errorType === undefined) {
        counts.exported += count;
        if (failing) options.onExportHealth?.(true, 'spans are exported again');
        failing = false;
      } else if (errorType === 'queue_full') counts.droppedQueueFull += count;
      else {
        counts.droppedExportFailed += count;
        if (!failing) options.onExportHealth?.(false, `span export failed (${errorType}); spans are dropped and counted until the collector answers`);
        failing = true;
      }
    }),
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ ...settings.resourceAttributes, 'service.name': settings.serviceName, 'service.version': options.version }),
    // A caller's sampled flag decides for its trace; the ratio decides for traces the gateway starts.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('sagemaker-mlflow-proxy', options.version);
  const contexts = new AsyncLocalStorageContextManager().enable();
  const propagator = new W3CTraceContextPropagator();
  const open = new Map<string, Span>();

  const around = <T>(name: string, attributes: SpanAttributes, run: (span: ChildSpan) => Promise<T>): Promise<T> => {
    const parent = contexts.active();
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes: defined(attributes) }, parent);
    const inner = trace.setSpan(parent, span);
    const child: ChildSpan = {
      set: (more) => void span.setAttributes(defined(more)),
      contextHeaders() {
        const pairs: Array<[string, string]> = [];
        propagator.inject(inner, pairs, pairSetter);
        return pairs;
      },
    };
    let running: Promise<T>;
    try {
      running = contexts.with(inner, run, undefined, child);
    } catch (error) {
      running = Promise.reject(error);
    }
    return running.then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        failed(span, error);
        span.end();
        throw error;
      },
    );
  };

  return {
    request(headers, method, run) {
      const parent = propagator.extract(ROOT_CONTEXT, headers, headerGetter);
      const span = tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method } }, parent);
      const { traceId, spanId } = span.spanContext();
      const requestTrace: OpenRequestTrace = { traceId, spanId, context: trace.setSpan(parent, span) };
      // An unsampled span records nothing and ends as a no-op: it needs no record to end it.
      if (span.isRecording()) {
        if (open.size >= MAX_OPEN_REQUESTS) open.delete(open.keys().next().value!);
        open.set(spanId, span);
      }
      return contexts.with(requestTrace.context, run, undefined, requestTrace);
    },
    around,
    fetch: ((input: RequestInfo | URL, init?: RequestInit) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
      // No query: it can carry anything.
      return around(`${method} ${url.host}`, { 'http.request.method': method, 'server.address': url.hostname, 'url.full': `${url.origin}${url.pathname}` }, async (span) => {
        const response = await fetch(input, init);
        span.set({ 'http.response.status_code': response.status });
        return response;
      });
    }) as typeof fetch,
    endingSpans(sink) {
      return {
        write(record) {
          const span = record.spanId !== undefined ? open.get(record.spanId) : undefined;
          if (span) {
            open.delete(record.spanId!);
            endRequestSpan(span, record);
          }
          sink.write(record);
        },
        ...(sink.flush ? { flush: () => sink.flush!() } : {}),
      };
    },
    counts: () => ({ ...counts }),
    async shutdown() {
      contexts.disable();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((done) => (timer = setTimeout(done, settings.exportTimeoutMs)));
      await Promise.race([provider.shutdown().catch(() => {}), late]);
      clearTimeout(timer);
    },
  };
}

/**
 * The request's span gets what its audit record says (the record is the one place every outcome is
 * described), under the HTTP semantic conventions' names where there is one and `gateway.*` for the
 * gateway's own facts. A 5xx is an error of the server span; a 4xx is the client's (semantic
 * conventions, HTTP spans: status).
 */
function endRequestSpan(span: Span, record: AuditRecord): void {
  if (record.operation) span.updateName(`${record.method} ${record.operation}`);
  span.setAttributes(
    defined({
      'http.response.status_code': record.status,
      'url.path': record.path,
      'client.address': record.clientIp,
      'user_agent.original': record.userAgent,
      'http.request.body.size': record.bytesIn,
      'http.response.body.size': record.bytesOut,
      'error.type': record.errorCode,
      'gateway.request_id': record.requestId,
      'gateway.operation': record.operation,
      'gateway.decision': record.decision,
      'gateway.client_id': record.clientId,
      'gateway.auth_method': record.authMethod,
      'gateway.policy': record.policy,
      'gateway.upstream_path': record.upstreamPath,
      // Why it was refused or failed; an allowed request's reason only names its policy.
      'gateway.reason': record.decision === 'allowed' ? undefined : record.reason,
      'gateway.incomplete_reason': record.incomplete ? (record.incompleteReason ?? 'incomplete') : undefined,
    }),
  );
  if (record.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: record.errorCode ?? String(record.status) });
  span.end();
}

function failed(span: Span, error: unknown): void {
  const name = error instanceof Error ? ((error as { errorCode?: string }).errorCode ?? error.name) : 'Error';
  span.setAttribute('error.type', name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message.slice(0, 300) : String(error).slice(0, 300) });
}

function defined(attributes: SpanAttributes): Attributes {
  const out: Attributes = {};
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * A MeterProvider that hands the span processor's processed-spans counter to `onSpans` (with the
 * error.type of a drop) and ignores every other instrument: the gateway's metrics are prom-client's
 * (metrics.ts), which reads the totals at scrape time.
 */
function spanCountingMeterProvider(onSpans: (count: number, errorType: string | undefined) => void): MeterProvider {
  const noop = createNoopMeter();
  const meter: Meter = Object.create(noop);
  meter.createCounter = ((name: string, counterOptions?: object) => {
    if (name !== SPANS_PROCESSED) return noop.createCounter(name, counterOptions);
    const counter: Counter = {
      add(value, attributes) {
        const errorType = attributes?.['error.type'];
        onSpans(value, errorType === undefined ? undefined : String(errorType));
      },
    };
    return counter;
  }) as Meter['createCounter'];
  return { getMeter: () => meter };
}
