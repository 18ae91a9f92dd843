// What a request touches, as a scope sees it: experiments by name and registry entries by name,
// each ids found in the request (request-values.ts) followed to its owner (owners.ts). An id that
// names nothing, or a value no scope can hold (an artifact location of the caller's choosing, a
// storage URI outside the runs it names), is a resource nothing covers: the same refusal as an id
// out of scope, so the answer is no oracle for which ids exist.
import type { FoundValue } from './request-values.ts';
import type { OwnerLookups, Placement } from './owners.ts';

export type Touched =
  | { kind: 'experiment'; name: string; via: string }
  | { kind: 'registry'; name: string; /** undefined until a scope needs to know */ prompt?: boolean; via: string }
  | { kind: 'nothing'; via: string };

/** How a run, trace, logged model or job of a request was followed (for placements a model source is checked against). */
interface Followed {
  placements: Placement[];
}

/**
 * The resources the values name. Lookups run concurrently, each distinct value once; a failed one
 * rejects (LookupFailed, 503). `promptTag` says whether a registry entry being created is a prompt.
 */
export async function touchedBy(values: ReadonlyArray<FoundValue>, owners: OwnerLookups, requestId: string, promptTag: boolean): Promise<Touched[]> {
  const distinct = new Map<string, FoundValue>();
  for (const value of values) distinct.set(`${value.kind}\n${value.value}`, value);
  const followed: Followed = { placements: [] };
  // Sources are held against the runs and models the same request names: resolve those first.
  const sources = [...distinct.values()].filter((v) => v.kind === 'modelSource');
  const others = [...distinct.values()].filter((v) => v.kind !== 'modelSource');
  const first = await Promise.all(others.map((value) => resolve(value, owners, requestId, promptTag, followed)));
  const second = await Promise.all(sources.map((value) => resolve(value, owners, requestId, promptTag, followed)));
  return [...first, ...second].flat();
}

async function resolve(found: FoundValue, owners: OwnerLookups, requestId: string, promptTag: boolean, followed: Followed): Promise<Touched[]> {
  const { value } = found;
  const via = `${found.kind} ${JSON.stringify(value)}`;
  const experiment = async (id: string, how: string): Promise<Touched> => {
    const name = await owners.experimentName(id, requestId);
    return name === undefined ? { kind: 'nothing', via: `${how}: experiment ${id} does not exist` } : { kind: 'experiment', name, via: `${how} → experiment ${id}` };
  };
  const placed = async (where: Placement | undefined, what: string): Promise<Touched[]> => {
    if (!where) return [{ kind: 'nothing', via: `${via}: no such ${what}` }];
    followed.placements.push(where);
    return [await experiment(where.experimentId, via)];
  };
  switch (found.kind) {
    case 'experimentId':
      return [await experiment(value, via)];
    case 'experimentName':
      return [{ kind: 'experiment', name: value, via }];
    case 'runId':
      return placed(await owners.run(value, requestId), 'run');
    case 'traceId':
      return placed(await owners.trace(value, requestId), 'trace');
    case 'newOrOwnTraceId': {
      // A trace that does not exist yet is created where the request's experiment says (its own ref).
      const where = await owners.trace(value, requestId);
      return where ? [await experiment(where.experimentId, `${via} (an existing trace)`)] : [];
    }
    case 'loggedModelId':
      return placed(await owners.loggedModel(value, requestId), 'logged model');
    case 'promptOptimizationJobId':
      return placed(await owners.promptOptimizationJob(value, requestId), 'prompt-optimization job');
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
    case 'artifactPath': {
      const id = experimentOfArtifactPath(value);
      return id ? [await experiment(id, via)] : [{ kind: 'nothing', via: `${via}: not under an experiment's folder (<experiment id>/...)` }];
    }
    case 'artifactLocation':
      return [{ kind: 'nothing', via: `${via}: a scoped caller cannot choose where an experiment's artifacts go (the server's root keeps each under its id)` }];
    case 'modelSource':
      return resolveSource(value, via, owners, requestId, followed, experiment);
  }
}

/** `12/abc/artifacts/model` → `12`; undefined for a path that does not start with an experiment id. */
export function experimentOfArtifactPath(path: string): string | undefined {
  const first = path.replace(/^\/+/, '').split('/')[0] ?? '';
  return /^[0-9]+$/.test(first) ? first : undefined;
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
    const first = decodeSafely(path.split('/')[0] ?? '');
    if (!first) return [{ kind: 'nothing', via: `${via}: names nothing` }];
    if (scheme === 'runs') {
      const where = await owners.run(first, requestId);
      return where ? [await experiment(where.experimentId, `${via} → run ${first}`)] : [{ kind: 'nothing', via: `${via}: no such run` }];
    }
    if (scheme === 'mlflow-artifacts') return experimentOfArtifactPath(path) ? [await experiment(experimentOfArtifactPath(path)!, via)] : [{ kind: 'nothing', via: `${via}: not under an experiment's folder` }];
    if (first.startsWith('m-')) {
      const where = await owners.loggedModel(first, requestId);
      return where ? [await experiment(where.experimentId, `${via} → logged model ${first}`)] : [{ kind: 'nothing', via: `${via}: no such logged model` }];
    }
    return [{ kind: 'registry', name: first, via }];
  }
  // A storage URI: only under what the request's own run or logged model holds.
  if (hasDotSegment(value) || /%2e|%2f|\\/i.test(value)) return [{ kind: 'nothing', via: `${via}: a storage URI with dot segments or encoded separators` }];
  const under = followed.placements.find((p) => p.artifactUri && isUnder(value, p.artifactUri));
  return under ? [] : [{ kind: 'nothing', via: `${via}: a storage URI outside the artifacts of the run or logged model this request names` }];
}

function isUnder(uri: string, root: string): boolean {
  const base = root.replace(/\/+$/, '');
  return uri === base || uri.startsWith(`${base}/`);
}

function hasDotSegment(path: string): boolean {
  return path.split(/[/\\]/).some((segment) => {
    const decoded = decodeSafely(segment);
    return decoded === undefined || decoded === '.' || decoded === '..';
  });
}

function decodeSafely(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
