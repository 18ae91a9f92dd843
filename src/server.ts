// Builds the gateway: the one place where the stage order is written down.
//
//   receive → authenticate → rewrite → authorize → sign → forward → (stream back) → audit
//
// Why this order: authentication first, so nothing about paths or policies is revealed to an
// unknown caller; rewrite before authorize, so the allowlist is decided on the exact path that will
// be sent; the body is read only once the request is allowed (no buffering for denied callers);
// signing last, over the bytes and headers forward sends unchanged. Every outcome, including the
// gateway's own refusals, produces one audit line.
import { Elysia } from 'elysia';
import type { CompiledRules } from './rules/compile.ts';
import type { CredentialCache } from './aws/credentials.ts';
import type { AuditSink } from './observability/audit.ts';
import { receive } from './pipeline/receive.ts';
import { audited, round, type Trail } from './pipeline/audit-response.ts';
import { authenticate } from './pipeline/authenticate.ts';
import { rewritePath } from './pipeline/rewrite.ts';
import { authorize } from './pipeline/authorize.ts';
import { forwardableRequestHeaders } from './pipeline/headers.ts';
import { mayHaveBody, readBodyWithCap } from './pipeline/read-body.ts';
import { prepareForPlainMlflow, signForSageMaker, type OutgoingRequest } from './pipeline/sign.ts';
import { forward } from './pipeline/forward.ts';
import { peerAddresses } from './peer.ts';
import { asGatewayError, errorResponse, PermissionDenied, SigningFailed } from './errors.ts';
import type { ReadinessResult } from './readiness.ts';

export interface GatewayDeps {
  /** The rules in force; a function so a reload can swap them between requests. */
  rules: () => CompiledRules;
  /** Required for SageMaker backends. */
  credentials?: CredentialCache;
  audit: AuditSink;
  now?: () => Date;
  /** Called as each request enters the pipeline (in-flight metric; it leaves with its audit record). */
  onRequest?: () => void;
}


export function createGatewayHandler(deps: GatewayDeps) {
  const now = deps.now ?? (() => new Date());

  return async function handle(request: Request, peerAddress: string | undefined): Promise<Response> {
    deps.onRequest?.();
    const rules = deps.rules();
    const limits = rules.source.limits;
    const scope = receive(request, peerAddress, rules.source.listen.trustForwardedFor, now);
    const trail: Trail = { decision: 'rejected', bytesIn: 0 };
    try {
      const identity = authenticate(request.headers, rules);
      trail.clientId = identity.id;
      trail.authMethod = identity.authMethod;

      const rewritten = rewritePath(scope.path, scope.query, rules.rewrites, limits);
      trail.upstreamPath = rewritten.path;
      if (rewritten.applied.length > 0) trail.rewrites = rewritten.applied;

      const decision = authorize(identity, scope.method, rewritten.path);
      if (decision.operation) trail.operation = decision.operation;
      trail.reason = decision.reason;
      if (!decision.allowed) {
        trail.decision = 'denied';
        throw new PermissionDenied(
          `Client "${identity.id}" may not call ${decision.operation ?? `${scope.method} ${rewritten.path}`}.`,
          decision.reason,
        );
      }
      trail.policy = decision.policy;
      trail.decision = 'allowed';

      const headers = forwardableRequestHeaders(request.headers);
      const unsigned = { method: scope.method, path: rewritten.path, query: scope.query, headers };
      let outgoing: OutgoingRequest;
      if (rules.backend.kind === 'sagemaker') {
        const body = mayHaveBody(request) ? await readBodyWithCap(request, limits.maxBodyBytes) : undefined;
        trail.bytesIn = body?.byteLength ?? 0;
        const credentials = deps.credentials?.cached() ?? (await credentialsFor(deps.credentials));
        outgoing = signForSageMaker({ ...unsigned, body }, rules.backend, credentials, scope.receivedAt);
      } else {
        const length = request.headers.get('content-length');
        trail.bytesIn = length && /^\d+$/.test(length) ? Number(length) : 0;
        outgoing = prepareForPlainMlflow(unsigned, request.body, length, rules.backend);
      }
      outgoing.headers.push(['x-request-id', scope.requestId]);

      const { response, upstreamMs } = await forward(outgoing, {
        timeoutMs: rules.upstreamTimeoutMs,
        clientSignal: request.signal,
        requestId: scope.requestId,
      });
      trail.upstreamMs = round(upstreamMs);
      return audited(response, scope, trail, deps.audit);
    } catch (thrown) {
      const error = asGatewayError(thrown);
      if (error.status === 401) trail.decision = 'unauthenticated';
      else if (trail.decision === 'allowed') trail.decision = 'gateway';
      // A denial keeps authorize's reason; any other failure records what went wrong (log only).
      if (error.detail && trail.decision !== 'denied') trail.reason = error.detail;
      return audited(errorResponse(error, scope.requestId), scope, trail, deps.audit, error);
    }
  };
}

async function credentialsFor(cache: CredentialCache | undefined) {
  if (!cache) throw new SigningFailed('no credential source configured');
  try {
    return await cache.get();
  } catch (error) {
    throw new SigningFailed(error instanceof Error ? `credentials: ${error.name}: ${error.message}` : 'credentials unavailable');
  }
}


export { readiness } from './readiness.ts';

export interface AppOptions extends GatewayDeps {
  /** Readiness beyond "rules loaded": e.g. credentials resolvable. */
  readiness?: () => Promise<ReadinessResult>;
}

/**
 * The Elysia app: the gateway's own endpoints beside the pipeline, and a catch-all route into it.
 * `parse: 'none'` keeps the body unread, so the pipeline decides whether and how to read it.
 */
export function createApp(options: AppOptions) {
  const handle = createGatewayHandler(options);
  const endpoints = options.rules().source.endpoints;
  return new Elysia()
    // Anything that escapes the pipeline (it catches its own errors) still gets MLflow's shape.
    .onError(({ error }) => errorResponse(asGatewayError(error), crypto.randomUUID()))
    .get(endpoints.liveness, () => new Response('{"status":"ok"}', { headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } }))
    .get(endpoints.readiness, async () => {
      const result = options.readiness ? await options.readiness() : { ready: true, checks: { rules: 'ok' } };
      return new Response(JSON.stringify({ status: result.ready ? 'ready' : 'not ready', checks: result.checks }), {
        status: result.ready ? 200 : 503,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
      });
    })
    .all('*', ({ request }) => handle(request, peerAddresses.get(request)), { parse: 'none' });
}
