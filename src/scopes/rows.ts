// The rows of a search or list answer, kept to what a scoped caller may see (issue 19 item 5): an
// experiment by its name, a registered model or prompt by its name (and tags), a model version by
// its registered model, an evaluation dataset by every experiment it is linked to. A row is kept
// when one of the grants that allowed the search covers it, as a request naming it would be.
import type { RowFilter } from './operation-resources.ts';
import type { OwnerLookups } from './owners.ts';
import { PROMPT_TAG } from './owners.ts';
import type { PatternSubject } from './name-patterns.ts';
import { covered, withPromptness, type ScopedGrant } from './decide.ts';
import type { Touched } from './touched.ts';

interface RowKind {
  /** The answer's list of rows (MLflow's JSON name). */
  rows: string;
  /**
   * Whether the route pages its answer (max_results, page_token). An unpaged list is asked once with
   * the client's own parameters, and its list is always in the answer, empty or not (as MLflow's is).
   */
  paged: boolean;
  /** How many rows a page holds when the request does not say (MLflow's proto defaults). */
  defaultMaxResults: number;
  /** What the row is, as resources a scope is held against ('nothing' when it cannot tell). */
  resources(row: Record<string, unknown>, owners: OwnerLookups, requestId: string): Promise<Touched[]>;
}

const nameOf = (row: Record<string, unknown>) => (typeof row.name === 'string' ? row.name : undefined);
const NOTHING: Touched[] = [{ kind: 'nothing', via: 'a row without a name' }];

/** Prompt-ness from a row's own tags, when it carries them (registered models do). */
function taggedPrompt(row: Record<string, unknown>): boolean | undefined {
  if (!Array.isArray(row.tags)) return undefined;
  return row.tags.some((tag) => tag && typeof tag === 'object' && (tag as Record<string, unknown>).key === PROMPT_TAG && String((tag as Record<string, unknown>).value).toLowerCase() === 'true');
}

export const ROW_KINDS: Readonly<Record<RowFilter, RowKind>> = {
  experiments: {
    rows: 'experiments',
    paged: true,
    defaultMaxResults: 1000,
    resources: async (row) => {
      const name = nameOf(row);
      return name === undefined ? NOTHING : [{ kind: 'experiment', name, via: `experiment row "${name}"` }];
    },
  },
  registeredModels: {
    rows: 'registered_models',
    paged: true,
    defaultMaxResults: 100,
    resources: async (row) => {
      const name = nameOf(row);
      if (name === undefined) return NOTHING;
      const prompt = taggedPrompt(row);
      return [{ kind: 'registry', name, ...(prompt === undefined ? {} : { prompt }), via: `registered model row "${name}"` }];
    },
  },
  modelVersions: {
    rows: 'model_versions',
    paged: true,
    defaultMaxResults: 10_000,
    resources: async (row) => {
      const name = nameOf(row);
      return name === undefined ? NOTHING : [{ kind: 'registry', name, via: `model version row of "${name}"` }];
    },
  },
  evaluationDatasets: {
    rows: 'datasets',
    paged: true,
    defaultMaxResults: 1000,
    resources: async (row, owners, requestId) => {
      // A search's rows may leave the links out: then they are asked for, as for a dataset by id.
      const listed = Array.isArray(row.experiment_ids) ? row.experiment_ids.filter((id): id is string => typeof id === 'string') : undefined;
      const ids = listed ?? (typeof row.dataset_id === 'string' ? ((await owners.dataset(row.dataset_id, requestId)) ?? []) : []);
      if (ids.length === 0) return [{ kind: 'nothing', via: 'a dataset linked to no experiment' }];
      return Promise.all(ids.map(async (id): Promise<Touched> => {
        const name = await owners.experimentName(id, requestId);
        return name === undefined ? { kind: 'nothing', via: `experiment ${id} does not exist` } : { kind: 'experiment', name, via: `dataset row → experiment ${id}` };
      }));
    },
  },
  // The configs of scorers by their ids (handlers.py _get_online_scoring_configs): one unpaged list.
  onlineScoringConfigs: {
    rows: 'configs',
    paged: false,
    defaultMaxResults: 0,
    resources: async (row, owners, requestId) => {
      const id = typeof row.experiment_id === 'string' ? row.experiment_id : undefined;
      const name = id === undefined ? undefined : await owners.experimentName(id, requestId);
      return name === undefined ? [{ kind: 'nothing', via: 'a scoring config of no known experiment' }] : [{ kind: 'experiment', name, via: `scoring config row → experiment ${id}` }];
    },
  },
};

/** Whether a row stays: one of the grants covers all it is (prompt-ness asked only where it matters). */
export async function rowVisible(
  row: unknown,
  kind: RowKind,
  grants: ReadonlyArray<ScopedGrant>,
  subject: PatternSubject,
  owners: OwnerLookups,
  requestId: string,
): Promise<boolean> {
  if (!row || typeof row !== 'object') return false;
  const found = await kind.resources(row as Record<string, unknown>, owners, requestId);
  const resources = await Promise.all(found.map((resource) => withPromptness(resource, grants, subject, owners, requestId)));
  return grants.some((grant) => resources.every((resource) => covered(resource, grant.scopes, subject)));
}
