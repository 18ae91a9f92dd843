// What `explain` says of a request only scoped grants allow (issue 19 item 7), without a network
// call: the resources the request names (read by the gateway's own request-values.ts), which of
// them it would look up and with which call, and which scope decides. Names in the request decide
// at once; ids depend on what the lookups would answer, and explain says so rather than guess.
//
// It runs the gateway's own resolution (touched.ts) against lookups that answer nothing but
// remember what they were asked: an id's experiment comes back as a placeholder name that no
// pattern covers, and the verdict sets those apart from the names the request gave itself.
import type { OperationResources } from './operation-resources.ts';
import { readValues, type RequestParts } from './request-values.ts';
import { touchedBy, type Touched } from './touched.ts';
import { covered, withPromptness, type ScopedGrant } from './decide.ts';
import { describeScope } from './policy-scope.ts';
import type { OwnerLookups, PlacedKind } from './owners.ts';
import type { PatternSubject } from './name-patterns.ts';

export interface ScopeExplanation {
  /** `[label, text]` rows for explain's output. */
  rows: Array<[string, string]>;
  /** allow, deny, or depends (on what lookups would answer). */
  verdict: 'allow' | 'deny' | 'depends';
  policy?: string;
}

const UNKNOWN = '\u0000looked up: ';
const ROUTES: Readonly<Record<PlacedKind, string>> = {
  run: 'GET /api/2.0/mlflow/runs/get',
  trace: 'GET /api/3.0/mlflow/traces/{id} (2.x: /api/2.0/mlflow/traces/{id}/info)',
  loggedModel: 'GET /api/2.0/mlflow/logged-models/{id}',
  promptOptimizationJob: 'GET /api/3.0/mlflow/prompt-optimization/jobs/{id}',
  reviewQueue: 'GET /api/3.0/mlflow/review-queues/get',
  labelSchema: 'GET /api/3.0/mlflow/label-schemas/get',
  issue: 'GET /api/3.0/mlflow/issues/{id}',
  job: 'GET /ajax-api/3.0/jobs/{id}',
};

/** Lookups that answer with placeholders and write down each call the gateway would make. */
function dryLookups(asked: string[], askedPromptness: Set<string>): OwnerLookups {
  const note = (line: string) => void (asked.includes(line) || asked.push(line));
  return {
    placement: async (kind, id) => {
      note(`${kind} ${JSON.stringify(id)} → its experiment (${ROUTES[kind]})`);
      return { experimentId: `${UNKNOWN}the experiment of ${kind} ${id}` };
    },
    dataset: async (id) => {
      note(`dataset ${JSON.stringify(id)} → its experiments (GET /api/3.0/mlflow/datasets/{id}/experiment-ids)`);
      return [`${UNKNOWN}the experiments of dataset ${id}`];
    },
    experimentName: async (id) => {
      if (id.startsWith(UNKNOWN)) return id;
      note(`experiment ${id} → its name (GET /api/2.0/mlflow/experiments/get)`);
      return `${UNKNOWN}experiment ${id}`;
    },
    isPrompt: async (name) => {
      askedPromptness.add(name);
      note(`"${name}" → prompt or registered model (GET /api/2.0/mlflow/registered-models/get)`);
      return undefined;
    },
    changed() {},
    learnRun() {},
    learnExperimentName() {},
    generation: () => 0,
    size: () => 0,
  };
}

/** A resource only a lookup would tell: an id's experiment, or whether a registry entry is a prompt. */
const unknown = (resource: Touched, askedPromptness: ReadonlySet<string>) =>
  (resource.kind === 'experiment' && resource.name.startsWith(UNKNOWN)) ||
  (resource.kind === 'registry' && resource.prompt === undefined && askedPromptness.has(resource.promptOf ?? resource.name));

export async function explainScoped(declaration: OperationResources | undefined, grants: ReadonlyArray<ScopedGrant>, subject: PatternSubject, parts: RequestParts): Promise<ScopeExplanation> {
  const rows: Array<[string, string]> = [['scope', `only scoped grants allow it (${grants.map((g) => `${g.policy}: ${g.scopes.map(describeScope).join(' and ')}`).join('; ')})`]];
  if (!declaration) return { rows, verdict: 'deny' };
  if ('global' in declaration) return { rows: [...rows, ['touches', `no team's data (${declaration.global})`]], verdict: 'allow', policy: grants[0]!.policy };
  if ('unscopable' in declaration) return { rows: [...rows, ['touches', `cannot be scoped: ${declaration.unscopable}`]], verdict: 'deny' };
  const read = readValues(declaration.refs ?? [], parts);
  if (!read.ok) {
    rows.push(['touches', read.missing ? `names no ${read.kind}, which a scoped policy requires (MLflow would act on every one)` : `refused (400): ${read.error.message}`]);
    return { rows, verdict: 'deny' };
  }
  const asked: string[] = [];
  const askedPromptness = new Set<string>();
  const lookups = dryLookups(asked, askedPromptness);
  const found = await touchedBy(read.values, lookups, 'explain', read.promptTag);
  const touched = await Promise.all(found.map((resource) => withPromptness(resource, grants, subject, lookups, 'explain')));
  for (const value of read.values) rows.push(['touches', `${value.kind} ${JSON.stringify(value.value)} (${value.from})`]);
  for (const line of asked) rows.push(['looks up', line]);
  if ('filter' in declaration) rows.push(['rows', `the answer keeps only ${declaration.filter} a grant's scope covers; pages refilled to max_results (lookups.maxSearchPages backend pages at most)`]);

  const known = touched.filter((resource) => !unknown(resource, askedPromptness));
  const waiting = touched.length - known.length;
  const candidates = grants.filter((grant) => known.every((resource) => covered(resource, grant.scopes, subject)));
  if (candidates.length === 0) {
    const outside = known.find((resource) => !grants.some((grant) => covered(resource, grant.scopes, subject)))!;
    rows.push(['outside', outside.kind === 'nothing' ? outside.via : `${outside.kind} "${outside.name}" (${outside.via})`]);
    return { rows, verdict: 'deny' };
  }
  const first = candidates[0]!;
  if (waiting === 0) return { rows, verdict: 'allow', policy: first.policy };
  const within = candidates.map((g) => `${g.policy} (${g.scopes.map(describeScope).join(' and ')})`).join(' or ');
  rows.push(['depends', `ALLOW if what is looked up lies within the scope of ${within}; else DENY (403), the same answer as for an id that does not exist`]);
  return { rows, verdict: 'depends', policy: first.policy };
}
