// Stage 4, authorize: default deny. The identity's policies, in the order the client lists them,
// allow (operation) or (method, path pattern) pairs; decided on the rewritten path. A grant from a
// scoped policy counts only when its scope covers every resource the request touches (scopes/).
import type { PolicyDirectory, Profile } from '../auth/identity.ts';
import type { CompiledPolicy, GrantOrigin } from '../auth/policy.ts';
import { operationFor, pathParams, routesOf } from '../rules/operations.ts';
import { decideScoped, resourcesOf, type ScopedGrant } from '../scopes/decide.ts';
import { decideFieldsWithinScopes } from '../scopes/graphql-scopes.ts';
import type { AskedDocument } from './graphql.ts';
import { refsReadBody } from '../scopes/request-values.ts';
import { changesWhatLookupsKnow, type OwnerLookups } from '../scopes/owners.ts';
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
  /**
   * Not decided yet: only these scoped grants allow the operation, so what the request touches
   * decides it (scopes/decide.ts). `allowed` stays false until then.
   */
  scoped?: ReadonlyArray<ScopedGrant>;
}

/**
 * The caller's policies, in the order the client lists them, against the operation or path. An
 * unscoped grant allows at once; scoped grants are collected and left to the scope check, so an
 * unscoped grant anywhere in the list wins over them.
 */
export function authorize(identity: Profile, method: string, path: string, operation: string | undefined = operationFor(method, path)): Decision {
  const scoped: ScopedGrant[] = [];
  for (const policy of identity.policies) {
    const grant = grantIn(policy, method, path, operation);
    if (!grant) continue;
    const via = grant.origin.policy !== policy.name ? ` (via ${grant.origin.policy})` : '';
    if (!grant.origin.scopes) return { allowed: true, ...(operation ? { operation } : {}), policy: policy.name, reason: `${grant.how}${via}` };
    scoped.push({ policy: policy.name, how: `${grant.how}${via}`, scopes: grant.origin.scopes });
  }
  const what = operation ? `operation ${operation}` : `${method} ${path} (not an MLflow operation)`;
  if (scoped.length) {
    return { allowed: false, ...(operation ? { operation } : {}), reason: `only scoped policies (${scoped.map((g) => g.policy).join(', ')}) allow ${what}`, scoped };
  }
  const policies = identity.policies.map((p) => p.name).join(', ') || 'none';
  return { allowed: false, ...(operation ? { operation } : {}), reason: `no policy of ${identity.id} (${policies}) allows ${what}` };
}

/**
 * A request that performs several operations at once (a GraphQL document, pipeline/graphql.ts) is
 * allowed only when each of them would be allowed on its own route: the same grants, operation
 * names or path rules, decide it as the equivalent REST calls. `denied` names the first refused one;
 * operations only scoped grants allow are left in `scopedOperations`, for the scope check.
 */
export function authorizeEach(identity: Profile, operations: ReadonlyArray<string>, label: string): Decision & { denied?: string; scopedOperations?: ReadonlyMap<string, ReadonlyArray<ScopedGrant>> } {
  const policies = new Set<string>();
  const reasons: string[] = [];
  const scopedOperations = new Map<string, ReadonlyArray<ScopedGrant>>();
  for (const operation of operations) {
    const route = routesOf(operation)[0];
    const decision: Decision = route ? authorize(identity, route.method, route.path, operation) : { allowed: false, reason: `${operation} has no route` };
    if (decision.scoped) {
      scopedOperations.set(operation, decision.scoped);
      continue;
    }
    if (!decision.allowed) return { allowed: false, operation: label, reason: decision.reason, denied: operation };
    policies.add(decision.policy!);
    reasons.push(decision.reason);
  }
  if (scopedOperations.size) {
    return { allowed: false, operation: label, reason: reasons.join('; '), ...(policies.size ? { policy: [...policies].join(',') } : {}), scopedOperations };
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

/**
 * For a denied request: which policies of the rules would have allowed it, and who holds them.
 * Written to the audit log so an operator can see the fix; never sent to the caller. A scoped
 * policy counts here when it grants the operation (whether its scope covers the resources is what
 * denied the request, and the reason says which).
 */
export function wouldAllow(directory: PolicyDirectory, method: string, path: string, operation: string | undefined = operationFor(method, path)): string | undefined {
  const holders = new Map<string, string[]>();
  const note = (policy: string, holder: string) => holders.set(policy, [...(holders.get(policy) ?? []), holder]);
  for (const profile of directory.clientsById.values()) for (const p of profile.policies) note(p.name, `client ${profile.id}`);
  for (const profile of directory.groups.values()) for (const p of profile.policies) note(p.name, `group ${profile.id}`);
  for (const p of directory.anonymous?.policies ?? []) note(p.name, 'anonymous');
  const allowing = [...directory.policies.values()].flatMap((policy) => {
    const decision = authorize({ id: '-', policies: [policy] }, method, path, operation);
    return decision.allowed ? [policy.name] : decision.scoped ? [`${policy.name} [scoped]`] : [];
  });
  if (allowing.length === 0) return undefined;
  return allowing.map((name) => `${name} (${holders.get(name.replace(/ \[scoped\]$/, ''))?.join(', ') ?? 'held by nobody'})`).join('; ');
}

// The GraphQL parser is loaded with the first GraphQL request (graphql-route.ts says why).
let graphqlModule: Promise<typeof import('./graphql.ts')> | undefined;
const loadGraphql = () => (graphqlModule ??= import('./graphql.ts'));

/** The GraphQL functions a decision uses: the stage loads them lazily, so does explain's caller. */
export type GraphqlDecider = Pick<typeof import('./graphql.ts'), 'graphqlOperations' | 'graphqlOperationLabel'>;

/**
 * The request as the decision sees it: method, rewritten path, raw query, and the body when the
 * decision reads one (`decisionReadsBody`). The stage builds it from the scope; `explain` from its
 * arguments (`--data` is the body), so both decide on the same facts by the same functions.
 */
export interface RequestToDecide {
  method: string;
  path: string;
  query: string;
  body?: Uint8Array;
}

/**
 * What the request alone decides (pure): allowed, denied, or left to the scope check, with the
 * GraphQL document's fields when it is one. `denied` names a GraphQL document's refused operation.
 */
export type RequestDecision = Decision & {
  denied?: string;
  scopedOperations?: ReadonlyMap<string, ReadonlyArray<ScopedGrant>>;
  asked?: AskedDocument;
};

/**
 * Whether the decision reads the body, so it must be read before deciding: a GraphQL document (what
 * it asks is what is authorized), or a request only scoped grants allow whose resources may be in it.
 */
export function decisionReadsBody(identity: Profile, method: string, path: string, operation: string | undefined = operationFor(method, path)): boolean {
  if (isGraphqlRequest(path)) return true;
  const decision = authorize(identity, method, path, operation);
  const declaration = decision.scoped ? resourcesOf(operation) : undefined;
  return declaration !== undefined && 'refs' in declaration && declaration.refs !== undefined && refsReadBody(declaration.refs);
}

/**
 * The decision from the request alone (pure): a GraphQL document by each operation it performs
 * (throws the document's refusal: unreadable, introspection, a field MLflow lacks), any other request
 * by its operation or path. Scoped grants are left for decideWithinScopes / explain to hold against
 * what the request touches.
 */
export function decideRequest(identity: Profile, request: RequestToDecide, graphql: GraphqlDecider | undefined, operation?: string): RequestDecision {
  if (isGraphqlRequest(request.path)) {
    if (!graphql) throw new Error('a GraphQL request is decided with the GraphQL functions (decideRequest\'s graphql)');
    const asked = graphql.graphqlOperations(request.method, request.body);
    if (!asked.ok) throw asked.error;
    return { ...authorizeEach(identity, asked.operations, graphql.graphqlOperationLabel(asked.operations)), asked };
  }
  return authorize(identity, request.method, request.path, operation ?? operationFor(request.method, request.path));
}

/**
 * The stage: default deny, decided on the rewritten path. Most requests are decided from the
 * operation alone, synchronously. The body is read before the decision only when the decision
 * reads it (`decisionReadsBody`): a GraphQL document, or a scoped grant, whose scope is held against
 * the ids the request names (scopes/decide.ts, with lookups); it is then kept in the scope, to be
 * sent on as read. A denial names, in the log only, the policies that would have allowed the request.
 */
export function authorization(directory: PolicyDirectory, maxBodyBytes: number, owners?: OwnerLookups): Stage {
  // Synchronous when the decision needs nothing read or looked up (a REST call an unscoped grant
  // decides, or no grant at all): no promise of its own (issue 21, bench/in-process.ts).
  return function authorization(scope, next) {
    const path = scope.upstreamPath!;
    if (isGraphqlRequest(path)) return decideGraphqlRequest(scope, path, maxBodyBytes, owners).then((decision) => concluded(scope, next, decision, directory, path, owners));
    const decision = decideRequest(scope.identity!, { method: scope.method, path, query: scope.query }, undefined);
    if (decision.operation) scope.operation = decision.operation;
    if (decision.scoped) return decideWithinScopes(scope, decision, decision.scoped, maxBodyBytes, owners).then((scoped) => concluded(scope, next, scoped, directory, path, owners));
    return concluded(scope, next, decision, directory, path, owners);
  };
}

/** A GraphQL document: read whole (what it asks is what is authorized), each operation decided. */
async function decideGraphqlRequest(scope: RequestScope, path: string, maxBodyBytes: number, owners: OwnerLookups | undefined): Promise<RequestDecision> {
  if (mayHaveBody(scope.request)) {
    const body = await readBodyWithCap(scope.request, Math.min(maxBodyBytes, GRAPHQL_MAX_BODY_BYTES), scope.bodyLease);
    if (body) scope.body = body;
  }
  let decision: RequestDecision;
  try {
    decision = decideRequest(scope.identity!, { method: scope.method, path, query: scope.query, ...(scope.body ? { body: scope.body } : {}) }, await loadGraphql());
  } catch (error) {
    scope.operation = 'GraphQL';
    throw error;
  }
  if (decision.operation) scope.operation = decision.operation;
  return decision.scopedOperations ? decideGraphqlWithinScopes(scope, decision, decision.scopedOperations, owners) : decision;
}

/** The decision made: on to the next stage, or 403 naming (in the log only) who could have. */
function concluded(scope: RequestScope, next: Next, decision: RequestDecision, directory: PolicyDirectory, path: string, owners: OwnerLookups | undefined): Promise<Response> {
  if (decision.allowed) {
    scope.decision = { allowed: true, policy: decision.policy!, reason: decision.reason };
    if (!changesWhatLookupsKnow(decision.operation)) return next(scope);
    return changingWhatLookupsKnow(scope, next, decision.operation!, owners);
  }
  // For GraphQL: who could call the operation that was refused, on its own route.
  const route = decision.denied ? routesOf(decision.denied)[0] : undefined;
  const fix = route ? wouldAllow(directory, route.method, route.path) : wouldAllow(directory, scope.method, path);
  scope.decision = { allowed: false, reason: decision.reason, ...(fix ? { wouldAllow: fix } : {}) };
  const what = decision.denied ? `${decision.denied} (through GraphQL)` : decision.operation ?? `${scope.method} ${path}`;
  // The same words whether the resource is another team's or does not exist: no oracle.
  const on = decision.scoped || decision.scopedOperations ? ' on the resources this request names' : '';
  throw new PermissionDenied(`Client "${scope.identity!.id}" may not call ${what}${on}.`, decision.reason);
}

/**
 * A rename or relink through the gateway: what the lookups knew of it is stale, before the backend
 * acts and after (a lookup that raced the change is not kept), however the rest of the list ends.
 */
async function changingWhatLookupsKnow(scope: RequestScope, next: Next, operation: string, owners: OwnerLookups | undefined): Promise<Response> {
  owners?.changed(operation);
  try {
    return await next(scope);
  } finally {
    owners?.changed(operation);
  }
}

/** A GraphQL document some of whose operations only scoped grants allow: each field held against them. */
async function decideGraphqlWithinScopes(scope: RequestScope, decision: RequestDecision, scopedOperations: ReadonlyMap<string, ReadonlyArray<ScopedGrant>>, owners: OwnerLookups | undefined): Promise<RequestDecision> {
  if (!owners || !decision.asked) return { ...decision, reason: 'only scoped policies allow it, but no lookups are configured', denied: [...scopedOperations.keys()][0]! };
  const scoped = await decideFieldsWithinScopes(decision.asked, scopedOperations, scope.identity!, scope.requestId, owners);
  if (!scoped.allowed) return { ...decision, allowed: false, reason: scoped.reason, denied: scoped.denied };
  if (scoped.modelVersionRows) scope.scopedGraphqlRows = scoped.modelVersionRows;
  const policies = [...new Set([...(decision.policy ? decision.policy.split(',') : []), ...scoped.policies])];
  return { ...decision, allowed: true, policy: policies.join(','), reason: [decision.reason, scoped.reason].filter(Boolean).join('; ') };
}

/**
 * Only scoped grants allow the operation: read what the request names (its body too, kept for
 * sending) and hold it against their scopes. A GET's body is neither read nor forwarded (MLflow
 * would read one from a GET without a query, handlers.py _get_request_message, but none reaches it).
 */
async function decideWithinScopes(scope: RequestScope, decision: RequestDecision, grants: ReadonlyArray<ScopedGrant>, maxBodyBytes: number, owners: OwnerLookups | undefined): Promise<RequestDecision> {
  const request = scope.request;
  const operation = decision.operation;
  const declaration = resourcesOf(operation);
  if (!owners) return { ...decision, reason: `${decision.reason}, but no lookups are configured` };
  const readsBody = declaration && 'refs' in declaration && declaration.refs && refsReadBody(declaration.refs);
  if (readsBody && !scope.body && mayHaveBody(request)) {
    const body = await readBodyWithCap(request, maxBodyBytes, scope.bodyLease);
    if (body) scope.body = body;
  }
  const scoped = await decideScoped(
    {
      operation,
      declaration,
      grants,
      subject: scope.identity!,
      parts: {
        method: scope.method,
        query: scope.query,
        ...(readsBody && scope.body ? { body: scope.body } : {}),
        headers: request.headers,
        pathParams: operation ? pathParams(operation, scope.method, scope.upstreamPath!) : [],
      },
      requestId: scope.requestId,
    },
    owners,
  );
  if (scoped.rows) scope.scopedRows = scoped.rows;
  return { ...decision, allowed: scoped.allowed, ...(scoped.policy ? { policy: scoped.policy } : {}), reason: scoped.reason, scoped: grants };
}

