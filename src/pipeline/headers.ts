// Which client headers may travel upstream, and which upstream headers may travel back.

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
  const out: Array<[string, string]> = [];
  headers.forEach((value, rawName) => {
    const name = rawName.toLowerCase();
    if (HOP_BY_HOP.has(name) || CLIENT_ONLY.has(name) || dropped.has(name) || name.startsWith('x-amz-')) return;
    out.push([name, value]);
  });
  return out;
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
