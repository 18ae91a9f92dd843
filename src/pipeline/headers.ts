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

// What goes upstream from a client is an allowlist (issue 13 item 6): a denylist let through every
// header nobody had thought of, and the attack probe found Cookie (with the gateway's own
// auth.jwtCookie token), the ALB's x-amzn-oidc-accesstoken and -identity, X-HTTP-Method-Override,
// X-Original-URL, Forwarded and X-Real-Ip sent on to SageMaker. MLflow's clients send a small known
// set, and that is what passes (plus backend.forwardHeaders):
//   - the Python client, mlflow/utils/rest_utils.py over requests: User-Agent
//     (mlflow-python-client/V, default_request_header_provider.py), X-MLflow-Client-Version (3.x),
//     X-MLFLOW-WORKSPACE (3.x workspaces), Content-Type (JSON, or the artifact's type in
//     http_artifact_repo.py), and requests' own Accept, Accept-Encoding;
//   - the UI's fetch() helpers (mlflow/server/js): Content-Type, Accept, X-MLFLOW-WORKSPACE and a
//     browser's Accept-Language, Origin (cross-site only, see isSameOrigin), Cache-Control, and the
//     conditional and range headers of static files and artifact downloads a self-hosted MLflow
//     serves (If-None-Match, If-Modified-Since, Range, If-Range);
//   - the OTLP span export to /v1/traces (mlflow/tracing/utils/otlp.py, read by
//     mlflow/server/otel_api.py): X-Mlflow-Experiment-Id, which the server requires (422 without it,
//     and the client drops the spans at debug level), and X-Mlflow-Run-Id;
//   - Content-Encoding, which says how the body it travels with is encoded.
// Everything else is dropped; the stage that selects them logs the dropped names at debug level.
export const FORWARDED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'accept-encoding',
  'accept-language',
  'cache-control',
  'content-encoding',
  'content-type',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'origin',
  'range',
  'user-agent',
  'x-mlflow-client-version',
  'x-mlflow-experiment-id',
  'x-mlflow-run-id',
  'x-mlflow-workspace',
]);

// Never forwarded, not even when listed in backend.forwardHeaders: the client's credentials for
// the gateway (authenticate reads them; Cookie may carry auth.jwtCookie, x-amzn-oidc-* are the
// ALB's), anything that chooses the target or the signature (Host, x-amz-*, both SageMaker routing
// headers), the framing the gateway recomputes for the bytes it sends, and the request id it sets.
const GATEWAY_ONLY = new Set([
  'authorization',
  'x-api-key',
  'cookie',
  'host',
  'content-length',
  'expect',
  'x-mlflow-sm-tracking-server-arn',
  'x-sm-mlflow-app-arn',
  'x-request-id',
]);

/** Why a header may never be forwarded from a client, or undefined when it may (backend.forwardHeaders). */
export function neverForwarded(name: string): string | undefined {
  // `_` as `-`: WSGI servers (MLflow's gunicorn and uvicorn) read X_Amzn_Mtls_Clientcert as the dashed name.
  const lower = name.toLowerCase().replace(/_/g, '-');
  if (HOP_BY_HOP.has(lower)) return 'a hop-by-hop header (RFC 9110 §7.6.1) belongs to one connection';
  if (lower.startsWith('x-amz-') || lower.startsWith('x-amzn-oidc-')) return 'AWS signing and ALB sign-in headers are set by the gateway or the load balancer, never by a client';
  if (lower.startsWith('x-amzn-mtls-')) return 'the ALB\'s client-certificate headers are the gateway\'s credentials (auth.albMtls), never the backend\'s';
  if (GATEWAY_ONLY.has(lower)) return 'the gateway consumes or sets this header itself (credentials, target, framing, request id)';
  return undefined;
}

// Consumed or replaced by the gateway as a matter of course: not worth a line when dropped.
const ROUTINE = new Set([...HOP_BY_HOP, 'authorization', 'x-api-key', 'host', 'content-length', 'x-request-id']);

/**
 * Client headers that may go upstream, names lower case: those in `allowed` (and not listed in
 * Connection, nor a same-origin Origin). Names dropped for any other reason than being routine are
 * pushed onto `dropped`, for the debug log.
 */
export function forwardableRequestHeaders(headers: Headers, allowed: ReadonlySet<string> = FORWARDED_REQUEST_HEADERS, dropped?: string[]): Array<[string, string]> {
  const connection = headers.get('connection');
  const origin = headers.get('origin');
  selection.allowed = allowed;
  selection.listed = connection ? connectionListed(connection) : NONE_LISTED;
  selection.sameOrigin = origin !== null && isSameOrigin(origin, headers.get('host'));
  selection.out = [];
  selection.dropped = dropped;
  // forEach with a named function and this one state object, not a closure per request; forEach is
  // synchronous, so one request's pass never interleaves with another's.
  headers.forEach(selectField);
  const out = selection.out;
  selection.out = selection.dropped = undefined;
  return out;
}

const NONE_LISTED: ReadonlySet<string> = new Set();
const selection: { allowed: ReadonlySet<string>; listed: ReadonlySet<string>; sameOrigin: boolean; out: Array<[string, string]> | undefined; dropped: string[] | undefined } = {
  allowed: FORWARDED_REQUEST_HEADERS,
  listed: NONE_LISTED,
  sameOrigin: false,
  out: undefined,
  dropped: undefined,
};
function selectField(value: string, rawName: string): void {
  const name = rawName.toLowerCase();
  const origin = name === 'origin' && selection.sameOrigin;
  if (selection.allowed.has(name) && !origin && !selection.listed.has(name)) selection.out!.push([name, value]);
  else if (selection.dropped && !ROUTINE.has(name) && !origin && !(name === 'origin' && selection.listed.has(name))) selection.dropped.push(name);
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

// Deno's fetch gives a Response whose headers are immutable (the fetch standard's "immutable"
// guard: set and delete throw); Bun's may be edited. Measured on Bun 1.4.4 and Deno 2.9.6.
const FETCH_HEADERS_MUTABLE = !('Deno' in globalThis);

/**
 * The upstream's response headers as the client gets them: the block as it came, every Set-Cookie
 * on its own, less the hop-by-hop fields and those the upstream's Connection names, plus the
 * request id. Copied whole, not field by field: on Bun the fetch Response's own Headers are edited
 * in place, on Deno (immutable) copied once natively. `hopByHop`: whether the block has any
 * hop-by-hop field at all (forward learns it while measuring the block); most have none.
 */
export function clientResponseHeaders(upstream: Headers, requestId: string, hopByHop = true): Headers {
  const headers = FETCH_HEADERS_MUTABLE ? upstream : new Headers(upstream);
  if (hopByHop) {
    for (const name of connectionListed(headers.get('connection'))) headers.delete(name);
    for (const name of HOP_BY_HOP) headers.delete(name);
  }
  headers.set('x-request-id', requestId);
  return headers;
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

/**
 * The scope's forwardable client headers, as the header selection stage chose them
 * (upstream-headers.ts); a stage may adjust them before signing. Without that stage in the list
 * (a stage tested alone), the default allowlist.
 */
export function upstreamHeadersOf(scope: RequestScope): Array<[string, string]> {
  return (scope.upstreamHeaders ??= forwardableRequestHeaders(scope.request.headers));
}
