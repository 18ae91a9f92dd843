// The metrics listener's only route. It runs on its own listener (rules `metrics.host/port`),
// not beside the pipeline: the ALB-facing port never exposes client names and operation counts.
import type { GatewayMetrics } from './metrics.ts';
import { errorResponse, GatewayError } from '../errors.ts';

export function metricsHandler(path: string, metrics: GatewayMetrics): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    if (url.pathname !== path || (request.method !== 'GET' && request.method !== 'HEAD')) {
      return errorResponse(new GatewayError(404, 'ENDPOINT_NOT_FOUND', `Metrics are served at GET ${path}.`), crypto.randomUUID());
    }
    const { body, contentType } = await metrics.render();
    return new Response(request.method === 'HEAD' ? null : body, { headers: { 'content-type': contentType, 'cache-control': 'no-store' } });
  };
}
