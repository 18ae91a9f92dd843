// End to end: the real MLflow Python client and curl-style HTTP calls → the gateway (its CLI, as
// ops run it) → the SageMaker data-plane stand-in (botocore verifies every signature, the routing
// header and the signing name, as AWS would) → a real `mlflow server`. Both ARN kinds, both pinned
// MLflow versions.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { MLFLOW_VERSIONS, startMlflow, venvPython } from '../support/mlflow.ts';
import { startDataPlane, type DataPlaneStandin } from '../support/standin.ts';
import { auditLines, cleanAwsEnv, REPO, startGateway, tempDir, type Started } from '../support/processes.ts';
import { staticCredentials } from '../support/credentials.ts';

setDefaultTimeout(180_000);

const KINDS = [
  { kind: 'tracking server', arn: 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/e2e', service: 'sagemaker-mlflow' },
  { kind: 'MLflow App', arn: 'arn:aws:sagemaker:eu-west-1:123456789012:mlflow-app/app-E2ETEST00001', service: 'sagemaker' },
];
const TRAINER_KEY = 'trainer-key-e2e-0123456789abcdef';
const READER_KEY = 'reader-key-e2e-0123456789abcdef';

/** Environment of an MLflow user: a tracking URI and a token, and no AWS variables at all. */
function mlflowUserEnv(uri: string, token: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('AWS_') && !key.startsWith('MLFLOW_')) env[key] = value;
  }
  return { ...env, MLFLOW_TRACKING_URI: uri, MLFLOW_TRACKING_TOKEN: token };
}

for (const version of MLFLOW_VERSIONS) {
  describe(`MLflow ${version}`, () => {
    let mlflow: Started & { url: string };
    beforeAll(async () => {
      mlflow = await startMlflow(version);
    });
    afterAll(async () => {
      await mlflow?.stop();
    });

    for (const { kind, arn, service } of KINDS) {
      describe(`behind a SageMaker ${kind}`, () => {
        let standin: DataPlaneStandin;
        let gateway: Started;
        let base: string;
        beforeAll(async () => {
          standin = await startDataPlane(venvPython(version), arn, mlflow.url);
          const dir = tempDir('e2e-rules');
          const rulesFile = join(dir, 'rules.yaml');
          writeFileSync(
            rulesFile,
            `version: 1
listen: {host: 127.0.0.1, port: 0}
backend:
  arn: ${arn}
  endpoint: http://127.0.0.1:${standin.port}
rewrites:
  - {prefix: /ajax-api/, replace: /api/}
clients:
  - {id: trainer, apiKeySha256: "${hashApiKey(TRAINER_KEY)}", policies: [trainer]}
  - {id: reader, apiKeySha256: "${hashApiKey(READER_KEY)}", policies: [reader]}
policies:
  reader: {operations: ["Get*", "Search*", "List*"]}
  trainer: {include: [reader], operations: [CreateExperiment, SetExperimentTag, CreateRun, UpdateRun, "Log*", SetTag,
    CreateRegisteredModel, CreateModelVersion, SetRegisteredModelAlias]}
`,
          );
          const creds = staticCredentials('E2ESTATIC0001');
          gateway = await startGateway(rulesFile, cleanAwsEnv({ AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey }));
          base = `http://127.0.0.1:${gateway.port}`;
        });
        afterAll(async () => {
          await gateway?.stop();
          await standin?.stop();
        });

        test('the stock MLflow client runs a realistic workflow with only a tracking URI and a token', () => {
          const run = spawnSync(venvPython(version), [join(REPO, 'test/e2e/mlflow_workflow.py'), `${kind.replace(/\W/g, '')}${Date.now()}`], {
            env: mlflowUserEnv(base, TRAINER_KEY),
            encoding: 'utf8',
            timeout: 150_000,
          });
          if (run.status !== 0) throw new Error(`workflow failed (${run.status}):\n${run.stdout}\n${run.stderr}\n--- gateway ---\n${gateway.output().slice(-3000)}`);
          const result = JSON.parse(run.stdout.trim().split('\n').pop()!);
          expect(result.ok).toBe(true);
          expect(result.mlflow_version).toBe(version);
          expect(result.experiment_name_roundtrip).toBe(result.experiment_name);
          expect(result.experiment_name).toContain(' ');
          expect(result.missing_experiment_is_none).toBe(true);
          expect(result.params.alpha).toBe('0.5');
          expect(result.search_runs_ids).toEqual([result.run_id]);
          expect(result.metric_history.steps).toEqual([0, 1, 2]);
          expect(result.alias_version).toBe(result.model_version);
          expect(result.search_models_names).toEqual([result.registered_model_name]);

          // Every request reached MLflow through a verified signature with the right signing name.
          const log = standin.log();
          expect(log.length).toBeGreaterThan(15);
          expect(log.filter((l) => l.verdict !== 'forwarded')).toEqual([]);
          expect(new Set(log.map((l) => l.service))).toEqual(new Set([service]));
        });

        test('curl-style calls on /ajax-api/ paths create and read real MLflow state', async () => {
          const headers = { authorization: `Bearer ${TRAINER_KEY}`, 'content-type': 'application/json' };
          const name = `curl exp ${kind} ${Date.now()}`;
          const created = await fetch(`${base}/ajax-api/2.0/mlflow/experiments/create`, { method: 'POST', headers, body: JSON.stringify({ name }) });
          expect(created.status).toBe(200);
          const { experiment_id } = await created.json();
          expect(experiment_id).toMatch(/^\d+$/);

          // MLflow's client form-encodes spaces as `+`; the gateway sends and signs them as %20.
          const byName = await fetch(`${base}/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name).replace(/%20/g, '+')}`, { headers });
          expect(byName.status).toBe(200);
          expect((await byName.json()).experiment.experiment_id).toBe(experiment_id);

          const run = await (await fetch(`${base}/ajax-api/2.0/mlflow/runs/create`, { method: 'POST', headers, body: JSON.stringify({ experiment_id, start_time: Date.now() }) })).json();
          const runId = run.run.info.run_id;
          for (const [step, value] of [[0, 0.9], [1, 0.5]] as const) {
            const logged = await fetch(`${base}/api/2.0/mlflow/runs/log-metric`, {
              method: 'POST', headers, body: JSON.stringify({ run_id: runId, key: 'loss', value, timestamp: Date.now(), step }),
            });
            expect(logged.status).toBe(200);
          }
          const history = await (await fetch(`${base}/ajax-api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=loss`, { headers })).json();
          expect(history.metrics.map((m: { value: number; step: number }) => [m.step, m.value])).toEqual([[0, 0.9], [1, 0.5]]);

          const missing = await fetch(`${base}/api/2.0/mlflow/experiments/get?experiment_id=999999999`, { headers });
          expect(missing.status).toBe(404);
          expect((await missing.json()).error_code).toBe('RESOURCE_DOES_NOT_EXIST');
        });

        test('denied requests are answered by the gateway and never reach the stand-in', async () => {
          const before = standin.log().length;
          const noKey = await fetch(`${base}/api/2.0/mlflow/experiments/search`, { method: 'POST', body: '{}' });
          expect(noKey.status).toBe(401);
          expect((await noKey.json()).error_code).toBe('UNAUTHENTICATED');
          const reader = await fetch(`${base}/api/2.0/mlflow/experiments/create`, {
            method: 'POST', headers: { authorization: `Bearer ${READER_KEY}`, 'content-type': 'application/json' }, body: '{"name":"nope"}',
          });
          expect(reader.status).toBe(403);
          expect((await reader.json()).error_code).toBe('PERMISSION_DENIED');
          const readerRead = await fetch(`${base}/api/2.0/mlflow/experiments/search`, {
            method: 'POST', headers: { authorization: `Bearer ${READER_KEY}`, 'content-type': 'application/json' }, body: '{"max_results":1}',
          });
          expect(readerRead.status).toBe(200);
          expect(standin.log().length).toBe(before + 1);
          await Bun.sleep(50);
          const audit = auditLines(gateway.output());
          expect(audit.filter((a) => a.decision === 'unauthenticated').length).toBeGreaterThanOrEqual(1);
          expect(audit.some((a) => a.decision === 'denied' && a.clientId === 'reader' && a.operation === 'CreateExperiment')).toBe(true);
        });

        test('the gateway log holds no API key, signature or secret', () => {
          const output = gateway.output();
          for (const secret of [TRAINER_KEY, READER_KEY, 'Signature=', staticCredentials('E2ESTATIC0001').secretAccessKey]) {
            expect(output).not.toContain(secret);
          }
        });
      });
    }
  });
}
