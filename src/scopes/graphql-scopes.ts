// GraphQL documents decided like their REST twins under scoped policies (issue 19 item 5): each
// root field a scoped grant allows is held against its scope with the field's arguments
// (GRAPHQL_FIELD_RESOURCES), a nested field (a run's `experiment`) must be covered by its
// operation's grants over everything the root fields touch, and model versions (a run's
// `modelVersions`, mlflowSearchModelVersions) come back filtered to what the grants cover. Aliases
// inside a model-versions selection could make a row's `name` another field, so a scoped caller's
// document may not have any.
import { GRAPHQL_FIELD_RESOURCES } from './operation-resources.ts';
import { covered, decideScoped, type ScopedGrant } from './decide.ts';
import { readValues, type RequestParts } from './request-values.ts';
import { touchedBy, type Touched } from './touched.ts';
import type { OwnerLookups } from './owners.ts';
import type { PatternSubject } from './name-patterns.ts';

/** One root field of a document as it asks it (pipeline/graphql.ts reads them). */
export interface RootField {
  /** The schema's field name (mlflowGetRun), whatever its alias. */
  field: string;
  operation: string;
  /** Its arguments with the request's variables put in (`{input: {runId: ...}}`). */
  args: Record<string, unknown>;
}

export interface AskedFields {
  roots: ReadonlyArray<RootField>;
  /** Response keys of `modelVersions` fields; `shadowed`: a field inside one has an alias. */
  modelVersions: { keys: ReadonlyArray<string>; shadowed: boolean };
}

/** Where model versions come back in a GraphQL answer, and the grants that decide which stay. */
export interface GraphqlRows {
  keys: ReadonlyArray<string>;
  grants: ReadonlyArray<ScopedGrant>;
}

export type GraphqlScopedDecision =
  | { allowed: true; reason: string; policies: string[]; modelVersionRows?: GraphqlRows }
  | { allowed: false; reason: string; denied: string };

export async function decideFieldsWithinScopes(
  asked: AskedFields,
  scopedOperations: ReadonlyMap<string, ReadonlyArray<ScopedGrant>>,
  subject: PatternSubject,
  requestId: string,
  owners: OwnerLookups,
): Promise<GraphqlScopedDecision> {
  const policies: string[] = [];
  const reasons: string[] = [];
  let rowGrants: ScopedGrant[] = [];

  for (const root of asked.roots) {
    const grants = scopedOperations.get(root.operation);
    if (!grants) continue;
    const result = await decideScoped({ operation: root.operation, declaration: GRAPHQL_FIELD_RESOURCES[root.field], grants, subject, parts: argumentsOf(root), requestId }, owners);
    if (!result.allowed) return { allowed: false, reason: `${root.field}: ${result.reason}`, denied: root.operation };
    policies.push(result.policy!);
    reasons.push(`${root.field}: ${result.reason}`);
    if (result.rows) rowGrants = [...rowGrants, ...result.rows.grants];
  }

  // Nested fields: what they read belongs to the root fields' resources, whichever grant allowed those.
  const nested = [...scopedOperations].filter(([operation]) => !asked.roots.some((root) => root.operation === operation));
  let everything: Touched[] | undefined;
  for (const [operation, grants] of nested) {
    if (operation === 'SearchModelVersions') {
      rowGrants = [...rowGrants, ...grants];
      continue;
    }
    everything ??= await touchedByRoots(asked.roots, owners, requestId);
    const grant = grants.find((g) => everything!.every((resource) => covered(resource, g.scopes, subject)));
    if (!grant) return { allowed: false, reason: `the nested ${operation} reads resources of the root fields that no scoped grant of ${operation} covers`, denied: operation };
    policies.push(grant.policy);
    reasons.push(`nested ${operation}: ${grant.how}`);
  }

  if (rowGrants.length === 0) return { allowed: true, reason: reasons.join('; '), policies };
  if (asked.modelVersions.shadowed) {
    return { allowed: false, reason: 'a field inside modelVersions has an alias, so its rows could not be told apart for a scoped policy', denied: 'SearchModelVersions' };
  }
  return { allowed: true, reason: reasons.join('; '), policies, modelVersionRows: { keys: asked.modelVersions.keys, grants: rowGrants } };
}

/** A root field's arguments as the request parts its declaration's places are read from. */
function argumentsOf(root: RootField): RequestParts {
  return { method: 'POST', query: '', body: new TextEncoder().encode(JSON.stringify(root.args)), headers: new Headers(), pathParams: [] };
}

/** Everything the document's root fields name, whether an unscoped or a scoped grant allowed them. */
async function touchedByRoots(roots: ReadonlyArray<RootField>, owners: OwnerLookups, requestId: string): Promise<Touched[]> {
  const all: Touched[] = [];
  for (const root of roots) {
    const declaration = GRAPHQL_FIELD_RESOURCES[root.field];
    if (!declaration || !('refs' in declaration) || !declaration.refs) continue;
    const read = readValues(declaration.refs, argumentsOf(root));
    if (!read.ok) return [{ kind: 'nothing', via: `${root.field}: its arguments cannot be read` }];
    all.push(...(await touchedBy(read.values, owners, requestId, false)));
  }
  return all;
}
