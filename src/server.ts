// Builds the gateway: the one place where the stage order is written down.
//
//   receive → authenticate → rate limit → rewrite → authorize → sign → forward → (stream back) → audit
//
// (The UI entry of a SageMaker backend leaves after the rate limit: authorize AccessUI → redirect.)
//
// Why this order: the framing check first (nothing reads a body whose length is ambiguous); the
// Host check (listen.allowedHosts, against DNS rebinding); then authentication, so nothing about
// paths or policies is revealed to an unknown caller; the rate limit right after it, before any further work for a client over its limit; rewrite before
// authorize, so the allowlist is decided on the exact path that will be sent; the body is read
// only once the request is allowed (no buffering for denied callers); signing last, over the bytes
// and headers forward sends unchanged. Every outcome, including the gateway's own refusals,
// produces one audit line. With a `tracing` section, the request's server span is outside all of
// it (it ends with the audit record) and the upstream call runs in a span of its own
// (pipeline/tracing.ts); without one, neither stage is in the list.
import type { CompiledRules } from './rules/compile.ts';
import type { CredentialCache } from './aws/credentials.ts';
import type { ClientRoleCredentials } from './aws/client-roles.ts';
import type { AuditSink } from './observability/audit.ts';
import type { ArtifactService } from './artifacts/service.ts';
import type { PolicyDirectory } from './auth/identity.ts';
import type { RateLimitStore } from './limits/rate-limiter.ts';
import type { SignInFailureGuard } from './limits/sign-in-failures.ts';
import type { Stage } from './pipeline/chain.ts';
import { auditLine } from './pipeline/audit-line.ts';
import type { InFlightAudits } from './pipeline/in-flight.ts';
import { errorPage } from './pipeline/error-page.ts';
import { requestFraming } from './pipeline/framing.ts';
import { hostCheck } from './pipeline/allowed-hosts.ts';
import { authentication } from './pipeline/authenticate.ts';
import { rateLimiting } from './pipeline/rate-limit.ts';
import { uiEntry } from './pipeline/ui-entry.ts';
import { rewriting } from './pipeline/rewrite.ts';
import { authorization } from './pipeline/authorize.ts';
import { artifactApi, noArtifactApi } from './pipeline/artifacts.ts';
import { plainMlflowPassing, sageMakerSigning } from './pipeline/sign.ts';
import { forwarding } from './pipeline/forward.ts';
import { upstreamHeaderSelection } from './pipeline/upstream-headers.ts';
import { bodyBudgeting } from './pipeline/body-budget.ts';
import type { BufferBudget } from './limits/buffer-budget.ts';
import type { Logger } from './observability/log.ts';
import type { GatewayMetrics } from './observability/gateway-metrics.ts';
import type { Tracing } from './observability/tracing.ts';
import { requestTracing, tracedForwarding } from './pipeline/tracing.ts';
import { scopedSearching } from './pipeline/scoped-search.ts';
import { ownerLearning } from './pipeline/owner-learning.ts';
import { scopeLookupsFor } from './pipeline/own-calls.ts';

/** What the stages share across rules objects (the stores outlive a reload). */
export interface SharedParts {
  audit: AuditSink;
  rateLimits: RateLimitStore;
  signInFailures: SignInFailureGuard;
  credentials: { host?: CredentialCache; clientRoles?: ClientRoleCredentials };
  artifacts?: ArtifactService;
  inFlight?: InFlightAudits;
  nowMs: () => number;
  log?: Logger;
  bufferBudget: BufferBudget;
  /** Where scoped policies' lookups are counted (the metrics). */
  lookupMetrics?: Pick<GatewayMetrics, 'scopeLookup' | 'watchScopeCache'>;
  tracing?: Tracing;
}

/** The stage list for one rules object; a stage whose setting is absent is not in it. */
export function stagesFor(rules: CompiledRules, shared: SharedParts): Stage[] {
  const { listen, limits } = rules.source;
  const backend = rules.backend;
  const directory = policyDirectory(rules);
  const lookups = scopeLookupsFor(rules, shared.credentials.host, shared.lookupMetrics);
  const tracing = shared.tracing;
  const forward = forwarding(rules.upstreamTimeoutMs);
  return [
    ...(tracing ? [requestTracing(tracing)] : []), // the server span: ends with the audit record, so outside it
    auditLine(shared.audit, shared.inFlight), // outermost: one line per outcome, after the body is sent
    errorPage(), // anything thrown below → MLflow's JSON error, or an HTML page for a browser
    requestFraming(), // one Content-Length: a message a peer could frame differently is never passed on
    ...(listen.allowedHosts ? [hostCheck(listen.allowedHosts)] : []), // DNS rebinding: before anything else
    authentication(rules.auth, shared.signInFailures, shared.nowMs, tracing?.fetch), // strangers learn nothing about paths or policies
    ...(hasRateLimits(rules) ? [rateLimiting(shared.rateLimits)] : []),
    ...(backend.kind === 'sagemaker' && rules.ui
      ? [uiEntry({ settings: rules.ui, backend, directory, credentials: shared.credentials, upstreamTimeoutMs: rules.upstreamTimeoutMs })]
      : []),
    rewriting(rules.rewrites, limits),
    bodyBudgeting(shared.bufferBudget), // limits.maxBufferedBytes, before any stage reads a body whole
    authorization(directory, limits.maxBodyBytes, lookups?.owners), // reads the body only when the decision needs it
    upstreamHeaderSelection(rules.source.backend.forwardHeaders ?? [], shared.log), // an allowlist, for the stages that send
    ...(backend.kind !== 'sagemaker' ? [] : shared.artifacts ? [artifactApi(shared.artifacts, shared.credentials, limits.maxBodyBytes)] : [noArtifactApi()]),
    // Scoped policies: their searches answered here, filtered (inside the artifact stage, which shows
    // their S3 locations as mlflow-artifacts:/ like any answer's); answers passing through teach the lookups.
    ...(lookups ? [scopedSearching({ ...lookups, credentials: shared.credentials, maxBodyBytes: limits.maxBodyBytes }), ownerLearning(lookups.owners)] : []),
    backend.kind === 'sagemaker' ? sageMakerSigning(backend, shared.credentials, limits.maxBodyBytes) : plainMlflowPassing(backend, limits.maxBodyBytes),
    tracing ? tracedForwarding(tracing, forward, backend.kind !== 'sagemaker') : forward,
  ];
}

function policyDirectory(rules: CompiledRules): PolicyDirectory {
  return { policies: rules.policies, clientsById: rules.clientsById, groups: rules.auth.groups, ...(rules.auth.anonymous ? { anonymous: rules.auth.anonymous } : {}) };
}

/** Whether any identity the rules can produce has a rate limit (a token's is its client's or a group's). */
function hasRateLimits(rules: CompiledRules): boolean {
  const profiles = [...rules.clientsById.values(), ...rules.auth.groups.values(), ...(rules.auth.anonymous ? [rules.auth.anonymous] : [])];
  return profiles.some((profile) => profile.rateLimit !== undefined);
}
