// The outermost stage: send the response back and write the request's one audit line, made from
// the scope alone, when its body has been sent (or abandoned), counting the bytes on the way.
import type { AuditRecord, AuditSink } from '../observability/audit.ts';
import type { Stage } from './chain.ts';
import { auditDecision, auditReason } from './scope.ts';
import { collectAfterStreaming } from '../runtime/gc-pacing.ts';
import { ShutdownCut, type GatewayError } from '../errors.ts';
import type { InFlightAudits, OpenRequest } from './in-flight.ts';
import type { RequestScope } from './scope.ts';

/**
 * Responses up to this size (by Content-Length) are logged when their headers are sent. forward
 * reads an upstream answer this small whole before answering (forward.ts), so the length logged is
 * the length sent.
 */
export const SMALL_BODY_BYTES = 64 * 1024;

export function auditLine(audit: AuditSink, inFlight?: InFlightAudits): Stage {
  if (!inFlight) {
    return async function auditLine(scope, next) {
      return audited(await next(scope), scope, audit);
    };
  }
  return async function auditLine(scope, next) {
    const entry = inFlight.open(new OpenLine(scope));
    let response: Response;
    try {
      response = await next(scope);
    } catch (error) {
      inFlight.close(entry);
      throw error;
    }
    return audited(response, scope, audit, entry, inFlight);
  };
}

/** A request in flight as the shutdown would record it if it cut it now (in-flight.ts). */
class OpenLine implements OpenRequest {
  done = false;
  /** Set once the answer's head has gone out, with the bytes of its body sent so far. */
  status = 0;
  bytesOut = 0;
  constructor(readonly scope: RequestScope) {}

  cutLine(): AuditRecord {
    // Cut before any answer: the client gets none; the gateway gave up on it (503). Cut mid-body:
    // the client got the head and part of the body.
    if (this.status === 0) return auditRecord(this.scope, 503, 0, true, undefined, new ShutdownCut());
    return { ...auditRecord(this.scope, this.status, this.bytesOut, true), reason: new ShutdownCut().detail! };
  }
}

/**
 * The audit record of a finished request. Fields are assigned in the line's order (the record's
 * insertion order is its JSON order), each only when present, instead of spreading a small object
 * per optional field: one object per request, no intermediate ones. `cut`: the shutdown ended it.
 */
export function auditRecord(scope: RequestScope, status: number, bytesOut: number, incomplete: boolean, incompleteReason?: string, cut?: GatewayError): AuditRecord {
  const error = cut ?? scope.error;
  const decision = auditDecision(scope, error);
  const reason = cut?.detail ?? auditReason(scope, decision);
  const identity = scope.identity;
  const scopeDecision = scope.decision;
  const trace = scope.trace;
  // The trace ids only with tracing on (one literal each way: an untraced line is built as before).
  const record = (
    trace
      ? { ts: scope.receivedAt.toISOString(), requestId: scope.requestId, traceId: trace.traceId, spanId: trace.spanId, clientIp: scope.clientIp }
      : { ts: scope.receivedAt.toISOString(), requestId: scope.requestId, clientIp: scope.clientIp }
  ) as AuditRecord;
  if (scope.userAgent) record.userAgent = scope.userAgent;
  if (identity) {
    record.clientId = identity.id;
    record.authMethod = identity.authMethod;
  }
  record.method = scope.method;
  record.path = scope.path;
  if (scope.upstreamPath !== undefined) record.upstreamPath = scope.upstreamPath;
  if (scope.rewrites) record.rewrites = scope.rewrites;
  if (scope.operation) record.operation = scope.operation;
  if (scopeDecision?.allowed && scopeDecision.policy) record.policy = scopeDecision.policy;
  record.decision = decision;
  if (reason) record.reason = reason;
  if (scopeDecision?.wouldAllow) record.wouldAllow = scopeDecision.wouldAllow;
  record.status = status;
  if (error) record.errorCode = error.errorCode;
  record.bytesIn = scope.bytesIn;
  record.bytesOut = bytesOut;
  if (scope.upstreamMs !== undefined) record.upstreamMs = round(scope.upstreamMs);
  record.totalMs = round(performance.now() - scope.startedAt);
  if (incomplete) {
    record.incomplete = true;
    if (incompleteReason) record.incompleteReason = incompleteReason;
  }
  return record;
}

/**
 * Returns the response to send and writes its audit line: at once for small bodies of known
 * length (their totalMs ends at the response headers), else when the streamed body has been fully
 * sent or abandoned, counting the bytes on the way (then totalMs includes the transfer).
 */
export function audited(response: Response, scope: RequestScope, audit: AuditSink, entry?: OpenLine, inFlight?: InFlightAudits): Response {
  const exchange = scope.exchange;
  const length = response.body ? Number(response.headers.get('content-length') ?? NaN) : 0;
  if (length <= SMALL_BODY_BYTES) {
    // No body, or small JSON with a known length (most MLflow answers): it goes out on the
    // runtime's native stream path and is logged now, instead of through a JavaScript stream
    // wrapper per response. Written unless a shutdown that cut the request already wrote its line.
    exchange?.close();
    if (!entry || inFlight!.close(entry)) audit.write(auditRecord(scope, response.status, length, false));
    return response;
  }
  let bytesOut = 0;
  let written = false;
  if (entry) entry.status = response.status;
  const finish = (incomplete: boolean, why?: string) => {
    if (written) return;
    written = true;
    exchange?.close();
    if (!entry || inFlight!.close(entry)) audit.write(auditRecord(scope, response.status, bytesOut, incomplete, why));
  };
  const reader = response.body!.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        // Each read from the upstream is a wait the watch times (forward's exchange): silence
        // longer than backend.timeoutSeconds between two chunks ends the answer there.
        exchange?.waiting();
        const { done, value } = await reader.read();
        exchange?.resting();
        if (done) {
          controller.close();
          finish(false);
        } else {
          bytesOut += value.byteLength;
          if (entry) entry.bytesOut = bytesOut;
          collectAfterStreaming(value.byteLength);
          controller.enqueue(value);
        }
      } catch (failure) {
        // The upstream broke mid-body, or was silent too long: the client sees a truncated response
        // (shorter than its Content-Length, or a chunked body without its last chunk); the log says
        // so and how far it got.
        const why = exchange?.ended === 'timeout'
          ? `upstream: silent for more than ${exchange.watch.timeoutMs / 1000} s mid-body (backend.timeoutSeconds)`
          : `upstream: ${failure instanceof Error ? `${failure.name}: ${failure.message}` : String(failure)}`.slice(0, 300);
        finish(true, why);
        controller.error(failure);
      }
    },
    cancel(reason) {
      // The client left mid-body; cancelling the reader closes the upstream connection too.
      finish(true, 'client went away');
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

export function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
