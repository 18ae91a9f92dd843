// The gateway as an app: Elysia serves the gateway's own endpoints (liveness, readiness) with its
// lifecycle (onError); every other request goes to the pipeline (gateway-handler.ts, its stages
// from server.ts), and its answer goes back as the pipeline made it.
//
// Why the pipeline is not an Elysia route: a handler's Response passes through Elysia's response
// mapping, which copies it, body and all, as soon as anything has touched the context's `set`
// (headers, status or a cookie; elysia/dist/adapter/web-standard/handler.mjs mapResponse), and
// that copy re-streams a fetch() body through TextDecoder: binary bodies come out corrupted on Bun
// and the answer hangs on Deno (shared reference runtime-notes.md, elysiajs/elysia#1862). So the
// pipeline had to copy every upstream answer into a fresh Response before Elysia could see it.
// Dispatched here, before Elysia, the pipeline's Response is returned as it is, whatever hooks or
// plugins the app ever gets; Elysia keeps the endpoints it owns.
import { Elysia } from 'elysia';
import type { ReadinessResult } from './readiness.ts';
import { createGatewayHandler, type GatewayDeps } from './gateway-handler.ts';
import { asGatewayError, errorResponse } from './errors.ts';

export { readiness } from './readiness.ts';

export interface AppOptions extends GatewayDeps {
  /** Readiness beyond "rules loaded": e.g. credentials resolvable. */
  readiness?: () => Promise<ReadinessResult>;
}

export interface GatewayApp {
  /** Answers one request; `peerAddress` is the TCP peer the listener saw (the client IP unless a trusted hop says otherwise). */
  handle(request: Request, peerAddress?: string): Promise<Response>;
  /** The Elysia app serving the gateway's own endpoints. */
  readonly elysia: { handle(request: Request): Promise<Response> };
}

export function createApp(options: AppOptions): GatewayApp {
  const pipeline = createGatewayHandler(options);
  const { liveness, readiness } = options.rules().source.endpoints;
  const elysia = new Elysia()
    // Anything that escapes an endpoint still gets MLflow's shape (the pipeline catches its own errors).
    .onError(({ error }) => errorResponse(asGatewayError(error), crypto.randomUUID()))
    .get(liveness, () => new Response('{"status":"ok"}', { headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } }))
    .get(readiness, async () => {
      const result = options.readiness ? await options.readiness() : { ready: true, checks: { rules: 'ok' } };
      return new Response(JSON.stringify({ status: result.ready ? 'ready' : 'not ready', checks: result.checks }), {
        status: result.ready ? 200 : 503,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
      });
    });
  const own = [liveness, readiness];
  return {
    elysia,
    handle: (request, peerAddress) => (isOwnEndpoint(request.url, own) ? elysia.handle(request) : pipeline(request, peerAddress)),
  };
}

/**
 * Whether the URL's path is one of `paths`, with or without a trailing slash (as Elysia's router
 * matches them), whatever the query; compared in place, without splitting the URL.
 */
export function isOwnEndpoint(url: string, paths: ReadonlyArray<string>): boolean {
  const schemeEnd = url.indexOf('://');
  const start = url.indexOf('/', schemeEnd < 0 ? 0 : schemeEnd + 3);
  if (start < 0) return false;
  for (const path of paths) {
    if (!url.startsWith(path, start)) continue;
    let end = start + path.length;
    if (url.charCodeAt(end) === 47 /* / */) end++;
    if (end === url.length || url.charCodeAt(end) === 63 /* ? */ || url.charCodeAt(end) === 35 /* # */) return true;
  }
  return false;
}
