// End to end, GenAI on MLflow 3.x: the real MLflow 3.17.2 client (test/e2e/genai_workflow.py) → the
// gateway with the shipped policies (rules.yaml's `genai`, `log-runs` and `read-only`, unchanged) →
// the SageMaker data-plane stand-in (botocore verifies every signature) → a real `mlflow server`,
// for both ARN kinds. Traces travel as OTLP span exports (POST /v1/traces) plus StartTraceV3,
// prompts are linked to traces, a dataset, a scorer and a scikit-learn model are written: none of it
// may be refused, and the server must hold every span. The server keeps artifacts in S3 like
// SageMaker's (moto, --no-serve-artifacts), and the gateway serves the artifact API from there
// (`artifacts`), so the client logs and loads its model without AWS credentials. One MLflow server
// for the whole file.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { mlflowUserEnv, startMlflow, venvPython } from '../support/mlflow.ts';
import { startDataPlane, type DataPlaneStandin } from '../support/standin.ts';
import { shippedPolicies } from '../support/rules.ts';
import { auditLines, cleanAwsEnv, REPO, startGateway, tempDir, waitFor, type Started } from '../support/processes.ts';
import { staticCredentials } from '../support/credentials.ts';
import { allKeys, createBucket, MOTO_CREDENTIALS, MOTO_REGION, startMoto, type S3Server } from '../support/s3.ts';

setDefaultTimeout(240_000);

const VERSION = '3.17.2';
const KINDS = [
  { kind: 'tracking server', arn: 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/genai', service: 'sagemaker-mlflow' },
  { kind: 'MLflow App', arn: 'arn:aws:sagemaker:eu-west-1:123456789012:mlflow-app/app-GENAITEST001', service: 'sagemaker' },
];
const BUILDER_KEY = 'builder-key-genai-0123456789abcdef';
const READER_KEY = 'reader-key-genai-0123456789abcdef';
const TRAINER_KEY = 'trainer-key-genai-0123456789abcde';
const BUCKET = 'mlflow-genai-e2e';
const PREFIX = 'genai/root';
const SHIPPED_POLICIES = shippedPolicies();

type Workflow = Record<string, unknown> & { ok: boolean; trace_ids: string[] };

function runWorkflow(base: string, key: string, args: string[], gateway: Started): Workflow {
  const run = spawnSync(venvPython(VERSION), [join(REPO, 'test/e2e/genai_workflow.py'), ...args], {
    env: mlflowUserEnv(base, key),
    encoding: 'utf8',
    timeout: 180_000,
  });
  const result = JSON.parse(run.stdout.trim().split('\n').pop() || '{}');
  if (run.status !== 0) throw new Error(`workflow ${args[0]} failed (${run.status}): ${result.error}\n${run.stderr.slice(-4000)}\n--- gateway ---\n${gateway.output().slice(-3000)}`);
  return result;
}

describe(`GenAI on MLflow ${VERSION} through the gateway`, () => {
  let mlflow: Started & { url: string };
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startMoto();
    await createBucket(s3, BUCKET);
    mlflow = await startMlflow(VERSION, {
      s3ArtifactRoot: `s3://${BUCKET}/${PREFIX}`,
      env: { MLFLOW_S3_ENDPOINT_URL: s3.url, AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey, AWS_DEFAULT_REGION: MOTO_REGION },
    });
  });
  afterAll(async () => {
    await mlflow?.stop();
    await s3?.stop();
  });

  for (const { kind, arn, service } of KINDS) {
    describe(`behind a SageMaker ${kind}`, () => {
      let standin: DataPlaneStandin;
      let gateway: Started;
      let base: string;
      let written: Workflow;
      beforeAll(async () => {
        standin = await startDataPlane(venvPython(VERSION), arn, mlflow.url);
        const rulesFile = join(tempDir('genai-rules'), 'rules.yaml');
        writeFileSync(rulesFile, YAML.stringify({
          version: 1,
          listen: { host: '127.0.0.1', port: 0 },
          backend: { arn, endpoint: `http://127.0.0.1:${standin.port}` },
          artifacts: { s3Root: `s3://${BUCKET}/${PREFIX}`, endpoint: s3.url, forcePathStyle: true },
          rewrites: [{ name: 'ajax-api', prefix: '/ajax-api/', replace: '/api/' }],
          clients: [
            { id: 'builder', apiKeySha256: hashApiKey(BUILDER_KEY), policies: ['genai'] },
            { id: 'reader', apiKeySha256: hashApiKey(READER_KEY), policies: ['read-only'] },
            { id: 'trainer', apiKeySha256: hashApiKey(TRAINER_KEY), policies: ['log-runs'] },
          ],
          policies: SHIPPED_POLICIES,
        }));
        const creds = staticCredentials('GENAISTATIC01');
        // One identity signs both: SageMaker (the stand-in accepts its stand-in keys) and S3 (moto
        // accepts any keys).
        gateway = await startGateway(rulesFile, cleanAwsEnv({ AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey }));
        base = `http://127.0.0.1:${gateway.port}`;
      });
      afterAll(async () => {
        await gateway?.stop();
        await standin?.stop();
      });

      test('the genai policy runs the whole workflow with zero denials, and every span reaches the server', async () => {
        written = runWorkflow(base, BUILDER_KEY, ['write', `${kind.replace(/\W/g, '')}${Date.now()}`], gateway);
        expect(written.mlflow_version).toBe(VERSION);
        // search_traces and get_trace answer with the spans themselves, not "missing span data".
        expect(written.searched_span_names).toEqual([['answer_question', 'build_prompt', 'retrieve'], ['answer_question', 'build_prompt', 'retrieve']]);
        expect(written.got_span_names).toEqual(['answer_question', 'build_prompt', 'retrieve']);
        expect(written.linked_prompts).toEqual([{ name: written.prompt_name, version: String(written.prompt_version) }]);
        expect(written.dataset_records).toEqual([['what is a gateway', 'a signing proxy'], ['why sign requests', 'SigV4']]);
        expect(written.model_predictions).toEqual([0, 0, 1, 1]);
        expect(written.scorers).toEqual([written.scorer_name]);
        expect(written.logged_model_status).toContain('READY');

        await waitFor(() => auditLines(gateway.output()).some((a) => a.operation === 'LinkPromptsToTrace'));
        const audit = auditLines(gateway.output()).filter((a) => a.clientId === 'builder');
        expect(audit.filter((a) => a.decision !== 'allowed').map((a) => `${a.method} ${a.path}: ${a.reason}`)).toEqual([]);
        const operations = new Set(audit.map((a) => a.operation));
        for (const op of ['ExportOtlpTraces', 'StartTraceV3', 'LinkPromptsToTrace', 'SearchTracesV3', 'CreateDataset', 'UpsertDatasetRecords', 'CreateLoggedModel', 'FinalizeLoggedModel', 'CreateModelVersion', 'SetRegisteredModelAlias', 'RegisterScorer', 'ListScorers', 'WriteArtifacts', 'ReadArtifacts']) {
          expect(operations).toContain(op);
        }

        // Every request was signed as AWS would check it and forwarded; the OTLP exports among them.
        const log = standin.log();
        expect(log.filter((l) => l.verdict !== 'forwarded')).toEqual([]);
        expect(new Set(log.map((l) => l.service))).toEqual(new Set([service]));
        expect(log.filter((l) => l.method === 'POST' && l.path === '/v1/traces' && l.status === 200).length).toBeGreaterThanOrEqual(2);

        // The server itself holds every span (asked directly, not through the gateway).
        for (const traceId of written.trace_ids) {
          const stored = await (await fetch(`${mlflow.url}/api/3.0/mlflow/traces/get?trace_id=${traceId}`)).json();
          expect(stored.trace.spans.map((s: { name: string }) => s.name).sort()).toEqual(['answer_question', 'build_prompt', 'retrieve']);
        }
      });

      // log-runs traces: the span export, StartTraceV3, the prompt's link to the trace and a logged
      // model are all granted. Its one refusal (swallowed by the client) is load_prompt recording on
      // the prompt which experiment used it, a registered-model tag: registry writes are genai's.
      test('log-runs traces a call that uses the prompt and logs a model; refused only the prompt-to-experiment tag', async () => {
        const before = auditLines(gateway.output()).length;
        const traced = runWorkflow(base, TRAINER_KEY, ['trace', `t${kind.replace(/\W/g, '')}${Date.now()}`, JSON.stringify(written)], gateway);
        expect(traced.got_span_names).toEqual(['answer_question', 'build_prompt', 'retrieve']);
        expect(traced.linked_prompts).toEqual([{ name: written.prompt_name, version: String(written.prompt_version) }]);
        expect(traced.model_predictions).toEqual([0, 1]);
        await waitFor(() => auditLines(gateway.output()).slice(before).some((a) => a.clientId === 'trainer' && a.operation === 'LinkPromptsToTrace'));
        const records = auditLines(gateway.output()).slice(before).filter((a) => a.clientId === 'trainer');
        for (const op of ['ExportOtlpTraces', 'StartTraceV3', 'LinkPromptsToTrace', 'CreateLoggedModel', 'FinalizeLoggedModel', 'WriteArtifacts']) {
          expect(records.filter((a) => a.operation === op).every((a) => a.decision === 'allowed')).toBe(true);
          expect(records.some((a) => a.operation === op)).toBe(true);
        }
        expect(records.filter((a) => a.decision !== 'allowed').map((a) => a.operation)).toEqual(['SetRegisteredModelTag']);
        const stored = await (await fetch(`${mlflow.url}/api/3.0/mlflow/traces/get?trace_id=${traced.trace_ids[0]}`)).json();
        expect(stored.trace.spans).toHaveLength(3);
      });

      // The expected refusals, each swallowed by the client: exporting the reader's own trace (OTLP
      // spans, then StartTraceV3), and load_prompt's attempt to record on the prompt which
      // experiment used it (a registered-model tag: mlflow/tracking/client.py load_prompt →
      // _link_prompt_to_experiment).
      test('read-only reads all of it back, and is refused only its own writes: its trace export and the prompt-to-experiment link', async () => {
        const before = auditLines(gateway.output()).length;
        const read = runWorkflow(base, READER_KEY, ['read', 'reader', JSON.stringify(written)], gateway);
        expect(read.trace_ids).toEqual(written.trace_ids);
        expect(read.got_span_names).toEqual(['answer_question', 'build_prompt', 'retrieve']);
        expect(read.prompt_template).toBe('Answer briefly: {{question}}');
        expect(read.dataset_records).toEqual(written.dataset_records);
        expect(read.model_predictions).toEqual([0, 1]);
        expect(read.scorers).toEqual([written.scorer_name]);

        await waitFor(() => auditLines(gateway.output()).slice(before).some((a) => a.operation === 'StartTraceV3'));
        const denied = auditLines(gateway.output()).slice(before).filter((a) => a.clientId === 'reader' && a.decision !== 'allowed');
        expect(new Set(denied.map((a) => a.operation))).toEqual(new Set(['ExportOtlpTraces', 'StartTraceV3', 'SetRegisteredModelTag']));
        expect(denied.every((a) => a.decision === 'denied' && a.status === 403)).toBe(true);
      });

      // sagemaker-mlflow 0.5's opt-in mode (SAGEMAKER_PRESIGNED_URL_UPLOAD_ENABLED,
      // s3_presigned_artifact_repo.py): POST artifacts/presigned-upload-url {run_id, path} answers
      // {presigned_url, headers} minted by the server, then an unsigned PUT goes straight to S3. The
      // gateway passes both routes (and the download twin) to SageMaker, signed: the client needs
      // no AWS credentials, only a way to S3.
      test("the plugin's presigned upload and download URLs pass through: no AWS credentials, bytes straight to S3", async () => {
        const headers = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
        const run = await (await fetch(`${base}/api/2.0/mlflow/runs/create`, { method: 'POST', headers: headers(BUILDER_KEY), body: JSON.stringify({ experiment_id: written.experiment_id }) })).json();
        const runId: string = run.run.info.run_id;
        const minted = await fetch(`${base}/api/2.0/mlflow/artifacts/presigned-upload-url`, { method: 'POST', headers: headers(BUILDER_KEY), body: JSON.stringify({ run_id: runId, path: 'notes/hello.txt' }) });
        expect(minted.status).toBe(200);
        const upload = await minted.json();
        expect(upload.presigned_url).toStartWith(s3.url);
        const put = await fetch(upload.presigned_url, { method: 'PUT', headers: upload.headers ?? {}, body: `hello from ${kind}` });
        expect(put.status).toBe(200);
        expect((await allKeys(s3, BUCKET)).filter((k) => k.endsWith(`/${runId}/artifacts/notes/hello.txt`))).toHaveLength(1);

        const download = await (await fetch(`${base}/api/2.0/mlflow/artifacts/presigned-download-url`, { method: 'POST', headers: headers(READER_KEY), body: JSON.stringify({ run_id: runId, path: 'notes/hello.txt' }) })).json();
        expect(await (await fetch(download.presigned_url, { headers: download.headers ?? {} })).text()).toBe(`hello from ${kind}`);

        const refused = await fetch(`${base}/api/2.0/mlflow/artifacts/presigned-upload-url`, { method: 'POST', headers: headers(READER_KEY), body: JSON.stringify({ run_id: runId, path: 'x.txt' }) });
        expect(refused.status).toBe(403);
        expect((await refused.json()).error_code).toBe('PERMISSION_DENIED');
      });
    });
  }
});
