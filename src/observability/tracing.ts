// What the gateway knows of tracing, without OpenTelemetry: the interface the pipeline's tracing
// stages and the I/O wrappers call. The implementation (otel.ts) loads the OpenTelemetry SDK and is
// imported only when the rules have a `tracing` section, as metrics.ts is for prom-client: with no
// section nothing of it is loaded, no stage is added and nothing is wrapped (docs/tracing.md).
import type { AuditSink } from './audit.ts';

export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/** A request's server span, as the scope (and so the audit line) holds it. */
export interface RequestTrace {
  readonly traceId: string;
  readonly spanId: string;
}

/** A client span around one I/O call, as the code that makes the call sees it. */
export interface ChildSpan {
  set(attributes: SpanAttributes): void;
  /** The W3C trace-context headers (traceparent, and tracestate when there is one) naming this span as the parent. */
  contextHeaders(): Array<[string, string]>;
}

export interface SpanCounts {
  /** Spans the collector accepted. */
  exported: number;
  /** Spans refused because the export queue (tracing.maxQueueSize) was full. */
  droppedQueueFull: number;
  /** Spans in an export that failed (collector down, refused, timed out) after its retries. */
  droppedExportFailed: number;
}

export interface Tracing {
  /**
   * Starts a request's server span, a child of the caller's span when the request carries a valid
   * W3C traceparent, and runs the rest of the pipeline with it as the parent of the spans its I/O
   * makes. The span ends when the request's audit record is written (endingSpans).
   */
  request<T>(headers: Headers, method: string, run: (trace: RequestTrace) => T): T;
  /** A client span named `name` around `run`, a child of the span in force (the request's, or none). */
  around<T>(name: string, attributes: SpanAttributes, run: (span: ChildSpan) => Promise<T>): Promise<T>;
  /** fetch with a client span per call (an identity provider's discovery document and keys). */
  readonly fetch: typeof fetch;
  /** The sink, ending each request's span with what its audit record says before writing it. */
  endingSpans(sink: AuditSink): AuditSink;
  counts(): SpanCounts;
  /** Sends the spans still queued (at shutdown, bounded by tracing.exportTimeoutMs). */
  shutdown(): Promise<void>;
}
