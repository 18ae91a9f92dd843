// The last stage: send the response back and write the request's one audit line when its body has
// been sent (or abandoned), counting the bytes on the way.
import type { AuditRecord, AuditSink } from '../observability/audit.ts';
import type { GatewayError } from '../errors.ts';
import type { RequestScope } from './receive.ts';

/** Per-request facts the audit line is made of, filled in as the stages run. */
export type Trail = Partial<Pick<AuditRecord, 'clientId' | 'authMethod' | 'upstreamPath' | 'rewrites' | 'operation' | 'policy' | 'reason' | 'wouldAllow' | 'upstreamMs'>> & {
  decision: AuditRecord['decision'];
  bytesIn: number;
};

/** Responses up to this size (by Content-Length) are logged when their headers are sent. */
const SMALL_BODY_BYTES = 64 * 1024;

/**
 * Returns the response to send and writes its audit line: at once for small bodies of known
 * length (their totalMs ends at the response headers), else when the streamed body has been fully
 * sent or abandoned, counting the bytes on the way (then totalMs includes the transfer).
 */
export function audited(response: Response, scope: RequestScope, trail: Trail, audit: AuditSink, error?: GatewayError): Response {
  let bytesOut = 0;
  let written = false;
  const finish = (incomplete: boolean) => {
    if (written) return;
    written = true;
    audit.write({
      ts: scope.receivedAt.toISOString(),
      requestId: scope.requestId,
      clientIp: scope.clientIp,
      ...(scope.userAgent ? { userAgent: scope.userAgent } : {}),
      ...(trail.clientId ? { clientId: trail.clientId, authMethod: trail.authMethod } : {}),
      method: scope.method,
      path: scope.path,
      ...(trail.upstreamPath !== undefined ? { upstreamPath: trail.upstreamPath } : {}),
      ...(trail.rewrites ? { rewrites: trail.rewrites } : {}),
      ...(trail.operation ? { operation: trail.operation } : {}),
      ...(trail.policy ? { policy: trail.policy } : {}),
      decision: trail.decision,
      ...(trail.reason ? { reason: trail.reason } : {}),
      ...(trail.wouldAllow ? { wouldAllow: trail.wouldAllow } : {}),
      status: response.status,
      ...(error ? { errorCode: error.errorCode } : {}),
      bytesIn: trail.bytesIn,
      bytesOut,
      ...(trail.upstreamMs !== undefined ? { upstreamMs: trail.upstreamMs } : {}),
      totalMs: round(performance.now() - scope.startedAt),
      ...(incomplete ? { incomplete: true } : {}),
    });
  };
  if (!response.body) {
    finish(false);
    return response;
  }
  const length = Number(response.headers.get('content-length') ?? NaN);
  if (length <= SMALL_BODY_BYTES) {
    // Most MLflow answers are small JSON with a known length: they go out on the runtime's native
    // stream path and are logged now, instead of through a JavaScript stream wrapper per response.
    bytesOut = length;
    finish(false);
    return response;
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          finish(false);
        } else {
          bytesOut += value.byteLength;
          collectAfterStreaming(value.byteLength);
          controller.enqueue(value);
        }
      } catch (failure) {
        // The upstream broke mid-body: the client sees a truncated response, the log says so.
        finish(true);
        controller.error(failure);
      }
    },
    cancel(reason) {
      // The client left mid-body; cancelling the reader closes the upstream connection too.
      finish(true);
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

// A fast download allocates a fresh buffer per chunk faster than the collector returns them (they
// are external memory, which JSC's incremental collections leave alone): a 1 GiB transfer after a
// load run peaked at 102-110 MB RSS against 78 MB at rest. A full collection every 8 MiB streamed
// (all large responses together) held the peak at ~91 MB, but cost more than half of a single
// download's throughput through the artifact API (0.39-0.45x direct S3; 1.02x without it). So the
// collection runs only when resident memory has grown by a margin since the last collection: a
// transfer whose buffers are reused pays nothing but one RSS reading per 8 MiB, and one that piles
// up garbage is collected as before. (An absolute RSS watermark does not work: RSS stays high after
// an earlier large transfer even when nothing is waiting to be collected. The collector's
// `external` count missed the download buffers: 162 MB peak.)
// Artifact uploads (src/artifacts/s3-store.ts) count their bytes here too: one budget for all streaming.
const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;
const COLLECT_AFTER_GROWTH_BYTES = 8 * 1024 * 1024;
let streamedSinceCollect = 0;
let rssAfterCollect = 0;
const bunRuntime = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
export function collectAfterStreaming(bytes: number): void {
  streamedSinceCollect += bytes;
  if (bunRuntime && streamedSinceCollect >= COLLECT_EVERY_BYTES) {
    streamedSinceCollect = 0;
    const rss = process.memoryUsage.rss();
    if (rssAfterCollect === 0 || rss > rssAfterCollect + COLLECT_AFTER_GROWTH_BYTES) {
      bunRuntime.gc(true);
      rssAfterCollect = process.memoryUsage.rss();
    }
  }
}

export function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
