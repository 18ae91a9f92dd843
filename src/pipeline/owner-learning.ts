// What answers passing through tell the lookups, so a client's usual calls need none: CreateRun's
// answer says which experiment the new run is in (a log_metric loop then never asks), GetRun's the
// same, GetExperimentByName's and GetExperiment's which name an id has. Present only when policies
// have scopes. Read from a copy of the answer, after it is handed on, never delaying it; only small
// JSON answers, which forward has already read whole.
import type { Stage } from './chain.ts';
import type { OwnerLookups } from '../scopes/owners.ts';
import { SMALL_BODY_BYTES } from './audit-line.ts';

const LEARNED = new Set(['CreateRun', 'GetRun', 'GetExperimentByName', 'GetExperiment']);

export function ownerLearning(owners: OwnerLookups): Stage {
  return function ownerLearning(scope, next) {
    if (!scope.operation || !LEARNED.has(scope.operation)) return next(scope);
    const asOf = owners.generation();
    return next(scope).then((response) => {
      const length = Number(response.headers.get('content-length') ?? NaN);
      if (response.status === 200 && length <= SMALL_BODY_BYTES) {
        response.clone().json().then((json: unknown) => learn(owners, json, asOf), () => {});
      }
      return response;
    });
  };
}

function learn(owners: OwnerLookups, json: unknown, asOf: number): void {
  const at = (...steps: string[]) => steps.reduce<unknown>((node, step) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[step] : undefined), json);
  const info = at('run', 'info');
  const runId = at('run', 'info', 'run_id');
  const experimentId = at('run', 'info', 'experiment_id');
  if (info && typeof runId === 'string' && typeof experimentId === 'string') {
    const artifactUri = at('run', 'info', 'artifact_uri');
    owners.learnRun(runId, { experimentId, ...(typeof artifactUri === 'string' ? { artifactUri } : {}) });
  }
  const id = at('experiment', 'experiment_id');
  const name = at('experiment', 'name');
  if (typeof id === 'string' && typeof name === 'string') owners.learnExperimentName(id, name, asOf);
}
