// Which client headers may travel upstream, and which upstream headers may travel back.
import type { RequestScope } from './scope.ts';

// Hop-by-hop headers (RFC 9110 §7.6.1, RFC 9112 §9.6): meaningful for one connection only.
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

// Never forwarded from a client: its credentials for us (used by authenticate), anything that
// chooses the target or the signature (Host, x-amz-*, both SageMaker routing headers), and the
// length, which forward recomputes for the bytes it actually sends. `expect` is not signed by AWS
// SDKs and has no use on a buffered body.
const CLIENT_ONLY = new Set([
  'authorization',
  'x-api-key',
  'host',
  'content-length',
  'expect',
  'x-mlflow-sm-tracking-server-arn',
  'x-sm-mlflow-app-arn',
  'x-request-id',
]);

/** Client headers that may go upstream, names lower case. */
export function forwardableRequestHeaders(headers: Headers): Array<[string, string]> {
  const dropped = connectionListed(headers.get('connection'));
  if (isSameOrigin(headers.get('origin'), headers.get('host'))) dropped.add('origin');
  const out: Array<[string, string]> = [];
  headers.forEach((value, rawName) => {
    const name = rawName.toLowerCase();
    if (HOP_BY_HOP.has(name) || CLIENT_ONLY.has(name) || dropped.has(name) || name.startsWith('x-amz-')) return;
    out.push([name, value]);
  });
  return out;
}

/**
 * Whether a browser's Origin is the gateway's own address (the Host it asked for): the MLflow UI
 * served through the gateway, calling its API. MLflow 3.5+ refuses state-changing API calls whose
 * Origin is neither localhost nor in its --cors-allowed-origins (mlflow/server/security_utils.py),
 * and the UI's reads are POSTs too (runs/search), so passing the gateway's public origin on would
 * break the UI unless every MLflow server listed it. A same-origin request is not cross-site by
 * definition, so its Origin is not forwarded; a cross-site Origin is, and MLflow still refuses it.
 * Host cannot be chosen by a page in another site, which is what makes the comparison sound.
 */
export function isSameOrigin(origin: string | null, host: string | null): boolean {
  if (!origin || !host) return false;
  try {
    const parsed = new URL(origin);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
    // Through the URL parser, so a default port written out (`gw:443`) compares equal to none.
    return new URL(`${parsed.protocol}//${host}`).host === parsed.host;
  } catch {
    return false; // `Origin: null` (sandboxed frames, file:) and anything unparsable
  }
}

/** Upstream response headers to pass back: everything but hop-by-hop ones (Set-Cookie kept, each one). */
export function clientResponseHeaders(upstream: Headers, requestId: string): Headers {
  const out = new Headers();
  const dropped = connectionListed(upstream.get('connection'));
  upstream.forEach((value, rawName) => {
    const name = rawName.toLowerCase();
    if (name === 'set-cookie' || HOP_BY_HOP.has(name) || dropped.has(name)) return;
    out.set(name, value);
  });
  for (const cookie of upstream.getSetCookie()) out.append('set-cookie', cookie);
  out.set('x-request-id', requestId);
  return out;
}

/** Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionListed(connection: string | null): Set<string> {
  if (!connection) return new Set();
  return new Set(connection.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
}

/**
 * Deno's fetch changes what is sent unless told otherwise (Deno 2.9, ext/fetch): it adds
 * `accept-encoding: gzip, br` and `accept-language: *` when absent, and it decodes gzip and br
 * bodies whenever the request's accept-encoding names them, while keeping the encoded
 * Content-Encoding and Content-Length (denoland/deno#35124): a proxied gzip answer reaches the
 * client decoded, labelled gzip and cut to the compressed length. Asking the backend for
 * `identity` turns the decoding off (measured) and passes the bytes through unchanged; an empty
 * Accept-Language is the nearest to "absent" Deno allows. Neither header is signed. Bun needs none
 * of this (forward passes decompress: false).
 */
export function pinDenoFetchDefaults(headers: Array<[string, string]>): Array<[string, string]> {
  const out = headers.filter(([name]) => name !== 'accept-encoding');
  out.push(['accept-encoding', 'identity']);
  if (!out.some(([name]) => name === 'accept-language')) out.push(['accept-language', '']);
  return out;
}

/** The scope's forwardable client headers, worked out once; a stage may adjust them before signing. */
export function upstreamHeadersOf(scope: RequestScope): Array<[string, string]> {
  return (scope.upstreamHeaders ??= forwardableRequestHeaders(scope.request.headers));
}
