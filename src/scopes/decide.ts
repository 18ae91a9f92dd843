// The scoped half of authorization: a request whose operation only scoped grants allow is allowed
// when one of those grants' scopes covers every resource the request touches (issue 19). The
// operation's declaration (operation-resources.ts) says where to look; request-values.ts reads the
// values, touched.ts follows them to their owners, and this holds them against each grant's scopes.
import { OPERATION_RESOURCES, type OperationResources, type RowFilter } from './operation-resources.ts';
import { readValues, type RequestParts } from './request-values.ts';
import { touchedBy, type Touched } from './touched.ts';
import { allCover, describeScope, type PolicyScope, type ScopedKind } from './policy-scope.ts';
import type { OwnerLookups } from './owners.ts';
import type { PatternSubject } from './name-patterns.ts';

/** A policy of the caller that grants the operation, within these scopes (all must cover). */
export interface ScopedGrant {
  policy: string;
  /** How it grants (`operation GetRun`, `path rule GET /api/**`), for the reason. */
  how: string;
  scopes: ReadonlyArray<PolicyScope>;
}

export interface ScopedDecision {
  allowed: boolean;
  policy?: string;
  /** How it was allowed, or why not: names what was out of scope (audit log and explain only). */
  reason: string;
  /** A search or list allowed: its answer's rows must be kept to what one of these grants covers. */
  rows?: { filter: RowFilter; grants: ReadonlyArray<ScopedGrant> };
}

/** The declaration of an operation (undefined: not declared, so no scoped grant can allow it). */
export function resourcesOf(operation: string | undefined): OperationResources | undefined {
  return operation === undefined ? undefined : OPERATION_RESOURCES[operation];
}

export interface ScopedRequest {
  operation: string | undefined;
  declaration: OperationResources | undefined;
  grants: ReadonlyArray<ScopedGrant>;
  subject: PatternSubject;
  parts: RequestParts;
  requestId: string;
}

/** Decides a request only scoped grants allow; rejects with LookupFailed when an owner cannot be found. */
export async function decideScoped(request: ScopedRequest, owners: OwnerLookups): Promise<ScopedDecision> {
  const { declaration, grants, operation } = request;
  const what = operation ?? 'this path';
  if (!declaration) return { allowed: false, reason: `${what} has no resource declaration, so no scoped policy can allow it (grants by ${names(grants)})` };
  if ('global' in declaration) return { allowed: true, policy: grants[0]!.policy, reason: `${grants[0]!.how}; touches no team's data (${declaration.global})` };
  if ('unscopable' in declaration) return { allowed: false, reason: `${what} cannot be scoped (${declaration.unscopable}); only an unscoped policy can allow it, and ${names(grants)} are scoped` };

  const read = readValues(declaration.refs ?? [], request.parts);
  if (!read.ok) {
    if (read.missing) return { allowed: false, reason: `${what} must name its ${read.kind} for a scoped policy (${names(grants)}): without it MLflow acts on every one` };
    throw read.error;
  }
  const found = await touchedBy(read.values, owners, request.requestId, read.promptTag);
  const touched = await Promise.all(found.map((resource) => withPromptness(resource, grants, request.subject, owners, request.requestId)));
  for (const grant of grants) {
    const outside = touched.find((resource) => !covered(resource, grant.scopes, request.subject));
    if (outside) continue;
    const rows = 'filter' in declaration ? { rows: { filter: declaration.filter, grants: grants.filter((g) => touched.every((r) => covered(r, g.scopes, request.subject))) } } : {};
    const within = touched.length ? ` within its scope (${touched.map((r) => r.via).join('; ')})` : '';
    return { allowed: true, policy: grant.policy, reason: `${grant.how}${within}`, ...rows };
  }
  const why = grants.map((grant) => {
    const outside = touched.find((resource) => !covered(resource, grant.scopes, request.subject))!;
    return `${grant.policy}: ${outside.via}${outside.kind === 'nothing' ? '' : ` (${outside.kind} "${outside.name}") is outside ${grant.scopes.map(describeScope).join(' and ')}`}`;
  });
  return { allowed: false, reason: `${what} touches what no scoped grant covers: ${why.join('; ')}` };
}

export function covered(resource: Touched, scopes: ReadonlyArray<PolicyScope>, subject: PatternSubject): boolean {
  if (resource.kind === 'nothing') return false;
  if (resource.kind === 'experiment') return allCover(scopes, 'experiment', resource.name, subject);
  // A name no entry has yet (a client's existence probe before it creates one, which MLflow answers
  // 404) is covered where either kind's list covers it. Prompt-ness not asked (both lists agree on
  // the name): covered as both.
  const kinds: ScopedKind[] = resource.prompt === undefined ? ['registeredModel', 'prompt'] : [resource.prompt ? 'prompt' : 'registeredModel'];
  if (resource.absent) return kinds.some((kind) => allCover(scopes, kind, resource.name, subject));
  return kinds.every((kind) => allCover(scopes, kind, resource.name, subject));
}

/**
 * Whether a registry entry is a prompt matters only when a grant's scopes cover the name as one and
 * not as the other; only then is it asked (once per name, cached). An entry that does not exist is
 * neither: `absent`.
 */
export async function withPromptness(resource: Touched, grants: ReadonlyArray<ScopedGrant>, subject: PatternSubject, owners: OwnerLookups, requestId: string): Promise<Touched> {
  if (resource.kind !== 'registry' || resource.prompt !== undefined) return resource;
  const disagree = grants.some((g) => allCover(g.scopes, 'registeredModel', resource.name, subject) !== allCover(g.scopes, 'prompt', resource.name, subject));
  if (!disagree) return resource;
  // A rename's new name is whatever the renamed entry is.
  const prompt = await owners.isPrompt(resource.promptOf ?? resource.name, requestId);
  return prompt === undefined ? { ...resource, absent: true } : { ...resource, prompt };
}

function names(grants: ReadonlyArray<ScopedGrant>): string {
  return grants.map((g) => g.policy).join(', ') || 'none';
}
