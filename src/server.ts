// Builds the gateway: the one place where the stage order is written down.
//
//   receive → authenticate → rate limit → rewrite → authorize → sign → forward → (stream back) → audit
//
// (The UI entry of a SageMaker backend leaves after the rate limit: authorize AccessUI → redirect.)
//
// Why this order: the Host check first (listen.allowedHosts, against DNS rebinding); then
// authentication, so nothing about paths or policies is revealed to an unknown caller; the rate
// limit right after it, before any further work for a client over its limit; rewrite before
// authorize, so the allowlist is decided on the exact path that will be sent; the body is read
// only once the request is allowed (no buffering for denied callers); signing last, over the bytes
// and headers forward sends unchanged. Every outcome, including the gateway's own refusals,
// produces one audit line.
import { Elysia } from 'elysia';
import type { CompiledRules } from './rules/compile.ts';
import type { CredentialCache } from './aws/credentials.ts';
import type { AuditSink } from './observability/audit.ts';
import { receive } from './pipeline/receive.ts';
import { audited, round, type Trail } from './pipeline/audit-response.ts';
import { createAuthenticator, type Authenticator } from './pipeline/authenticate.ts';
import { rewritePath } from './pipeline/rewrite.ts';
import { authorize, authorizeEach, wouldAllow, type Decision } from './pipeline/authorize.ts';
import { GRAPHQL_MAX_BODY_BYTES, isGraphqlRequest } from './pipeline/graphql-route.ts';
import { prefixRedirect, redirectResponse } from './pipeline/prefix-redirect.ts';
import { MisdirectedRequest } from './pipeline/allowed-hosts.ts';
import { factsInBody, needsFacts, requestFacts, type RequestFacts } from './pipeline/request-facts.ts';
import type { Identity } from './auth/identity.ts';
import type { ClientRoleCredentials } from './aws/client-roles.ts';
import { localTokenBuckets, type RateLimitStore } from './limits/rate-limiter.ts';
import { signInFailureGuard } from './limits/sign-in-failures.ts';
import { forwardableRequestHeaders } from './pipeline/headers.ts';
import { mayHaveBody, readBodyWithCap } from './pipeline/read-body.ts';
import { prepareForPlainMlflow, signForSageMaker, type OutgoingRequest } from './pipeline/sign.ts';
import { forward } from './pipeline/forward.ts';
import { peerAddresses } from './peer.ts';
import { operationFor, routesOf } from './rules/operations.ts';
import { asGatewayError, errorResponse, MethodNotAllowed, NotImplemented, PermissionDenied, RateLimited, SigningFailed, Unauthenticated } from './errors.ts';
import type { ReadinessResult } from './readiness.ts';
import type { ArtifactService } from './artifacts/service.ts';
import { isArtifactApiPath, serveArtifactRequest } from './artifacts/handler.ts';
import { isUiEntry, redirectToSageMakerUi, type UiSettings } from './ui/entry.ts';
import type { SageMakerBackend } from './backends/sagemaker.ts';
import type { RequestScope } from './pipeline/receive.ts';
import { htmlErrorResponse, wantsHtml } from './pipeline/browser-errors.ts';
import { askForPlainJson, rewriteRequestLocations, rewriteResponseLocations } from './artifacts/locations.ts';

export interface GatewayDeps {
  /** The rules in force; a function so a reload can swap them between requests. */
  rules: () => CompiledRules;
  /** Required for SageMaker backends: the host's credentials. */
  credentials?: CredentialCache;
  /** Credentials of clients' own roles (`assumeRoleArn` on a client or group). */
  clientRoles?: ClientRoleCredentials;
  /** Where rate-limit buckets live; one process's memory unless a shared store is given. */
  rateLimits?: RateLimitStore;
  audit: AuditSink;
  now?: () => Date;
  /** Called as each request enters the pipeline (in-flight metric; it leaves with its audit record). */
  onRequest?: () => void;
  /** SageMaker backends with `artifacts` configured: the S3 store behind MLflow's artifact API. */
  artifacts?: ArtifactService;
}


export function createGatewayHandler(deps: GatewayDeps) {
  const now = deps.now ?? (() => new Date());
  const rateLimits = deps.rateLimits ?? localTokenBuckets();
  // The verifiers keep caches (verified credentials, JWKS): one set per rules object, so a reload
  // starts fresh while requests in flight finish with the authenticator they started with.
  const authenticators = new WeakMap<CompiledRules, Authenticator>();
  const authenticatorFor = (rules: CompiledRules) => {
    let authenticator = authenticators.get(rules);
    if (!authenticator) authenticators.set(rules, (authenticator = createAuthenticator(rules.auth, () => now().getTime())));
    return authenticator;
  };

  const signInFailures = signInFailureGuard(rateLimits);
  /** Authenticates, counting failures per address when the rules limit them (limits/sign-in-failures.ts). */
  const authenticateGuarded = async (rules: CompiledRules, headers: Headers, method: string, address: string, nowMs: number, trail: Trail): Promise<Identity> => {
    const limit = rules.auth.failedSignInLimit;
    if (!limit) return authenticatorFor(rules).authenticate(headers, method);
    const blockedMs = signInFailures.blockedFor(address, nowMs);
    if (blockedMs !== undefined) {
      trail.decision = 'rate-limited';
      throw new RateLimited(blockedMs, `too many failed sign-ins from ${address}`);
    }
    try {
      return await authenticatorFor(rules).authenticate(headers, method);
    } catch (error) {
      if (error instanceof Unauthenticated) await signInFailures.failed(address, limit, nowMs);
      throw error;
    }
  };

  return async function handle(request: Request, peerAddress: string | undefined): Promise<Response> {
    deps.onRequest?.();
    const rules = deps.rules();
    const limits = rules.source.limits;
    const scope = receive(request, peerAddress, rules.source.listen.trustForwardedFor, now);
    const trail: Trail = { decision: 'rejected', bytesIn: 0 };
    try {
      // Before anything else: a request for a host name that is not the gateway's (DNS rebinding).
      const host = request.headers.get('host');
      if (rules.allowedHost && !rules.allowedHost(host)) throw new MisdirectedRequest(host ?? '(none)');
      trail.decision = 'unauthenticated';
      const identity = await authenticateGuarded(rules, request.headers, scope.method, scope.clientIp, scope.receivedAt.getTime(), trail);
      trail.decision = 'rejected';
      trail.clientId = identity.id;
      trail.authMethod = identity.authMethod;

      if (identity.rateLimit) {
        // Callers without credentials share one identity: each address gets its own bucket, so one
        // busy anonymous caller cannot use up everybody's allowance.
        const bucket = identity.authMethod === 'anonymous' ? `anonymous\n${scope.clientIp}` : identity.id;
        const taken = await rateLimits.take(bucket, identity.rateLimit, scope.receivedAt.getTime());
        if (!taken.ok) {
          trail.decision = 'rate-limited';
          throw new RateLimited(taken.retryAfterMs, `over ${identity.rateLimit.requestsPerSecond}/s, burst ${identity.rateLimit.burst}`);
        }
      }

      // ── the UI entry (SageMaker backends): a gateway path of its own, matched before rewrites;
      // it answers with a redirect to a fresh presigned URL instead of a forwarded call.
      if (rules.backend.kind === 'sagemaker' && isUiEntry(rules.ui, scope.path)) {
        return await openSageMakerUi(identity, rules, { backend: rules.backend, settings: rules.ui }, scope, trail, deps);
      }

      const rewritten = rewritePath(scope.path, scope.query, rules.rewrites, limits);
      trail.upstreamPath = rewritten.path;
      if (rewritten.applied.length > 0) trail.rewrites = rewritten.applied;

      const redirect = prefixRedirect(scope.method, scope.path, scope.query, rules.rewrites);
      if (redirect) {
        trail.decision = 'redirected';
        return audited(redirectResponse(redirect, scope.requestId), scope, trail, deps.audit);
      }

      const decided = await decide(identity, request, scope, rewritten.path, limits.maxBodyBytes, trail);
      const { decision, facts } = decided;
      let body = decided.body;
      if (decision.operation) trail.operation = decision.operation;
      trail.reason = decision.reason;
      if (!decision.allowed) {
        trail.decision = 'denied';
        // For GraphQL: who could call the operation that was refused, on its own route.
        const route = decision.denied ? routesOf(decision.denied)[0] : undefined;
        const fix = route ? wouldAllow(rules, route.method, route.path, {}) : wouldAllow(rules, scope.method, rewritten.path, facts);
        if (fix) trail.wouldAllow = fix;
        const what = decision.denied ? `${decision.denied} (through GraphQL)` : decision.operation ?? `${scope.method} ${rewritten.path}`;
        throw new PermissionDenied(`Client "${identity.id}" may not call ${what}.`, decision.reason);
      }
      trail.policy = decision.policy;
      trail.decision = 'allowed';

      // ── artifacts (1/3): SageMaker serves no artifact API (--no-serve-artifacts); the gateway
      // serves it from S3 itself, streaming, never through the buffered SageMaker path below.
      const artifacts = rules.backend.kind === 'sagemaker' ? deps.artifacts : undefined;
      if (rules.backend.kind === 'sagemaker' && isArtifactApiPath(rewritten.path)) {
        if (!artifacts) throw new NotImplemented('This gateway does not serve artifacts (no `artifacts` section in its rules).');
        trail.bytesIn = Number(request.headers.get('content-length') ?? 0) || 0;
        const started = performance.now();
        const response = await serveArtifactRequest(artifactStoreFor(identity, artifacts, deps), { method: scope.method, path: rewritten.path, query: scope.query, request });
        trail.upstreamMs = round(performance.now() - started);
        response.headers.set('x-request-id', scope.requestId);
        return audited(response, scope, trail, deps.audit);
      }

      const headers = forwardableRequestHeaders(request.headers);
      if (artifacts) askForPlainJson(decision.operation, headers);
      const unsigned = { method: scope.method, path: rewritten.path, query: scope.query, headers };
      let outgoing: OutgoingRequest;
      if (rules.backend.kind === 'sagemaker') {
        if (!body && mayHaveBody(request)) body = await readBodyWithCap(request, limits.maxBodyBytes);
        trail.bytesIn = body?.byteLength ?? 0;
        // ── artifacts (2/3): `mlflow-artifacts:/` locations a client sends back become S3 ones, before signing.
        if (artifacts) body = rewriteRequestLocations(decision.operation, body, artifacts.store.root);
        const cache = credentialCacheFor(identity, deps);
        const credentials = cache?.cached() ?? (await credentialsFor(cache));
        outgoing = signForSageMaker({ ...unsigned, body }, rules.backend, credentials, scope.receivedAt);
      } else if (body) {
        trail.bytesIn = body.byteLength;
        outgoing = prepareForPlainMlflow(unsigned, body, String(body.byteLength), rules.backend);
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
      // ── artifacts (3/3): S3 locations under the root are shown as `mlflow-artifacts:/` in answers.
      const answer = artifacts ? await rewriteResponseLocations(decision.operation, response, artifacts.store.root, artifacts.maxJsonRewriteBytes) : response;
      return audited(answer, scope, trail, deps.audit);
    } catch (thrown) {
      const error = asGatewayError(thrown);
      if (trail.decision === 'allowed') trail.decision = 'gateway';
      // A denial keeps authorize's reason; any other failure records what went wrong (log only).
      if (error.detail && trail.decision !== 'denied') trail.reason = error.detail;
      const answer = wantsHtml(request.headers) ? htmlErrorResponse(error, scope.requestId) : errorResponse(error, scope.requestId);
      return audited(answer, scope, trail, deps.audit, error);
    }
  };
}

// The GraphQL parser is loaded with the first GraphQL request (graphql-route.ts says why).
let graphqlModule: Promise<typeof import('./pipeline/graphql.ts')> | undefined;
const loadGraphql = () => (graphqlModule ??= import('./pipeline/graphql.ts'));

/**
 * The authorize stage. The body is read before the decision only when the decision depends on it:
 * a GraphQL document (what it asks is what is authorized), or a policy condition on what the
 * request says; it is then returned, to be sent on as read.
 */
async function decide(
  identity: Identity,
  request: Request,
  scope: RequestScope,
  path: string,
  maxBodyBytes: number,
  trail: Trail,
): Promise<{ decision: Decision & { denied?: string }; body?: Uint8Array; facts: RequestFacts }> {
  if (isGraphqlRequest(path)) {
    const body = mayHaveBody(request) ? await readBodyWithCap(request, Math.min(maxBodyBytes, GRAPHQL_MAX_BODY_BYTES)) : undefined;
    const { graphqlOperationLabel, graphqlOperations } = await loadGraphql();
    const asked = graphqlOperations(scope.method, body);
    if (!asked.ok) {
      trail.operation = 'GraphQL';
      if (asked.error.status === 403) trail.decision = 'denied';
      throw asked.error;
    }
    return { decision: authorizeEach(identity, asked.operations, graphqlOperationLabel(asked.operations)), ...(body ? { body } : {}), facts: {} };
  }
  const operation = operationFor(scope.method, path);
  if (!needsFacts(identity, operation)) return { decision: authorize(identity, scope.method, path, {}, operation), facts: {} };
  const body = factsInBody(operation) && mayHaveBody(request) ? await readBodyWithCap(request, maxBodyBytes) : undefined;
  const facts = requestFacts(operation, scope.query, body);
  return { decision: authorize(identity, scope.method, path, facts, operation), ...(body ? { body } : {}), facts };
}

/** A person waits at a blank page while the link is minted: give up sooner than for MLflow calls. */
const UI_ENTRY_TIMEOUT_MS = 15_000;

/** The UI entry: AccessUI decides, then the person is sent to a presigned URL minted for this visit. */
async function openSageMakerUi(
  identity: Identity,
  rules: CompiledRules,
  ui: { backend: SageMakerBackend; settings: UiSettings },
  scope: RequestScope,
  trail: Trail,
  deps: GatewayDeps,
): Promise<Response> {
  if (scope.method !== 'GET') throw new MethodNotAllowed(['GET'], `The UI entry ${ui.settings.path} is opened with GET (a browser visit).`);
  const decision = authorize(identity, scope.method, scope.path, {}, 'AccessUI');
  trail.operation = 'AccessUI';
  trail.reason = decision.reason;
  if (!decision.allowed) {
    trail.decision = 'denied';
    const fix = wouldAllow(rules, scope.method, scope.path, {}, 'AccessUI');
    if (fix) trail.wouldAllow = fix;
    throw new PermissionDenied(`Client "${identity.id}" may not open the MLflow UI (AccessUI).`, decision.reason);
  }
  trail.policy = decision.policy;
  trail.decision = 'allowed';
  const credentials = credentialCacheFor(identity, deps);
  if (!credentials) throw new SigningFailed('no credential source configured');
  const started = performance.now();
  let response: Response;
  try {
    response = await redirectToSageMakerUi({ ...ui, credentials, query: scope.query, requestId: scope.requestId, timeoutMs: Math.min(rules.upstreamTimeoutMs, UI_ENTRY_TIMEOUT_MS) });
  } finally {
    trail.upstreamMs = round(performance.now() - started);
  }
  return audited(response, scope, trail, deps.audit);
}

/** The artifact store signing as the client's own role when it has one, else as the host. */
function artifactStoreFor(identity: Identity, artifacts: ArtifactService, deps: GatewayDeps) {
  if (!identity.assumeRoleArn) return artifacts.store;
  const cache = credentialCacheFor(identity, deps)!;
  return artifacts.storeFor(`${identity.assumeRoleArn}\n${identity.id}`, () => cache.get());
}

/** The client's own role when it has one, else the host's credentials. */
function credentialCacheFor(identity: Identity, deps: GatewayDeps): CredentialCache | undefined {
  if (!identity.assumeRoleArn) return deps.credentials;
  // Never fall back to the host's (broader) role for a client that is meant to have its own.
  if (!deps.clientRoles) throw new SigningFailed(`client ${identity.id} has a role but no role credentials are configured`);
  return deps.clientRoles.forClient(identity.assumeRoleArn, identity.id);
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
