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
// JSON (older clients double-encode). A body that spells one field both ways is refused by 3.17
// (_reject_conflicting_field_aliases) but not by 2.16, where the key ParseDict meets last wins; and a
// body ParseDict cannot parse is not refused at all (proto_parsing_succeeded only feeds the schema
// checks), so a message can be filled up to the first bad field. Routes outside the protos read
// `request.args` / `request.json` by hand, in snake_case only (GetArtifact, UploadRunArtifact,
// GetMetricHistoryBulk, CreatePromptlabRun, the UI's invoke routes, online scoring configs). A handler
// that takes an id from the route's path usually also has it as a message field, which a body can
// carry as a second copy. So the gateway reads every place a value could come from: the query and
// the body, both spellings of every field on the way, every array element, every copy; a request is
// in scope only when every value found is.

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
  /**
   * An evaluation dataset (`d-…`, 3.x) → every experiment it is linked to (datasets/{id}/experiment-ids);
   * all of them must be in scope. A dataset linked to no experiment (CreateDataset without
   * experiment_ids, or after RemoveDatasetFromExperiments of the last one) is in no scope.
   */
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
   * that experiment; any other URI (s3://, file:) must lie under the artifact URI of a run (or logged
   * model) the same request names in scope, else it is refused. A prompt version's source is a
   * placeholder naming nothing (`dummy-source`, `prompt-template`: mlflow/prompt/constants.py; 3.x
   * refuses any other source for a version whose tags mark a prompt). MLflow 2.16 stores any non-local
   * URI as given (handlers.py _validate_source checks only local paths and `..`), so there the
   * gateway's check is the only one; 3.x checks `runs:/` and mlflow-artifacts sources against run_id
   * and model_id itself (_validate_source_run, _validate_source_model). URIs are compared after
   * repeated percent-decoding, as MLflow does (_iteratively_unquote).
   */
  | 'modelSource'
  /**
   * A path of MLflow's artifact proxy (mlflow-artifacts), `<experiment id>/…` under the server's root.
   * The experiment is read after MLflow's own normalisation, since that is the path it serves
   * (mlflow/utils/uri.py validate_path_is_safe): percent-decoding repeated until stable (a route path
   * `%2531/x` reaches the handler as `%31/x` and is served as `1/x`); a path with a `..` segment or
   * `#`, or an absolute one, is refused by MLflow, but `.` and empty segments are not, and a local
   * artifact store resolves them (`./1/x` and `1//x` are experiment 1's files). With MLflow workspaces on
   * (3.x), `workspaces/<name>/<experiment id>/…`. A path naming no experiment (the root, `.`, a first
   * segment that is not an id in canonical decimal form) is in no scope.
   */
  | 'artifactPath'
  /** An artifact location a request asks for (CreateExperiment): a scoped caller may not choose one. */
  | 'artifactLocation'
  /** A prompt-optimization job (3.x) → its experiment. */
  | 'promptOptimizationJobId'
  /**
   * A trace id a request writes under, which may not exist yet (StartTraceV3's trace, the spans of an
   * OTLP export): when that trace exists it must be in scope, because MLflow writes into it whatever
   * experiment the request names. Seen on 3.17.2: StartTraceV3 naming experiment A with the id of
   * B's trace merges its tags into B's trace and moves the trace into A (sqlalchemy_store.py
   * _start_trace_once, the IntegrityError branch); OTLP spans naming A with that id are appended to
   * B's trace, which stays in B (log_spans). When it does not exist it is created in the experiment
   * the request names, which is a ref of its own. So, unlike traceId, a missing one is not a refusal.
   */
  | 'upsertedTraceId'
  /** A review queue (3.x) → its experiment: GET /api/3.0/mlflow/review-queues/get?queue_id= answers `review_queue.experiment_id`. */
  | 'reviewQueueId'
  /**
   * A label schema (3.x) → its experiment: GET /api/3.0/mlflow/label-schemas/get?schema_id= answers
   * `label_schema.experiment_id`. A schema with no experiment (MLflow's built-in defaults) is in no scope.
   */
  | 'labelSchemaId'
  /** An issue (3.x) → its experiment: GET /api/3.0/mlflow/issues/{issue_id} answers `issue.experiment_id`. */
  | 'issueId'
  /**
   * A server job (3.x: the UI's evaluation, scorer and issue-detection runs, prompt optimizations) →
   * the experiment its parameters name: GET /ajax-api/3.0/jobs/{job_id} answers `params.experiment_id`.
   * A job whose parameters name no experiment is in no scope.
   */
  | 'jobId'
  /**
   * The new name of a registered model or prompt being renamed (RenameRegisteredModel `new_name`):
   * nothing has that name yet; it is a prompt exactly when the entry the request's `name` names is one.
   */
  | 'renamedModelName'
  /**
   * The key of a registry tag being set or deleted (Set/DeleteRegisteredModelTag `key`): when it is
   * `mlflow.prompt.is_prompt` the request moves the entry named by `name` between registered models
   * and prompts (MLflow decides what an entry is from that tag alone), so that name must then be
   * covered both as a registered model and as a prompt. Any other key names nothing.
   */
  | 'registryTagKey'
  /**
   * A prompt by URI, as prompt optimization reads it (CreatePromptOptimizationJob `source_prompt_uri`):
   * `prompts:/<name>/<version>` or `prompts:/<name>@<alias>` is that prompt, the name being everything
   * before the last `@` (mlflow/store/artifact/utils/models.py _parse_model_uri); a value without the
   * scheme is a bare prompt name, and when it holds an `@` the part before the last one is a second
   * candidate that must be covered too (MLflow's own auth requires both readings). A `prompts:` URI no
   * name can be read from is refused.
   */
  | 'promptUri';

/**
 * Where a value is:
 * - a string: a request parameter, as the proto field name (`run_id`; `metrics.model_id` walks into
 *   nested objects, arrays walked on the way). Looked for in the query (top-level names) and in the
 *   JSON body, each step in both spellings (`run_id`, `runId`);
 * - `{ query: name }`: a query parameter only, on a route whose body is not a JSON request (a file
 *   upload: UploadRunArtifact's body is the file's bytes, so nothing in it is an id);
 * - `{ path: n }`: the n-th placeholder (`{}` or `{+}`, 0-based) of the route's template, percent-decoded.
 *   An operation served by routes of different shapes (ReadArtifacts: `artifacts/{+}` and
 *   `artifacts?path=`) lists a placeholder with another place for the routes that lack it;
 * - `{ header: name }`: a request header (the OTLP export's `X-Mlflow-Experiment-Id`);
 * - `{ otlp: 'trace_id' }`: the trace id of every span of an OTLP/HTTP ExportTraceServiceRequest body
 *   (protobuf, or OTLP JSON with hex ids), after its Content-Encoding, as MLflow names it: `tr-` and
 *   the 32 hex digits (mlflow/entities/span.py from_otel_proto, generate_mlflow_trace_id_from_otel_trace_id).
 */
export type Place = string | { query: string } | { path: number } | { header: string } | { otlp: 'trace_id' };

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
export type RowFilter = 'experiments' | 'registeredModels' | 'modelVersions' | 'evaluationDatasets' | 'onlineScoringConfigs';

export type OperationResources =
  /** Touches these; the request is in scope when every value of every ref is. */
  | { refs: ReadonlyArray<ResourceRef> }
  /** A search or list: its refs (if any) are checked, then the answer's rows are filtered (pages refilled). */
  | { refs?: ReadonlyArray<ResourceRef>; filter: RowFilter }
  /** Touches no team's data (server version, health, the UI's static files): a scoped policy grants it as is. */
  | { global: string }
  /** Server-wide, or whose owner cannot be told from the request: a scoped policy never grants it (use an unscoped one). */
  | { unscopable: string };

/** A ref of one kind; `required` when MLflow would otherwise act on everything or the op has no other subject. */
const ref = (kind: ResourceKind) => (at: ResourceRef['at'], required?: true): ResourceRef => ({ kind, at, ...(required ? { required } : {}) });
const experimentId = ref('experimentId');
const runId = ref('runId');
const traceId = ref('traceId');
const loggedModelId = ref('loggedModelId');
const datasetId = ref('datasetId');
const modelName = ref('modelName');
const reviewQueueId = ref('reviewQueueId');
const labelSchemaId = ref('labelSchemaId');

// Where MLflow takes an id from the route's path, the proto message usually has the same field, so a
// body can carry a second copy (ParseDict fills it, the handler ignores it). Both are read: a copy
// MLflow ignores today is one a later version may read (FinalizeLoggedModel already acts on the
// body's model_id, not the path's).
const inPathOrBody = (field: string): ReadonlyArray<Place> => [{ path: 0 }, field];

// Reasons shared by whole families of routes (scripts/gen-operations.py SENSITIVE names the same
// families: a policy grants them only by exact name, and a scoped policy not at all).
const AI_GATEWAY = 'AI-gateway endpoints, model definitions, bindings, tags, guardrails and budgets are server-wide: no experiment or model owns them';
const AI_GATEWAY_SECRETS = 'AI-gateway secrets (provider API keys) are server-wide: no experiment or model owns them';
const AI_GATEWAY_INVOCATION = 'spends an AI-gateway endpoint or provider key, which are server-wide: no experiment or model owns them';
const ASSISTANT = 'the assistant runs tools on the server host with the server\'s access to every experiment';
const MCP_REGISTRY = 'the MCP server registry is server-wide: no experiment or model owns its servers, versions or endpoints';
const WEBHOOKS = 'webhooks fire on events of every experiment and model of the server';
const WORKSPACES = 'workspaces partition the whole server';
const DATABRICKS_ONLY = 'not implemented by the open-source server (an empty 404); on Databricks it reads inference tables no experiment scope covers';

/** Operation name → what it touches. Keyed by the names of rules/operations.ts (OPERATION_NAMES). */
export const OPERATION_RESOURCES: Readonly<Record<string, OperationResources>> = {
  // ── The server and the UI shell ──────────────────────────────────────────────────────────────
  GetServerVersion: { global: 'the server\'s version string; no team\'s data' },
  GetServerHealth: { global: 'answers OK while the server runs; no team\'s data' },
  GetServerInfo: { global: 'the server\'s capabilities (store kind, features enabled); no team\'s data' },
  AccessUI: { global: 'the UI\'s page and static files; what the UI then does is decided call by call' },
  GetUiTelemetry: { global: 'the UI\'s telemetry settings; no team\'s data' },
  PostUiTelemetry: { global: 'UI usage events handed to MLflow\'s telemetry client; no experiment, run or model is read or written' },
  // Only an auth-enabled server answers these (rules/operations.ts UI_PROBES); they describe the caller.
  GetCurrentUser: { global: 'the signed-in user as the backend knows them; no team\'s data' },
  ListCurrentUserPermissions: { global: 'the signed-in user\'s own grants on an auth-enabled backend; no team\'s data' },

  // ── Experiments ──────────────────────────────────────────────────────────────────────────────
  CreateExperiment: { refs: [{ kind: 'experimentName', at: 'name', required: true }, { kind: 'artifactLocation', at: 'artifact_location' }] },
  GetExperiment: { refs: [experimentId('experiment_id', true)] },
  GetExperimentByName: { refs: [{ kind: 'experimentName', at: 'experiment_name', required: true }] },
  // A rename: the experiment renamed and its new name must both be in scope.
  UpdateExperiment: { refs: [experimentId('experiment_id', true), { kind: 'experimentName', at: 'new_name' }] },
  DeleteExperiment: { refs: [experimentId('experiment_id', true)] },
  RestoreExperiment: { refs: [experimentId('experiment_id', true)] },
  SetExperimentTag: { refs: [experimentId('experiment_id', true)] },
  DeleteExperimentTag: { refs: [experimentId('experiment_id', true)] },
  SearchExperiments: { filter: 'experiments' },

  // ── Runs, metrics, params, tags ──────────────────────────────────────────────────────────────
  // CreateRun's experiment_id is optional to MLflow (a store may pick a default experiment): required here.
  CreateRun: { refs: [experimentId('experiment_id', true)] },
  // The UI's prompt-engineering run: a plain Flask route reading request.json (snake_case only).
  CreatePromptlabRun: { refs: [experimentId('experiment_id', true)] },
  GetRun: { refs: [runId(['run_id', 'run_uuid'], true)] },
  UpdateRun: { refs: [runId(['run_id', 'run_uuid'], true)] },
  DeleteRun: { refs: [runId('run_id', true)] },
  RestoreRun: { refs: [runId('run_id', true)] },
  // A metric can be written onto a logged model through model_id, which may be another experiment's
  // (mlflow/server/auth/__init__.py _validate_can_update_run_and_models).
  LogMetric: { refs: [runId(['run_id', 'run_uuid'], true), loggedModelId('model_id')] },
  // 3.x metrics carry their own run_id (unused by the SQL store today) and model_id.
  LogBatch: { refs: [runId(['run_id', 'metrics.run_id'], true), loggedModelId('metrics.model_id')] },
  LogParam: { refs: [runId(['run_id', 'run_uuid'], true)] },
  SetTag: { refs: [runId(['run_id', 'run_uuid'], true)] },
  DeleteTag: { refs: [runId('run_id', true)] },
  LogModel: { refs: [runId('run_id', true)] },
  // 3.x: the logged models a run consumes or produces (LoggedModelInput/Output), any experiment's.
  LogInputs: { refs: [runId('run_id', true), loggedModelId('models.model_id')] },
  LogOutputs: { refs: [runId('run_id', true), loggedModelId('models.model_id')] },
  GetMetricHistory: { refs: [runId(['run_id', 'run_uuid'], true)] },
  // A Flask route reading request.args: the run ids are repeated `run_id` (not `run_ids`).
  GetMetricHistoryBulk: { refs: [runId('run_id', true)] },
  GetMetricHistoryBulkInterval: { refs: [runId('run_ids', true)] },
  // Without experiment ids MLflow would search every experiment.
  SearchRuns: { refs: [experimentId('experiment_ids', true)] },
  // The run-inputs datasets of experiments (not evaluation datasets); at most 20 experiment ids.
  SearchDatasets: { refs: [experimentId('experiment_ids', true)] },

  // ── Run artifacts ────────────────────────────────────────────────────────────────────────────
  ListArtifacts: { refs: [runId(['run_id', 'run_uuid'], true)] },
  // Flask routes reading request.args only (get_artifact_handler: run_id, else run_uuid).
  GetArtifact: { refs: [runId(['run_id', 'run_uuid'], true)] },
  // upload_artifact_handler reads only `run_uuid` from the query (MLflow's auth app also `run_id`);
  // the body is the file's bytes.
  UploadRunArtifact: { refs: [runId([{ query: 'run_uuid' }, { query: 'run_id' }], true)] },
  // Minting a URL hands out direct storage access to the run's (or logged model's) artifacts.
  CreatePresignedDownloadUrl: { refs: [runId('run_id', true)] },
  // Exactly one of run_id and model_id (MLflow refuses neither and both).
  CreatePresignedUploadUrl: { refs: [runId('run_id'), loggedModelId('model_id')] },

  // ── The artifact proxy (mlflow-artifacts): paths are `<experiment id>/…` under the server's root ──
  // Listing without a path lists the root (every experiment's directory): required.
  ReadArtifacts: { refs: [{ kind: 'artifactPath', at: [{ path: 0 }, 'path'], required: true }] },
  // Not the multipart body's `path`: that is the client's local file name, of which MLflow keeps the
  // base name under the route's path (S3ArtifactRepository.create_multipart_upload).
  WriteArtifacts: { refs: [{ kind: 'artifactPath', at: { path: 0 }, required: true }] },
  DeleteArtifacts: { refs: [{ kind: 'artifactPath', at: { path: 0 }, required: true }] },

  // ── Logged models (3.x) ──────────────────────────────────────────────────────────────────────
  CreateLoggedModel: { refs: [experimentId('experiment_id', true), runId('source_run_id')] },
  // MLflow requires the experiment ids and searches only those.
  SearchLoggedModels: { refs: [experimentId('experiment_ids', true)] },
  GetLoggedModel: { refs: [loggedModelId(inPathOrBody('model_id'), true)] },
  DeleteLoggedModel: { refs: [loggedModelId(inPathOrBody('model_id'), true)] },
  // _finalize_logged_model acts on the BODY's model_id, not the path's: both are read.
  FinalizeLoggedModel: { refs: [loggedModelId(inPathOrBody('model_id'), true)] },
  SetLoggedModelTags: { refs: [loggedModelId(inPathOrBody('model_id'), true)] },
  DeleteLoggedModelTag: { refs: [loggedModelId(inPathOrBody('model_id'), true)] },
  LogLoggedModelParams: { refs: [loggedModelId(inPathOrBody('model_id'), true)] },
  ListLoggedModelArtifacts: { refs: [loggedModelId(inPathOrBody('model_id'), true)] },
  // The handler takes the path's id; a `model_id` beside it in the query is read too (refused when not in scope).
  GetLoggedModelArtifact: { refs: [loggedModelId(inPathOrBody('model_id'), true)] },

  // ── Traces: v2 (request ids) and v3 (trace ids) ──────────────────────────────────────────────
  StartTrace: { refs: [experimentId('experiment_id', true)] },
  // MLflow merges into an existing trace of the same id and moves it into the experiment the body names.
  StartTraceV3: {
    refs: [
      experimentId('trace.trace_info.trace_location.mlflow_experiment.experiment_id', true),
      { kind: 'upsertedTraceId', at: 'trace.trace_info.trace_id' },
    ],
  },
  // OTLP export: the experiment comes from a header, the run the traces are linked to from another
  // (otel_api.py export_traces), and spans of an existing trace are appended to it.
  ExportOtlpTraces: {
    refs: [
      experimentId({ header: 'x-mlflow-experiment-id' }, true),
      runId({ header: 'x-mlflow-run-id' }),
      { kind: 'upsertedTraceId', at: { otlp: 'trace_id' } },
    ],
  },
  EndTrace: { refs: [traceId(inPathOrBody('request_id'), true)] },
  GetTraceInfo: { refs: [traceId(inPathOrBody('request_id'), true)] },
  GetTraceInfoV3: { refs: [traceId(inPathOrBody('trace_id'), true)] },
  GetTrace: { refs: [traceId('trace_id', true)] },
  // The UI's span data (and 3.x attachments): a Flask route reading request.args.
  GetTraceArtifact: { refs: [traceId('request_id', true)] },
  BatchGetTraces: { refs: [traceId('trace_ids', true), experimentId('experiment_ids')] },
  BatchGetTraceInfos: { refs: [traceId('trace_ids', true), experimentId('experiment_ids')] },
  SearchTraces: { refs: [experimentId('experiment_ids', true)] },
  // Inference-table locations name no experiment: a search naming only those is refused.
  SearchTracesV3: { refs: [experimentId('locations.mlflow_experiment.experiment_id', true)] },
  CalculateTraceFilterCorrelation: { refs: [experimentId('experiment_ids', true)] },
  QueryTraceMetrics: { refs: [experimentId('experiment_ids', true)] },
  // The store deletes only traces of experiment_id (request_ids narrow within it); the ids are refs
  // all the same, so a request naming another team's traces is refused rather than quietly narrowed.
  DeleteTraces: { refs: [experimentId('experiment_id', true), traceId('request_ids')] },
  DeleteTracesV3: { refs: [experimentId('experiment_id', true), traceId('request_ids')] },
  SetTraceTag: { refs: [traceId(inPathOrBody('request_id'), true)] },
  DeleteTraceTag: { refs: [traceId(inPathOrBody('request_id'), true)] },
  SetTraceTagV3: { refs: [traceId(inPathOrBody('trace_id'), true)] },
  DeleteTraceTagV3: { refs: [traceId(inPathOrBody('trace_id'), true)] },
  // A link writes on both ends: the run's trace list and the traces' run.
  LinkTracesToRun: { refs: [runId('run_id', true), traceId('trace_ids', true)] },
  // The prompt versions linked are registry entries (prompts) of their own.
  LinkPromptsToTrace: { refs: [traceId('trace_id', true), modelName('prompt_versions.name', true)] },
  GetOnlineTraceDetails: { unscopable: DATABRICKS_ONLY },
  SearchUnifiedTraces: { unscopable: DATABRICKS_ONLY },

  // ── Assessments (3.x): addressed through their trace; the store keeps an assessment to its trace ──
  CreateAssessment: { refs: [traceId(inPathOrBody('assessment.trace_id'), true)] },
  GetAssessment: { refs: [traceId(inPathOrBody('trace_id'), true)] },
  UpdateAssessment: { refs: [traceId(inPathOrBody('assessment.trace_id'), true)] },
  DeleteAssessment: { refs: [traceId(inPathOrBody('trace_id'), true)] },

  // ── Evaluation datasets (3.x): a dataset belongs to every experiment it is linked to ─────────
  // MLflow creates a dataset linked to no experiment when none is named, which no scope could reach.
  CreateDataset: { refs: [experimentId('experiment_ids', true)] },
  GetDataset: { refs: [datasetId(inPathOrBody('dataset_id'), true)] },
  DeleteDataset: { refs: [datasetId(inPathOrBody('dataset_id'), true)] },
  GetDatasetExperimentIds: { refs: [datasetId(inPathOrBody('dataset_id'), true)] },
  GetDatasetRecords: { refs: [datasetId(inPathOrBody('dataset_id'), true)] },
  UpsertDatasetRecords: { refs: [datasetId(inPathOrBody('dataset_id'), true)] },
  DeleteDatasetRecords: { refs: [datasetId(inPathOrBody('dataset_id'), true)] },
  SetDatasetTags: { refs: [datasetId(inPathOrBody('dataset_id'), true)] },
  DeleteDatasetTag: { refs: [datasetId(inPathOrBody('dataset_id'), true)] },
  // Linking: the dataset's current experiments and the ones named must all be in scope.
  AddDatasetToExperiments: { refs: [datasetId(inPathOrBody('dataset_id'), true), experimentId('experiment_ids', true)] },
  RemoveDatasetFromExperiments: { refs: [datasetId(inPathOrBody('dataset_id'), true), experimentId('experiment_ids', true)] },
  // Without experiment ids MLflow searches every dataset: rows are kept to datasets in scope.
  SearchEvaluationDatasets: { refs: [experimentId('experiment_ids')], filter: 'evaluationDatasets' },

  // ── Scorers (3.x): keyed by experiment and name ──────────────────────────────────────────────
  RegisterScorer: { refs: [experimentId('experiment_id', true)] },
  GetScorer: { refs: [experimentId('experiment_id', true)] },
  DeleteScorer: { refs: [experimentId('experiment_id', true)] },
  ListScorerVersions: { refs: [experimentId('experiment_id', true)] },
  // One of experiment_id and experiment_ids (MLflow refuses both); neither lists every experiment's.
  ListScorers: { refs: [experimentId(['experiment_id', 'experiment_ids'], true)] },
  // A Flask route reading the raw JSON (snake_case only).
  UpsertOnlineScoringConfig: { refs: [experimentId('experiment_id', true)] },
  // Names scorers by internal ids no route resolves beforehand, but each answer row names its
  // experiment: the rows are kept to the scope (the GenAI client asks it when it lists scorers).
  GetOnlineScoringConfigs: { filter: 'onlineScoringConfigs' },
  // The UI's "run scorer" and "run evaluation": trace ids MLflow also checks against the experiment.
  InvokeScorer: { refs: [experimentId('experiment_id', true), traceId('trace_ids', true)] },
  InvokeGenaiEvaluate: { refs: [experimentId('experiment_id', true), traceId('trace_ids', true)] },
  InvokeIssueDetection: { unscopable: `${AI_GATEWAY_INVOCATION} (secret_id or endpoint_name is required)` },

  // ── Issues, label schemas, review queues (3.x): each belongs to one experiment ──────────────
  CreateIssue: { refs: [experimentId('experiment_id', true), runId('source_run_id')] },
  GetIssue: { refs: [{ kind: 'issueId', at: inPathOrBody('issue_id'), required: true }] },
  UpdateIssue: { refs: [{ kind: 'issueId', at: inPathOrBody('issue_id'), required: true }] },
  // Without an experiment MLflow searches every experiment's issues.
  SearchIssues: { refs: [experimentId('experiment_id', true)] },
  CreateLabelSchema: { refs: [experimentId('experiment_id', true)] },
  GetLabelSchema: { refs: [labelSchemaId('schema_id', true)] },
  GetLabelSchemaByName: { refs: [experimentId('experiment_id', true)] },
  ListLabelSchemas: { refs: [experimentId('experiment_id', true)] },
  UpdateLabelSchema: { refs: [labelSchemaId('schema_id', true)] },
  DeleteLabelSchema: { refs: [labelSchemaId('schema_id', true)] },
  // The store also keeps a queue's schemas and items to its experiment; read anyway, as references.
  CreateReviewQueue: { refs: [experimentId('experiment_id', true), labelSchemaId('schema_ids')] },
  GetOrCreateUserQueue: { refs: [experimentId('experiment_id', true)] },
  GetReviewQueue: { refs: [reviewQueueId('queue_id', true)] },
  GetReviewQueueByName: { refs: [experimentId('experiment_id', true)] },
  ListReviewQueues: { refs: [experimentId('experiment_id', true), traceId('item_id')] },
  UpdateReviewQueue: { refs: [reviewQueueId('queue_id', true), labelSchemaId('schema_ids')] },
  DeleteReviewQueue: { refs: [reviewQueueId('queue_id', true)] },
  AddItemsToReviewQueue: { refs: [reviewQueueId('queue_id', true), traceId('item_ids')] },
  // The items removed, listed or reviewed are the queue's own.
  RemoveItemsFromReviewQueue: { refs: [reviewQueueId('queue_id', true)] },
  ListReviewQueueItems: { refs: [reviewQueueId('queue_id', true)] },
  SetReviewQueueItemStatus: { refs: [reviewQueueId('queue_id', true)] },

  // ── Prompt optimization and server jobs (3.x) ────────────────────────────────────────────────
  // The worker loads the source prompt (and registers the optimized version under it) and the dataset.
  CreatePromptOptimizationJob: {
    refs: [experimentId('experiment_id', true), { kind: 'promptUri', at: 'source_prompt_uri', required: true }, datasetId('config.dataset_id')],
  },
  GetPromptOptimizationJob: { refs: [{ kind: 'promptOptimizationJobId', at: inPathOrBody('job_id'), required: true }] },
  CancelPromptOptimizationJob: { refs: [{ kind: 'promptOptimizationJobId', at: inPathOrBody('job_id'), required: true }] },
  DeletePromptOptimizationJob: { refs: [{ kind: 'promptOptimizationJobId', at: inPathOrBody('job_id'), required: true }] },
  SearchPromptOptimizationJobs: { refs: [experimentId('experiment_id', true)] },
  // /ajax-api/3.0/jobs/{id} and /ajax-api/3.0/mlflow/jobs/{id}: the UI polls the jobs it started.
  GetJob: { refs: [{ kind: 'jobId', at: { path: 0 }, required: true }] },
  CancelJob: { refs: [{ kind: 'jobId', at: { path: 0 }, required: true }] },
  SubmitJob: { unscopable: 'runs a server job function the caller names, with parameters the caller chooses; nothing ties them to an experiment before it runs' },
  SearchJobs: { unscopable: 'lists every job of the server, whoever started it; its rows are not kept to a scope' },

  // ── Model registry: registered models and prompts (a prompt is a registered model tagged so) ──
  // A prompt when its own tags say so (mlflow.prompt.is_prompt=true), as MLflow decides it.
  CreateRegisteredModel: { refs: [{ kind: 'newModelName', at: 'name', required: true }] },
  GetRegisteredModel: { refs: [modelName('name', true)] },
  UpdateRegisteredModel: { refs: [modelName('name', true)] },
  DeleteRegisteredModel: { refs: [modelName('name', true)] },
  // A rename: the entry renamed and its new name must both be in scope.
  RenameRegisteredModel: { refs: [modelName('name', true), { kind: 'renamedModelName', at: 'new_name', required: true }] },
  // Setting or deleting mlflow.prompt.is_prompt moves the entry between models and prompts.
  SetRegisteredModelTag: { refs: [modelName('name', true), { kind: 'registryTagKey', at: 'key' }] },
  DeleteRegisteredModelTag: { refs: [modelName('name', true), { kind: 'registryTagKey', at: 'key' }] },
  GetLatestVersions: { refs: [modelName('name', true)] },
  SearchRegisteredModels: { filter: 'registeredModels' },
  // A version's source names what it copies: a run's artifacts, another registered model's version, a
  // logged model, a storage location (MLflow 2.16 accepts any non-local URI as is; 3.x checks it
  // against run_id / model_id). Prompts' versions carry a placeholder source.
  CreateModelVersion: {
    refs: [modelName('name', true), { kind: 'modelSource', at: 'source' }, runId('run_id'), loggedModelId('model_id')],
  },
  GetModelVersion: { refs: [modelName('name', true)] },
  UpdateModelVersion: { refs: [modelName('name', true)] },
  DeleteModelVersion: { refs: [modelName('name', true)] },
  TransitionModelVersionStage: { refs: [modelName('name', true)] },
  GetModelVersionDownloadUri: { refs: [modelName('name', true)] },
  SetModelVersionTag: { refs: [modelName('name', true)] },
  DeleteModelVersionTag: { refs: [modelName('name', true)] },
  SetRegisteredModelAlias: { refs: [modelName('name', true)] },
  DeleteRegisteredModelAlias: { refs: [modelName('name', true)] },
  GetModelVersionByAlias: { refs: [modelName('name', true)] },
  // A Flask route reading request.args: name and version of the version whose files are served.
  GetModelVersionArtifact: { refs: [modelName('name', true)] },
  SearchModelVersions: { filter: 'modelVersions' },

  // ── The AI gateway (3.x) ─────────────────────────────────────────────────────────────────────
  // Static catalogues the gateway page reads (handlers.py get_gateway_endpoints): no stored data.
  ListSupportedProviders: { global: 'a static list of the providers MLflow\'s AI gateway supports; no team\'s data' },
  ListSupportedModels: { global: 'a static list of the models a provider offers; no team\'s data' },
  GetProviderConfig: { global: 'the names of the settings a provider needs (from LiteLLM\'s metadata); no stored data' },
  GetSecretsConfig: { global: 'two server-wide flags (whether secrets can be stored, whether under the default passphrase); no team\'s data' },
  CreateGatewaySecret: { unscopable: AI_GATEWAY_SECRETS },
  GetGatewaySecretInfo: { unscopable: AI_GATEWAY_SECRETS },
  UpdateGatewaySecret: { unscopable: AI_GATEWAY_SECRETS },
  DeleteGatewaySecret: { unscopable: AI_GATEWAY_SECRETS },
  ListGatewaySecretInfos: { unscopable: AI_GATEWAY_SECRETS },
  CreateGatewayEndpoint: { unscopable: AI_GATEWAY },
  GetGatewayEndpoint: { unscopable: AI_GATEWAY },
  UpdateGatewayEndpoint: { unscopable: AI_GATEWAY },
  DeleteGatewayEndpoint: { unscopable: AI_GATEWAY },
  ListGatewayEndpoints: { unscopable: AI_GATEWAY },
  SetGatewayEndpointTag: { unscopable: AI_GATEWAY },
  DeleteGatewayEndpointTag: { unscopable: AI_GATEWAY },
  AttachModelToGatewayEndpoint: { unscopable: AI_GATEWAY },
  DetachModelFromGatewayEndpoint: { unscopable: AI_GATEWAY },
  CreateGatewayEndpointBinding: { unscopable: AI_GATEWAY },
  DeleteGatewayEndpointBinding: { unscopable: AI_GATEWAY },
  ListGatewayEndpointBindings: { unscopable: AI_GATEWAY },
  CreateGatewayModelDefinition: { unscopable: AI_GATEWAY },
  GetGatewayModelDefinition: { unscopable: AI_GATEWAY },
  UpdateGatewayModelDefinition: { unscopable: AI_GATEWAY },
  DeleteGatewayModelDefinition: { unscopable: AI_GATEWAY },
  ListGatewayModelDefinitions: { unscopable: AI_GATEWAY },
  CreateGatewayGuardrail: { unscopable: AI_GATEWAY },
  GetGatewayGuardrail: { unscopable: AI_GATEWAY },
  DeleteGatewayGuardrail: { unscopable: AI_GATEWAY },
  ListGatewayGuardrails: { unscopable: AI_GATEWAY },
  AddGuardrailToEndpoint: { unscopable: AI_GATEWAY },
  RemoveGuardrailFromEndpoint: { unscopable: AI_GATEWAY },
  UpdateEndpointGuardrailConfig: { unscopable: AI_GATEWAY },
  ListEndpointGuardrailConfigs: { unscopable: AI_GATEWAY },
  CreateGatewayBudgetPolicy: { unscopable: AI_GATEWAY },
  GetGatewayBudgetPolicy: { unscopable: AI_GATEWAY },
  UpdateGatewayBudgetPolicy: { unscopable: AI_GATEWAY },
  DeleteGatewayBudgetPolicy: { unscopable: AI_GATEWAY },
  ListGatewayBudgetPolicies: { unscopable: AI_GATEWAY },
  ListGatewayBudgetWindows: { unscopable: AI_GATEWAY },
  // Invocation routes (FastAPI gateway_api.py) and the UI's proxy to MLFLOW_DEPLOYMENTS_TARGET.
  GatewayChatCompletions: { unscopable: AI_GATEWAY_INVOCATION },
  GatewayListModels: { unscopable: AI_GATEWAY_INVOCATION },
  GatewayInvocations: { unscopable: AI_GATEWAY_INVOCATION },
  GatewayRawProxy: { unscopable: AI_GATEWAY_INVOCATION },
  GatewayOpenaiPassthroughChat: { unscopable: AI_GATEWAY_INVOCATION },
  GatewayOpenaiPassthroughEmbeddings: { unscopable: AI_GATEWAY_INVOCATION },
  GatewayOpenaiPassthroughResponses: { unscopable: AI_GATEWAY_INVOCATION },
  GatewayOpenaiPassthroughResponsesCompact: { unscopable: AI_GATEWAY_INVOCATION },
  GatewayAnthropicPassthroughMessages: { unscopable: AI_GATEWAY_INVOCATION },
  GatewayGeminiPassthroughGenerateContent: { unscopable: AI_GATEWAY_INVOCATION },
  GatewayGeminiPassthroughStreamGenerateContent: { unscopable: AI_GATEWAY_INVOCATION },
  GatewayTypesafePassthroughSystemOne: { unscopable: AI_GATEWAY_INVOCATION },
  // Every scoped UI user's experiment page calls it (test/e2e/ui-scoped.test.ts), so it is not
  // unscopable. It reaches only the deployments target (MLFLOW_DEPLOYMENTS_TARGET; without one MLflow
  // answers {"endpoints": []}): on 3.17 a GET may only list its endpoints and a POST only invoke one by
  // name (handlers.py _validate_gateway_path), on 2.16 any path of it. The deployments server holds
  // endpoints and their providers, never an experiment or a model, so a scope has nothing to hold
  // there and the grant decides (an ai-gateway operation, granted only by its exact name; the shipped
  // read-only-ui allows the GET alone, by path).
  GatewayProxy: { global: 'reaches only the deployments target (its endpoints, or an invocation of one), which holds no experiment or model' },

  // ── The assistant (3.x) ──────────────────────────────────────────────────────────────────────
  // The config maps every team's experiment ids to project paths on the server host (the paths are
  // stripped only for a non-loopback caller, and the backend sees the gateway's loopback address).
  AssistantGetConfig: { unscopable: 'the assistant\'s config maps every team\'s experiment ids to project paths on the server host (mlflow/server/assistant/api.py get_config)' },
  AssistantUpdateConfig: { unscopable: ASSISTANT },
  // The UI's provider list (mlflow/server/assistant/api.py get_providers): nothing of an experiment.
  AssistantGetProviders: { global: 'the assistant\'s providers (names, availability, which one the server selected); no experiment or model' },
  AssistantProviderHealthCheck: { unscopable: ASSISTANT },
  AssistantListProviderModels: { unscopable: ASSISTANT },
  AssistantSendMessage: { unscopable: ASSISTANT },
  AssistantStreamResponse: { unscopable: ASSISTANT },
  AssistantPatchSession: { unscopable: ASSISTANT },
  AssistantResolvePermission: { unscopable: ASSISTANT },
  AssistantResolveClientToolResult: { unscopable: ASSISTANT },
  AssistantInstallSkillsEndpoint: { unscopable: ASSISTANT },

  // ── The MCP server registry (3.x) ────────────────────────────────────────────────────────────
  CreateMcpServer: { unscopable: MCP_REGISTRY },
  GetMcpServer: { unscopable: MCP_REGISTRY },
  UpdateMcpServer: { unscopable: MCP_REGISTRY },
  DeleteMcpServer: { unscopable: MCP_REGISTRY },
  SearchMcpServers: { unscopable: MCP_REGISTRY },
  SetMcpServerAlias: { unscopable: MCP_REGISTRY },
  DeleteMcpServerAlias: { unscopable: MCP_REGISTRY },
  GetVersionByAlias: { unscopable: MCP_REGISTRY },
  SetMcpServerTag: { unscopable: MCP_REGISTRY },
  DeleteMcpServerTag: { unscopable: MCP_REGISTRY },
  CreateMcpServerVersion: { unscopable: MCP_REGISTRY },
  GetMcpServerVersion: { unscopable: MCP_REGISTRY },
  UpdateMcpServerVersion: { unscopable: MCP_REGISTRY },
  DeleteMcpServerVersion: { unscopable: MCP_REGISTRY },
  SearchMcpServerVersions: { unscopable: MCP_REGISTRY },
  SetMcpServerVersionTag: { unscopable: MCP_REGISTRY },
  DeleteMcpServerVersionTag: { unscopable: MCP_REGISTRY },
  CreateMcpAccessEndpoint: { unscopable: MCP_REGISTRY },
  GetMcpAccessEndpoint: { unscopable: MCP_REGISTRY },
  UpdateMcpAccessEndpoint: { unscopable: MCP_REGISTRY },
  DeleteMcpAccessEndpoint: { unscopable: MCP_REGISTRY },
  SearchServerAccessEndpoints: { unscopable: MCP_REGISTRY },
  SearchAllAccessEndpoints: { unscopable: MCP_REGISTRY },

  // ── Webhooks, workspaces, demo data (3.x) ────────────────────────────────────────────────────
  CreateWebhook: { unscopable: WEBHOOKS },
  GetWebhook: { unscopable: WEBHOOKS },
  UpdateWebhook: { unscopable: WEBHOOKS },
  DeleteWebhook: { unscopable: WEBHOOKS },
  ListWebhooks: { unscopable: WEBHOOKS },
  TestWebhook: { unscopable: WEBHOOKS },
  CreateWorkspace: { unscopable: WORKSPACES },
  GetWorkspace: { unscopable: WORKSPACES },
  UpdateWorkspace: { unscopable: WORKSPACES },
  DeleteWorkspace: { unscopable: WORKSPACES },
  ListWorkspaces: { unscopable: WORKSPACES },
  GenerateDemo: { unscopable: 'creates the demo experiment, traces, prompts and models under fixed names of MLflow\'s choosing' },
  DeleteDemo: { unscopable: 'hard-deletes the demo experiment and the demo data of every generator, whoever uses them' },
};

// GraphQL (POST /graphql): the UI reads runs, experiments, artifacts and metric histories through it
// (mlflow/server/graphql/autogenerated_graphql_schema.py QueryType and MutationType, and
// graphql_schema_extensions.py, the same in 2.16.2 and 3.17.2). Every root field takes one `input`
// argument that its resolver hands, as python names, to ParseDict of the REST request message
// (`vars(input)`); GraphQL itself spells the fields in camelCase (graphene's auto_camelcase:
// `input: {experimentId: "1"}`), so both spellings apply as for REST bodies. Values may come from the
// request's `variables`.

/** GraphQL root field (pipeline/graphql.ts ROOT_FIELDS) → what it touches; places are relative to the field's arguments. */
export const GRAPHQL_FIELD_RESOURCES: Readonly<Record<string, OperationResources>> = {
  mlflowGetExperiment: { refs: [experimentId('input.experiment_id', true)] },
  mlflowGetRun: { refs: [runId(['input.run_id', 'input.run_uuid'], true)] },
  mlflowListArtifacts: { refs: [runId(['input.run_id', 'input.run_uuid'], true)] },
  mlflowGetMetricHistoryBulkInterval: { refs: [runId('input.run_ids', true)] },
  mlflowSearchRuns: { refs: [experimentId('input.experiment_ids', true)] },
  mlflowSearchDatasets: { refs: [experimentId('input.experiment_ids', true)] },
  mlflowSearchModelVersions: { filter: 'modelVersions' },
};

/**
 * Nested GraphQL fields that perform an operation of their own (pipeline/graphql.ts NESTED_FIELDS,
 * MlflowRunExtension in graphql_schema_extensions.py), on every run an answer holds.
 */
export const GRAPHQL_NESTED_FIELD_RESOURCES: Readonly<Record<string, OperationResources>> = {
  // The run's own experiment (resolve_experiment: GetExperiment of run.info.experiment_id), which the
  // root field's check already covered: nothing more is named.
  experiment: { refs: [] },
  // Every version of every registered model or prompt registered from the run
  // (resolve_model_versions: SearchModelVersions with filter run_id='<run>'), whoever's model it is:
  // the list is kept to versions whose registered model or prompt the scope covers.
  modelVersions: { filter: 'modelVersions' },
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
    else kinds.add('experiment'); // experiments, evaluation datasets, online scoring configs
  }
  if ('refs' in declaration) {
    for (const ref of declaration.refs ?? []) {
      if (REGISTRY_KINDS.has(ref.kind)) registry();
      else if (ref.kind === 'modelSource') {
        registry();
        kinds.add('experiment');
      } else kinds.add('experiment');
    }
  }
  return [...kinds];
}

const REGISTRY_KINDS: ReadonlySet<ResourceKind> = new Set(['modelName', 'newModelName', 'renamedModelName', 'registryTagKey', 'promptUri']);
