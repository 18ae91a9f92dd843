// Under a mount prefix, `GET /mlflow` must become `/mlflow/` before the UI loads: MLflow's UI
// fetches `static-files/...`, `ajax-api/...` and `graphql` relative to the page, so from `/mlflow`
// they would resolve to `/static-files/...`, outside the prefix. The stripPrefix rewrite alone
// would serve the index at `/mlflow` (it maps it to `/`), with every asset then missing.
/** The Location to redirect to when a GET/HEAD names a mount prefix without its slash, else undefined. */
export function prefixRedirect(method: string, path: string, query: string, rewrites: ReadonlyArray<{ mountPrefix?: string }>): string | undefined {
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  if (!rewrites.some((rule) => rule.mountPrefix === path)) return undefined;
  // Relative to the origin the browser used (no Host is trusted to build an absolute URL); the query is kept.
  return `${path}/${query ? `?${query}` : ''}`;
}

/** A permanent-enough redirect: 302, so a later change of prefix is not cached by browsers for good. */
export function redirectResponse(location: string, requestId: string): Response {
  return new Response(null, { status: 302, headers: { location, 'cache-control': 'no-store', 'x-request-id': requestId } });
}
