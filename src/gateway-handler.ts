// The pipeline as a request handler: the parts the stages share across reloads (stores, caches,
// the audit sink, credentials) made once, and one stage chain per rules object (server.ts builds
// the list), so a reload gets fresh stages while requests in flight finish on theirs.
import type { CompiledRules } from './rules/compile.ts';
import type { CredentialCache } from './aws/credentials.ts';
import type { ClientRoleCredentials } from './aws/client-roles.ts';
import type { AuditSink } from './observability/audit.ts';
import type { ArtifactService } from './artifacts/service.ts';
import { localTokenBuckets, type RateLimitStore } from './limits/rate-limiter.ts';
import { signInFailureGuard } from './limits/sign-in-failures.ts';
import { chain, type Next } from './pipeline/chain.ts';
import { receive } from './pipeline/receive.ts';
import type { InFlightAudits } from './pipeline/in-flight.ts';
import { bufferBudget, type BufferBudget } from './limits/buffer-budget.ts';
import type { Logger } from './observability/log.ts';
import type { GatewayMetrics } from './observability/gateway-metrics.ts';
import type { Tracing } from './observability/tracing.ts';
import { stagesFor, type SharedParts } from './server.ts';

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
  /** Requests without their audit line yet, so a shutdown that cuts them still records them (serve). */
  inFlight?: InFlightAudits;
  /** Operational log (debug lines from the stages, e.g. client headers not forwarded). */
  log?: Logger;
  /** The budget for buffered request bodies (limits.maxBufferedBytes); one per process. */
  bufferBudget?: BufferBudget;
  /** Where scoped policies' lookups are counted (the metrics). */
  lookupMetrics?: Pick<GatewayMetrics, 'scopeLookup' | 'watchScopeCache'>;
  /** OpenTelemetry spans (rules `tracing`); absent, no tracing stage is in the list. */
  tracing?: Tracing;
}

export function createGatewayHandler(deps: GatewayDeps) {
  const now = deps.now ?? (() => new Date());
  const rateLimits = deps.rateLimits ?? localTokenBuckets();
  const shared: SharedParts = {
    // With tracing, each record ends its request's span on the way to the log.
    audit: deps.tracing ? deps.tracing.endingSpans(deps.audit) : deps.audit,
    rateLimits,
    signInFailures: signInFailureGuard(rateLimits),
    credentials: { ...(deps.credentials ? { host: deps.credentials } : {}), ...(deps.clientRoles ? { clientRoles: deps.clientRoles } : {}) },
    ...(deps.artifacts ? { artifacts: deps.artifacts } : {}),
    ...(deps.inFlight ? { inFlight: deps.inFlight } : {}),
    nowMs: () => now().getTime(),
    ...(deps.log ? { log: deps.log } : {}),
    bufferBudget: deps.bufferBudget ?? bufferBudget(() => deps.rules().source.limits.maxBufferedBytes),
    ...(deps.lookupMetrics ? { lookupMetrics: deps.lookupMetrics } : {}),
    ...(deps.tracing ? { tracing: deps.tracing } : {}),
  };
  // One chain per rules object, built on its first request: a reload gets fresh stages (and fresh
  // verifier caches), while requests in flight finish on the list they started with.
  const chains = new WeakMap<CompiledRules, Next>();
  const chainFor = (rules: CompiledRules) => {
    let run = chains.get(rules);
    if (!run) chains.set(rules, (run = chain(stagesFor(rules, shared))));
    return run;
  };

  return function handle(request: Request, peerAddress: string | undefined): Promise<Response> {
    deps.onRequest?.();
    const rules = deps.rules();
    return chainFor(rules)(receive(request, peerAddress, rules.source.listen.trustForwardedFor, now));
  };
}
