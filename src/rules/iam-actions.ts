// The IAM actions AWS publishes for SageMaker tracking servers, kept apart from the routing table
// (mlflow-operations.ts): the table follows MLflow, this list follows AWS, and they drift separately.
//
// Source: AWS Service Authorization Reference, "Actions, resources, and condition keys for Amazon
// SageMaker with MLflow" (service prefix `sagemaker-mlflow`),
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemakerwithmlflow.html
// and its programmatic form https://servicereference.us-east-1.amazonaws.com/v1/sagemaker-mlflow/sagemaker-mlflow.json
// (61 actions). Every action but AccessUI is scoped to the mlflow-tracking-server resource.
// MLflow Apps have one action for everything (sagemaker:CallMlflowAppApi, src/iam-policy.ts).
//
// AWS publishes no action for most of what MLflow added after 3.0 (V3 traces, OTLP span export,
// evaluation datasets, scorers, prompts' trace links, webhooks, the AI gateway...). `iam-policy`
// names those on stderr rather than inventing an action IAM would reject as unknown.
export const SAGEMAKER_MLFLOW_ACTIONS: ReadonlySet<string> = new Set([
  'AccessUI',
  'CreateExperiment',
  'CreateModelVersion',
  'CreateRegisteredModel',
  'CreateRun',
  'DeleteExperiment',
  'DeleteLoggedModel',
  'DeleteLoggedModelTag',
  'DeleteModelVersion',
  'DeleteModelVersionTag',
  'DeleteRegisteredModel',
  'DeleteRegisteredModelAlias',
  'DeleteRegisteredModelTag',
  'DeleteRun',
  'DeleteTag',
  'DeleteTraceTag',
  'DeleteTraces',
  'EndTrace',
  'FinalizeLoggedModel',
  'GetDownloadURIForModelVersionArtifacts',
  'GetExperiment',
  'GetExperimentByName',
  'GetLatestModelVersions',
  'GetLoggedModel',
  'GetMetricHistory',
  'GetModelVersion',
  'GetModelVersionByAlias',
  'GetRegisteredModel',
  'GetRun',
  'GetTraceInfo',
  'ListArtifacts',
  'ListLoggedModelArtifacts',
  'LogBatch',
  'LogInputs',
  'LogLoggedModelParams',
  'LogMetric',
  'LogModel',
  'LogOutputs',
  'LogParam',
  'RenameRegisteredModel',
  'RestoreExperiment',
  'RestoreRun',
  'SearchExperiments',
  'SearchLoggedModels',
  'SearchModelVersions',
  'SearchRegisteredModels',
  'SearchRuns',
  'SearchTraces',
  'SetExperimentTag',
  'SetLoggedModelTags',
  'SetModelVersionTag',
  'SetRegisteredModelAlias',
  'SetRegisteredModelTag',
  'SetTag',
  'SetTraceTag',
  'StartTrace',
  'TransitionModelVersionStage',
  'UpdateExperiment',
  'UpdateModelVersion',
  'UpdateRegisteredModel',
  'UpdateRun',
]);

// Two actions are named differently from the MLflow RPC they authorize; the reference describes
// them as exactly these RPCs ("Get the latest model versions"; "Get a URI to download model
// artifacts for a specific model version"). Every other action is the RPC's own name.
const ACTION_OF_OPERATION: Readonly<Record<string, string>> = {
  GetLatestVersions: 'GetLatestModelVersions',
  GetModelVersionDownloadUri: 'GetDownloadURIForModelVersionArtifacts',
};

/** The `sagemaker-mlflow:` action AWS publishes for an operation, or undefined when there is none. */
export function iamActionFor(operation: string): string | undefined {
  const action = ACTION_OF_OPERATION[operation] ?? operation;
  return SAGEMAKER_MLFLOW_ACTIONS.has(action) ? action : undefined;
}
