// The request's spans, as stages (in the list only when the rules have a `tracing` section, so an
// untraced gateway runs none of this): the server span around the whole pipeline, and the client
// span around the upstream call. The spans of the other I/O (an identity provider's keys, the shared
// rate-limit store, credential refreshes, S3) are made where that I/O is (docs/tracing.md).
import type { Stage } from './chain.ts';
import type { Tracing } from '../observability/tracing.ts';

/**
 * Outermost: the server span, continuing the client's W3C traceparent when it sent a valid one. It
 * ends with the request's audit record (Tracing.endingSpans), so it covers a streamed body too and
 * carries the record's operation, decision, client, status and bytes.
 */
export function requestTracing(tracing: Tracing): Stage {
  return function requestTracing(scope, next) {
    return tracing.request(scope.request.headers, scope.method, (trace) => {
      scope.trace = trace;
      return next(scope);
    });
  };
}

// W3C Trace Context §3: the two headers that carry a trace to the next hop.
const TRACE_CONTEXT_HEADERS = new Set(['traceparent', 'tracestate']);

/**
 * The upstream call as a client span, from the request leaving to the upstream's response headers.
 * A self-hosted MLflow gets this span as its traceparent (an MLflow run under OpenTelemetry
 * instrumentation joins the trace). SageMaker gets none: the managed service emits no spans of its
 * own to anyone's collector, and the gateway sends it only the headers its signature covers and
 * MLflow's own (docs/tracing.md).
 */
export function tracedForwarding(tracing: Tracing, forwarding: Stage, passTraceContext: boolean): Stage {
  return function tracedForwarding(scope, next) {
    const outgoing = scope.outgoing!;
    const queryAt = outgoing.url.indexOf('?');
    const attributes = {
      'http.request.method': outgoing.method,
      // No query: it can carry anything (the audit line leaves it out too).
      'url.full': queryAt < 0 ? outgoing.url : outgoing.url.slice(0, queryAt),
      'gateway.operation': scope.operation,
    };
    return tracing.around(`upstream ${scope.operation ?? scope.method}`, attributes, async (span) => {
      if (passTraceContext) {
        // The gateway's span is the upstream's parent, whatever a client listed in forwardHeaders sent.
        outgoing.headers = outgoing.headers.filter(([name]) => !TRACE_CONTEXT_HEADERS.has(name));
        outgoing.headers.push(...span.contextHeaders());
      }
      const response = await forwarding(scope, next);
      span.set({ 'http.response.status_code': response.status });
      return response;
    });
  };
}
