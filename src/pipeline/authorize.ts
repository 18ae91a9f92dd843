// Stage 4, authorize: default deny. The identity's policies, in the order the client lists them,
// allow (operation) or (method, path pattern) pairs; decided on the rewritten path. A grant from a
// policy with conditions counts only when the request's facts meet them (request-facts.ts).
import type { Profile } from '../auth/identity.ts';
import type { CompiledPolicy, CompiledRules, GrantOrigin, PolicyConditions } from '../rules/compile.ts';
import { operationFor, routesOf } from '../rules/operations.ts';
import { namesAnExperiment, type RequestFacts } from './request-facts.ts';

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

function grantIn(policy: CompiledPolicy, method: string, path: string, operation: string | undefined): { origin: GrantOrigin; how: string } | undefined {
  if (operation) {
    const origin = policy.operations.get(operation);
    if (origin) return { origin, how: `operation ${operation}` };
  }
  for (const grant of policy.grants) {
    if ((grant.methods === '*' || grant.methods.has(method)) && grant.pattern.test(path)) return { origin: grant, how: `path rule ${grant.source}` };
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
  rules: CompiledRules,
  method: string,
  path: string,
  facts: RequestFacts,
  operation: string | undefined = operationFor(method, path),
): string | undefined {
  const holders = new Map<string, string[]>();
  const note = (policy: string, holder: string) => holders.set(policy, [...(holders.get(policy) ?? []), holder]);
  for (const profile of rules.clientsById.values()) for (const p of profile.policies) note(p.name, `client ${profile.id}`);
  for (const profile of rules.auth.groups.values()) for (const p of profile.policies) note(p.name, `group ${profile.id}`);
  for (const p of rules.auth.anonymous?.policies ?? []) note(p.name, 'anonymous');
  const allowing = [...rules.policies.values()].filter(
    (policy) => authorize({ id: '-', policies: [policy] }, method, path, facts, operation).allowed,
  );
  if (allowing.length === 0) return undefined;
  return allowing.map((p) => `${p.name} (${holders.get(p.name)?.join(', ') ?? 'held by nobody'})`).join('; ');
}
