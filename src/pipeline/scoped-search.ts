// The scoped search stage: a search or list that only scoped grants allowed (authorize wrote
// scope.scopedRows) is answered by the gateway itself, from the backend's pages, with only the rows
// one of those grants covers, pages refilled to max_results (scopes/pages.ts). Every other request
// passes through untouched. The backend pages are asked with the caller's own credentials (its role,
// or the host's), signed like any request of that caller (own-calls.ts), with the client's search
// parameters unchanged but for the page token and size.
import type { Stage } from './chain.ts';
import type { RequestScope, ScopedRows } from './scope.ts';
import type { GraphqlRows } from '../scopes/graphql-scopes.ts';
import type { OwnCalls, OwnerLookups } from '../scopes/owners.ts';
import { ROW_KINDS, rowVisible } from '../scopes/rows.ts';
import { decodeCursor, scopedPage, type BackendPage } from '../scopes/pages.ts';
import { credentialCacheFor, credentialsOf, type CredentialSources } from '../aws/identity-credentials.ts';
import { mayHaveBody, readBodyWithCap } from '../http/read-body.ts';
import { BadRequest, GatewayError, UpstreamUnavailable } from '../errors.ts';
import { spellings } from '../scopes/request-values.ts';

export interface ScopedSearchSettings {
  calls: OwnCalls;
  owners: OwnerLookups;
  credentials: CredentialSources;
  maxBodyBytes: number;
  /** lookups.maxSearchPages */
  maxPages: number;
}

/** The backend answered a page with an error: passed to the client as it is (status and body). */
class BackendAnswered extends Error {
  constructor(readonly status: number, readonly json: unknown) {
    super('backend error');
  }
}

export function scopedSearching(settings: ScopedSearchSettings): Stage {
  return function scopedSearching(scope, next) {
    if (scope.scopedRows) return answerScopedSearch(scope, scope.scopedRows, settings);
    if (scope.scopedGraphqlRows) return filterGraphqlAnswer(scope, scope.scopedGraphqlRows, settings.owners, next);
    return next(scope);
  };
}

/**
 * A GraphQL answer for a scoped caller: every list under a model-versions key (graphql-scopes.ts)
 * keeps the rows one of the grants covers; a row without its `name` is dropped. The UI's pages are
 * not refilled (its run page lists a run's versions whole; mlflowSearchModelVersions pages may be
 * short). An answer that is not JSON (an error page) passes as it is.
 */
async function filterGraphqlAnswer(scope: RequestScope, rows: GraphqlRows, owners: OwnerLookups, next: (scope: RequestScope) => Promise<Response>): Promise<Response> {
  // The answer is read here, so it must come uncompressed: a compressed one could not be filtered.
  scope.upstreamHeaders = (scope.upstreamHeaders ?? []).filter(([name]) => name !== 'accept-encoding');
  const response = await next(scope);
  const encoding = response.headers.get('content-encoding');
  if (encoding && encoding !== 'identity') {
    await response.body?.cancel().catch(() => {});
    throw new UpstreamUnavailable(`a GraphQL answer for a scoped caller came ${encoding}-encoded, so its model versions could not be filtered`);
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return new Response(text, response);
  }
  const keys = new Set(rows.keys);
  const visit = async (node: unknown): Promise<unknown> => {
    if (Array.isArray(node)) return Promise.all(node.map(visit));
    if (!node || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (keys.has(key) && Array.isArray(value)) {
        const kept = await Promise.all(value.map((row) => rowVisible(row, ROW_KINDS.modelVersions, rows.grants, scope.identity!, owners, scope.requestId)));
        out[key] = value.filter((_, i) => kept[i]);
      } else {
        out[key] = await visit(value);
      }
    }
    return out;
  };
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  return new Response(JSON.stringify(await visit(json)), { status: response.status, statusText: response.statusText, headers });
}

async function answerScopedSearch(scope: RequestScope, filter: ScopedRows, settings: ScopedSearchSettings): Promise<Response> {
  const kind = ROW_KINDS[filter.filter];
  const parameters = await searchParameters(scope, settings.maxBodyBytes);
  const want = positiveInteger(parameters.get('max_results')) ?? kind.defaultMaxResults;
  const cursor = decodeCursor(parameters.get('page_token'));
  const cache = credentialCacheFor(scope.identity!, settings.credentials);
  const credentials = cache ? () => credentialsOf(cache) : undefined;
  const started = performance.now();

  const fetchPage = async (token: string | undefined, size: number): Promise<BackendPage> => {
    const answer = await settings.calls({
      method: scope.method === 'GET' ? 'GET' : 'POST',
      path: scope.upstreamPath!,
      ...(kind.paged ? parameters.forPage(token, size) : parameters.asSent()),
      requestId: scope.requestId,
      ...(credentials ? { credentials } : {}),
    }).catch((error: unknown) => {
      throw error instanceof GatewayError ? error : new UpstreamUnavailable(error instanceof Error ? error.message : String(error));
    });
    if (answer.status !== 200) throw new BackendAnswered(answer.status, answer.json);
    const json = (answer.json ?? {}) as Record<string, unknown>;
    const rows = json[kind.rows] ?? [];
    if (!Array.isArray(rows)) throw new UpstreamUnavailable(`the backend's search answer has no list "${kind.rows}"`);
    return { rows, ...(typeof json.next_page_token === 'string' && json.next_page_token ? { next: json.next_page_token } : {}) };
  };

  try {
    if (!kind.paged) {
      // One list, asked with the client's parameters as they are, its rows kept to the scope.
      const all = await fetchPage(undefined, 0);
      const shown = await Promise.all(all.rows.map((row) => rowVisible(row, kind, filter.grants, scope.identity!, settings.owners, scope.requestId)));
      return json(200, { [kind.rows]: all.rows.filter((_, i) => shown[i]) }, scope.requestId);
    }
    const page = await scopedPage({
      want,
      cursor,
      maxPages: settings.maxPages,
      fetchPage,
      visible: (row) => rowVisible(row, kind, filter.grants, scope.identity!, settings.owners, scope.requestId),
    });
    // MLflow leaves an empty list out of its JSON (message_to_json), and so does this.
    return json(200, { ...(page.rows.length ? { [kind.rows]: page.rows } : {}), ...(page.next ? { next_page_token: page.next } : {}) }, scope.requestId);
  } catch (error) {
    if (error instanceof BackendAnswered) return json(error.status, error.json ?? {}, scope.requestId);
    throw error;
  } finally {
    scope.upstreamMs = performance.now() - started;
  }
}

/**
 * The gateway's own answer, named like a forwarded one (headers.ts clientResponseHeaders): its
 * request id, so a browser's or a client's answer can be matched to its audit line, and its length,
 * so the audit stage counts it without wrapping the body.
 */
function json(status: number, body: unknown, requestId: string): Response {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  return new Response(bytes, { status, headers: { 'content-type': 'application/json', 'content-length': String(bytes.byteLength), 'x-request-id': requestId } });
}

function positiveInteger(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

interface SearchParameters {
  get(name: 'max_results' | 'page_token'): string | undefined;
  /** The client's request for one backend page: its own parameters, this page's token and size. */
  forPage(token: string | undefined, size: number): { query?: string; body?: unknown };
  /** The client's parameters as sent (an unpaged list). */
  asSent(): { query?: string; body?: unknown };
}

/**
 * The client's search parameters, where MLflow reads them: the query of a GET, else the JSON body
 * (both spellings of the paging fields; a double-encoded body decoded as MLflow does).
 */
async function searchParameters(scope: RequestScope, maxBodyBytes: number): Promise<SearchParameters> {
  const paging = ['max_results', 'page_token'].flatMap(spellings);
  if (scope.method === 'GET') {
    const query = new URLSearchParams(scope.query);
    return {
      get: (name) => query.get(name) ?? undefined,
      forPage(token, size) {
        const rest = new URLSearchParams([...query].filter(([key]) => !paging.includes(key)));
        rest.set('max_results', String(size));
        if (token) rest.set('page_token', token);
        return { query: rest.toString() };
      },
      asSent: () => ({ query: scope.query }),
    };
  }
  const request = scope.request;
  if (!scope.body && mayHaveBody(request)) {
    const body = await readBodyWithCap(request, maxBodyBytes, scope.bodyLease);
    if (body) scope.body = body;
  }
  scope.bytesIn = scope.body?.byteLength ?? 0;
  let body: Record<string, unknown> = {};
  if (scope.body?.byteLength) {
    try {
      let parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(scope.body));
      if (typeof parsed === 'string') parsed = JSON.parse(parsed);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      throw new BadRequest('The search request body must be a JSON object.');
    }
  }
  const field = (name: string) => {
    for (const key of spellings(name)) if (body[key] !== undefined && body[key] !== null) return String(body[key]);
    return undefined;
  };
  return {
    get: field,
    forPage(token, size) {
      const rest = Object.fromEntries(Object.entries(body).filter(([key]) => !paging.includes(key)));
      return { body: { ...rest, max_results: size, ...(token ? { page_token: token } : {}) } };
    },
    asSent: () => ({ body }),
  };
}
