// Which requests are GraphQL, apart from how they are decided (graphql.ts): the server tests every
// request against this, and loads graphql.ts, with its parser, only once a GraphQL request arrives,
// so a gateway that serves API clients alone never carries the parser in its heap.

/** The upstream path MLflow serves GraphQL on (after rewrites: `/mlflow/graphql` arrives as this). */
export const GRAPHQL_PATH = '/graphql';

/**
 * The largest GraphQL request body read. The UI's documents are 1–4 KB; the body is read before the
 * decision (to know what it asks), so the cap keeps that read small for callers who may not send it.
 */
export const GRAPHQL_MAX_BODY_BYTES = 64 * 1024;

/** Whether a request (by its upstream path) is a GraphQL request. */
export function isGraphqlRequest(path: string): boolean {
  return path === GRAPHQL_PATH;
}
