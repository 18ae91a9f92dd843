// Cross-team isolation (issue 19), end to end: two teams on one MLflow server behind the gateway, and
// team A trying every operation that touches a scoped resource on team B's data, by every way an id
// can be given. A real `mlflow server` (2.16.2 and 3.17.2, artifacts in S3 like SageMaker's: moto,
// --no-serve-artifacts, the gateway's own artifact API) behind the SageMaker data-plane stand-in
// (botocore verifies every signature); each team has a writer and a reader, with policies scoped to
// `team-<t>/**` experiments and `team-<t>-*` models and prompts.
//
// Team B's data is written straight into MLflow first (test/e2e/cross_team_seed.py); every name and
// value of it carries a token (`zzB07q`). Then the attack table below runs: one row per attempt (an
// operation, spelled one way, by A's writer or reader). For every row:
// - refused: 403 PERMISSION_DENIED, and the request never reached MLflow (the stand-in logs the
//   X-Request-Id of what it forwards); for a search, refused or answered with none of B's rows;
// - no write of B's reached MLflow: the SQLite store and the S3 bucket are read directly after each
//   write that reached MLflow (or the gateway's artifact API), and after A's reads together; nothing
//   of B's may change, nor anything new point at it;
// - no answer carries B's names, values, trace contents or ids, unless the request itself held them;
// - an id that does not exist is refused exactly like B's (status, error_code, message shape).
// B's own reader making the read attempts first is passed on (the scope must not simply refuse all).
// Then the stock clients (3.17.2's GenAI workflow, 2.16.2's classic one) run inside scoped
// policies with zero denials, and B's data is compared with what it was before the table.
//
// Run alone:  ./node_modules/.bin/bun test test/e2e/cross-team.test.ts
// One version: MLFLOW_VERSIONS=3.17.2 ./node_modules/.bin/bun test test/e2e/cross-team.test.ts
// Today's best rules instead of scopes (experimentNamePrefix, for comparison): CROSS_TEAM_RULES=prefix;
// team A refused everything (the harness must then pass every refusal row): CROSS_TEAM_RULES=refuse-a.
// docs/cross-team-suite.md says more.
// CROSS_TEAM_REPORT=file.json writes every row's outcome; a summary is printed either way.
//
// The table is data: a new route adds a target (an operation with its fields, built from a team's
// data); request-ways.ts spells it every way MLflow reads ids. The last test checks that every
// operation the resource table (src/scopes/operation-resources.ts) declares with refs or a row
// filter has a row here, or an exemption with its reason.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { shippedPolicies } from '../support/rules.ts';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { isReadOnlyOperation, OPERATION_NAMES } from '../../src/rules/operations.ts';
import { OPERATION_RESOURCES } from '../../src/scopes/operation-resources.ts';
import { MLFLOW_VERSIONS, mlflowUserEnv, startMlflow, venvPython } from '../support/mlflow.ts';
import { startDataPlane, type DataPlaneStandin } from '../support/standin.ts';
import { auditLines, cleanAwsEnv, REPO, startGateway, tempDir, waitFor, type Started } from '../support/processes.ts';
import { staticCredentials } from '../support/credentials.ts';
import { createBucket, MOTO_CREDENTIALS, MOTO_REGION, startMoto, type S3Server } from '../support/s3.ts';
import { exchange } from '../support/raw-http.ts';
import { spellingsOf, type Fields, type Spelling } from '../support/request-ways.ts';
import { changesBetween, readObjects, snapshot, StoreTables, touching, type Owner, type StoreChange, type StoreSnapshot } from '../support/mlflow-state.ts';
import { otlpExport } from '../support/otlp-export.ts';

setDefaultTimeout(600_000);

type Version = '2.16.2' | '3.17.2';
// MLFLOW_VERSIONS=3.17.2 runs one of them (test/support/mlflow.ts).
const VERSIONS = (['2.16.2', '3.17.2'] as const).filter((v) => MLFLOW_VERSIONS.includes(v));
const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/cross-team';
const BUCKET = 'mlflow-cross-team';
/**
 * scopes: the rules under test. prefix: today's best rules without scopes, for comparison.
 * refuse-a: team A's writer and reader may call nothing but GetServerVersion, a check of the harness
 * itself: every row expecting a refusal must then pass (only A's own searches fail).
 */
const RULES_MODE = (['prefix', 'refuse-a'] as const).find((mode) => mode === process.env.CROSS_TEAM_RULES) ?? 'scopes';
/** Reads run this many at a time (writes one by one, each followed by a look at the stores). */
const READ_CONCURRENCY = 6;

const KEYS = {
  'a-writer': 'cross-team-a-writer-key-0123456789',
  'a-reader': 'cross-team-a-reader-key-0123456789',
  'b-writer': 'cross-team-b-writer-key-0123456789',
  'b-reader': 'cross-team-b-reader-key-0123456789',
  'a-genai': 'cross-team-a-genai-key-01234567890',
  'a-classic': 'cross-team-a-classic-key-0123456789',
} as const;
type Client = keyof typeof KEYS;

// ── Team data, as cross_team_seed.py prints it ──────────────────────────────────────────────────
interface Team {
  team: 'a' | 'b';
  experiment: { id: string; name: string; tag_key: string };
  spare_experiment: { id: string; name: string };
  run: { id: string; artifact_uri: string; metric_key: string; metric_value: number; param_key: string; tag_key: string; artifact_path: string };
  spare_run: { id: string };
  trace: { id: string; tag_key: string; assessment_id?: string; expectation_id?: string };
  logged_model?: { id: string; name: string; tag_key: string };
  dataset?: { id: string; name: string; tag_key: string; record_id: string };
  model: { name: string; version: string; alias: string; tag_key: string; version_tag_key: string; crossed_version?: string };
  spare_model: { name: string };
  prompt?: { name: string; version: string; alias: string; tag_key: string; version_tag_key: string };
  scorer?: { id: string; name: string; serialized: string };
  review?: { issue_id: string; label_schema_id: string; label_schema_name: string; queue_id: string; queue_name: string; queue_item_id: string };
  tokens: string[];
}

/** What a target is built from: the team attacked (`t`: B, or A for the mixed spellings) and the context. */
interface Ctx {
  a: Team;
  b: Team;
  major: 2 | 3;
  /** The server's artifact root, `s3://bucket/prefix`. */
  root: string;
  now: number;
}

// Names team A tries to create in team B's space; their tokens count as B's.
const PLANTED = { experiment: 'zzB90q', model: 'zzB91q', prompt: 'zzB92q', renamed: 'zzB93q' } as const;

/** Team B's ids that no token marks (generated by MLflow), which an answer must not show either. */
function idsOf(t: Team): string[] {
  return [
    t.run.id,
    t.spare_run.id,
    t.trace.id,
    t.trace.assessment_id,
    t.trace.expectation_id,
    t.logged_model?.id,
    t.dataset?.id,
    t.dataset?.record_id,
    t.scorer?.id,
    t.review?.issue_id,
    t.review?.label_schema_id,
    t.review?.queue_id,
  ].filter((id): id is string => !!id);
}

/** Ids that exist nowhere, for the twin of each attempt: refused exactly like B's. */
function missingTeam(b: Team): Team {
  const hex = (n: number) => 'f'.repeat(n);
  return {
    ...b,
    experiment: { ...b.experiment, id: '987654321' },
    spare_experiment: { ...b.spare_experiment, id: '987654322' },
    run: { ...b.run, id: `dead${hex(28)}` },
    spare_run: { id: `beef${hex(28)}` },
    trace: { ...b.trace, id: b.trace.id.startsWith('tr-') ? `tr-dead${hex(28)}` : `dead${hex(28)}`, assessment_id: `a-dead${hex(28)}`, expectation_id: `a-beef${hex(28)}` },
    ...(b.logged_model ? { logged_model: { ...b.logged_model, id: `m-dead${hex(28)}` } } : {}),
    ...(b.dataset ? { dataset: { ...b.dataset, id: `d-dead${hex(28)}`, record_id: `dr-dead${hex(28)}` } } : {}),
    ...(b.review ? { review: { ...b.review, issue_id: `iss-dead${hex(28)}`, label_schema_id: `ls-dead${hex(28)}`, queue_id: `rq-dead${hex(28)}` } } : {}),
    ...(b.scorer ? { scorer: { ...b.scorer, id: `dead${hex(4)}-0000-0000-0000-${hex(12)}` } } : {}),
  };
}

// ── The attack table ────────────────────────────────────────────────────────────────────────────
type Family = 'experiments' | 'runs' | 'traces' | 'logged models' | 'datasets' | 'registry' | 'prompts' | 'scorers' | 'review' | 'artifacts' | 'graphql';

/**
 * What an attempt must get:
 * - refused: 403 PERMISSION_DENIED from the gateway, nothing forwarded;
 * - no-b-rows: a search naming B's resources; refused, or answered with none of B's rows;
 * - own-rows: a search naming nothing of B's; answered, with A's rows (`mustShow`) and none of B's.
 */
type Expectation = 'refused' | 'no-b-rows' | 'own-rows';

interface Target {
  op: string;
  family: Family;
  /** What team A tries, in words. */
  what: string;
  /** Only on this MLflow major version. */
  major?: 2 | 3;
  method: string;
  /** `{}` placeholders are filled from `segments` (a segment may hold `/`: each part is encoded). */
  path: string;
  segments?: (t: Team, x: Ctx) => string[];
  /** Names of the placeholders, when a body or query could carry the same field. */
  segmentNames?: string[];
  fields?: (t: Team, x: Ctx) => Fields;
  /** The fields that carry ids (dotted), spelled every way. */
  ids?: string[];
  /** Default: the proto routes (/api/N.0/mlflow/...) and the artifact API; false for Flask-only routes. */
  ajaxTwin?: boolean;
  rawBody?: (t: Team, x: Ctx) => { bytes: Uint8Array | string; contentType: string };
  headers?: (t: Team, x: Ctx) => Record<string, string>;
  /** A request written out byte for byte (GraphQL documents, traversal paths): no other spellings. */
  exact?: (t: Team, x: Ctx) => { target: string; body?: string; headers?: Record<string, string> };
  expect?: Expectation;
  /** For own-rows: a value of A's that the answer must show. */
  mustShow?: (x: Ctx) => string;
  /** Deletes, renames and other attempts that would spoil later ones when they get through: run last. */
  destroys?: true;
  /** Read or write, when not the operation's own (GraphQL documents here only read). */
  access?: 'read' | 'write';
  /** A 2xx answer holding a presigned S3 URL is followed (GET for a download, PUT for an upload). */
  follow?: 'get' | 'put';
  /** This attempt may touch S3 objects: the bucket is listed before and after it. */
  s3?: true;
  /** A gateway error code that also counts as a refusal when nothing reached MLflow (an ambiguous path: 400). */
  alsoRefusedAs?: string;
  /** Patterns an answer must not match (B's experiment ids are short numbers no token marks). */
  forbid?: (x: Ctx) => RegExp[];
  /** No twin with ids that do not exist (searches, names). */
  noTwin?: true;
  /** B's reader making the same read is not checked (the attempt mixes in A's ids). */
  noControl?: true;
}

const onlyOn3 = (targets: Target[]): Target[] => targets.map((target) => ({ major: 3, ...target }));
const exp = (t: Team) => t.experiment.id;
const lm = (t: Team) => t.logged_model!.id;
const ds = (t: Team) => t.dataset!.id;
const location = (id: string) => ({ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: id } });
const randomHex = (n: number) => [...crypto.getRandomValues(new Uint8Array(n / 2))].map((b) => b.toString(16).padStart(2, '0')).join('');

function experimentTargets(): Target[] {
  const f: Family = 'experiments';
  return [
    { op: 'GetExperiment', family: f, what: "reads B's experiment", method: 'GET', path: '/api/2.0/mlflow/experiments/get', fields: (t) => ({ experiment_id: exp(t) }), ids: ['experiment_id'] },
    { op: 'GetExperimentByName', family: f, what: "reads B's experiment by name", method: 'GET', path: '/api/2.0/mlflow/experiments/get-by-name', fields: (t) => ({ experiment_name: t.experiment.name }), ids: ['experiment_name'], noTwin: true },
    { op: 'SearchExperiments', family: f, what: 'lists every experiment (POST)', method: 'POST', path: '/api/2.0/mlflow/experiments/search', fields: () => ({ max_results: 1000, view_type: 'ALL' }), expect: 'own-rows', mustShow: (x) => x.a.experiment.name, noTwin: true },
    { op: 'SearchExperiments', family: f, what: 'lists every experiment (GET)', method: 'GET', path: '/api/2.0/mlflow/experiments/search', fields: () => ({ max_results: 1000 }), expect: 'own-rows', mustShow: (x) => x.a.experiment.name, noTwin: true },
    { op: 'SearchExperiments', family: f, what: "searches for B's experiment by name", method: 'POST', path: '/api/2.0/mlflow/experiments/search', fields: (t) => ({ filter: `name = '${t.experiment.name}'`, max_results: 100 }), expect: 'no-b-rows', noTwin: true },
    { op: 'SetExperimentTag', family: f, what: "tags B's experiment", method: 'POST', path: '/api/2.0/mlflow/experiments/set-experiment-tag', fields: (t) => ({ experiment_id: exp(t), key: 'planted-by-a', value: 'x' }), ids: ['experiment_id'] },
    { op: 'DeleteExperimentTag', major: 3, family: f, what: "deletes a tag of B's experiment", method: 'POST', path: '/api/2.0/mlflow/experiments/delete-experiment-tag', fields: (t) => ({ experiment_id: exp(t), key: t.experiment.tag_key }), ids: ['experiment_id'], destroys: true },
    { op: 'CreateExperiment', family: f, what: "creates an experiment in B's space", method: 'POST', path: '/api/2.0/mlflow/experiments/create', fields: () => ({ name: `team-b/planted-${PLANTED.experiment}` }), noTwin: true, noControl: true },
    { op: 'CreateExperiment', family: f, what: "creates an experiment of its own whose artifacts live in B's experiment", method: 'POST', path: '/api/2.0/mlflow/experiments/create', fields: (t, x) => ({ name: `team-a/inside b ${randomHex(6)}`, artifact_location: `${x.root}/${exp(t)}` }), ids: ['artifact_location'], noTwin: true, noControl: true },
    { op: 'CreateExperiment', family: f, what: "creates an experiment of its own whose artifacts live in B's experiment (mlflow-artifacts:/)", method: 'POST', path: '/api/2.0/mlflow/experiments/create', fields: (t) => ({ name: `team-a/inside b proxied ${randomHex(6)}`, artifact_location: `mlflow-artifacts:/${exp(t)}` }), noTwin: true, noControl: true },
    { op: 'CreateExperiment', family: f, what: "creates an experiment of its own whose location climbs into B's (percent-encoded dot segments)", method: 'POST', path: '/api/2.0/mlflow/experiments/create', fields: (t, x) => ({ name: `team-a/climbing ${randomHex(6)}`, artifact_location: `${x.root}/${exp(x.a)}/%2E%2E/${exp(t)}` }), noTwin: true, noControl: true },
    { op: 'UpdateExperiment', family: f, what: "renames B's experiment into team-a/ (the old name must be in scope too)", method: 'POST', path: '/api/2.0/mlflow/experiments/update', fields: (t) => ({ experiment_id: exp(t), new_name: `team-a/taken from ${t.team} ${randomHex(4)}` }), ids: ['experiment_id'], destroys: true },
    { op: 'UpdateExperiment', family: f, what: "renames its own experiment into team-b/", method: 'POST', path: '/api/2.0/mlflow/experiments/update', fields: (_t, x) => ({ experiment_id: x.a.spare_experiment.id, new_name: `team-b/renamed-${PLANTED.renamed}` }), noTwin: true, noControl: true, destroys: true },
    { op: 'DeleteExperiment', family: f, what: "deletes B's experiment", method: 'POST', path: '/api/2.0/mlflow/experiments/delete', fields: (t) => ({ experiment_id: t.spare_experiment.id }), ids: ['experiment_id'], destroys: true },
    { op: 'RestoreExperiment', family: f, what: "restores B's experiment", method: 'POST', path: '/api/2.0/mlflow/experiments/restore', fields: (t) => ({ experiment_id: t.spare_experiment.id }), ids: ['experiment_id'], destroys: true },
  ];
}

function runTargets(): Target[] {
  const f: Family = 'runs';
  const metric = (x: Ctx) => ({ key: 'planted-by-a', value: 1, timestamp: x.now, step: 0 });
  return [
    { op: 'GetRun', family: f, what: "reads B's run", method: 'GET', path: '/api/2.0/mlflow/runs/get', fields: (t) => ({ run_id: t.run.id }), ids: ['run_id'] },
    { op: 'GetRun', family: f, what: "reads B's run (run_uuid)", method: 'GET', path: '/api/2.0/mlflow/runs/get', fields: (t) => ({ run_uuid: t.run.id }), ids: ['run_uuid'] },
    { op: 'CreateRun', family: f, what: "starts a run in B's experiment", method: 'POST', path: '/api/2.0/mlflow/runs/create', fields: (t, x) => ({ experiment_id: exp(t), run_name: 'planted by a', start_time: x.now }), ids: ['experiment_id'] },
    { op: 'UpdateRun', family: f, what: "renames B's run", method: 'POST', path: '/api/2.0/mlflow/runs/update', fields: (t) => ({ run_id: t.run.id, run_name: 'renamed by a' }), ids: ['run_id'] },
    { op: 'UpdateRun', family: f, what: "ends B's run as killed (run_uuid)", method: 'POST', path: '/api/2.0/mlflow/runs/update', fields: (t, x) => ({ run_uuid: t.run.id, status: 'KILLED', end_time: x.now }), ids: ['run_uuid'] },
    { op: 'LogMetric', family: f, what: "logs a metric on B's run", method: 'POST', path: '/api/2.0/mlflow/runs/log-metric', fields: (t, x) => ({ run_id: t.run.id, ...metric(x) }), ids: ['run_id'] },
    { op: 'LogMetric', family: f, what: "logs a metric on B's run (run_uuid)", method: 'POST', path: '/api/2.0/mlflow/runs/log-metric', fields: (t, x) => ({ run_uuid: t.run.id, ...metric(x) }), ids: ['run_uuid'] },
    { op: 'LogMetric', major: 3, family: f, what: "logs a metric from its own run onto B's logged model (model_id)", method: 'POST', path: '/api/2.0/mlflow/runs/log-metric', fields: (t, x) => ({ run_id: x.a.run.id, ...metric(x), model_id: lm(t) }), ids: ['model_id'] },
    { op: 'LogParam', family: f, what: "overwrites a param of B's run (MLflow's 400 quotes B's value)", method: 'POST', path: '/api/2.0/mlflow/runs/log-parameter', fields: (t) => ({ run_id: t.run.id, key: t.run.param_key, value: 'overwritten by a' }), ids: ['run_id'] },
    { op: 'LogParam', family: f, what: "adds a param to B's run", method: 'POST', path: '/api/2.0/mlflow/runs/log-parameter', fields: (t) => ({ run_id: t.run.id, key: 'planted-by-a', value: 'x' }), ids: ['run_id'] },
    { op: 'LogBatch', family: f, what: "logs metrics, params and tags on B's run", method: 'POST', path: '/api/2.0/mlflow/runs/log-batch', fields: (t, x) => ({ run_id: t.run.id, metrics: [metric(x)], params: [{ key: 'planted-batch', value: 'x' }], tags: [{ key: 'planted-batch', value: 'x' }] }), ids: ['run_id'] },
    { op: 'LogBatch', major: 3, family: f, what: "logs a batch from its own run onto B's logged model (metrics[].model_id)", method: 'POST', path: '/api/2.0/mlflow/runs/log-batch', fields: (t, x) => ({ run_id: x.a.run.id, metrics: [{ ...metric(x), model_id: lm(t) }] }), ids: ['metrics.model_id'] },
    { op: 'SetTag', family: f, what: "tags B's run", method: 'POST', path: '/api/2.0/mlflow/runs/set-tag', fields: (t) => ({ run_id: t.run.id, key: 'planted-by-a', value: 'x' }), ids: ['run_id'] },
    { op: 'DeleteTag', family: f, what: "deletes a tag of B's run", method: 'POST', path: '/api/2.0/mlflow/runs/delete-tag', fields: (t) => ({ run_id: t.run.id, key: t.run.tag_key }), ids: ['run_id'], destroys: true },
    { op: 'LogInputs', family: f, what: "logs an input dataset on B's run", method: 'POST', path: '/api/2.0/mlflow/runs/log-inputs', fields: (t) => ({ run_id: t.run.id, datasets: [{ dataset: { name: 'planted-by-a', digest: 'abc123', source_type: 'local', source: '{"uri": "x"}' }, tags: [] }] }), ids: ['run_id'] },
    { op: 'LogInputs', major: 3, family: f, what: "logs B's logged model as an input of its own run (models[].model_id)", method: 'POST', path: '/api/2.0/mlflow/runs/log-inputs', fields: (t, x) => ({ run_id: x.a.run.id, models: [{ model_id: lm(t) }] }), ids: ['models.model_id'] },
    { op: 'LogOutputs', major: 3, family: f, what: "logs its own logged model as an output of B's run", method: 'POST', path: '/api/2.0/mlflow/runs/outputs', fields: (t, x) => ({ run_id: t.run.id, models: [{ model_id: lm(x.a), step: 0 }] }), ids: ['run_id'] },
    { op: 'LogOutputs', major: 3, family: f, what: "logs B's logged model as an output of its own run", method: 'POST', path: '/api/2.0/mlflow/runs/outputs', fields: (t, x) => ({ run_id: x.a.run.id, models: [{ model_id: lm(t), step: 0 }] }), ids: ['models.model_id'] },
    { op: 'LogModel', family: f, what: "logs a model on B's run", method: 'POST', path: '/api/2.0/mlflow/runs/log-model', fields: (t) => ({ run_id: t.run.id, model_json: JSON.stringify({ artifact_path: 'planted', flavors: {}, run_id: t.run.id, utc_time_created: '2026-01-01 00:00:00.000000' }) }), ids: ['run_id'] },
    { op: 'SearchRuns', family: f, what: "searches B's experiment's runs", method: 'POST', path: '/api/2.0/mlflow/runs/search', fields: (t) => ({ experiment_ids: [exp(t)] }), ids: ['experiment_ids'], expect: 'no-b-rows' },
    { op: 'SearchRuns', family: f, what: "searches its own and B's experiments' runs at once", method: 'POST', path: '/api/2.0/mlflow/runs/search', fields: (t, x) => ({ experiment_ids: [exp(x.a), exp(t)] }), expect: 'no-b-rows', noControl: true },
    { op: 'SearchRuns', family: f, what: 'searches its own runs', method: 'POST', path: '/api/2.0/mlflow/runs/search', fields: (_t, x) => ({ experiment_ids: [exp(x.a)], run_view_type: 'ALL' }), expect: 'own-rows', mustShow: (x) => x.a.run.id, noTwin: true },
    { op: 'GetMetricHistory', family: f, what: "reads a metric history of B's run", method: 'GET', path: '/api/2.0/mlflow/metrics/get-history', fields: (t) => ({ run_id: t.run.id, metric_key: t.run.metric_key }), ids: ['run_id'] },
    { op: 'GetMetricHistory', family: f, what: "reads a metric history of B's run (run_uuid)", method: 'GET', path: '/api/2.0/mlflow/metrics/get-history', fields: (t) => ({ run_uuid: t.run.id, metric_key: t.run.metric_key }), ids: ['run_uuid'] },
    { op: 'GetMetricHistoryBulkInterval', family: f, what: "reads B's metric histories in bulk", method: 'GET', path: '/api/2.0/mlflow/metrics/get-history-bulk-interval', fields: (t) => ({ run_ids: [t.run.id], metric_key: t.run.metric_key, max_results: 10 }), ids: ['run_ids'] },
    { op: 'GetMetricHistoryBulk', family: f, what: "reads B's metric histories (the UI's route)", method: 'GET', path: '/ajax-api/2.0/mlflow/metrics/get-history-bulk', fields: (t) => ({ run_id: [t.run.id], metric_key: t.run.metric_key }), ids: ['run_id'], ajaxTwin: false },
    { op: 'ListArtifacts', family: f, what: "lists B's run's artifacts", method: 'GET', path: '/api/2.0/mlflow/artifacts/list', fields: (t) => ({ run_id: t.run.id, path: 'notes' }), ids: ['run_id'] },
    { op: 'ListArtifacts', family: f, what: "lists B's run's artifacts (run_uuid)", method: 'GET', path: '/api/2.0/mlflow/artifacts/list', fields: (t) => ({ run_uuid: t.run.id, path: 'notes' }), ids: ['run_uuid'] },
    { op: 'GetArtifact', family: 'artifacts', what: "downloads B's run artifact (get-artifact, run_uuid)", method: 'GET', path: '/get-artifact', fields: (t) => ({ run_uuid: t.run.id, path: t.run.artifact_path }), ids: ['run_uuid'], ajaxTwin: false },
    { op: 'GetArtifact', family: 'artifacts', what: "downloads B's run artifact (get-artifact, run_id)", method: 'GET', path: '/get-artifact', fields: (t) => ({ run_id: t.run.id, path: t.run.artifact_path }), ids: ['run_id'], ajaxTwin: false },
    { op: 'GetArtifact', family: 'artifacts', what: "downloads B's run artifact: run_uuid its own, run_id B's (MLflow takes run_id)", method: 'GET', path: '/get-artifact', fields: (t, x) => ({ run_uuid: x.a.run.id, run_id: t.run.id, path: t.run.artifact_path }), ajaxTwin: false, noControl: true },
    { op: 'UploadRunArtifact', family: 'artifacts', what: "uploads a file into B's run (the UI's route)", method: 'POST', path: '/ajax-api/2.0/mlflow/upload-artifact', fields: (t) => ({ run_uuid: t.run.id, path: 'planted-by-a.txt' }), ids: ['run_uuid'], ajaxTwin: false, rawBody: () => ({ bytes: 'planted by a', contentType: 'application/octet-stream' }), s3: true },
    {
      op: 'CreatePromptlabRun', family: f, what: "creates a prompt-lab run in B's experiment (the UI's route)", method: 'POST', path: '/ajax-api/2.0/mlflow/runs/create-promptlab-run', ajaxTwin: false, ids: ['experiment_id'], s3: true,
      fields: (t, x) => ({ experiment_id: exp(t), run_name: 'planted by a', tags: [], prompt_template: 'say {{ q }}', prompt_parameters: [{ key: 'q', value: 'hi' }], model_route: 'route', model_parameters: [], model_input: 'say hi', model_output: 'hi', model_output_parameters: [], mlflow_version: '2.16.2', user_id: 'a', start_time: x.now }),
    },
    { op: 'SearchDatasets', family: f, what: "lists the input datasets of B's experiment (the UI's route)", method: 'POST', path: '/ajax-api/2.0/mlflow/experiments/search-datasets', fields: (t) => ({ experiment_ids: [exp(t)] }), ids: ['experiment_ids'], ajaxTwin: false, expect: 'no-b-rows' },
    { op: 'CreatePresignedDownloadUrl', major: 3, family: 'artifacts', what: "mints a download URL for B's run artifact, and follows it", method: 'POST', path: '/api/2.0/mlflow/artifacts/presigned-download-url', fields: (t) => ({ run_id: t.run.id, path: t.run.artifact_path }), ids: ['run_id'], follow: 'get' },
    { op: 'CreatePresignedUploadUrl', major: 3, family: 'artifacts', what: "mints an upload URL into B's run, and follows it", method: 'POST', path: '/api/2.0/mlflow/artifacts/presigned-upload-url', fields: (t) => ({ run_id: t.run.id, path: 'planted-presigned.txt' }), ids: ['run_id'], follow: 'put', s3: true },
    { op: 'CreatePresignedUploadUrl', major: 3, family: 'artifacts', what: "mints an upload URL into B's logged model, and follows it", method: 'POST', path: '/api/2.0/mlflow/artifacts/presigned-upload-url', fields: (t) => ({ model_id: lm(t), path: 'planted-presigned.txt' }), ids: ['model_id'], follow: 'put', s3: true },
    { op: 'DeleteRun', family: f, what: "deletes B's run", method: 'POST', path: '/api/2.0/mlflow/runs/delete', fields: (t) => ({ run_id: t.spare_run.id }), ids: ['run_id'], destroys: true },
    { op: 'RestoreRun', family: f, what: "restores B's run", method: 'POST', path: '/api/2.0/mlflow/runs/restore', fields: (t) => ({ run_id: t.spare_run.id }), ids: ['run_id'], destroys: true },
  ];
}

function traceTargets(): Target[] {
  const f: Family = 'traces';
  const trace = (t: Team) => t.trace.id;
  const startV3 = (t: Team, x: Ctx) => ({
    trace: { trace_info: { trace_id: `tr-${randomHex(32)}`, trace_location: location(exp(t)), request_time: new Date(x.now).toISOString(), execution_duration: '0.5s', state: 'OK', trace_metadata: {}, tags: { planted: 'by a' } } },
  });
  return [
    { op: 'SearchTraces', family: f, what: "searches B's experiment's traces (v2)", method: 'GET', path: '/api/2.0/mlflow/traces', fields: (t) => ({ experiment_ids: [exp(t)] }), ids: ['experiment_ids'], expect: 'no-b-rows' },
    { op: 'StartTrace', family: f, what: "starts a trace in B's experiment (v2)", method: 'POST', path: '/api/2.0/mlflow/traces', fields: (t, x) => ({ experiment_id: exp(t), timestamp_ms: x.now, request_metadata: [], tags: [{ key: 'planted', value: 'by a' }] }), ids: ['experiment_id'] },
    { op: 'GetTraceInfo', family: f, what: "reads B's trace (v2)", method: 'GET', path: '/api/2.0/mlflow/traces/{}/info', segments: (t) => [trace(t)], segmentNames: ['request_id'] },
    { op: 'SetTraceTag', family: f, what: "tags B's trace (v2)", method: 'PATCH', path: '/api/2.0/mlflow/traces/{}/tags', segments: (t) => [trace(t)], segmentNames: ['request_id'], fields: () => ({ key: 'planted-by-a', value: 'x' }) },
    { op: 'EndTrace', family: f, what: "ends B's trace again (v2)", method: 'PATCH', path: '/api/2.0/mlflow/traces/{}', segments: (t) => [trace(t)], segmentNames: ['request_id'], fields: (_t, x) => ({ timestamp_ms: x.now, status: 'ERROR', request_metadata: [], tags: [{ key: 'planted', value: 'by a' }] }) },
    { op: 'GetTraceArtifact', family: f, what: "downloads B's trace data (the UI's route)", method: 'GET', path: '/ajax-api/2.0/mlflow/get-trace-artifact', fields: (t) => ({ request_id: trace(t) }), ids: ['request_id'], ajaxTwin: false },
    { op: 'GetTraceArtifact', major: 3, family: f, what: "downloads B's trace data (the UI's 3.0 route)", method: 'GET', path: '/ajax-api/3.0/mlflow/get-trace-artifact', fields: (t) => ({ request_id: trace(t) }), ids: ['request_id'], ajaxTwin: false },
    { op: 'StartTraceV3', major: 3, family: f, what: "writes a trace into B's experiment", method: 'POST', path: '/api/3.0/mlflow/traces', fields: startV3, ids: ['trace.trace_info.trace_location.mlflow_experiment.experiment_id'] },
    { op: 'GetTraceInfoV3', major: 3, family: f, what: "reads B's trace", method: 'GET', path: '/api/3.0/mlflow/traces/{}', segments: (t) => [trace(t)], segmentNames: ['trace_id'] },
    { op: 'GetTrace', major: 3, family: f, what: "reads B's trace with its spans", method: 'GET', path: '/api/3.0/mlflow/traces/get', fields: (t) => ({ trace_id: trace(t) }), ids: ['trace_id'] },
    { op: 'BatchGetTraces', major: 3, family: f, what: "reads B's trace in a batch", method: 'GET', path: '/api/3.0/mlflow/traces/batchGet', fields: (t) => ({ trace_ids: [trace(t)] }), ids: ['trace_ids'] },
    { op: 'BatchGetTraceInfos', major: 3, family: f, what: "reads B's trace info in a batch", method: 'POST', path: '/api/3.0/mlflow/traces/batchGetInfos', fields: (t) => ({ trace_ids: [trace(t)] }), ids: ['trace_ids'] },
    { op: 'BatchGetTraceInfos', major: 3, family: f, what: "reads its own and B's trace infos at once", method: 'POST', path: '/api/3.0/mlflow/traces/batchGetInfos', fields: (t, x) => ({ trace_ids: [trace(x.a), trace(t)] }), noControl: true },
    { op: 'SearchTracesV3', major: 3, family: f, what: "searches B's experiment's traces", method: 'POST', path: '/api/3.0/mlflow/traces/search', fields: (t) => ({ locations: [location(exp(t))] }), ids: ['locations.mlflow_experiment.experiment_id'], expect: 'no-b-rows' },
    { op: 'SearchTracesV3', major: 3, family: f, what: 'searches its own traces', method: 'POST', path: '/api/3.0/mlflow/traces/search', fields: (_t, x) => ({ locations: [location(exp(x.a))] }), expect: 'own-rows', mustShow: (x) => x.a.trace.id, noTwin: true },
    { op: 'CalculateTraceFilterCorrelation', major: 3, family: f, what: "correlates filters over B's traces", method: 'POST', path: '/api/3.0/mlflow/traces/calculate-filter-correlation', fields: (t) => ({ experiment_ids: [exp(t)], filter_string1: "trace.status = 'OK'", filter_string2: "trace.status = 'ERROR'" }), ids: ['experiment_ids'] },
    { op: 'QueryTraceMetrics', major: 3, family: f, what: "queries B's trace metrics", method: 'POST', path: '/api/3.0/mlflow/traces/metrics', fields: (t) => ({ experiment_ids: [exp(t)], view_type: 'TRACES', metric_name: 'trace_count', aggregations: [{ aggregation_type: 'COUNT' }] }), ids: ['experiment_ids'] },
    { op: 'SetTraceTagV3', major: 3, family: f, what: "tags B's trace", method: 'PATCH', path: '/api/3.0/mlflow/traces/{}/tags', segments: (t) => [trace(t)], segmentNames: ['trace_id'], fields: () => ({ key: 'planted-by-a-v3', value: 'x' }) },
    {
      op: 'CreateAssessment', major: 3, family: f, what: "adds feedback to B's trace", method: 'POST', path: '/api/3.0/mlflow/traces/{}/assessments', segments: (t) => [trace(t)], ids: ['assessment.trace_id'],
      fields: (t) => ({ assessment: { trace_id: trace(t), assessment_name: 'planted-by-a', source: { source_type: 'HUMAN', source_id: 'a-writer' }, feedback: { value: 'planted' } } }),
    },
    { op: 'GetAssessment', major: 3, family: f, what: "reads B's trace feedback", method: 'GET', path: '/api/3.0/mlflow/traces/{}/assessments/{}', segments: (t) => [trace(t), t.trace.assessment_id!], segmentNames: ['trace_id', 'assessment_id'] },
    {
      op: 'UpdateAssessment', major: 3, family: f, what: "overwrites B's trace feedback", method: 'PATCH', path: '/api/3.0/mlflow/traces/{}/assessments/{}', segments: (t) => [trace(t), t.trace.assessment_id!], segmentNames: ['trace_id', 'assessment_id'],
      fields: (t) => ({ assessment: { trace_id: trace(t), assessment_id: t.trace.assessment_id, feedback: { value: 'overwritten by a' } }, update_mask: 'feedback' }),
    },
    { op: 'LinkTracesToRun', major: 3, family: f, what: "links B's trace to its own run", method: 'POST', path: '/api/2.0/mlflow/traces/link-to-run', fields: (t, x) => ({ trace_ids: [trace(t)], run_id: x.a.run.id }), ids: ['trace_ids'], noControl: true },
    { op: 'LinkTracesToRun', major: 3, family: f, what: "links its own trace to B's run", method: 'POST', path: '/api/2.0/mlflow/traces/link-to-run', fields: (t, x) => ({ trace_ids: [trace(x.a)], run_id: t.run.id }), ids: ['run_id'], noControl: true },
    { op: 'LinkPromptsToTrace', major: 3, family: f, what: "links B's prompt to its own trace", method: 'POST', path: '/api/2.0/mlflow/traces/link-prompts', fields: (t, x) => ({ trace_id: trace(x.a), prompt_versions: [{ name: t.prompt!.name, version: t.prompt!.version }] }), ids: ['prompt_versions.name'], noControl: true, noTwin: true },
    { op: 'LinkPromptsToTrace', major: 3, family: f, what: "links its own prompt to B's trace", method: 'POST', path: '/api/2.0/mlflow/traces/link-prompts', fields: (t, x) => ({ trace_id: trace(t), prompt_versions: [{ name: x.a.prompt!.name, version: x.a.prompt!.version }] }), ids: ['trace_id'], noControl: true },
    {
      op: 'ExportOtlpTraces', major: 3, family: f, what: "exports spans into B's experiment (OTLP)", method: 'POST', path: '/v1/traces', ajaxTwin: false, noTwin: true,
      headers: (t) => ({ 'x-mlflow-experiment-id': exp(t) }),
      rawBody: () => ({ bytes: otlpExport(randomHex(32), randomHex(16), 'planted span', ['planted', 'by a']), contentType: 'application/x-protobuf' }),
    },
    { op: 'GetOnlineTraceDetails', major: 3, family: f, what: "reads B's trace's online details", method: 'GET', path: '/api/2.0/mlflow/get-online-trace-details', fields: (t) => ({ trace_id: trace(t), sql_warehouse_id: 'w', source_inference_table: 'x', source_databricks_request_id: 'y' }), ids: ['trace_id'] },
    { op: 'SearchUnifiedTraces', major: 3, family: f, what: "searches B's experiment's traces (unified)", method: 'GET', path: '/api/2.0/mlflow/unified-traces', fields: (t) => ({ experiment_ids: [exp(t)], sql_warehouse_id: 'w' }), ids: ['experiment_ids'], expect: 'no-b-rows' },
    { op: 'DeleteTraceTag', family: f, what: "deletes a tag of B's trace (v2)", method: 'DELETE', path: '/api/2.0/mlflow/traces/{}/tags', segments: (t) => [trace(t)], segmentNames: ['request_id'], fields: (t) => ({ key: t.trace.tag_key }), destroys: true },
    { op: 'DeleteTraceTagV3', major: 3, family: f, what: "deletes a tag of B's trace", method: 'DELETE', path: '/api/3.0/mlflow/traces/{}/tags', segments: (t) => [trace(t)], segmentNames: ['trace_id'], fields: (t) => ({ key: t.trace.tag_key }), destroys: true },
    { op: 'DeleteAssessment', major: 3, family: f, what: "deletes B's trace expectation", method: 'DELETE', path: '/api/3.0/mlflow/traces/{}/assessments/{}', segments: (t) => [trace(t), t.trace.expectation_id!], segmentNames: ['trace_id', 'assessment_id'], destroys: true },
    { op: 'DeleteTraces', family: f, what: "deletes B's traces by id from B's experiment (v2)", method: 'POST', path: '/api/2.0/mlflow/traces/delete-traces', fields: (t) => ({ experiment_id: exp(t), request_ids: [trace(t)] }), ids: ['experiment_id', 'request_ids'], destroys: true, s3: true },
    { op: 'DeleteTraces', family: f, what: "deletes B's trace naming its own experiment (v2)", method: 'POST', path: '/api/2.0/mlflow/traces/delete-traces', fields: (t, x) => ({ experiment_id: exp(x.a), request_ids: [trace(t)] }), ids: ['request_ids'], destroys: true, noControl: true, s3: true },
    { op: 'DeleteTracesV3', major: 3, family: f, what: "deletes every trace of B's experiment older than now", method: 'POST', path: '/api/3.0/mlflow/traces/delete-traces', fields: (t, x) => ({ experiment_id: exp(t), max_timestamp_millis: x.now + 60_000 }), ids: ['experiment_id'], destroys: true, s3: true },
  ];
}

function loggedModelTargets(): Target[] {
  const f: Family = 'logged models';
  const one = { segments: (t: Team) => [lm(t)], segmentNames: ['model_id'] };
  return onlyOn3([
    { op: 'CreateLoggedModel', family: f, what: "creates a logged model in B's experiment", method: 'POST', path: '/api/2.0/mlflow/logged-models', fields: (t) => ({ experiment_id: exp(t), name: 'planted-by-a' }), ids: ['experiment_id'], s3: true },
    { op: 'CreateLoggedModel', family: f, what: "creates its own logged model from B's run (source_run_id)", method: 'POST', path: '/api/2.0/mlflow/logged-models', fields: (t, x) => ({ experiment_id: exp(x.a), name: 'from b run', source_run_id: t.run.id }), ids: ['source_run_id'], noControl: true },
    { op: 'GetLoggedModel', family: f, what: "reads B's logged model", method: 'GET', path: '/api/2.0/mlflow/logged-models/{}', ...one },
    { op: 'SearchLoggedModels', family: f, what: "searches B's experiment's logged models", method: 'POST', path: '/api/2.0/mlflow/logged-models/search', fields: (t) => ({ experiment_ids: [exp(t)] }), ids: ['experiment_ids'], expect: 'no-b-rows' },
    { op: 'SearchLoggedModels', family: f, what: 'searches its own logged models', method: 'POST', path: '/api/2.0/mlflow/logged-models/search', fields: (_t, x) => ({ experiment_ids: [exp(x.a)] }), expect: 'own-rows', mustShow: (x) => lm(x.a), noTwin: true },
    { op: 'FinalizeLoggedModel', family: f, what: "marks B's logged model failed", method: 'PATCH', path: '/api/2.0/mlflow/logged-models/{}', ...one, fields: () => ({ status: 'LOGGED_MODEL_UPLOAD_FAILED' }) },
    { op: 'SetLoggedModelTags', family: f, what: "tags B's logged model", method: 'PATCH', path: '/api/2.0/mlflow/logged-models/{}/tags', ...one, fields: () => ({ tags: [{ key: 'planted-by-a', value: 'x' }] }) },
    { op: 'LogLoggedModelParams', family: f, what: "adds params to B's logged model", method: 'POST', path: '/api/2.0/mlflow/logged-models/{}/params', ...one, fields: () => ({ params: [{ key: 'planted-by-a', value: 'x' }] }) },
    { op: 'ListLoggedModelArtifacts', family: f, what: "lists B's logged model's artifacts", method: 'GET', path: '/api/2.0/mlflow/logged-models/{}/artifacts/directories', ...one },
    { op: 'GetLoggedModelArtifact', family: 'artifacts', what: "downloads B's logged model's file (the UI's route)", method: 'GET', path: '/ajax-api/2.0/mlflow/logged-models/{}/artifacts/files', ...one, fields: () => ({ artifact_file_path: 'MLmodel' }), ajaxTwin: false },
    { op: 'DeleteLoggedModelTag', family: f, what: "deletes a tag of B's logged model", method: 'DELETE', path: '/api/2.0/mlflow/logged-models/{}/tags/{}', segments: (t) => [lm(t), t.logged_model!.tag_key], segmentNames: ['model_id', 'tag_key'], destroys: true },
    { op: 'DeleteLoggedModel', family: f, what: "deletes B's logged model", method: 'DELETE', path: '/api/2.0/mlflow/logged-models/{}', ...one, destroys: true },
  ]);
}

function datasetTargets(): Target[] {
  const f: Family = 'datasets';
  const one = { segments: (t: Team) => [ds(t)], segmentNames: ['dataset_id'] };
  return onlyOn3([
    { op: 'CreateDataset', family: f, what: "creates an evaluation dataset in B's experiment", method: 'POST', path: '/api/3.0/mlflow/datasets/create', fields: (t) => ({ name: 'planted-by-a', experiment_ids: [exp(t)] }), ids: ['experiment_ids'] },
    { op: 'GetDataset', family: f, what: "reads B's evaluation dataset", method: 'GET', path: '/api/3.0/mlflow/datasets/{}', ...one },
    { op: 'SearchEvaluationDatasets', family: f, what: "searches B's experiment's evaluation datasets", method: 'POST', path: '/api/3.0/mlflow/datasets/search', fields: (t) => ({ experiment_ids: [exp(t)] }), ids: ['experiment_ids'], expect: 'no-b-rows' },
    { op: 'SearchEvaluationDatasets', family: f, what: 'lists every evaluation dataset (POST)', method: 'POST', path: '/api/3.0/mlflow/datasets/search', fields: () => ({ max_results: 1000 }), expect: 'own-rows', mustShow: (x) => ds(x.a), noTwin: true },
    { op: 'SearchEvaluationDatasets', family: f, what: 'lists every evaluation dataset (GET)', method: 'GET', path: '/api/3.0/mlflow/datasets/search', fields: () => ({ max_results: 1000 }), expect: 'own-rows', mustShow: (x) => ds(x.a), noTwin: true },
    { op: 'GetDatasetExperimentIds', family: f, what: "reads which experiments B's dataset is in", method: 'GET', path: '/api/3.0/mlflow/datasets/{}/experiment-ids', ...one, forbid: (x) => [new RegExp(`"${x.b.experiment.id}"`)] },
    { op: 'GetDatasetRecords', family: f, what: "reads B's dataset records", method: 'GET', path: '/api/3.0/mlflow/datasets/{}/records', ...one },
    { op: 'UpsertDatasetRecords', family: f, what: "adds records to B's dataset", method: 'POST', path: '/api/3.0/mlflow/datasets/{}/records', ...one, fields: () => ({ records: JSON.stringify([{ inputs: { question: 'planted by a' }, expectations: { answer: 'x' } }]) }) },
    { op: 'SetDatasetTags', family: f, what: "tags B's dataset", method: 'PATCH', path: '/api/3.0/mlflow/datasets/{}/tags', ...one, fields: () => ({ tags: JSON.stringify({ 'planted-by-a': 'x' }) }) },
    { op: 'AddDatasetToExperiments', family: f, what: "adds B's dataset to its own experiment", method: 'POST', path: '/api/3.0/mlflow/datasets/{}/add-experiments', ...one, fields: (_t, x) => ({ experiment_ids: [exp(x.a)] }), noControl: true },
    { op: 'AddDatasetToExperiments', family: f, what: "adds its own dataset to B's experiment", method: 'POST', path: '/api/3.0/mlflow/datasets/{}/add-experiments', segments: (_t, x) => [ds(x.a)], fields: (t) => ({ experiment_ids: [exp(t)] }), ids: ['experiment_ids'], noControl: true },
    { op: 'RemoveDatasetFromExperiments', family: f, what: "removes B's dataset from B's experiment", method: 'POST', path: '/api/3.0/mlflow/datasets/{}/remove-experiments', ...one, fields: (t) => ({ experiment_ids: [exp(t)] }), ids: ['experiment_ids'], destroys: true },
    { op: 'DeleteDatasetRecords', family: f, what: "deletes B's dataset records", method: 'DELETE', path: '/api/3.0/mlflow/datasets/{}/records', ...one, fields: (t) => ({ dataset_record_ids: [t.dataset!.record_id] }), destroys: true },
    { op: 'DeleteDatasetTag', family: f, what: "deletes a tag of B's dataset", method: 'DELETE', path: '/api/3.0/mlflow/datasets/{}/tags/{}', segments: (t) => [ds(t), t.dataset!.tag_key], segmentNames: ['dataset_id', 'key'], destroys: true },
    { op: 'DeleteDataset', family: f, what: "deletes B's dataset", method: 'DELETE', path: '/api/3.0/mlflow/datasets/{}', ...one, destroys: true },
  ]);
}

interface Entry {
  name: string;
  version: string;
  alias: string;
  tag_key: string;
  version_tag_key: string;
  /** A version that may be deleted (B's second version, made from A's run). */
  spare_version: string;
}

/** The registry's operations on one of B's entries: a registered model, or (3.x) a prompt. */
function registryTargets(family: 'registry' | 'prompts', entry: (t: Team) => Entry, major?: 3): Target[] {
  const noun = family === 'registry' ? 'registered model' : 'prompt';
  const rm = '/api/2.0/mlflow/registered-models';
  const mv = '/api/2.0/mlflow/model-versions';
  const named = (t: Team) => ({ name: entry(t).name });
  const versioned = (t: Team) => ({ name: entry(t).name, version: entry(t).version });
  const targets: Target[] = [
    { op: 'GetRegisteredModel', family, what: `reads B's ${noun}`, method: 'GET', path: `${rm}/get`, fields: named, ids: ['name'], noTwin: true },
    { op: 'UpdateRegisteredModel', family, what: `rewrites B's ${noun}'s description`, method: 'PATCH', path: `${rm}/update`, fields: (t) => ({ ...named(t), description: 'overwritten by a' }), ids: ['name'], noTwin: true },
    { op: 'SetRegisteredModelTag', family, what: `tags B's ${noun}`, method: 'POST', path: `${rm}/set-tag`, fields: (t) => ({ ...named(t), key: 'planted-by-a', value: 'x' }), ids: ['name'], noTwin: true },
    { op: 'GetLatestVersions', family, what: `reads the latest versions of B's ${noun} (GET)`, method: 'GET', path: `${rm}/get-latest-versions`, fields: named, ids: ['name'], noTwin: true },
    { op: 'GetLatestVersions', family, what: `reads the latest versions of B's ${noun} (POST)`, method: 'POST', path: `${rm}/get-latest-versions`, fields: named, ids: ['name'], noTwin: true },
    { op: 'SetRegisteredModelAlias', family, what: `points an alias of B's ${noun} at a version`, method: 'POST', path: `${rm}/alias`, fields: (t) => ({ ...versioned(t), alias: 'planted-by-a' }), ids: ['name'], noTwin: true },
    { op: 'GetModelVersionByAlias', family, what: `reads B's ${noun} by alias`, method: 'GET', path: `${rm}/alias`, fields: (t) => ({ ...named(t), alias: entry(t).alias }), ids: ['name'], noTwin: true },
    { op: 'GetModelVersion', family, what: `reads a version of B's ${noun}`, method: 'GET', path: `${mv}/get`, fields: versioned, ids: ['name'], noTwin: true },
    { op: 'UpdateModelVersion', family, what: `rewrites a version of B's ${noun}`, method: 'PATCH', path: `${mv}/update`, fields: (t) => ({ ...versioned(t), description: 'overwritten by a' }), ids: ['name'], noTwin: true },
    { op: 'SetModelVersionTag', family, what: `tags a version of B's ${noun}`, method: 'POST', path: `${mv}/set-tag`, fields: (t) => ({ ...versioned(t), key: 'planted-by-a', value: 'x' }), ids: ['name'], noTwin: true },
    { op: 'TransitionModelVersionStage', family, what: `archives a version of B's ${noun}`, method: 'POST', path: `${mv}/transition-stage`, fields: (t) => ({ ...versioned(t), stage: 'Archived', archive_existing_versions: false }), ids: ['name'], noTwin: true },
    { op: 'GetModelVersionDownloadUri', family, what: `reads where a version of B's ${noun} lives`, method: 'GET', path: `${mv}/get-download-uri`, fields: versioned, ids: ['name'], noTwin: true },
    { op: 'CreateModelVersion', family, what: `adds a version to B's ${noun}`, method: 'POST', path: `${mv}/create`, fields: (t, x) => ({ ...named(t), source: `${x.a.run.artifact_uri}/model` }), ids: ['name'], noTwin: true, noControl: true },
    { op: 'SearchRegisteredModels', family, what: `searches for B's ${noun} by name`, method: 'GET', path: `${rm}/search`, fields: (t) => ({ filter: `name = '${entry(t).name}'` }), expect: 'no-b-rows', noTwin: true },
    { op: 'SearchModelVersions', family, what: `searches the versions of B's ${noun}`, method: 'GET', path: `${mv}/search`, fields: (t) => ({ filter: `name = '${entry(t).name}'` }), expect: 'no-b-rows', noTwin: true },
    { op: 'DeleteRegisteredModelTag', family, what: `deletes a tag of B's ${noun}`, method: 'DELETE', path: `${rm}/delete-tag`, fields: (t) => ({ ...named(t), key: entry(t).tag_key }), ids: ['name'], noTwin: true, destroys: true },
    { op: 'DeleteModelVersionTag', family, what: `deletes a tag of a version of B's ${noun}`, method: 'DELETE', path: `${mv}/delete-tag`, fields: (t) => ({ ...versioned(t), key: entry(t).version_tag_key }), ids: ['name'], noTwin: true, destroys: true },
    { op: 'DeleteRegisteredModelAlias', family, what: `deletes an alias of B's ${noun}`, method: 'DELETE', path: `${rm}/alias`, fields: (t) => ({ ...named(t), alias: entry(t).alias }), ids: ['name'], noTwin: true, destroys: true },
    { op: 'DeleteModelVersion', family, what: `deletes a version of B's ${noun}`, method: 'DELETE', path: `${mv}/delete`, fields: (t) => ({ ...named(t), version: entry(t).spare_version }), ids: ['name'], noTwin: true, destroys: true },
    { op: 'RenameRegisteredModel', family, what: `renames B's ${noun} into team-a- (the old name must be in scope too)`, method: 'POST', path: `${rm}/rename`, fields: (t) => ({ ...named(t), new_name: `team-a-taken-${noun.replace(/ /g, '-')}-${randomHex(4)}` }), ids: ['name'], noTwin: true, destroys: true },
  ];
  if (family === 'registry') {
    targets.push({ op: 'GetModelVersionArtifact', family: 'artifacts', what: "downloads a file of a version of B's registered model", method: 'GET', path: '/model-versions/get-artifact', fields: (t) => ({ ...versioned(t), path: 'MLmodel' }), ids: ['name'], ajaxTwin: false, noTwin: true });
  }
  return major ? onlyOn3(targets) : targets;
}

function registryWideTargets(): Target[] {
  const f: Family = 'registry';
  const mvCreate = '/api/2.0/mlflow/model-versions/create';
  const ownModel = (x: Ctx) => x.a.model.name;
  return [
    { op: 'SearchRegisteredModels', family: f, what: 'lists every registered model', method: 'GET', path: '/api/2.0/mlflow/registered-models/search', fields: () => ({ max_results: 1000 }), expect: 'own-rows', mustShow: (x) => x.a.model.name, noTwin: true },
    { op: 'SearchModelVersions', family: f, what: 'lists every model version', method: 'GET', path: '/api/2.0/mlflow/model-versions/search', fields: () => ({ max_results: 1000 }), expect: 'own-rows', mustShow: (x) => x.a.model.name, noTwin: true },
    { op: 'SearchModelVersions', family: f, what: "lists the versions made from its own run (one is B's)", method: 'GET', path: '/api/2.0/mlflow/model-versions/search', fields: (_t, x) => ({ filter: `run_id = '${x.a.run.id}'` }), expect: 'own-rows', mustShow: (x) => x.a.model.name, noTwin: true },
    { op: 'CreateRegisteredModel', family: f, what: "registers a model in B's space", method: 'POST', path: '/api/2.0/mlflow/registered-models/create', fields: () => ({ name: `team-b-planted-${PLANTED.model}` }), noTwin: true, noControl: true },
    { op: 'CreateRegisteredModel', major: 3, family: 'prompts', what: "registers a prompt in B's space", method: 'POST', path: '/api/2.0/mlflow/registered-models/create', fields: () => ({ name: `team-b-planted-${PLANTED.prompt}`, tags: [{ key: 'mlflow.prompt.is_prompt', value: 'true' }] }), noTwin: true, noControl: true },
    { op: 'RenameRegisteredModel', family: f, what: "renames its own model into team-b-", method: 'POST', path: '/api/2.0/mlflow/registered-models/rename', fields: (_t, x) => ({ name: x.a.spare_model.name, new_name: `team-b-renamed-${PLANTED.renamed}` }), noTwin: true, noControl: true, destroys: true },
    { op: 'CreateModelVersion', family: f, what: "versions its own model from B's run (source runs:/)", method: 'POST', path: mvCreate, fields: (t, x) => ({ name: ownModel(x), source: `runs:/${t.run.id}/model` }), ids: ['source'], noControl: true },
    { op: 'CreateModelVersion', family: f, what: "versions its own model naming B's run (run_id)", method: 'POST', path: mvCreate, fields: (t, x) => ({ name: ownModel(x), source: `${x.a.run.artifact_uri}/model`, run_id: t.run.id }), ids: ['run_id'], noControl: true },
    { op: 'CreateModelVersion', family: f, what: "versions its own model from B's registered model (source models:/)", method: 'POST', path: mvCreate, fields: (t, x) => ({ name: ownModel(x), source: `models:/${t.model.name}/${t.model.version}` }), ids: ['source'], noControl: true, noTwin: true },
    { op: 'CreateModelVersion', family: f, what: "versions its own model from B's storage (source s3://)", method: 'POST', path: mvCreate, fields: (t, x) => ({ name: ownModel(x), source: `${t.run.artifact_uri}/model` }), ids: ['source'], noControl: true },
    { op: 'CreateModelVersion', family: f, what: "versions its own model from B's storage (source mlflow-artifacts:/)", method: 'POST', path: mvCreate, fields: (t, x) => ({ name: ownModel(x), source: `mlflow-artifacts:/${exp(t)}/${t.run.id}/artifacts/model` }), ids: ['source'], noControl: true },
    { op: 'CreateModelVersion', major: 3, family: f, what: "versions its own model from B's logged model (model_id)", method: 'POST', path: mvCreate, fields: (t, x) => ({ name: ownModel(x), source: `models:/${lm(t)}`, model_id: lm(t) }), ids: ['model_id'], noControl: true },
    { op: 'DeleteRegisteredModel', family: f, what: "deletes B's registered model", method: 'DELETE', path: '/api/2.0/mlflow/registered-models/delete', fields: (t) => ({ name: t.spare_model.name }), ids: ['name'], noTwin: true, destroys: true },
    { op: 'DeleteRegisteredModel', major: 3, family: 'prompts', what: "deletes B's prompt", method: 'DELETE', path: '/api/2.0/mlflow/registered-models/delete', fields: (t) => ({ name: t.prompt!.name }), ids: ['name'], noTwin: true, destroys: true },
  ];
}

function scorerTargets(): Target[] {
  const f: Family = 'scorers';
  return onlyOn3([
    { op: 'RegisterScorer', family: f, what: "registers a scorer in B's experiment", method: 'POST', path: '/api/3.0/mlflow/scorers/register', fields: (t, x) => ({ experiment_id: exp(t), name: 'planted-judge', serialized_scorer: x.a.scorer!.serialized.replace(x.a.scorer!.name, 'planted-judge') }), ids: ['experiment_id'] },
    { op: 'ListScorers', family: f, what: "lists B's experiment's scorers", method: 'GET', path: '/api/3.0/mlflow/scorers/list', fields: (t) => ({ experiment_id: exp(t) }), ids: ['experiment_id'], expect: 'no-b-rows' },
    { op: 'ListScorerVersions', family: f, what: "lists a scorer's versions in B's experiment", method: 'GET', path: '/api/3.0/mlflow/scorers/versions', fields: (t) => ({ experiment_id: exp(t), name: t.scorer!.name }), ids: ['experiment_id'] },
    { op: 'GetScorer', family: f, what: "reads B's scorer", method: 'GET', path: '/api/3.0/mlflow/scorers/get', fields: (t) => ({ experiment_id: exp(t), name: t.scorer!.name }), ids: ['experiment_id'] },
    { op: 'GetOnlineScoringConfigs', family: f, what: "reads B's scorer's online configuration", method: 'GET', path: '/api/3.0/mlflow/scorers/online-configs', fields: (t) => ({ scorer_ids: [t.scorer!.id] }), ids: ['scorer_ids'], expect: 'no-b-rows' },
    { op: 'UpsertOnlineScoringConfig', family: f, what: "turns on online scoring of B's scorer", method: 'PUT', path: '/api/3.0/mlflow/scorers/online-config', fields: (t) => ({ experiment_id: exp(t), name: t.scorer!.name, sample_rate: 0.5 }), ids: ['experiment_id'] },
    { op: 'InvokeScorer', family: f, what: "runs a scorer over B's traces (the UI's route)", method: 'POST', path: '/ajax-api/3.0/mlflow/scorer/invoke', fields: (t) => ({ experiment_id: exp(t), serialized_scorer: t.scorer!.serialized, trace_ids: [t.trace.id] }), ids: ['experiment_id', 'trace_ids'], ajaxTwin: false },
    { op: 'DeleteScorer', family: f, what: "deletes B's scorer", method: 'DELETE', path: '/api/3.0/mlflow/scorers/delete', fields: (t) => ({ experiment_id: exp(t), name: t.scorer!.name }), ids: ['experiment_id'], destroys: true },
  ]);
}

function reviewTargets(): Target[] {
  const f: Family = 'review';
  const r = (t: Team) => t.review!;
  return onlyOn3([
    { op: 'CreateIssue', family: f, what: "files an issue in B's experiment", method: 'POST', path: '/api/3.0/mlflow/issues', fields: (t) => ({ experiment_id: exp(t), name: 'planted-by-a', description: 'x', status: 'pending', severity: 'low' }), ids: ['experiment_id'] },
    { op: 'SearchIssues', family: f, what: "searches B's experiment's issues", method: 'POST', path: '/api/3.0/mlflow/issues/search', fields: (t) => ({ experiment_id: exp(t) }), ids: ['experiment_id'], expect: 'no-b-rows' },
    { op: 'GetIssue', family: f, what: "reads B's issue", method: 'GET', path: '/api/3.0/mlflow/issues/{}', segments: (t) => [r(t).issue_id], segmentNames: ['issue_id'] },
    { op: 'UpdateIssue', family: f, what: "rewrites B's issue", method: 'PATCH', path: '/api/3.0/mlflow/issues/{}', segments: (t) => [r(t).issue_id], segmentNames: ['issue_id'], fields: () => ({ description: 'overwritten by a' }) },
    { op: 'CreateLabelSchema', family: f, what: "creates a label schema in B's experiment", method: 'POST', path: '/api/3.0/mlflow/label-schemas/create', fields: (t) => ({ experiment_id: exp(t), name: `planted-by-a-${randomHex(4)}`, type: 'FEEDBACK', input: { text: {} } }), ids: ['experiment_id'] },
    { op: 'GetLabelSchema', family: f, what: "reads B's label schema", method: 'GET', path: '/api/3.0/mlflow/label-schemas/get', fields: (t) => ({ schema_id: r(t).label_schema_id }), ids: ['schema_id'] },
    { op: 'GetLabelSchemaByName', family: f, what: "reads B's label schema by name", method: 'GET', path: '/api/3.0/mlflow/label-schemas/get-by-name', fields: (t) => ({ experiment_id: exp(t), name: r(t).label_schema_name }), ids: ['experiment_id'] },
    { op: 'ListLabelSchemas', family: f, what: "lists B's experiment's label schemas", method: 'GET', path: '/api/3.0/mlflow/label-schemas/list', fields: (t) => ({ experiment_id: exp(t) }), ids: ['experiment_id'], expect: 'no-b-rows' },
    { op: 'UpdateLabelSchema', family: f, what: "rewrites B's label schema", method: 'PATCH', path: '/api/3.0/mlflow/label-schemas/update', fields: (t) => ({ schema_id: r(t).label_schema_id, instruction: 'overwritten by a' }), ids: ['schema_id'] },
    { op: 'CreateReviewQueue', family: f, what: "creates a review queue in B's experiment", method: 'POST', path: '/api/3.0/mlflow/review-queues/create', fields: (t) => ({ experiment_id: exp(t), name: `planted-by-a-${randomHex(4)}`, queue_type: 'CUSTOM' }), ids: ['experiment_id'] },
    { op: 'GetReviewQueue', family: f, what: "reads B's review queue", method: 'GET', path: '/api/3.0/mlflow/review-queues/get', fields: (t) => ({ queue_id: r(t).queue_id }), ids: ['queue_id'] },
    { op: 'GetReviewQueueByName', family: f, what: "reads B's review queue by name", method: 'GET', path: '/api/3.0/mlflow/review-queues/get-by-name', fields: (t) => ({ experiment_id: exp(t), name: r(t).queue_name }), ids: ['experiment_id'] },
    { op: 'ListReviewQueues', family: f, what: "lists B's experiment's review queues", method: 'GET', path: '/api/3.0/mlflow/review-queues/list', fields: (t) => ({ experiment_id: exp(t) }), ids: ['experiment_id'], expect: 'no-b-rows' },
    { op: 'ListReviewQueueItems', family: f, what: "lists B's review queue's items", method: 'GET', path: '/api/3.0/mlflow/review-queues/items/list', fields: (t) => ({ queue_id: r(t).queue_id }), ids: ['queue_id'] },
    { op: 'GetOrCreateUserQueue', family: f, what: "gets itself a review queue in B's experiment", method: 'POST', path: '/api/3.0/mlflow/review-queues/get-or-create-user', fields: (t) => ({ experiment_id: exp(t), user: 'a-writer' }), ids: ['experiment_id'] },
    { op: 'AddItemsToReviewQueue', family: f, what: "adds its own trace to B's review queue", method: 'POST', path: '/api/3.0/mlflow/review-queues/items/add', fields: (t, x) => ({ queue_id: r(t).queue_id, item_type: 'TRACE', item_ids: [x.a.trace.id] }), ids: ['queue_id'], noControl: true },
    { op: 'AddItemsToReviewQueue', family: f, what: "adds B's trace to its own review queue", method: 'POST', path: '/api/3.0/mlflow/review-queues/items/add', fields: (t, x) => ({ queue_id: r(x.a).queue_id, item_type: 'TRACE', item_ids: [t.trace.id] }), ids: ['item_ids'], noControl: true },
    { op: 'SetReviewQueueItemStatus', family: f, what: "completes an item of B's review queue", method: 'POST', path: '/api/3.0/mlflow/review-queues/items/set-status', fields: (t) => ({ queue_id: r(t).queue_id, item_id: r(t).queue_item_id, status: 'COMPLETE', completed_by: 'a-writer' }), ids: ['queue_id'] },
    { op: 'UpdateReviewQueue', family: f, what: "renames B's review queue", method: 'POST', path: '/api/3.0/mlflow/review-queues/update', fields: (t) => ({ queue_id: r(t).queue_id, name: 'renamed by a' }), ids: ['queue_id'] },
    { op: 'CreatePromptOptimizationJob', family: f, what: "starts a prompt optimization in B's experiment on B's prompt", method: 'POST', path: '/api/3.0/mlflow/prompt-optimization/jobs', fields: (t) => ({ experiment_id: exp(t), source_prompt_uri: `prompts:/${t.prompt!.name}/${t.prompt!.version}`, config: { optimizer_type: 'OPTIMIZER_TYPE_GEPA', dataset_id: ds(t), scorers: [t.scorer!.name] } }), ids: ['experiment_id'] },
    // No optimization job can be made without MLflow's job runner (off here): these name one that
    // does not exist, which must be refused like one of B's.
    { op: 'GetPromptOptimizationJob', noControl: true, family: f, what: "reads a prompt optimization job (one that does not exist)", method: 'GET', path: '/api/3.0/mlflow/prompt-optimization/jobs/{}', segments: (t) => [`${t.team}-job-that-does-not-exist`], segmentNames: ['job_id'], noTwin: true },
    { op: 'CancelPromptOptimizationJob', noControl: true, family: f, what: "cancels a prompt optimization job (one that does not exist)", method: 'POST', path: '/api/3.0/mlflow/prompt-optimization/jobs/{}/cancel', segments: (t) => [`${t.team}-job-that-does-not-exist`], segmentNames: ['job_id'], noTwin: true },
    { op: 'DeletePromptOptimizationJob', noControl: true, family: f, what: "deletes a prompt optimization job (one that does not exist)", method: 'DELETE', path: '/api/3.0/mlflow/prompt-optimization/jobs/{}', segments: (t) => [`${t.team}-job-that-does-not-exist`], segmentNames: ['job_id'], noTwin: true, destroys: true },
    {
      op: 'InvokeIssueDetection', family: f, what: "runs issue detection over B's traces (the UI's route)", method: 'POST', path: '/ajax-api/3.0/mlflow/issues/invoke', ajaxTwin: false, ids: ['experiment_id', 'trace_ids'],
      fields: (t) => ({ experiment_id: exp(t), trace_ids: [t.trace.id], categories: ['quality'], provider: 'openai', model: 'gpt-4o-mini' }),
    },
    {
      op: 'InvokeGenaiEvaluate', family: f, what: "evaluates B's traces with B's scorer (the UI's route)", method: 'POST', path: '/ajax-api/3.0/mlflow/genai/evaluate/invoke', ajaxTwin: false, ids: ['experiment_id', 'trace_ids'],
      fields: (t) => ({ experiment_id: exp(t), trace_ids: [t.trace.id], serialized_scorers: [t.scorer!.serialized] }),
    },
    { op: 'SearchPromptOptimizationJobs', family: f, what: "searches B's experiment's prompt optimizations", method: 'POST', path: '/api/3.0/mlflow/prompt-optimization/jobs/search', fields: (t) => ({ experiment_id: exp(t) }), ids: ['experiment_id'], expect: 'no-b-rows' },
    { op: 'RemoveItemsFromReviewQueue', family: f, what: "removes an item from B's review queue", method: 'POST', path: '/api/3.0/mlflow/review-queues/items/remove', fields: (t) => ({ queue_id: r(t).queue_id, item_ids: [r(t).queue_item_id] }), ids: ['queue_id'], destroys: true },
    { op: 'DeleteLabelSchema', family: f, what: "deletes B's label schema", method: 'DELETE', path: '/api/3.0/mlflow/label-schemas/delete', fields: (t) => ({ schema_id: r(t).label_schema_id }), ids: ['schema_id'], destroys: true },
    { op: 'DeleteReviewQueue', family: f, what: "deletes B's review queue", method: 'POST', path: '/api/3.0/mlflow/review-queues/delete', fields: (t) => ({ queue_id: r(t).queue_id }), ids: ['queue_id'], destroys: true },
  ]);
}

/** The gateway's own artifact API (artifacts section; MLflow runs with --no-serve-artifacts, as SageMaker's). */
function artifactApiTargets(): Target[] {
  const f: Family = 'artifacts';
  const files = '/api/2.0/mlflow-artifacts/artifacts';
  const runFile = (t: Team) => `${exp(t)}/${t.run.id}/artifacts/${t.run.artifact_path}`;
  return [
    { op: 'ReadArtifacts', family: f, what: "downloads B's run artifact", method: 'GET', path: `${files}/{}`, segments: (t) => [runFile(t)] },
    { op: 'ReadArtifacts', family: f, what: "lists B's run artifacts", method: 'GET', path: files, fields: (t) => ({ path: `${exp(t)}/${t.run.id}/artifacts/notes` }), ids: ['path'] },
    { op: 'ReadArtifacts', family: f, what: "lists B's experiment's artifact folder", method: 'GET', path: files, fields: (t) => ({ path: exp(t) }), ids: ['path'] },
    {
      op: 'ReadArtifacts', noControl: true, family: f, what: 'lists the artifact root (every experiment folder)', method: 'GET', path: files, expect: 'no-b-rows', noTwin: true,
      forbid: (x) => [x.b.experiment.id, x.b.spare_experiment.id].map((id) => new RegExp(`"path"\\s*:\\s*"${id}"`)),
    },
    { op: 'ReadArtifacts', family: f, what: "downloads B's trace data", method: 'GET', path: `${files}/{}`, segments: (t) => [`${exp(t)}/traces/${t.trace.id}/artifacts/traces.json`] },
    { op: 'ReadArtifacts', major: 3, family: f, what: "downloads B's logged model file", method: 'GET', path: `${files}/{}`, segments: (t) => [`${exp(t)}/models/${lm(t)}/artifacts/MLmodel`] },
    { op: 'ReadArtifacts', major: 3, family: f, what: "mints a presigned download of B's run artifact, and follows it", method: 'GET', path: '/api/2.0/mlflow-artifacts/presigned/{}', segments: (t) => [runFile(t)], follow: 'get' },
    {
      op: 'ReadArtifacts', family: f, what: "climbs from its own experiment into B's (../ in the path)", method: 'GET', path: files, alsoRefusedAs: 'BAD_REQUEST', noTwin: true, noControl: true,
      exact: (t, x) => ({ target: `${files}/${exp(x.a)}/../${runFile(t)}` }),
    },
    {
      op: 'ReadArtifacts', family: f, what: "climbs from its own experiment into B's (%2E%2E in the path)", method: 'GET', path: files, alsoRefusedAs: 'BAD_REQUEST', noTwin: true, noControl: true,
      exact: (t, x) => ({ target: `${files}/${exp(x.a)}/%2E%2E/${runFile(t)}` }),
    },
    { op: 'WriteArtifacts', family: f, what: "uploads a file into B's run", method: 'PUT', path: `${files}/{}`, segments: (t) => [`${exp(t)}/${t.run.id}/artifacts/planted-by-a.txt`], rawBody: () => ({ bytes: 'planted by a', contentType: 'application/octet-stream' }), s3: true },
    { op: 'WriteArtifacts', family: f, what: "starts a multipart upload into B's run", method: 'POST', path: '/api/2.0/mlflow-artifacts/mpu/create/{}', segments: (t) => [`${exp(t)}/${t.run.id}/artifacts/planted-mpu.bin`], fields: () => ({ path: 'planted-mpu.bin', num_parts: 1 }), s3: true },
    { op: 'DeleteArtifacts', family: f, what: "deletes B's run artifacts", method: 'DELETE', path: `${files}/{}`, segments: (t) => [`${exp(t)}/${t.run.id}/artifacts/notes`], destroys: true, s3: true },
  ];
}

/** The UI's GraphQL (POST /graphql): aliases, fragments, variables, the Mutation type's reads, nested resolvers. */
function graphqlTargets(): Target[] {
  const f: Family = 'graphql';
  const runFields = 'run { info { runId experimentId runName } data { params { key value } metrics { key value } tags { key value } } }';
  const doc = (query: string, variables?: Record<string, unknown>) => JSON.stringify({ query, ...(variables ? { variables } : {}) });
  const g = (what: string, body: (t: Team, x: Ctx) => string, extra: Partial<Target> = {}): Target => ({
    op: 'GraphQL', family: f, what, method: 'POST', path: '/graphql', access: 'read', noTwin: true,
    exact: (t, x) => ({ target: '/graphql', body: body(t, x), headers: { 'content-type': 'application/json' } }), ...extra,
  });
  return [
    g("reads B's run (mlflowGetRun)", (t) => doc(`query { mlflowGetRun(input: {runId: "${t.run.id}"}) { ${runFields} } }`)),
    g("reads its own run and B's under aliases", (t, x) => doc(`query { mine: mlflowGetRun(input: {runId: "${x.a.run.id}"}) { run { info { runId } } } theirs: mlflowGetRun(input: {runId: "${t.run.id}"}) { ${runFields} } }`), { noControl: true }),
    g("reads B's run inside a fragment", (t) => doc(`query Q { ...F } fragment F on Query { mlflowGetRun(input: {runId: "${t.run.id}"}) { ${runFields} } }`)),
    g("reads B's run through a variable", (t) => doc('query Q($id: String) { mlflowGetRun(input: {runId: $id}) { ' + runFields + ' } }', { id: t.run.id })),
    g("reads B's run through an input-object variable", (t) => doc('query Q($input: MlflowGetRunInput) { mlflowGetRun(input: $input) { ' + runFields + ' } }', { input: { runId: t.run.id } })),
    g("reads B's experiment (mlflowGetExperiment)", (t) => doc(`query { mlflowGetExperiment(input: {experimentId: "${exp(t)}"}) { experiment { experimentId name tags { key value } } } }`)),
    g("searches B's runs (mlflowSearchRuns, Query)", (t) => doc(`query { mlflowSearchRuns(input: {experimentIds: ["${exp(t)}"]}) { runs { info { runId runName } data { params { key value } } } } }`), { expect: 'no-b-rows' }),
    g("searches B's runs (mlflowSearchRuns, Mutation)", (t) => doc(`mutation { mlflowSearchRuns(input: {experimentIds: ["${exp(t)}"]}) { runs { info { runId runName } data { params { key value } } } } }`), { expect: 'no-b-rows' }),
    g("lists B's run's artifacts (mlflowListArtifacts)", (t) => doc(`query { mlflowListArtifacts(input: {runId: "${t.run.id}", path: "notes"}) { rootUri files { path fileSize } } }`)),
    g("reads B's metric history (mlflowGetMetricHistoryBulkInterval)", (t) => doc(`query { mlflowGetMetricHistoryBulkInterval(input: {runIds: ["${t.run.id}"], metricKey: "${t.run.metric_key}"}) { metrics { key value step } } }`)),
    g("searches B's model's versions (mlflowSearchModelVersions)", (t) => doc(`query { mlflowSearchModelVersions(input: {filter: "name = '${t.model.name}'"}) { modelVersions { name version source description } } }`), { expect: 'no-b-rows' }),
    g("lists B's experiment's input datasets (mlflowSearchDatasets)", (t) => doc(`mutation { mlflowSearchDatasets(input: {experimentIds: ["${exp(t)}"]}) { datasetSummaries { experimentId name digest context } } }`), { expect: 'no-b-rows' }),
    // The UI's run page asks this; a gateway may filter the nested list or refuse the document.
    g("reads its own run's model versions (one is B's: a nested resolver)", (_t, x) => doc(`query { mlflowGetRun(input: {runId: "${x.a.run.id}"}) { run { info { runId } modelVersions { name version description } } } }`), { expect: 'no-b-rows', noControl: true }),
    g("reads B's run's experiment through a nested resolver", (t) => doc(`query { mlflowGetRun(input: {runId: "${t.run.id}"}) { run { info { runId } experiment { name tags { key value } } } } }`)),
    {
      op: 'GraphQL', family: f, what: "reads B's run with a GET and a JSON body", method: 'GET', path: '/graphql', access: 'read', noTwin: true, noControl: true, alsoRefusedAs: 'BAD_REQUEST',
      exact: (t) => ({ target: '/graphql', body: doc(`query { mlflowGetRun(input: {runId: "${t.run.id}"}) { ${runFields} } }`), headers: { 'content-type': 'application/json' } }),
    },
  ];
}

function targetsFor(major: 2 | 3): Target[] {
  const all = [
    ...experimentTargets(),
    ...runTargets(),
    ...traceTargets(),
    ...loggedModelTargets(),
    ...datasetTargets(),
    ...registryTargets('registry', (t) => ({ ...t.model, spare_version: t.model.crossed_version ?? t.model.version })),
    ...registryTargets('prompts', (t) => ({ ...t.prompt!, spare_version: t.prompt!.version }), 3),
    ...registryWideTargets(),
    ...scorerTargets(),
    ...reviewTargets(),
    ...artifactApiTargets(),
    ...graphqlTargets(),
  ];
  return all.filter((target) => !target.major || target.major === major);
}

// Operations the resource table declares with refs or a row filter that have no row here, and why.
const EXEMPT: Readonly<Record<string, string>> = {
  GetJob: 'MLflow\'s job runner is off here (no job exists to reach); a job is placed in its experiment like a run (test/scopes/owners.test.ts)',
  CancelJob: 'MLflow\'s job runner is off here (no job exists to reach); a job is placed in its experiment like a run (test/scopes/owners.test.ts)',
};

// ── Rows: a target spelled one way, made by one of A's clients ──────────────────────────────────
interface Row {
  id: string;
  version: Version;
  client: Client;
  target: Target;
  spelling: Spelling;
  /** The twin of this row with ids that exist nowhere (its message must look the same). */
  twinOf?: Row;
  /** A control: B's own reader making B's read. */
  control?: true;
  access: 'read' | 'write';
}

interface Outcome {
  status: number;
  errorCode?: string;
  message?: string;
  text: string;
  /** The request (by its X-Request-Id) was forwarded to MLflow by the stand-in. */
  reached: boolean;
  /** Changes to B's data (or new things pointing at it) seen in the stores right after this row. */
  wrote: StoreChange[];
  /** Tokens and ids of B's in the answer (and in what a presigned URL in it served). */
  leaked: string[];
}

function shapeFor(target: Target, t: Team, x: Ctx, own?: Team) {
  const safe = <T,>(f: () => T): T | undefined => {
    try {
      const value = f();
      return JSON.stringify(value)?.includes('undefined') ? undefined : value;
    } catch {
      return undefined;
    }
  };
  const ownSegments = own && target.segments ? safe(() => target.segments!(own, x)) : undefined;
  const ownFields = own && target.fields ? safe(() => target.fields!(own, x)) : undefined;
  return {
    method: target.method,
    path: target.path,
    ...(target.segments ? { segments: { theirs: target.segments(t, x), ...(ownSegments ? { own: ownSegments } : {}), ...(target.segmentNames ? { names: target.segmentNames } : {}) } } : {}),
    ...(target.fields ? { fields: { theirs: target.fields(t, x), ...(ownFields ? { own: ownFields } : {}) } } : {}),
    ...(target.ids ? { ids: target.ids } : {}),
    ajaxTwin: target.ajaxTwin ?? (/^\/api\/[23]\.0\/mlflow(-artifacts)?\//.test(target.path) || target.path === '/api/2.0/mlflow-artifacts/artifacts'),
    ...(target.rawBody ? { rawBody: target.rawBody(t, x) } : {}),
    ...(target.headers ? { headers: target.headers(t, x) } : {}),
  };
}

function spell(target: Target, t: Team, x: Ctx, own?: Team): Spelling[] {
  if (target.exact) {
    const exact = target.exact(t, x);
    return [{ way: 'as written', method: target.method, target: exact.target, ...(exact.body !== undefined ? { body: exact.body } : {}), headers: exact.headers ?? {} }];
  }
  return spellingsOf(shapeFor(target, t, x, own));
}

function rowsFor(version: Version, x: Ctx): Row[] {
  const rows: Row[] = [];
  const missing = missingTeam(x.b);
  let n = 0;
  const id = () => `xteam-${version.replace(/\./g, '')}-${String(++n).padStart(4, '0')}`;
  for (const target of targetsFor(x.major)) {
    const access = target.access ?? (isReadOnlyOperation(target.op) ? 'read' : 'write');
    const clients: Client[] = access === 'read' ? ['a-writer', 'a-reader'] : ['a-writer'];
    const spellings = spell(target, x.b, x, x.a);
    for (const client of clients) {
      const first: Row[] = [];
      // The reader's policy differs from the writer's in operations, not in scope: the plain request
      // and its /ajax-api/ twin show that; the writer makes every spelling.
      for (const spelling of client === 'a-reader' ? spellings.filter((s, i) => i === 0 || s.way === '/ajax-api/') : spellings) {
        const row: Row = { id: id(), version, client, target, spelling, access };
        rows.push(row);
        first.push(row);
      }
      if (!target.noTwin && client === 'a-writer') {
        const twin = spell(target, missing, x)[0]!;
        rows.push({ id: id(), version, client, target, spelling: { ...twin, way: `${twin.way}, ids that do not exist` }, access, twinOf: first[0]! });
      }
    }
    // B's reader gets B's data through, unless no scoped policy can (an operation the resource table
    // calls unscopable, a root listing or a job that names no experiment, an id that does not exist).
    const declaration = OPERATION_RESOURCES[target.op];
    const unscopable = declaration !== undefined && 'unscopable' in declaration;
    if (access === 'read' && !target.noControl && !unscopable && target.expect !== 'own-rows') {
      rows.push({ id: id(), version, client: 'b-reader', target, spelling: { ...spellings[0]!, way: `${spellings[0]!.way}, by B's own reader` }, access, control: true });
    }
  }
  return rows;
}

// ── Running a row and judging it ────────────────────────────────────────────────────────────────
interface Env {
  version: Version;
  x: Ctx;
  gateway: Started;
  standin: DataPlaneStandin;
  mlflow: Started & { url: string; dir: string };
  owner: Owner;
  /** B's tokens and ids, which no answer to A may carry unless A's request held them. */
  secrets: string[];
}

async function send(env: Env, row: Row): Promise<{ status: number; text: string }> {
  const { spelling } = row;
  const headers = { authorization: `Bearer ${KEYS[row.client]}`, 'x-request-id': row.id, ...spelling.headers };
  const response = await exchange(env.gateway.port, spelling.method, spelling.target, headers, spelling.body);
  let text = response.text;
  // A presigned URL in the answer is what the caller can now use: use it.
  if (row.target.follow && response.status < 300) {
    const url = presignedUrlIn(text);
    if (url) {
      const followed = row.target.follow === 'get' ? await fetch(url) : await fetch(url, { method: 'PUT', body: 'planted by a through a presigned URL' });
      text += `\n--- ${row.target.follow.toUpperCase()} ${followed.status} ---\n${await followed.text()}`;
    }
  }
  return { status: response.status, text };
}

function presignedUrlIn(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const url = body.presigned_url ?? body.url;
    return typeof url === 'string' && url.startsWith('http://127.0.0.1:') ? url : undefined;
  } catch {
    return undefined;
  }
}

/** Everything the request said, decoded every way it could be read, to excuse B's values it named itself. */
function requestText(spelling: Spelling): string {
  const parts = [spelling.target, typeof spelling.body === 'string' ? spelling.body : '', ...Object.values(spelling.headers)];
  for (const part of [...parts]) {
    try {
      parts.push(decodeURIComponent(part.replace(/\+/g, ' ')));
    } catch {}
    try {
      const once = JSON.parse(part);
      if (typeof once === 'string') parts.push(once);
    } catch {}
  }
  return parts.join('\n');
}

function errorOf(text: string): { errorCode?: string; message?: string } {
  try {
    const body = JSON.parse(text) as { error_code?: unknown; message?: unknown };
    return { ...(typeof body.error_code === 'string' ? { errorCode: body.error_code } : {}), ...(typeof body.message === 'string' ? { message: body.message } : {}) };
  } catch {
    return {};
  }
}

function judge(env: Env, row: Row, sent: { status: number; text: string }, reached: boolean, wrote: StoreChange[]): Outcome {
  const asked = requestText(row.spelling);
  const leaked = row.control ? [] : env.secrets.filter((secret) => sent.text.includes(secret) && !asked.includes(secret));
  for (const pattern of row.control ? [] : row.target.forbid?.(env.x) ?? []) if (pattern.test(sent.text)) leaked.push(String(pattern));
  return { status: sent.status, ...errorOf(sent.text), text: sent.text.slice(0, 2000), reached, wrote, leaked };
}

function refused(row: Row, outcome: Outcome): boolean {
  // A path whose id is percent-encoded letter by letter is refused before anything else, for any
  // client (an encoded letter, digit, - or _ is never sent by a URI producer: RFC 3986 2.3).
  const encodedPath = row.spelling.way.startsWith('path percent-encoded') && outcome.status === 400 && outcome.errorCode === 'BAD_REQUEST';
  const asRefusal = (outcome.status === 403 && outcome.errorCode === 'PERMISSION_DENIED') || encodedPath || (row.target.alsoRefusedAs !== undefined && outcome.errorCode === row.target.alsoRefusedAs && outcome.status === 400);
  return asRefusal && !outcome.reached;
}

/** What is wrong with a row's outcome, in words; empty when it held. */
function problemsOf(row: Row, outcome: Outcome, outcomes: Map<string, Outcome>): string[] {
  const problems: string[] = [];
  const said = `answered ${outcome.status}${outcome.errorCode ? ` ${outcome.errorCode}` : ''}${outcome.message ? `: ${outcome.message.slice(0, 200)}` : ''}`;
  if (row.control) {
    // B's reader must get B's data through: not refused, and passed on (a 503 from a failed lookup
    // is not passing it on either).
    if (outcome.status === 403 && outcome.errorCode === 'PERMISSION_DENIED') problems.push(`B's own reader was refused its own data (${said})`);
    else if (!outcome.reached && !gatewayServed(row)) problems.push(`B's own reader's request never reached MLflow (${said})`);
    return problems;
  }
  const expectation = row.target.expect ?? 'refused';
  const ok = outcome.status >= 200 && outcome.status < 300;
  if (expectation === 'refused' && !refused(row, outcome)) problems.push(`not refused: ${said}${outcome.reached ? ' (reached MLflow)' : ''}`);
  // A search may be refused, answered with A's rows only, or refused by MLflow itself as malformed (a
  // GET whose parameters were in a body the gateway does not forward): what it may not do is leak or
  // write, checked below.
  const malformed = outcome.status === 400 && outcome.errorCode === 'INVALID_PARAMETER_VALUE';
  if (expectation === 'no-b-rows' && !refused(row, outcome) && !ok && !malformed) problems.push(`neither refused nor answered: ${said}`);
  if (expectation === 'own-rows') {
    if (!ok) problems.push(`its own search failed: ${said}`);
    else if (row.target.mustShow && !outcome.text.includes(row.target.mustShow(rowCtx(row)))) problems.push(`its own rows are missing from the answer`);
  }
  if (outcome.leaked.length) problems.push(`the answer carries B's data: ${outcome.leaked.join(', ')}`);
  if (outcome.wrote.length) problems.push(`B's data changed in MLflow: ${outcome.wrote.map((c) => `${c.where} ${c.change} ${c.what.slice(0, 160)}`).join('; ')}`);
  if (row.twinOf) {
    const theirs = outcomes.get(row.twinOf.id);
    if (theirs) {
      const b = rowCtx(row).b;
      const missing = missingTeam(b);
      const mine = messageShape(outcome, [...idsOf(missing), missing.experiment.id, missing.spare_experiment.id]);
      const other = messageShape(theirs, [...idsOf(b), b.experiment.id, b.spare_experiment.id]);
      if (mine !== other) problems.push(`an id that does not exist is answered differently from B's: "${mine}" vs "${other}"`);
    }
  }
  return problems;
}

/** Status, error code and message with every id (a whole word: not the 3 of a 403) replaced by `<id>`. */
function messageShape(outcome: Outcome, ids: ReadonlyArray<string>): string {
  // The gateway quotes the request id in its messages: each row has its own.
  let message = (outcome.message ?? '').replace(/\(request id [^)]*\)/g, '(request id)');
  for (const id of ids) message = message.replace(new RegExp(`(?<![\\w-])${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`, 'g'), '<id>');
  return `${outcome.status} ${outcome.errorCode} ${message}`;
}

const contexts = new Map<Version, Ctx>();
function rowCtx(row: Row): Ctx {
  return contexts.get(row.version)!;
}

/** The X-Request-Ids of the requests the stand-in forwarded to MLflow, read as its log grows. */
class ForwardedIds {
  private offset = 0;
  readonly ids = new Set<string>();

  constructor(private readonly path: string) {}

  update(): Set<string> {
    if (!existsSync(this.path)) return this.ids;
    const bytes = readFileSync(this.path);
    const end = bytes.lastIndexOf(0x0a) + 1;
    for (const line of bytes.subarray(this.offset, end).toString('utf8').split('\n')) {
      if (!line) continue;
      const entry = JSON.parse(line) as { verdict: string; client_request_id?: string | null };
      if (entry.verdict === 'forwarded' && entry.client_request_id) this.ids.add(entry.client_request_id);
    }
    this.offset = Math.max(this.offset, end);
    return this.ids;
  }
}

/** Served by the gateway itself (its artifact API, S3 behind it), not forwarded to MLflow. */
function gatewayServed(row: Row): boolean {
  return row.spelling.target.startsWith('/api/2.0/mlflow-artifacts/') || row.target.follow !== undefined;
}

/** Sends rows several at a time (reads: they change nothing, or the phase's diff shows it). */
async function sendConcurrently(env: Env, rows: Row[]): Promise<Map<string, { status: number; text: string }>> {
  const sent = new Map<string, { status: number; text: string }>();
  let next = 0;
  await Promise.all(
    Array.from({ length: READ_CONCURRENCY }, async () => {
      while (next < rows.length) {
        const row = rows[next++]!;
        sent.set(row.id, await send(env, row));
      }
    }),
  );
  return sent;
}

interface TableRun {
  /** The stores before A's first attempt (after B's own reads, which may create defaults lazily). */
  before: StoreSnapshot;
  /** What of B's changed while A's reads ran (concurrently, so no one row is to blame). */
  changedByReads: StoreChange[];
}

async function runTable(env: Env, rows: Row[], outcomes: Map<string, Outcome>): Promise<TableRun> {
  const prefix = rootPrefix(env.version);
  const tables = new StoreTables(join(env.mlflow.dir, 'mlflow.db'));
  const forwarded = new ForwardedIds(env.standin.logPath);
  const lap = (what: string, since: number) => timings.push(`MLflow ${env.version} ${what}: ${((performance.now() - since) / 1000).toFixed(1)} s`);

  // B's own reads first, on B's data as seeded. MLflow makes some things on first read (3.x's
  // default label schemas): B's doing, before the snapshot A is judged against.
  const controls = rows.filter((row) => row.control);
  const sentControls = await sendConcurrently(env, controls);
  const before: StoreSnapshot = { rows: tables.read(), objects: await readObjects(s3, BUCKET, prefix) };

  const started = performance.now();
  const reads = rows.filter((row) => row.access === 'read' && !row.control);
  const sentReads = await sendConcurrently(env, reads);
  lap(`${reads.length} reads`, started);
  const afterReads: StoreSnapshot = { rows: tables.read(), objects: await readObjects(s3, BUCKET, prefix) };
  const changedByReads = touching(changesBetween(before, afterReads), env.owner);

  // Writes one by one, each followed by a look at the stores: a change to B's data is this row's.
  // Only a request that reached MLflow (or the gateway's own artifact API) can have changed them;
  // after a refusal the stores are not read at all.
  const writesStarted = performance.now();
  const writes = rows.filter((row) => row.access === 'write').sort((p, q) => Number(!!p.target.destroys) - Number(!!q.target.destroys));
  let previous = afterReads;
  const sentWrites = new Map<string, { status: number; text: string; wrote: StoreChange[] }>();
  for (const row of writes) {
    const sent = await send(env, row);
    if (!forwarded.update().has(row.id) && !gatewayServed(row)) {
      sentWrites.set(row.id, { ...sent, wrote: [] });
      continue;
    }
    const now: StoreSnapshot = { rows: tables.read(), objects: row.target.s3 || gatewayServed(row) ? await readObjects(s3, BUCKET, prefix) : previous.objects };
    sentWrites.set(row.id, { ...sent, wrote: touching(changesBetween(previous, now), env.owner) });
    previous = now;
  }
  tables.close();
  lap(`${writes.length} writes`, writesStarted);
  const reached = forwarded.update();
  for (const row of controls) outcomes.set(row.id, judge(env, row, sentControls.get(row.id)!, reached.has(row.id), []));
  for (const row of reads) outcomes.set(row.id, judge(env, row, sentReads.get(row.id)!, reached.has(row.id), []));
  for (const row of writes) {
    const sent = sentWrites.get(row.id)!;
    outcomes.set(row.id, judge(env, row, sent, reached.has(row.id), sent.wrote));
  }
  return { before, changedByReads };
}

// ── The servers, the teams, the gateways ────────────────────────────────────────────────────────
let s3: S3Server;
const rootPrefix = (version: Version) => `cross-team/v${version.replace(/\./g, '-')}`;
const SHIPPED_POLICIES = shippedPolicies() as Record<string, { operations?: string[] }>;

function scope(team: 'a' | 'b') {
  return { experiments: [`team-${team}/**`], registeredModels: [`team-${team}-*`], prompts: [`team-${team}-*`] };
}

/** The stock workflows' own names (genai_workflow.py, mlflow_workflow.py), as team A's apps would scope them. */
const STOCK_SCOPES = {
  genai: { experiments: ['genai app *'], registeredModels: ['genai-classifier-*'], prompts: ['qa-prompt-*'] },
  classic: { experiments: ['team a / churn model *'], registeredModels: ['churn model *'] },
};

function policies(): Record<string, unknown> {
  if (RULES_MODE === 'refuse-a') {
    const nothing = { operations: ['GetServerVersion'] };
    return { ...scopedPolicies(), 'team-a-write': nothing, 'team-a-read': nothing };
  }
  if (RULES_MODE === 'prefix') {
    // Today's best rules without scopes (the issue's tester): every policy's operations listed
    // directly (a condition does not reach included policies) under experimentNamePrefix.
    const readOnly = SHIPPED_POLICIES['read-only']!.operations!;
    const prefixed = (ops: string[], prefix: string) => ({ operations: ops, conditions: { experimentNamePrefix: prefix } });
    return {
      ...SHIPPED_POLICIES,
      'team-a-write': prefixed(['*'], 'team-a/'),
      'team-a-read': prefixed(readOnly, 'team-a/'),
      'team-b-write': prefixed(['*'], 'team-b/'),
      'team-b-read': prefixed(readOnly, 'team-b/'),
      'team-a-genai': { include: ['genai'], conditions: { experimentNamePrefix: 'genai app ' } },
      'team-a-classic': { include: ['log-runs', 'registry-write'], conditions: { experimentNamePrefix: 'team a / churn model ' } },
    };
  }
  return scopedPolicies();
}

function scopedPolicies(): Record<string, unknown> {
  return {
    ...SHIPPED_POLICIES,
    'team-a-write': { description: "Everything (but sensitive operations) on team A's experiments, models and prompts.", operations: ['*'], scope: scope('a') },
    'team-a-read': { include: ['read-only'], scope: scope('a') },
    'team-b-write': { operations: ['*'], scope: scope('b') },
    'team-b-read': { include: ['read-only'], scope: scope('b') },
    'team-a-genai': { include: ['genai'], scope: STOCK_SCOPES.genai },
    'team-a-classic': { include: ['log-runs', 'registry-write'], scope: STOCK_SCOPES.classic },
  };
}

function rulesFor(version: Version, standinPort: number): string {
  const policyOf: Record<Client, string> = { 'a-writer': 'team-a-write', 'a-reader': 'team-a-read', 'b-writer': 'team-b-write', 'b-reader': 'team-b-read', 'a-genai': 'team-a-genai', 'a-classic': 'team-a-classic' };
  const file = join(tempDir('cross-team-rules'), 'rules.yaml');
  writeFileSync(file, YAML.stringify({
    version: 1,
    listen: { host: '127.0.0.1', port: 0 },
    backend: { arn: ARN, endpoint: `http://127.0.0.1:${standinPort}` },
    artifacts: { s3Root: `s3://${BUCKET}/${rootPrefix(version)}`, endpoint: s3.url, forcePathStyle: true },
    // No /ajax-api/ rewrite: MLflow serves /ajax-api/ itself (every proto route, and UI-only
    // routes found nowhere else), so the gateway meets those paths as the UI sends them.
    clients: (Object.keys(KEYS) as Client[]).map((id) => ({ id, apiKeySha256: hashApiKey(KEYS[id]), policies: [policyOf[id]] })),
    policies: policies(),
  }));
  return file;
}

/** Both teams seeded straight into MLflow (no gateway). */
function seed(version: Version, mlflowUrl: string): Promise<{ a: Team; b: Team }> {
  return new Promise((done, fail) => {
    const child = spawn(venvPython(version), [join(REPO, 'test/e2e/cross_team_seed.py')], {
      env: { ...mlflowUserEnv(mlflowUrl, {}), MLFLOW_S3_ENDPOINT_URL: s3.url, AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey, AWS_DEFAULT_REGION: MOTO_REGION },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('exit', (code) => {
      const result = JSON.parse(out.trim().split('\n').pop() || '{}');
      if (code !== 0 || !result.ok) fail(new Error(`seeding MLflow ${version} failed (${code}): ${result.error}\n${err.slice(-3000)}`));
      else done({ a: result.a, b: result.b });
    });
  });
}

/** Seconds each phase took, printed with the summary (the file must fit in CI). */
const timings: string[] = [];
async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    timings.push(`${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

const envs = new Map<Version, Env>();
const allRows = new Map<Version, Row[]>();
const outcomes = new Map<string, Outcome>();
const tableRuns = new Map<Version, TableRun>();

beforeAll(async () => {
  s3 = await startMoto();
  await createBucket(s3, BUCKET);
  // Both versions at once: starting MLflow and seeding it is most of this file's time.
  await Promise.all(VERSIONS.map(async (version) => {
    const mlflow = await timed(`MLflow ${version} start`, () => startMlflow(version, {
      s3ArtifactRoot: `s3://${BUCKET}/${rootPrefix(version)}`,
      env: {
        MLFLOW_S3_ENDPOINT_URL: s3.url, AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey, AWS_DEFAULT_REGION: MOTO_REGION,
        // 3.x's job runner (seven processes: scorers, evaluations and optimizations that call LLMs)
        // is not needed to see whether a job for B's data is refused; without it the server starts
        // in half the time and nothing writes to the store but the requests.
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
      },
    }));
    const [teams, standin] = await Promise.all([timed(`MLflow ${version} seed`, () => seed(version, mlflow.url)), startDataPlane(venvPython(version), ARN, mlflow.url)]);
    const creds = staticCredentials('XTEAMSTATIC01');
    const gateway = await startGateway(rulesFor(version, standin.port), cleanAwsEnv({ AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey }));
    const x: Ctx = { ...teams, major: version.startsWith('3.') ? 3 : 2, root: `s3://${BUCKET}/${rootPrefix(version)}`, now: Date.now() };
    contexts.set(version, x);
    const b = teams.b;
    // B's metric values (31337.4242 and the next step's) are numbers no token can mark.
    const secrets = [...b.tokens, ...Object.values(PLANTED), ...idsOf(b), String(b.run.metric_value), String(b.run.metric_value + 1)];
    envs.set(version, {
      version, x, gateway, standin, mlflow, secrets,
      owner: { strings: secrets, experimentIds: [b.experiment.id, b.spare_experiment.id], artifactPrefixes: [b.experiment.id, b.spare_experiment.id].map((id) => `${x.root}/${id}`) },
    });
    allRows.set(version, rowsFor(version, x));
  }));
  // The two servers are apart: their tables run side by side.
  await Promise.all(VERSIONS.map(async (version) => tableRuns.set(version, await runTable(envs.get(version)!, allRows.get(version)!, outcomes))));
});

afterAll(async () => {
  printSummary();
  for (const env of envs.values()) {
    await env.gateway.stop();
    await env.standin.stop();
    await env.mlflow.stop();
  }
  await s3?.stop();
});

// ── The table's rows, one test each ─────────────────────────────────────────────────────────────
for (const version of VERSIONS) {
  describe(`MLflow ${version}: team A on team B's data`, () => {
    // Rows are known once the servers are seeded, but bun collects tests first: one test per target
    // (its name is the target's), reporting each of its failing rows by client, spelling and id.
    for (const target of targetsFor(version.startsWith('3.') ? 3 : 2)) {
      test(`${target.op}: team A ${target.what}`, () => {
        const rows = allRows.get(version)!.filter((row) => row.target.op === target.op && row.target.what === target.what);
        expect(rows.length).toBeGreaterThan(0);
        const failures = rows.flatMap((row) => problemsOf(row, outcomes.get(row.id)!, outcomes).map((p) => `${row.client} [${row.spelling.way}] ${row.spelling.method} ${row.spelling.target.slice(0, 140)} (${row.id}): ${p}`));
        expect(failures).toEqual([]);
      });
    }
  });
}

// ── The stock clients inside a scope ───────────────────────────────────────────────────────────
function runStock(version: Version, script: string, args: string[], client: Client): Record<string, unknown> {
  const env = envs.get(version)!;
  const run = spawnSync(venvPython(version), [join(REPO, 'test/e2e', script), ...args], { env: mlflowUserEnv(`http://127.0.0.1:${env.gateway.port}`, KEYS[client]), encoding: 'utf8', timeout: 300_000 });
  const result = JSON.parse(run.stdout.trim().split('\n').pop() || '{}');
  if (run.status !== 0) throw new Error(`${script} failed (${run.status}): ${result.error}\n${run.stderr.slice(-4000)}\n--- gateway ---\n${env.gateway.output().slice(-3000)}`);
  return result;
}

describe('the stock clients inside their scopes', () => {
  test.skipIf(!VERSIONS.includes('3.17.2'))("MLflow 3.17.2's GenAI workflow runs with a scoped genai policy and zero denials", async () => {
    const env = envs.get('3.17.2')!;
    const written = runStock('3.17.2', 'genai_workflow.py', ['write', `scoped${Date.now()}`], 'a-genai');
    expect(written.ok).toBe(true);
    await waitFor(() => auditLines(env.gateway.output()).some((a) => a.clientId === 'a-genai' && a.operation === 'SetRegisteredModelAlias'));
    const audit = auditLines(env.gateway.output()).filter((a) => a.clientId === 'a-genai');
    expect(audit.length).toBeGreaterThan(20);
    expect(audit.filter((a) => a.decision !== 'allowed').map((a) => `${a.method} ${a.path}: ${a.reason}`)).toEqual([]);
  });

  test.skipIf(!VERSIONS.includes('2.16.2'))("MLflow 2.16.2's classic workflow runs with scoped log-runs and registry-write policies and zero denials", async () => {
    const env = envs.get('2.16.2')!;
    const result = runStock('2.16.2', 'mlflow_workflow.py', [`scoped${Date.now()}`], 'a-classic');
    expect(result.ok).toBe(true);
    await waitFor(() => auditLines(env.gateway.output()).some((a) => a.clientId === 'a-classic' && a.operation === 'GetRegisteredModel'));
    const audit = auditLines(env.gateway.output()).filter((a) => a.clientId === 'a-classic');
    expect(audit.length).toBeGreaterThan(15);
    expect(audit.filter((a) => a.decision !== 'allowed').map((a) => `${a.method} ${a.path}: ${a.reason}`)).toEqual([]);
  });
});

// ── After everything: B's data as it was ─────────────────────────────────────────────────────────
for (const version of VERSIONS) {
  test(`MLflow ${version}: team A's reads changed nothing of B's (MLflow makes some things on first read)`, () => {
    expect(tableRuns.get(version)!.changedByReads.map((c) => `${c.where} ${c.change} ${c.what.slice(0, 200)}`)).toEqual([]);
  });

  test(`MLflow ${version}: afterwards, B's data is as it was: nothing of B's changed, nothing new points at it`, async () => {
    const env = envs.get(version)!;
    const after = await snapshot(join(env.mlflow.dir, 'mlflow.db'), s3, BUCKET, rootPrefix(version));
    const changed = touching(changesBetween(tableRuns.get(version)!.before, after), env.owner);
    expect(changed.map((c) => `${c.where} ${c.change} ${c.what.slice(0, 200)}`)).toEqual([]);
  });
}

// ── The table covers the resource table ─────────────────────────────────────────────────────────
test('every operation the resource table scopes (refs or a row filter) has a row here, or an exemption with its reason', () => {
  const withRows = new Set(VERSIONS.flatMap((version) => targetsFor(version.startsWith('3.') ? 3 : 2).map((t) => t.op)));
  const scoped = Object.entries(OPERATION_RESOURCES).filter(([, d]) => 'refs' in d || 'filter' in d).map(([op]) => op);
  expect(scoped.filter((op) => !withRows.has(op) && !EXEMPT[op])).toEqual([]);
  // And no row names an operation the gateway does not know (GraphQL is decided field by field).
  expect([...withRows].filter((op) => op !== 'GraphQL' && !OPERATION_NAMES.includes(op))).toEqual([]);
  expect(Object.keys(EXEMPT).filter((op) => withRows.has(op))).toEqual([]);
  // A target is found by its operation and words: two alike would be judged as one.
  for (const major of [2, 3] as const) {
    const names = targetsFor(major).map((t) => `${t.op}: ${t.what}`);
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
  }
});

// ── What leaked, counted ────────────────────────────────────────────────────────────────────────
function printSummary(): void {
  const report: Array<Record<string, unknown>> = [];
  const lines: string[] = [`cross-team table (${RULES_MODE} rules):`];
  for (const version of VERSIONS) {
    const rows = (allRows.get(version) ?? []).filter((row) => !row.control && outcomes.has(row.id));
    if (!rows.length) continue;
    const controls = (allRows.get(version) ?? []).filter((row) => row.control && outcomes.has(row.id));
    for (const row of controls) {
      const o = outcomes.get(row.id)!;
      report.push({ version, id: row.id, client: row.client, control: true, op: row.target.op, what: row.target.what, way: row.spelling.way, status: o.status, errorCode: o.errorCode, reached: o.reached, problems: problemsOf(row, o, outcomes) });
    }
    const families = new Map<string, { attempts: number; refused: number; readLeaks: number; writeLeaks: number; failing: number }>();
    const total = { attempts: 0, refused: 0, readLeaks: 0, writeLeaks: 0, failing: 0 };
    for (const row of rows) {
      const o = outcomes.get(row.id)!;
      const key = row.target.family;
      const tally = families.get(key) ?? { attempts: 0, refused: 0, readLeaks: 0, writeLeaks: 0, failing: 0 };
      const failing = problemsOf(row, o, outcomes).length > 0;
      for (const t of [tally, total]) {
        t.attempts++;
        if (refused(row, o)) t.refused++;
        if (o.leaked.length) t.readLeaks++;
        if (o.wrote.length) t.writeLeaks++;
        if (failing) t.failing++;
      }
      families.set(key, tally);
      report.push({ version, id: row.id, client: row.client, op: row.target.op, family: key, what: row.target.what, way: row.spelling.way, method: row.spelling.method, target: row.spelling.target, status: o.status, errorCode: o.errorCode, reached: o.reached, leaked: o.leaked, wrote: o.wrote.length, problems: problemsOf(row, o, outcomes) });
    }
    // Per target (an operation and what it tries, whatever the spelling): the issue's tester counted so.
    const targets = new Map<string, { read: boolean; changed: boolean }>();
    for (const row of rows) {
      const o = outcomes.get(row.id)!;
      const key = `${row.target.op}: ${row.target.what}`;
      const t = targets.get(key) ?? { read: false, changed: false };
      targets.set(key, { read: t.read || o.leaked.length > 0, changed: t.changed || o.wrote.length > 0 });
    }
    const byTarget = [...targets.values()];
    lines.push(`  MLflow ${version}: ${total.attempts} attempts, ${total.refused} refused, ${total.readLeaks} read B's data, ${total.writeLeaks} changed it, ${total.failing} failing`);
    lines.push(`    by target: ${byTarget.length} targets, ${byTarget.filter((t) => t.read).length} read B's data, ${byTarget.filter((t) => t.changed).length} changed it`);
    const byReads = tableRuns.get(version)?.changedByReads.length ?? 0;
    if (byReads) lines.push(`    A's reads (run together) changed ${byReads} rows or objects of B's`);
    lines.push(`    controls: ${controls.length} reads by B's own reader, ${controls.filter((row) => problemsOf(row, outcomes.get(row.id)!, outcomes).length > 0).length} of them refused or not passed on`);
    for (const [family, t] of [...families].sort()) lines.push(`    ${family.padEnd(14)} ${String(t.attempts).padStart(4)} attempts ${String(t.refused).padStart(4)} refused ${String(t.readLeaks).padStart(4)} read ${String(t.writeLeaks).padStart(4)} changed ${String(t.failing).padStart(4)} failing`);
  }
  console.log([...lines, `  time: ${timings.join(', ')}`].join('\n'));
  if (process.env.CROSS_TEAM_REPORT) writeFileSync(process.env.CROSS_TEAM_REPORT, JSON.stringify(report, null, 1));
}
