// The Elysia app: the gateway's own endpoints (liveness, readiness) beside the pipeline, and a
// catch-all route into the pipeline that server.ts builds. Elysia's lifecycle (onError) covers
// both; the stage order lives in server.ts alone.
import { Elysia } from 'elysia';
import type { ReadinessResult } from './readiness.ts';
import { createGatewayHandler, type GatewayDeps } from './server.ts';
import { peerAddresses } from './peer.ts';
import { asGatewayError, errorResponse } from './errors.ts';

export { readiness } from './readiness.ts';

export interface AppOptions extends GatewayDeps {
  /** Readiness beyond "rules loaded": e.g. credentials resolvable. */
  readiness?: () => Promise<ReadinessResult>;
}

/**
 * The Elysia app: the gateway's own endpoints beside the pipeline, and a catch-all route into it.
 * `parse: 'none'` keeps the body unread, so the pipeline decides whether and how to read it.
 */
export function createApp(options: AppOptions) {
  const handle = createGatewayHandler(options);
  const endpoints = options.rules().source.endpoints;
  return new Elysia()
    // Anything that escapes the pipeline (it catches its own errors) still gets MLflow's shape.
    .onError(({ error }) => errorResponse(asGatewayError(error), crypto.randomUUID()))
    .get(endpoints.liveness, () => new Response('{"status":"ok"}', { headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } }))
    .get(endpoints.readiness, async () => {
      const result = options.readiness ? await options.readiness() : { ready: true, checks: { rules: 'ok' } };
      return new Response(JSON.stringify({ status: result.ready ? 'ready' : 'not ready', checks: result.checks }), {
        status: result.ready ? 200 : 503,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
      });
    })
    .all('*', ({ request }) => handle(request, peerAddresses.get(request)), { parse: 'none' });
}
