// Pages of in-scope rows with MLflow's pagination contract kept (issue 19 item 5): a page holds up
// to max_results rows the caller may see, and following next_page_token yields every such row
// exactly once. The backend's pages are read in order, each row judged, until the page is full:
// MLflow's auth app refills its filtered pages the same way (mlflow/server/auth/__init__.py,
// filter_search_experiments), but re-encodes MLflow's own offset token; the gateway wraps the
// backend's token instead, so it works whatever the backend's tokens are (SageMaker's included).
//
// The gateway's token says where to go on: the backend's token of the page being read, how many of
// its rows are already passed on, and the backend page size that made that page, so a client that
// changes max_results between calls still gets each row once.
import { BadRequest } from '../errors.ts';

export interface PageCursor {
  /** The backend's token of the page to read (undefined: the first page). */
  upstream?: string;
  /** Rows of that page already passed on. */
  skip: number;
  /** The backend page size the cursor's page was read with. */
  size?: number;
}

const PREFIX = 'gw1.';

export function encodeCursor(cursor: PageCursor): string {
  const json = JSON.stringify({ u: cursor.upstream ?? null, s: cursor.skip, n: cursor.size ?? null });
  return PREFIX + Buffer.from(json).toString('base64url');
}

/** The cursor a client's page_token stands for; a token that is not the gateway's is the backend's own. */
export function decodeCursor(token: string | undefined): PageCursor {
  if (!token) return { skip: 0 };
  if (!token.startsWith(PREFIX)) return { upstream: token, skip: 0 };
  try {
    const parsed = JSON.parse(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8')) as { u: unknown; s: unknown; n: unknown };
    const { u, s, n } = parsed;
    if ((u !== null && typeof u !== 'string') || !Number.isSafeInteger(s) || (s as number) < 0 || (n !== null && (!Number.isSafeInteger(n) || (n as number) < 1))) throw new Error('shape');
    return { ...(u !== null ? { upstream: u as string } : {}), skip: s as number, ...(n !== null ? { size: n as number } : {}) };
  } catch {
    throw new BadRequest('Invalid page_token: pass on the next_page_token of the previous page unchanged.');
  }
}

export interface BackendPage {
  rows: ReadonlyArray<unknown>;
  next?: string;
}

export interface ScopedPageRequest {
  /** max_results: how many visible rows a page holds at most. */
  want: number;
  cursor: PageCursor;
  /** lookups.maxSearchPages: backend pages read at most for one answer. */
  maxPages: number;
  fetchPage(upstreamToken: string | undefined, size: number): Promise<BackendPage>;
  visible(row: unknown): Promise<boolean>;
}

/**
 * One page of visible rows and the token of the next, if any. When the bound on backend pages is
 * reached first, the page is shorter than `want` but still carries a token (MLflow's clients follow
 * next_page_token until there is none, whatever a page holds).
 */
export async function scopedPage(request: ScopedPageRequest): Promise<{ rows: unknown[]; next?: string }> {
  const size = request.cursor.size ?? request.want;
  let cursor: PageCursor = { ...request.cursor, size };
  const rows: unknown[] = [];
  for (let pages = 0; ; pages++) {
    if (pages === request.maxPages) return { rows, next: encodeCursor(cursor) };
    const page = await request.fetchPage(cursor.upstream, size);
    const pending = page.rows.slice(cursor.skip);
    const shown = await Promise.all(pending.map((row) => request.visible(row)));
    for (let i = 0; i < pending.length; i++) {
      if (!shown[i]) continue;
      rows.push(pending[i]);
      if (rows.length < request.want) continue;
      const passed = cursor.skip + i + 1;
      if (passed < page.rows.length) return { rows, next: encodeCursor({ ...cursor, skip: passed }) };
      return page.next ? { rows, next: encodeCursor({ upstream: page.next, skip: 0, size }) } : { rows };
    }
    if (!page.next) return { rows };
    cursor = { upstream: page.next, skip: 0, size };
  }
}
