// What a request touches, as a scope sees it: experiments by name and registry entries by name,
// each ids found in the request (request-values.ts) followed to its owner (owners.ts). An id that
// names nothing, or a value no scope can hold (an artifact location of the caller's choosing, a
// storage URI outside the runs it names), is a resource nothing covers: the same refusal as an id
// out of scope, so the answer is no oracle for which ids exist.
import type { FoundValue } from './request-values.ts';
import { PROMPT_TAG, type OwnerLookups, type PlacedKind, type Placement } from './owners.ts';

export type Touched =
  | { kind: 'experiment'; name: string; via: string }
  | {
      kind: 'registry';
      name: string;
      /** undefined until a scope needs to know */
      prompt?: boolean;
      /** A new name: it is a prompt exactly when this entry is (a rename keeps what the entry is). */
      promptOf?: string;
      /** Asked and not found: an entry of neither kind (covered where either kind's list covers the name). */
      absent?: true;
      via: string;
    }
  | { kind: 'nothing'; via: string };

/** How a run, trace, logged model or job of a request was followed (for placements a model source is checked against). */
interface Followed {
  placements: Placement[];
  /** The registry names the request's `name` gives (a rename's old name, a tag's entry). */
  modelNames: string[];
}

/**
 * The resources the values name. Lookups run concurrently, each distinct value once; a failed one
 * rejects (LookupFailed, 503). `promptTag` says whether a registry entry being created is a prompt.
 */
export async function touchedBy(values: ReadonlyArray<FoundValue>, owners: OwnerLookups, requestId: string, promptTag: boolean): Promise<Touched[]> {
  const distinct = new Map<string, FoundValue>();
  for (const value of values) distinct.set(`${value.kind}\n${value.value}`, value);
  const followed: Followed = { placements: [], modelNames: values.filter((v) => v.kind === 'modelName').map((v) => v.value) };
  // Sources are held against the runs and models the same request names: resolve those first.
  const sources = [...distinct.values()].filter((v) => v.kind === 'modelSource');
  const others = [...distinct.values()].filter((v) => v.kind !== 'modelSource');
  const first = await Promise.all(others.map((value) => resolve(value, owners, requestId, promptTag, followed)));
  const second = await Promise.all(sources.map((value) => resolve(value, owners, requestId, promptTag, followed)));
  return [...first, ...second].flat();
}

/** The lookup that places each kind of id in its experiment. */
const PLACED: Partial<Record<FoundValue['kind'], { kind: PlacedKind; what: string }>> = {
  runId: { kind: 'run', what: 'run' },
  traceId: { kind: 'trace', what: 'trace' },
  loggedModelId: { kind: 'loggedModel', what: 'logged model' },
  promptOptimizationJobId: { kind: 'promptOptimizationJob', what: 'prompt-optimization job' },
  reviewQueueId: { kind: 'reviewQueue', what: 'review queue' },
  labelSchemaId: { kind: 'labelSchema', what: 'label schema' },
  issueId: { kind: 'issue', what: 'issue' },
  jobId: { kind: 'job', what: 'job' },
};

async function resolve(found: FoundValue, owners: OwnerLookups, requestId: string, promptTag: boolean, followed: Followed): Promise<Touched[]> {
  const { value } = found;
  const via = `${found.kind} ${JSON.stringify(value)}`;
  const experiment = async (id: string, how: string): Promise<Touched> => {
    const name = await owners.experimentName(id, requestId);
    return name === undefined ? { kind: 'nothing', via: `${how}: experiment ${id} does not exist` } : { kind: 'experiment', name, via: `${how} → experiment ${id}` };
  };
  const placedIn = async (where: Placement | undefined, what: string): Promise<Touched[]> => {
    if (!where) return [{ kind: 'nothing', via: `${via}: no such ${what}` }];
    followed.placements.push(where);
    if (where.experimentId === undefined) return [{ kind: 'nothing', via: `${via}: the ${what} belongs to no experiment, so to no scope` }];
    return [await experiment(where.experimentId, via)];
  };
  const placed = PLACED[found.kind];
  if (placed) return placedIn(await owners.placement(placed.kind, value, requestId), placed.what);
  switch (found.kind) {
    case 'experimentId':
      return [await experiment(value, via)];
    case 'experimentName':
      return [{ kind: 'experiment', name: value, via }];
    case 'upsertedTraceId': {
      // A trace that does not exist yet is created where the request's experiment says (its own ref).
      const where = await owners.placement('trace', value, requestId);
      return where ? placedIn(where, 'trace') : [];
    }
    case 'datasetId': {
      const experiments = await owners.dataset(value, requestId);
      if (!experiments) return [{ kind: 'nothing', via: `${via}: no such dataset` }];
      if (experiments.length === 0) return [{ kind: 'nothing', via: `${via}: linked to no experiment, so in no scope` }];
      return Promise.all(experiments.map((id) => experiment(id, via)));
    }
    case 'modelName':
      return [{ kind: 'registry', name: value, via }];
    case 'newModelName':
      return [{ kind: 'registry', name: value, prompt: promptTag, via }];
    case 'renamedModelName':
      return followed.modelNames.length
        ? followed.modelNames.map((from) => ({ kind: 'registry', name: value, promptOf: from, via: `${via} (renamed from "${from}")` }))
        : [{ kind: 'nothing', via: `${via}: a rename without the name it renames` }];
    case 'registryTagKey':
      // Setting or deleting the prompt tag turns a registered model into a prompt or back: the
      // entry must be covered as both. Any other key names nothing.
      if (value !== PROMPT_TAG) return [];
      return followed.modelNames.flatMap((name) => [true, false].map((prompt): Touched => ({ kind: 'registry', name, prompt, via: `${via} on "${name}"` })));
    case 'promptUri':
      return promptUriEntries(value).map((name): Touched => (name === undefined ? { kind: 'nothing', via: `${via}: names no prompt` } : { kind: 'registry', name, prompt: true, via }));
    case 'artifactPath': {
      const id = experimentOfArtifactPath(value);
      return id ? [await experiment(id, via)] : [{ kind: 'nothing', via: `${via}: not under an experiment's folder (<experiment id>/...)` }];
    }
    case 'artifactLocation':
      return [{ kind: 'nothing', via: `${via}: a scoped caller cannot choose where an experiment's artifacts go (the server's root keeps each under its id)` }];
    case 'modelSource':
      return resolveSource(value, via, owners, requestId, followed, experiment);
    default:
      return [{ kind: 'nothing', via: `${via}: a kind the gateway cannot resolve` }];
  }
}

/**
 * The prompt names a prompt URI may mean (CreatePromptOptimizationJob source_prompt_uri, read as
 * MLflow's _parse_model_uri reads it): `prompts:/name/version` and `prompts:/name@alias` name one;
 * a bare name is that name and, when it holds an `@`, also the part before the last one (MLflow's
 * own auth requires both readings). undefined: a prompts: URI no name can be read from.
 */
export function promptUriEntries(value: string): Array<string | undefined> {
  const decoded = decodeFully(value) ?? value;
  if (/^prompts:/i.test(decoded)) {
    const path = decoded.replace(/^prompts:\/*/i, '');
    const first = path.split('/')[0] ?? '';
    const name = first.includes('@') ? first.slice(0, first.lastIndexOf('@')) : first;
    return [name === '' ? undefined : name];
  }
  return decoded.includes('@') ? [decoded, decoded.slice(0, decoded.lastIndexOf('@'))] : [decoded];
}

/**
 * The experiment of an artifact-proxy path, after MLflow's own normalisation (mlflow/utils/uri.py
 * validate_path_is_safe): percent-decoding repeated until stable (`%2531/x` is served as `1/x`),
 * `.` and empty segments dropped (a local store resolves `./1/x` and `1//x` to experiment 1), and the
 * first segment an id in canonical decimal form. `..`, an absolute path or one MLflow would refuse
 * names no experiment: undefined.
 */
export function experimentOfArtifactPath(path: string): string | undefined {
  const decoded = decodeFully(path);
  if (decoded === undefined || decoded.startsWith('/') || /[#\\]/.test(decoded)) return undefined;
  const segments = decoded.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) return undefined;
  const first = segments[0] ?? '';
  return /^(0|[1-9][0-9]*)$/.test(first) ? first : undefined;
}

/** Percent-decoding repeated until the text stops changing, as MLflow does (at most 10 rounds); undefined on malformed input. */
function decodeFully(text: string): string | undefined {
  let current = text;
  for (let round = 0; round < 10; round++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      return undefined;
    }
    if (next === current) return current;
    current = next;
  }
  return undefined;
}

/**
 * A model source URI (CreateModelVersion `source`; MLflow's own checks: handlers.py
 * _validate_source_run / _validate_source_model): `runs:/<run id>/...`, `models:/<name>/<version>`,
 * `models:/<m-logged model id>`, `mlflow-artifacts:/<experiment id>/...`; any other URI must lie under
 * the artifact URI of a run or logged model the same request names (its `run_id` or `model_id`).
 */
async function resolveSource(
  value: string,
  via: string,
  owners: OwnerLookups,
  requestId: string,
  followed: Followed,
  experiment: (id: string, how: string) => Promise<Touched>,
): Promise<Touched[]> {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(value)?.[1]?.toLowerCase();
  const rest = scheme ? value.slice(scheme.length + 1) : value;
  // `scheme://authority/path` and `scheme:/path` name the same path to MLflow's URI helpers for
  // these schemes (mlflow/store/artifact/utils/models.py, mlflow_artifacts_repo.py); an authority
  // is refused rather than guessed at.
  const path = rest.startsWith('//') ? undefined : rest.replace(/^\/+/, '');
  if (scheme === 'runs' || scheme === 'models' || scheme === 'mlflow-artifacts') {
    if (path === undefined || hasDotSegment(path)) return [{ kind: 'nothing', via: `${via}: not a plain ${scheme}:/ path` }];
    const first = decodeFully(path.split('/')[0] ?? '');
    if (!first) return [{ kind: 'nothing', via: `${via}: names nothing` }];
    if (scheme === 'runs') {
      const where = await owners.placement('run', first, requestId);
      return where?.experimentId ? [await experiment(where.experimentId, `${via} → run ${first}`)] : [{ kind: 'nothing', via: `${via}: no such run` }];
    }
    if (scheme === 'mlflow-artifacts') return experimentOfArtifactPath(path) ? [await experiment(experimentOfArtifactPath(path)!, via)] : [{ kind: 'nothing', via: `${via}: not under an experiment's folder` }];
    if (first.startsWith('m-')) {
      const where = await owners.placement('loggedModel', first, requestId);
      return where?.experimentId ? [await experiment(where.experimentId, `${via} → logged model ${first}`)] : [{ kind: 'nothing', via: `${via}: no such logged model` }];
    }
    return [{ kind: 'registry', name: first, via }];
  }
  // A prompt version's source names nothing: MLflow's own senders put a placeholder there, and 3.x
  // refuses any other source for a prompt (mlflow/prompt/constants.py _PROMPT_SOURCE_PLACEHOLDERS).
  if (PROMPT_SOURCE_PLACEHOLDERS.has(value)) return [];
  // A storage URI: only under what the request's own run or logged model holds, compared after
  // MLflow's repeated decoding (_iteratively_unquote), so no encoded `..` or `/` can step out of it.
  const decoded = decodeFully(value);
  if (decoded === undefined || hasDotSegment(decoded) || decoded.includes('\\') || decoded !== value) return [{ kind: 'nothing', via: `${via}: a storage URI with dot segments or encoded characters` }];
  const under = followed.placements.find((p) => p.artifactUri && isUnder(value, p.artifactUri));
  return under ? [] : [{ kind: 'nothing', via: `${via}: a storage URI outside the artifacts of the run or logged model this request names` }];
}

const PROMPT_SOURCE_PLACEHOLDERS: ReadonlySet<string> = new Set(['dummy-source', 'prompt-template']);

function isUnder(uri: string, root: string): boolean {
  const base = root.replace(/\/+$/, '');
  return uri === base || uri.startsWith(`${base}/`);
}

function hasDotSegment(path: string): boolean {
  return path.split(/[/\\]/).some((segment) => {
    const decoded = decodeFully(segment);
    return decoded === undefined || decoded === '.' || decoded === '..';
  });
}
