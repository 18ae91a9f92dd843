// The per-request scope: what one request is (receive.ts fills the request facts) and what each
// stage found out about it. A stage writes its own fields and no one else's; the audit line is
// made from the scope alone (audit-line.ts), and its `decision` is derived once, here, from what
// the stages wrote and the error that ended the request, if any.
import type { AuditRecord } from '../observability/audit.ts';
import type { Identity } from '../auth/identity.ts';
import { BadFraming, GatewayError, MisdirectedRequest, PermissionDenied, RateLimited } from '../errors.ts';
import type { OutgoingRequest } from '../http/outgoing.ts';
import type { BodyLease } from '../limits/buffer-budget.ts';
import type { UpstreamExchange } from './upstream-watch.ts';
import type { ScopedDecision } from '../scopes/decide.ts';
import type { GraphqlRows } from '../scopes/graphql-scopes.ts';

export type ScopedRows = NonNullable<ScopedDecision['rows']>;
import type { RequestTrace } from '../observability/tracing.ts';

export interface RequestScope {
  // ── receive (receive.ts)
  readonly request: Request;
  readonly requestId: string;
  readonly clientIp: string;
  /** Which client (e.g. `mlflow-python-client/3.17.2`), for troubleshooting; capped in length. */
  readonly userAgent?: string;
  readonly method: string;
  /** Raw path as sent, percent-encoding untouched. */
  readonly path: string;
  /** Raw query without the `?`, or ''. */
  readonly query: string;
  /** performance.now() at arrival, for totalMs. */
  readonly startedAt: number;
  readonly receivedAt: Date;
  // ── request tracing (tracing.ts; only with a `tracing` section): the request's span
  trace?: RequestTrace;

  // ── authenticate
  identity?: Identity;
  // ── rewrite: the canonical upstream path, and which rules made it
  upstreamPath?: string;
  rewrites?: string[];
  /** The answer is a redirect to the mount prefix with its slash (prefix-redirect.ts). */
  redirected?: boolean;
  // ── authorize (and the UI entry, which authorizes AccessUI)
  /** The MLflow operation (or `GraphQL:...` label) being decided, known before the decision is. */
  operation?: string;
  decision?: ScopeDecision;
  /** A scoped search or list allowed: its answer's rows are kept to what these grants cover (search stage). */
  scopedRows?: ScopedRows;
  /** A GraphQL answer with model versions, for a scoped caller: kept to what these grants cover. */
  scopedGraphqlRows?: GraphqlRows;
  // ── body budget (body-budget.ts): this request's share of limits.maxBufferedBytes
  bodyLease?: BodyLease;
  // ── whoever reads the body (authorize for conditions and GraphQL, artifacts, sign)
  /** The request body as read from the client, when a stage had to read it whole. */
  body?: Uint8Array;
  /** The client headers that may go upstream (headers.ts), once a stage has asked for them. */
  upstreamHeaders?: Array<[string, string]>;
  /**
   * Bytes of the request body committed to the upstream (or the artifact store). A body streamed
   * through (self-hosted backend) is counted by forward, which is what reads it, as it passes.
   */
  bytesIn: number;
  // ── sign
  outgoing?: OutgoingRequest;
  // ── forward (or the artifact store, or the control plane for the UI entry)
  upstreamMs?: number;
  /**
   * forward: the exchange with the upstream while its answer's body streams to the client; the
   * audit stage, which reads that body, tells it when it waits for the next chunk (the idle limit,
   * upstream-watch.ts) and closes it when the body has ended.
   */
  exchange?: UpstreamExchange;
  // ── error page: what ended the request, if it did not end with an upstream answer
  error?: GatewayError;
}

/**
 * The scope as receive makes it: every field a stage may write is declared here, undefined until
 * written, so every request's scope has the same shape from its first line. The stages read and
 * write its fields at the same places on every request; the engine then keeps one layout for
 * them (monomorphic property access) instead of a new layout each time a stage adds a field in
 * whatever order this request happened to take (measured: bench/in-process.ts).
 */
export class Scope implements RequestScope {
  trace: RequestTrace | undefined = undefined;
  identity: Identity | undefined = undefined;
  upstreamPath: string | undefined = undefined;
  rewrites: string[] | undefined = undefined;
  redirected: boolean | undefined = undefined;
  operation: string | undefined = undefined;
  decision: ScopeDecision | undefined = undefined;
  scopedRows: ScopedRows | undefined = undefined;
  scopedGraphqlRows: GraphqlRows | undefined = undefined;
  bodyLease: BodyLease | undefined = undefined;
  body: Uint8Array | undefined = undefined;
  upstreamHeaders: Array<[string, string]> | undefined = undefined;
  bytesIn = 0;
  outgoing: OutgoingRequest | undefined = undefined;
  upstreamMs: number | undefined = undefined;
  exchange: UpstreamExchange | undefined = undefined;
  error: GatewayError | undefined = undefined;

  constructor(
    readonly request: Request,
    readonly requestId: string,
    readonly clientIp: string,
    readonly userAgent: string | undefined,
    readonly method: string,
    readonly path: string,
    readonly query: string,
    readonly startedAt: number,
    readonly receivedAt: Date,
  ) {}
}

export interface ScopeDecision {
  allowed: boolean;
  /** The client's policy that allowed it (comma-separated for several operations at once). */
  policy?: string;
  /** How it was allowed, or why not. */
  reason: string;
  /** For a denial: the policies (and their holders) that would have allowed it. Log only. */
  wouldAllow?: string;
}

/**
 * What the audit line calls the outcome. In the order the stages run: refused before sign-in (a
 * foreign Host, ambiguous framing), not signed in, over a limit, refused before a decision (bad path, bad document,
 * wrong method), redirected, denied, allowed; and `gateway` when an allowed request then failed in
 * the gateway or upstream of it.
 */
export function auditDecision(scope: RequestScope, error: GatewayError | undefined): AuditRecord['decision'] {
  if (error instanceof RateLimited) return 'rate-limited';
  if (!scope.identity) return error instanceof MisdirectedRequest || error instanceof BadFraming ? 'rejected' : 'unauthenticated';
  if (scope.redirected) return 'redirected';
  if (!scope.decision) return error instanceof PermissionDenied ? 'denied' : 'rejected';
  if (!scope.decision.allowed) return 'denied';
  return error ? 'gateway' : 'allowed';
}

/** The audit line's reason: the decision's, unless something else then failed (log-only detail). */
export function auditReason(scope: RequestScope, decision: AuditRecord['decision']): string | undefined {
  const detail = scope.error?.detail;
  if (detail && decision !== 'denied') return detail;
  return scope.decision?.reason;
}
