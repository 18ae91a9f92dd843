// Deep links into the MLflow UI. SageMaker's sign-in link opens the UI at `/`, and the UI routes by
// the URL fragment (`#/experiments/3/runs/abc`), so a deep link is a fragment on the redirect:
//   /ui#/experiments/3/runs/abc     the browser keeps its own fragment across both redirects (the
//                                   gateway's and SageMaker's) as long as neither Location has one;
//   /ui?experiment=3&run=abc        for links that cannot carry a fragment (mail filters, chat tools
//                                   that drop it): the gateway puts the fragment on the redirect.
import { BadRequest } from '../errors.ts';

const EXPERIMENT_ID = /^[0-9]{1,19}$/;
const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MODEL_VERSION = /^[0-9]{1,10}$/;

/** The UI fragment (`#/…`) the query asks for, or '' for none. Throws BadRequest on a malformed link. */
export function uiFragment(query: URLSearchParams): string {
  const experiment = query.get('experiment');
  const run = query.get('run');
  const model = query.get('model');
  const version = query.get('version');
  if (experiment !== null) {
    if (model !== null) throw new BadRequest('A UI link names either an experiment or a model, not both.');
    if (!EXPERIMENT_ID.test(experiment)) throw new BadRequest('`experiment` must be an experiment id (digits).');
    if (run === null) return `#/experiments/${experiment}`;
    if (!RUN_ID.test(run)) throw new BadRequest('`run` must be a run id.');
    return `#/experiments/${experiment}/runs/${run}`;
  }
  if (run !== null) throw new BadRequest('`run` needs the `experiment` it belongs to (?experiment=ID&run=RUN_ID).');
  if (model !== null) {
    if (model === '' || model.length > 256) throw new BadRequest('`model` must be a registered model name.');
    const name = encodeURIComponent(model);
    if (version === null) return `#/models/${name}`;
    if (!MODEL_VERSION.test(version)) throw new BadRequest('`version` must be a model version number.');
    return `#/models/${name}/versions/${version}`;
  }
  if (version !== null) throw new BadRequest('`version` needs the `model` it belongs to (?model=NAME&version=N).');
  return '';
}
