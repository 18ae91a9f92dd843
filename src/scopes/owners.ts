// Whose an id is: the experiment of a run, trace, logged model or prompt-optimization job, the
// experiments of a dataset, the name of an experiment, whether a registry entry is a prompt. The
// gateway asks its backend itself (pipeline/own-calls.ts, signed with the host's credentials) and
// remembers the answers:
// - links that never change (a run's experiment, a trace's, a logged model's) until evicted;
// - what can change (an experiment's name, a dataset's experiments, prompt-ness) for
//   lookups.nameSeconds, and forgotten at once when a change passes through this gateway;
// - nothing about ids that do not exist (an experiment id is a counter: it may exist tomorrow).
// Concurrent lookups of one id share one call. A lookup that fails (backend down, slow, 5xx, the
// gateway's role refused) refuses the request with 503: never open.
//
// The routes asked are MLflow's own reads (mlflow/server/handlers.py), the ones MLflow's auth app
// resolves ids with (mlflow/server/auth/__init__.py: _get_permission_from_run_id and its siblings).
import type { AwsCredentials } from '../aws/sigv4.ts';
import { GatewayError } from '../errors.ts';

export interface OwnCallRequest {
  method: 'GET' | 'POST';
  /** Upstream path, already encoded. */
  path: string;
  query?: string;
  /** A JSON body (POST). */
  body?: unknown;
  /** Credentials for a SageMaker backend (ignored by a self-hosted one). */
  credentials?: () => Promise<AwsCredentials>;
  requestId: string;
}

/** What came back: the status and the JSON body (undefined when it was not JSON). */
export interface OwnCallAnswer {
  status: number;
  json: unknown;
}

/** One call of the gateway's own to its backend (pipeline/own-calls.ts makes them). */
export type OwnCalls = (request: OwnCallRequest) => Promise<OwnCallAnswer>;

/** Transport failures (refused, reset, timed out, an answer over the size cap). */
export class OwnCallFailed extends Error {}

/** A lookup failed, so the request cannot be decided: refused, retryable (MLflow's client retries 503). */
export class LookupFailed extends GatewayError {
  constructor(detail: string) {
    super(503, 'TEMPORARILY_UNAVAILABLE', 'The gateway could not check which experiment or model this request touches; retry later.', { 'retry-after': '1' }, detail);
  }
}

/** Where a run, trace, logged model, job, issue, queue or schema lives. */
export interface Placement {
  /** Absent: it exists but belongs to no experiment (a built-in label schema, a job naming none). */
  experimentId?: string;
  /** The run's or logged model's artifact URI, when the answer gives one (a model source must lie under it). */
  artifactUri?: string;
}

/** What a lookup can place in an experiment. */
export type PlacedKind = 'run' | 'trace' | 'loggedModel' | 'promptOptimizationJob' | 'reviewQueue' | 'labelSchema' | 'issue' | 'job';

export interface OwnerLookups {
  /** Where it lives; undefined when it does not exist. */
  placement(kind: PlacedKind, id: string, requestId: string): Promise<Placement | undefined>;
  /** The experiments a dataset is linked to ([] when none). */
  dataset(id: string, requestId: string): Promise<ReadonlyArray<string> | undefined>;
  experimentName(id: string, requestId: string): Promise<string | undefined>;
  /** Whether a registry entry is a prompt (tagged mlflow.prompt.is_prompt=true). */
  isPrompt(name: string, requestId: string): Promise<boolean | undefined>;
  /**
   * An operation that may change what the lookups know (a rename, a relink: changesWhatLookupsKnow)
   * passed through the gateway: every answer of that kind is forgotten. Renames are rare, and the
   * request's own ids are not known without reading a body nobody else needed.
   */
  changed(operation: string): void;
  /**
   * What an answer passing through told (CreateRun's run, GetExperimentByName's name): saves a
   * lookup. `asOf` is generation() taken when the request was sent: an answer that a change
   * overtook is not kept as current.
   */
  learnRun(id: string, placement: Placement): void;
  learnExperimentName(id: string, name: string, asOf: number): void;
  /** The generation of experiment names now (for learnExperimentName). */
  generation(): number;
  /** Entries held now (the metric's gauge). */
  size(): number;
}

/**
 * How each kind is placed: MLflow's own read of it, and where its answer says the experiment (and,
 * for runs and logged models, the artifact URI). The trace has two routes (3.x, then 2.x).
 */
interface PlacementRoute {
  path(id: string): string;
  query?(id: string): string;
  experiment: ReadonlyArray<string>;
  artifactUri?: ReadonlyArray<string>;
  /** FastAPI routes answer an unknown id 404 {"detail": ...}, not MLflow's error shape. */
  fastApi?: true;
}

const segment = encodeURIComponent;
const PLACEMENTS: Readonly<Record<Exclude<PlacedKind, 'trace'>, PlacementRoute>> = {
  run: { path: () => '/api/2.0/mlflow/runs/get', query: (id) => `run_id=${segment(id)}`, experiment: ['run', 'info', 'experiment_id'], artifactUri: ['run', 'info', 'artifact_uri'] },
  loggedModel: { path: (id) => `/api/2.0/mlflow/logged-models/${segment(id)}`, experiment: ['model', 'info', 'experiment_id'], artifactUri: ['model', 'info', 'artifact_uri'] },
  promptOptimizationJob: { path: (id) => `/api/3.0/mlflow/prompt-optimization/jobs/${segment(id)}`, experiment: ['job', 'experiment_id'] },
  reviewQueue: { path: () => '/api/3.0/mlflow/review-queues/get', query: (id) => `queue_id=${segment(id)}`, experiment: ['review_queue', 'experiment_id'] },
  labelSchema: { path: () => '/api/3.0/mlflow/label-schemas/get', query: (id) => `schema_id=${segment(id)}`, experiment: ['label_schema', 'experiment_id'] },
  issue: { path: (id) => `/api/3.0/mlflow/issues/${segment(id)}`, experiment: ['issue', 'experiment_id'] },
  // mlflow/server/job_api.py: the job's parameters, as the UI submitted them.
  job: { path: (id) => `/ajax-api/3.0/jobs/${segment(id)}`, experiment: ['params', 'experiment_id'], fastApi: true },
};

export interface LookupSettings {
  cacheEntries: number;
  nameMs: number;
  /** Credentials the lookups are signed with (the host's), for a SageMaker backend. */
  credentials?: () => Promise<AwsCredentials>;
  now?: () => number;
  /** hit / miss / lookup (a call made) / failure, per kind: the metrics. */
  count?: (event: 'hit' | 'miss' | 'lookup' | 'failure', kind: string) => void;
}

interface Entry {
  value: unknown;
  /** When it stops being trusted (ms), or Infinity for a link that never changes. */
  until: number;
  /** The generation of its kind it was asked in: a change since makes it stale (changed()). */
  generation: number;
}

/** Which kind of answer each changing operation can make stale. */
const CHANGES: Readonly<Record<string, 'e' | 'd' | 'p'>> = {
  UpdateExperiment: 'e',
  AddDatasetToExperiments: 'd',
  RemoveDatasetFromExperiments: 'd',
  RenameRegisteredModel: 'p',
  SetRegisteredModelTag: 'p',
  DeleteRegisteredModelTag: 'p',
  DeleteRegisteredModel: 'p',
};

/** Whether an operation can change a name, a dataset's links or prompt-ness (authorize tells the lookups). */
export function changesWhatLookupsKnow(operation: string | undefined): boolean {
  return operation !== undefined && Object.hasOwn(CHANGES, operation);
}

const MISSING = Symbol('missing');
type Found<T> = T | typeof MISSING;

export function ownerLookups(calls: OwnCalls, settings: LookupSettings): OwnerLookups {
  const now = settings.now ?? Date.now;
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<unknown>>();
  const count = settings.count ?? (() => {});
  const generations: Record<string, number> = { e: 0, d: 0, p: 0 };
  const generationOf = (key: string) => generations[key[0]!] ?? 0;

  function remember(key: string, value: unknown, lasting: boolean, generation = generationOf(key)): void {
    cache.delete(key);
    if (cache.size >= settings.cacheEntries) cache.delete(cache.keys().next().value!);
    cache.set(key, { value, until: lasting ? Infinity : now() + settings.nameMs, generation });
  }

  /** The cached answer, or one call (shared by concurrent askers) whose found answer is remembered. */
  async function cached<T>(kind: string, key: string, lasting: boolean, ask: () => Promise<Found<T>>): Promise<T | undefined> {
    const entry = cache.get(key);
    if (entry && entry.until > now() && entry.generation === generationOf(key)) {
      // Most recently used goes last, so eviction takes the least recently used first.
      cache.delete(key);
      cache.set(key, entry);
      count('hit', kind);
      return entry.value as T;
    }
    count('miss', kind);
    // Asked in this generation: an answer that a change overtakes is not kept as current.
    const generation = generationOf(key);
    let pending = inFlight.get(key) as Promise<Found<T>> | undefined;
    if (!pending) {
      pending = ask().finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    let found: Found<T>;
    try {
      found = await pending;
    } catch (error) {
      count('failure', kind);
      throw error;
    }
    if (found === MISSING) return undefined;
    remember(key, found, lasting, generation);
    return found;
  }

  /** GET `path`: the JSON answer, MISSING for MLflow's "no such thing" answers, LookupFailed otherwise. */
  async function get(kind: string, path: string, query: string, requestId: string, fastApi = false): Promise<Found<unknown>> {
    count('lookup', kind);
    let answer: OwnCallAnswer;
    try {
      answer = await calls({ method: 'GET', path, query, requestId: lookupId(requestId), ...(settings.credentials ? { credentials: settings.credentials } : {}) });
    } catch (error) {
      throw new LookupFailed(`${kind} lookup GET ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (answer.status === 200) return answer.json;
    if (saysDoesNotExist(answer) || (fastApi && answer.status === 404 && field(answer.json, 'detail') !== undefined)) return MISSING;
    throw new LookupFailed(`${kind} lookup GET ${path} answered ${answer.status}${errorCode(answer) ? ` ${errorCode(answer)}` : ''}` +
      (answer.status === 401 || answer.status === 403 ? ' (may the gateway\'s role call it? `iam-policy` lists the actions scoped policies need)' : ''));
  }

  const field = (json: unknown, ...steps: string[]): unknown => steps.reduce<unknown>((node, step) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[step] : undefined), json);
  const text = (value: unknown, what: string, kind: string): string => {
    if (typeof value === 'string' && value !== '') return value;
    throw new LookupFailed(`${kind} lookup: the answer has no ${what}`);
  };

  const placementOf = (json: unknown, route: Pick<PlacementRoute, 'experiment' | 'artifactUri'>, kind: string): Placement => {
    const experimentId = field(json, ...route.experiment);
    const artifactUri = route.artifactUri ? field(json, ...route.artifactUri) : undefined;
    if (experimentId !== undefined && typeof experimentId !== 'string' && typeof experimentId !== 'number') throw new LookupFailed(`${kind} lookup: the answer's experiment is not an id`);
    return { ...(experimentId !== undefined && experimentId !== '' ? { experimentId: String(experimentId) } : {}), ...(typeof artifactUri === 'string' ? { artifactUri } : {}) };
  };

  /** The trace's experiment: MLflow 3's GetTraceInfoV3 knows v2 and v3 traces; a 2.x server lacks that route. */
  async function placeTrace(id: string, requestId: string): Promise<Found<Placement>> {
    count('lookup', 'trace');
    const v3 = await calls({ method: 'GET', path: `/api/3.0/mlflow/traces/${segment(id)}`, requestId: lookupId(requestId), ...(settings.credentials ? { credentials: settings.credentials } : {}) })
      .catch((error: unknown) => { throw new LookupFailed(`trace lookup: ${error instanceof Error ? error.message : String(error)}`); });
    if (v3.status === 200) return placementOf(v3.json, { experiment: ['trace', 'trace_info', 'trace_location', 'mlflow_experiment', 'experiment_id'] }, 'trace');
    if (saysDoesNotExist(v3)) return MISSING;
    // A 404 that is not MLflow's "no such trace" is the route missing: a 2.x server.
    if (v3.status !== 404) throw new LookupFailed(`trace lookup answered ${v3.status}${errorCode(v3) ? ` ${errorCode(v3)}` : ''}`);
    const json = await get('trace', `/api/2.0/mlflow/traces/${segment(id)}/info`, '', requestId);
    return json === MISSING ? MISSING : placementOf(json, { experiment: ['trace_info', 'experiment_id'] }, 'trace');
  }

  return {
    placement: (kind, id, requestId) =>
      cached(kind, `${kind}:${id}`, true, async () => {
        if (kind === 'trace') return placeTrace(id, requestId);
        const route = PLACEMENTS[kind];
        const json = await get(kind, route.path(id), route.query?.(id) ?? '', requestId, route.fastApi);
        return json === MISSING ? MISSING : placementOf(json, route, kind);
      }),
    dataset: (id, requestId) =>
      cached('dataset', `d:${id}`, false, async () => {
        const json = await get('dataset', `/api/3.0/mlflow/datasets/${segment(id)}/experiment-ids`, '', requestId);
        if (json === MISSING) return MISSING;
        const ids = field(json, 'experiment_ids') ?? [];
        if (!Array.isArray(ids) || !ids.every((e) => typeof e === 'string')) throw new LookupFailed('dataset lookup: experiment_ids is not a list of ids');
        return ids as string[];
      }),
    experimentName: (id, requestId) =>
      cached('experimentName', `e:${id}`, false, async () => {
        const json = await get('experimentName', '/api/2.0/mlflow/experiments/get', `experiment_id=${segment(id)}`, requestId);
        return json === MISSING ? MISSING : text(field(json, 'experiment', 'name'), 'name', 'experimentName');
      }),
    isPrompt: (name, requestId) =>
      cached('registryEntry', `p:${name}`, false, async () => {
        const json = await get('registryEntry', '/api/2.0/mlflow/registered-models/get', `name=${segment(name)}`, requestId);
        if (json === MISSING) return MISSING;
        const tags = field(json, 'registered_model', 'tags');
        return Array.isArray(tags) && tags.some((tag) => field(tag, 'key') === PROMPT_TAG && String(field(tag, 'value')).toLowerCase() === 'true');
      }),
    changed(operation) {
      const kind = CHANGES[operation];
      if (kind) generations[kind]!++;
    },
    learnRun: (id, where) => remember(`run:${id}`, where, true),
    learnExperimentName: (id, name, asOf) => remember(`e:${id}`, name, false, asOf),
    generation: () => generations.e!,
    size: () => cache.size,
  };
}

/**
 * The operations the lookups call (the routes above): the host's role needs them whenever a policy
 * has a scope (iam-policy adds them).
 */
export const LOOKUP_OPERATIONS: ReadonlyArray<string> = [
  'GetRun', 'GetTraceInfoV3', 'GetTraceInfo', 'GetLoggedModel', 'GetPromptOptimizationJob', 'GetDatasetExperimentIds', 'GetExperiment', 'GetRegisteredModel',
];

/**
 * The X-Request-Id a lookup is sent with: the client's request's, marked, so the backend's log ties
 * the lookup to the request it decided, and never mistakes it for that request itself reaching it.
 */
function lookupId(requestId: string): string {
  return `${requestId}.lookup`;
}

/** MLflow's tag that makes a registered model a prompt (mlflow/prompt/constants.py IS_PROMPT_TAG_KEY). */
export const PROMPT_TAG = 'mlflow.prompt.is_prompt';

function errorCode(answer: OwnCallAnswer): string | undefined {
  const code = answer.json && typeof answer.json === 'object' ? (answer.json as Record<string, unknown>).error_code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * MLflow's answers for an id that names nothing: 404 RESOURCE_DOES_NOT_EXIST, or 400
 * INVALID_PARAMETER_VALUE / BAD_REQUEST for a malformed one (a non-numeric experiment id). Both end
 * as the refusal an out-of-scope id gets, so the answer is no oracle for which ids exist.
 */
function saysDoesNotExist(answer: OwnCallAnswer): boolean {
  const code = errorCode(answer);
  if (answer.status === 404) return code === 'RESOURCE_DOES_NOT_EXIST';
  return answer.status === 400 && (code === 'INVALID_PARAMETER_VALUE' || code === 'BAD_REQUEST' || code === 'RESOURCE_DOES_NOT_EXIST');
}
