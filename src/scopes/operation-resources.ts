// Every resource an MLflow operation touches, declared per operation, beside the generated operation
// table (rules/mlflow-operations.ts): where its ids and names are in a request, and what they are.
// Scoped policies (policies.*.scope, issue 19) are decided from this table alone, so a route missing
// here is a route a scoped caller cannot use (test/scopes/operation-resources.test.ts fails on an
// operation of the table without a declaration here).
//
// How MLflow reads a request, which is where the ids must be looked for (mlflow/server/handlers.py,
// _get_request_message, 2.16 and 3.17): a GET with a query string takes its parameters from the
// query (the proto field name, first value of a non-repeated field); any other request, and a GET
// *without* a query, takes a JSON body, parsed with protobuf's ParseDict, which accepts the field's
// proto name (`run_id`) and its JSON name (`runId`), and a body that is a JSON string holding the
// JSON (older clients double-encode). Routes outside the protos read `request.args` / `request.json`
// by hand. So the gateway reads every place a value could come from: the query and the body, both
// spellings of every field on the way, every array element, every copy; a request is in scope only
// when every value found is.

/** What an id or name found in a request names; each kind ends at an experiment or a registry entry. */
export type ResourceKind =
  /** An experiment by id. */
  | 'experimentId'
  /** An experiment by name (CreateExperiment, GetExperimentByName, the new name of UpdateExperiment). */
  | 'experimentName'
  /** A run → its experiment (runs/get). */
  | 'runId'
  /** A trace (v3 `tr-…`, or a v2 request id) → its experiment (traces/{id}, or traces/{id}/info on 2.x). */
  | 'traceId'
  /** A logged model (`m-…`, 3.x) → its experiment (logged-models/{id}). */
  | 'loggedModelId'
  /** An evaluation dataset (`d-…`, 3.x) → every experiment it is linked to (datasets/{id}/experiment-ids). */
  | 'datasetId'
  /** A registered model or prompt by name; which of the two decides whether `registeredModels` or `prompts` must cover it. */
  | 'modelName'
  /**
   * The name of a registered model or prompt being created (CreateRegisteredModel): a prompt when the
   * request's own `tags` hold `mlflow.prompt.is_prompt: "true"`, as MLflow decides it.
   */
  | 'newModelName'
  /**
   * A model source URI (CreateModelVersion `source`): `runs:/<run id>/…` is that run, `models:/<name>/…`
   * that registered model, `models:/<m-id>` that logged model, `mlflow-artifacts:/<experiment id>/…`
   * that experiment; any other URI (s3://, file:) must lie under the artifact URI of a run the same
   * request names in scope, else it is refused.
   */
  | 'modelSource'
  /** A path of MLflow's artifact proxy (mlflow-artifacts), `<experiment id>/…` under the server's root. */
  | 'artifactPath'
  /** An artifact location a request asks for (CreateExperiment): a scoped caller may not choose one. */
  | 'artifactLocation'
  /** A prompt-optimization job (3.x) → its experiment. */
  | 'promptOptimizationJobId';

/**
 * Where a value is:
 * - a string: a request parameter, as the proto field name (`run_id`; `metrics.model_id` walks into
 *   nested objects, arrays walked on the way). Looked for in the query (top-level names) and in the
 *   JSON body, each step in both spellings (`run_id`, `runId`);
 * - `{ path: n }`: the n-th placeholder (`{}` or `{+}`, 0-based) of the route's template, percent-decoded;
 * - `{ header: name }`: a request header (the OTLP export's `X-Mlflow-Experiment-Id`).
 */
export type Place = string | { path: number } | { header: string };

export interface ResourceRef {
  kind: ResourceKind;
  /** Every place the same value may be given; all of them are read. */
  at: Place | ReadonlyArray<Place>;
  /**
   * The request must name at least one such value: without it MLflow would act on every experiment
   * (a search without experiment ids), so a scoped caller is refused instead.
   */
  required?: true;
}

/** How the rows of a search or list answer are kept to what a scope covers (search stage). */
export type RowFilter = 'experiments' | 'registeredModels' | 'modelVersions' | 'evaluationDatasets';

export type OperationResources =
  /**
   * Touches these; the request is in scope when every value of every ref is. `rawBody`: the body is
   * not JSON (an artifact's bytes, an OTLP protobuf), so parameters are read from the query only.
   */
  | { refs: ReadonlyArray<ResourceRef>; rawBody?: true }
  /** A search or list: its refs (if any) are checked, then the answer's rows are filtered (pages refilled). */
  | { refs?: ReadonlyArray<ResourceRef>; filter: RowFilter; rawBody?: undefined }
  /** Touches no team's data (server version, health, the UI's static files): a scoped policy grants it as is. */
  | { global: string }
  /** Server-wide, or whose owner cannot be told from the request: a scoped policy never grants it (use an unscoped one). */
  | { unscopable: string };

const experimentId = (at: ResourceRef['at'], required?: true): ResourceRef => ({ kind: 'experimentId', at, ...(required ? { required } : {}) });
const runId = (at: ResourceRef['at'], required?: true): ResourceRef => ({ kind: 'runId', at, ...(required ? { required } : {}) });
const modelName = (at: ResourceRef['at'], required?: true): ResourceRef => ({ kind: 'modelName', at, ...(required ? { required } : {}) });

/** Operation name → what it touches. Keyed by the names of rules/operations.ts (OPERATION_NAMES). */
export const OPERATION_RESOURCES: Readonly<Record<string, OperationResources>> = {
  // Examples of each form; the table is completed operation by operation (issue 19 item 2).
  GetServerVersion: { global: 'the server\'s version string; no team\'s data' },
  GetExperiment: { refs: [experimentId('experiment_id', true)] },
  GetExperimentByName: { refs: [{ kind: 'experimentName', at: 'experiment_name', required: true }] },
  SetExperimentTag: { refs: [experimentId('experiment_id', true)] },
  UpdateExperiment: { refs: [experimentId('experiment_id', true), { kind: 'experimentName', at: 'new_name' }] },
  CreateExperiment: { refs: [{ kind: 'experimentName', at: 'name', required: true }, { kind: 'artifactLocation', at: 'artifact_location' }] },
  SearchExperiments: { filter: 'experiments' },
  SearchRegisteredModels: { filter: 'registeredModels' },
  SearchModelVersions: { filter: 'modelVersions' },
  GetRun: { refs: [runId(['run_id', 'run_uuid'], true)] },
  LogMetric: { refs: [runId(['run_id', 'run_uuid'], true), { kind: 'loggedModelId', at: 'model_id' }] },
  LogBatch: { refs: [runId('run_id', true), { kind: 'loggedModelId', at: 'metrics.model_id' }] },
  SearchRuns: { refs: [experimentId('experiment_ids', true)] },
  CreateModelVersion: {
    refs: [{ kind: 'modelName', at: 'name', required: true }, { kind: 'modelSource', at: 'source' }, runId('run_id'), { kind: 'loggedModelId', at: 'model_id' }],
  },
  GetLoggedModel: { refs: [{ kind: 'loggedModelId', at: { path: 0 }, required: true }] },
  ExportOtlpTraces: { refs: [experimentId({ header: 'x-mlflow-experiment-id' }, true)], rawBody: true },
  // What the MLflow UI calls (issue 19 item 6, test/e2e/ui-scoped.test.ts), added for the UI; the
  // wording follows the complete table's (branch i19-table) where the two agree.
  AccessUI: { global: 'the UI\'s page and static files; what the UI then does is decided call by call (on SageMaker, check refuses AccessUI in a scoped policy: the presigned link opens the whole server)' },
  GetServerInfo: { global: 'the server\'s capabilities (store kind, features enabled); no team\'s data' },
  GetUiTelemetry: { global: 'the UI\'s telemetry settings; no team\'s data' },
  PostUiTelemetry: { global: 'UI usage events handed to MLflow\'s telemetry client; no experiment, run or model is read or written' },
  GetCurrentUser: { global: 'the signed-in user as the backend knows them; no team\'s data' },
  // The assistant's provider list (mlflow/server/assistant/api.py get_providers): names, availability
  // and the server's choice, nothing of an experiment. Its config (get_config) is not: it maps
  // experiment ids to project paths on the server host, for every team (the paths are stripped only
  // for a non-loopback caller, and the backend sees the gateway's loopback address).
  AssistantGetProviders: { global: 'the assistant\'s providers (names, availability, which one the server selected); no experiment or model' },
  AssistantGetConfig: { unscopable: 'the assistant\'s config maps every team\'s experiment ids to project paths on the server host (mlflow/server/assistant/api.py get_config)' },
  // An experiment's runs page (3.17.2): its datasets, logged models and the AI gateway's endpoints.
  SearchDatasets: { refs: [experimentId('experiment_ids', true)] },
  SearchLoggedModels: { refs: [experimentId('experiment_ids', true)] },
  // A run's tabs (model metrics, artifacts), an experiment's traces, a model's and a prompt's pages.
  GetMetricHistoryBulkInterval: { refs: [runId('run_ids', true)] },
  ListArtifacts: { refs: [runId(['run_id', 'run_uuid'], true)] },
  SearchTracesV3: { refs: [experimentId('locations.mlflow_experiment.experiment_id', true)] },
  QueryTraceMetrics: { refs: [experimentId('experiment_ids', true)] },
  SearchEvaluationDatasets: { refs: [experimentId('experiment_ids')], filter: 'evaluationDatasets' },
  GetRegisteredModel: { refs: [modelName('name', true)] },
  // The complete table (branch i19-table) has GatewayProxy unscopable; then every scoped UI user's
  // experiment page makes a refused call. It reaches only the deployments target
  // (MLFLOW_DEPLOYMENTS_TARGET; without one MLflow answers {"endpoints": []}): on 3.17 a GET may only
  // list its endpoints and a POST only invoke one by name (handlers.py _validate_gateway_path), on
  // 2.16 any path of it. The deployments server holds endpoints and their providers, never an
  // experiment or a model, so a scope has nothing to hold there and the grant decides (an
  // ai-gateway operation, granted only by its exact name; the shipped read-only-ui allows the GET
  // alone, by path).
  GatewayProxy: { global: 'reaches only the deployments target (its endpoints, or an invocation of one), which holds no experiment or model' },
  // What an MLflow client's log_metric loop calls besides the rows above (bench/scopes.ts): the
  // fluent API's start_run and end_run.
  CreateRun: { refs: [experimentId('experiment_id', true)] },
  UpdateRun: { refs: [runId(['run_id', 'run_uuid'], true)] },
  ListWebhooks: { unscopable: 'webhooks fire on events of every experiment and model of the server' },
};

/**
 * The GraphQL root fields of MLflow's UI (pipeline/graphql.ts ROOT_FIELDS), declared like the REST
 * operations they call, with places relative to the field's arguments (`input.run_id`: the
 * `input` argument's `runId`, both spellings read). Nested fields do not name resources of their
 * own: a run's `experiment` is the run's, and a run's `modelVersions` come back filtered.
 */
export const GRAPHQL_FIELD_RESOURCES: Readonly<Record<string, OperationResources>> = {
  mlflowGetExperiment: { refs: [experimentId('input.experiment_id', true)] },
  mlflowGetRun: { refs: [runId(['input.run_id', 'input.run_uuid'], true)] },
  mlflowListArtifacts: { refs: [runId(['input.run_id', 'input.run_uuid'], true)] },
  mlflowGetMetricHistoryBulkInterval: { refs: [runId('input.run_ids', true)] },
  mlflowSearchRuns: { refs: [experimentId('input.experiment_ids', true)] },
  mlflowSearchDatasets: { refs: [experimentId('input.experiment_ids', true)] },
  mlflowSearchModelVersions: { filter: 'modelVersions' },
};

/** Which scope kinds a declaration's resources are held against (check: a scope key nothing uses, a kind left out). */
export function scopedKindsOf(declaration: OperationResources): ReadonlyArray<'experiment' | 'registeredModel' | 'prompt'> {
  const kinds = new Set<'experiment' | 'registeredModel' | 'prompt'>();
  const registry = () => {
    kinds.add('registeredModel');
    kinds.add('prompt');
  };
  if ('filter' in declaration) {
    if (declaration.filter === 'registeredModels' || declaration.filter === 'modelVersions') registry();
    else kinds.add('experiment');
  }
  if ('refs' in declaration) {
    for (const ref of declaration.refs ?? []) {
      if (ref.kind === 'modelName' || ref.kind === 'newModelName') registry();
      else if (ref.kind === 'modelSource') {
        registry();
        kinds.add('experiment');
      } else kinds.add('experiment');
    }
  }
  return [...kinds];
}
