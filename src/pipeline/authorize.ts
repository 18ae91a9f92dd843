// Stage 4, authorize: default deny. The identity's policies, in the order the client lists them,
// allow (operation) or (method, path pattern) pairs; decided on the rewritten path. A grant from a
// policy with conditions counts only when the request's facts meet them (request-facts.ts).
import type { PolicyDirectory, Profile } from '../auth/identity.ts';
import type { CompiledPolicy, GrantOrigin, PolicyConditions } from '../auth/policy.ts';
import { operationFor, routesOf } from '../rules/operations.ts';
import { factsInBody, namesAnExperiment, needsFacts, requestFacts, type RequestFacts } from './request-facts.ts';
import type { Next, Stage } from './chain.ts';
import type { RequestScope } from './scope.ts';
import { GRAPHQL_MAX_BODY_BYTES, isGraphqlRequest } from './graphql-route.ts';
import { mayHaveBody, readBodyWithCap } from '../http/read-body.ts';
import { PermissionDenied } from '../errors.ts';

export interface Decision {
  allowed: boolean;
  /** The MLflow operation this request is, if it is one. */
  operation?: string;
  /** The client's policy that allowed it. */
  policy?: string;
  /** How: `operation LogMetric (via read-only)` or `path rule GET /api/2.0/mlflow/** ...`; or why not. */
  reason: string;
}

/** `operation` may be passed when the caller has already looked it up (the server has, for conditions). */
export function authorize(
  identity: Profile,
  method: string,
  path: string,
  facts: RequestFacts = {},
  operation: string | undefined = operationFor(method, path),
): Decision {
  const unmet: string[] = [];
  for (const policy of identity.policies) {
    const grant = grantIn(policy, method, path, operation);
    if (!grant) continue;
    const failed = grant.origin.conditions && unmetCondition(grant.origin.conditions, operation, facts);
    if (failed) {
      unmet.push(`${policy.name}: ${failed}`);
      continue;
    }
    const via = grant.origin.policy !== policy.name ? ` (via ${grant.origin.policy})` : '';
    return { allowed: true, ...(operation ? { operation } : {}), policy: policy.name, reason: `${grant.how}${via}` };
  }
  const what = operation ? `operation ${operation}` : `${method} ${path} (not an MLflow operation)`;
  const policies = identity.policies.map((p) => p.name).join(', ') || 'none';
  const conditions = unmet.length ? `; conditions not met: ${unmet.join('; ')}` : '';
  return { allowed: false, ...(operation ? { operation } : {}), reason: `no policy of ${identity.id} (${policies}) allows ${what}${conditions}` };
}

/**
 * A request that performs several operations at once (a GraphQL document, pipeline/graphql.ts) is
 * allowed only when each of them would be allowed on its own route: the same grants, operation
 * names or path rules, decide it as the equivalent REST calls. `denied` names the first refused one.
 */
export function authorizeEach(identity: Profile, operations: ReadonlyArray<string>, label: string): Decision & { denied?: string } {
  const policies = new Set<string>();
  const reasons: string[] = [];
  for (const operation of operations) {
    const route = routesOf(operation)[0];
    const decision = route
      ? authorize(identity, route.method, route.path, {}, operation)
      : { allowed: false, reason: `${operation} has no route` };
    if (!decision.allowed) return { allowed: false, operation: label, reason: decision.reason, denied: operation };
    policies.add(decision.policy!);
    reasons.push(decision.reason);
  }
  return { allowed: true, operation: label, policy: [...policies].join(','), reason: reasons.join('; ') };
}

/** A path rule that allows GET allows HEAD too: the same answer without its body, as the upstream (Flask) gives it. */
function grantsMethod(methods: '*' | ReadonlySet<string>, method: string): boolean {
  return methods === '*' || methods.has(method) || (method === 'HEAD' && methods.has('GET'));
}

function grantIn(policy: CompiledPolicy, method: string, path: string, operation: string | undefined): { origin: GrantOrigin; how: string } | undefined {
  if (operation) {
    const origin = policy.operations.get(operation);
    if (origin) return { origin, how: `operation ${operation}` };
  }
  for (const grant of policy.grants) {
    if (grantsMethod(grant.methods, method) && grant.pattern.test(path)) return { origin: grant, how: `path rule ${grant.source}` };
  }
  return undefined;
}

/** Why the conditions are not met, or undefined when they are (or do not apply to this call). */
function unmetCondition(conditions: PolicyConditions, operation: string | undefined, facts: RequestFacts): string | undefined {
  if (!namesAnExperiment(operation)) return undefined;
  const name = facts.experimentName;
  if (name === undefined) return 'the experiment name could not be read from the request';
  if (conditions.experimentNamePrefixes.some((prefix) => name.startsWith(prefix))) return undefined;
  return `experiment name does not start with ${conditions.experimentNamePrefixes.map((p) => `"${p}"`).join(' or ')}`;
}

/**
 * For a denied request: which policies of the rules would have allowed it, and who holds them.
 * Written to the audit log so an operator can see the fix; never sent to the caller.
 */
export function wouldAllow(
  directory: PolicyDirectory,
  method: string,
  path: string,
  facts: RequestFacts,
  operation: string | undefined = operationFor(method, path),
): string | undefined {
  const holders = new Map<string, string[]>();
  const note = (policy: string, holder: string) => holders.set(policy, [...(holders.get(policy) ?? []), holder]);
  for (const profile of directory.clientsById.values()) for (const p of profile.policies) note(p.name, `client ${profile.id}`);
  for (const profile of directory.groups.values()) for (const p of profile.policies) note(p.name, `group ${profile.id}`);
  for (const p of directory.anonymous?.policies ?? []) note(p.name, 'anonymous');
  const allowing = [...directory.policies.values()].filter(
    (policy) => authorize({ id: '-', policies: [policy] }, method, path, facts, operation).allowed,
  );
  if (allowing.length === 0) return undefined;
  return allowing.map((p) => `${p.name} (${holders.get(p.name)?.join(', ') ?? 'held by nobody'})`).join('; ');
}

// The GraphQL parser is loaded with the first GraphQL request (graphql-route.ts says why).
let graphqlModule: Promise<typeof import('./graphql.ts')> | undefined;
const loadGraphql = () => (graphqlModule ??= import('./graphql.ts'));

type StageDecision = { decision: Decision & { denied?: string }; facts: RequestFacts };

/**
 * The stage: default deny, decided on the rewritten path. The body is read before the decision
 * only when the decision depends on it: a GraphQL document (what it asks is what is authorized), or
 * a policy condition on what the request says; it is then kept in the scope, to be sent on as read.
 * A denial names, in the log only, the policies that would have allowed the request.
 */
export function authorization(directory: PolicyDirectory, maxBodyBytes: number): Stage {
  // Synchronous when the decision needs nothing read (most REST calls): no promise of its own.
  return function authorization(scope, next) {
    const path = scope.upstreamPath!;
    const decided = isGraphqlRequest(path) ? decideGraphql(scope, maxBodyBytes) : decideRest(scope, path, maxBodyBytes);
    if (decided instanceof Promise) return decided.then((d) => concluded(scope, next, d, directory, path));
    return concluded(scope, next, decided, directory, path);
  };
}

/** The decision into the scope; an allowed request goes on, a denied one is refused (naming, in the log, who could). */
function concluded(scope: RequestScope, next: Next, { decision, facts }: StageDecision, directory: PolicyDirectory, path: string): Promise<Response> {
  if (decision.operation) scope.operation = decision.operation;
  if (decision.allowed) {
    scope.decision = { allowed: true, policy: decision.policy!, reason: decision.reason };
    return next(scope);
  }
  // For GraphQL: who could call the operation that was refused, on its own route.
  const route = decision.denied ? routesOf(decision.denied)[0] : undefined;
  const fix = route ? wouldAllow(directory, route.method, route.path, {}) : wouldAllow(directory, scope.method, path, facts);
  scope.decision = { allowed: false, reason: decision.reason, ...(fix ? { wouldAllow: fix } : {}) };
  const what = decision.denied ? `${decision.denied} (through GraphQL)` : decision.operation ?? `${scope.method} ${path}`;
  throw new PermissionDenied(`Client "${scope.identity!.id}" may not call ${what}.`, decision.reason);
}

async function decideGraphql(scope: RequestScope, maxBodyBytes: number): Promise<StageDecision> {
  const request = scope.request;
  const body = mayHaveBody(request) ? await readBodyWithCap(request, Math.min(maxBodyBytes, GRAPHQL_MAX_BODY_BYTES), scope.bodyLease) : undefined;
  if (body) scope.body = body;
  const { graphqlOperationLabel, graphqlOperations } = await loadGraphql();
  const asked = graphqlOperations(scope.method, body);
  if (!asked.ok) {
    scope.operation = 'GraphQL';
    throw asked.error;
  }
  return { decision: authorizeEach(scope.identity!, asked.operations, graphqlOperationLabel(asked.operations)), facts: {} };
}

/** Synchronous unless a policy condition needs the request's facts (the common case reads nothing). */
function decideRest(scope: RequestScope, path: string, maxBodyBytes: number): StageDecision | Promise<StageDecision> {
  const identity = scope.identity!;
  const operation = operationFor(scope.method, path);
  if (!needsFacts(identity, operation)) return { decision: authorize(identity, scope.method, path, {}, operation), facts: {} };
  return decideWithFacts(scope, path, operation, maxBodyBytes);
}

async function decideWithFacts(scope: RequestScope, path: string, operation: string | undefined, maxBodyBytes: number): Promise<StageDecision> {
  const identity = scope.identity!;
  const request = scope.request;
  const body = factsInBody(operation) && mayHaveBody(request) ? await readBodyWithCap(request, maxBodyBytes, scope.bodyLease) : undefined;
  if (body) scope.body = body;
  const facts = requestFacts(operation, scope.query, body);
  return { decision: authorize(identity, scope.method, path, facts, operation), facts };
}
